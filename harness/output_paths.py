"""The paths a command writes, checked before any work: a folder where a file is wanted (or the reverse), a
parent that is a file, an unwritable place. Each refusal is a sentence that names the flag and the fix, and
nothing is created or changed by checking (folders are made when the first file is written)."""

from __future__ import annotations

import os
from pathlib import Path


class OutputError(ValueError):
    """A path given for output cannot be written as asked; the message names the flag and what to give instead."""


def output_file(given: str | os.PathLike, flag: str, example_name: str) -> Path:
    """The file `flag` names. `example_name` is a file name to suggest inside a folder given by mistake."""
    text = os.fspath(given)
    path = Path(text)
    if text.endswith(os.sep) or path.is_dir():  # "newdir/" names a folder even before it exists
        raise OutputError(f"{flag} {text} is a folder; name the file, e.g. {flag} {path / example_name}")
    _check_place(path, flag)
    return path


def output_folder(given: str | os.PathLike, flag: str, what: str) -> Path:
    """The folder `flag` names, for `what` (e.g. "the submission files"); it may exist or be new."""
    path = Path(given)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{flag} {given} is a file; {flag} names a folder for {what} (new or existing), e.g. {flag} {path.with_suffix('')}-files")
    _check_place(path, flag)
    return path


def writable_folder(folder: Path) -> bool:
    """Whether files may be written into `folder` unasked (beside an input): not where the mode says read-only,
    even for root, who may write anywhere (shared benchmark and conformance data are such folders)."""
    return os.access(folder, os.W_OK | os.X_OK) and bool(folder.stat().st_mode & 0o222)


def _check_place(path: Path, flag: str) -> None:
    """The nearest existing folder above `path` must be a folder we may write in."""
    for parent in path.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise OutputError(f"{flag} {path}: {parent} is a file, not a folder; choose another place")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise OutputError(f"{flag} {path}: cannot write in {parent}; choose another place")
            return
