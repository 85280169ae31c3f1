"""The file helpers every part of the harness (and the method) shares: atomic writes, the user cache folder,
and reading JSON Lines written by people or other tools (a bad line is reported by file and line).
Journals (harness.journal) and samples files (harness.samples) build on these."""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import hashlib
import json
import os
import shutil
import tempfile
import time
import zlib
from pathlib import Path
from typing import Iterator

CACHE_DIR_VARIABLE = "SCODER_CACHE_DIR"


def cache_dir() -> Path:
    if os.environ.get(CACHE_DIR_VARIABLE):
        return Path(os.environ[CACHE_DIR_VARIABLE])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "scoder"


def write_atomically(path: Path, content: bytes) -> None:
    """Write to a temporary file beside `path`, fsync, then rename: readers never see half a file. The file gets
    the permissions a plain open() would give it (mkstemp's are the owner's only)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(descriptor, 0o666 & ~_umask())
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class Busy(RuntimeError):
    """Another process holds the lock on what this one would write."""


class Interrupted(KeyboardInterrupt):
    """A run the user stopped (Ctrl-C); its message says what was kept for the next run."""


@contextlib.contextmanager
def exclusive(lock_path: Path, what: str):
    """Hold an exclusive lock on `lock_path` (made if missing) while the block runs, or raise Busy at once: two
    processes writing one results file or one run directory would each believe they wrote it. Folders made for
    the lock go with it when the block leaves them empty (a run that failed before writing leaves nothing)."""
    made = [folder for folder in (lock_path.parent, *lock_path.parent.parents) if not folder.exists()]
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            holder = lock_path.read_text().strip() if lock_path.is_file() else "?"
            raise Busy(f"{what} is in use by another scoder process (pid {holder or '?'}); wait for it to end, "
                       "or write somewhere else") from None
        # The holder before us may have removed the file after we opened it: then this lock guards nothing.
        if os.path.exists(lock_path) and os.stat(lock_path).st_ino == os.fstat(descriptor).st_ino:
            break
        os.close(descriptor)
    try:
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"{os.getpid()}\n".encode())
        yield
    finally:
        lock_path.unlink(missing_ok=True)  # while still held: the next one makes a fresh file
        os.close(descriptor)
        for folder in made:  # deepest first
            with contextlib.suppress(OSError):  # not empty: something was written there
                folder.rmdir()


class ScratchFolder:
    """A new folder under `root` (the temporary directory by default), for a process that may be killed before it can
    remove it (a SIGKILL runs nothing of it). The process holds a shared lock on the folder until `remove()`, and the
    kernel drops the lock with the process; each new folder of a prefix first removes those of the prefix that no
    process holds. A lock, not a process id: a process in another PID namespace (a container, `unshare --pid`) may
    share the folder, and a lock holds across them."""

    def __init__(self, prefix: str, root: Path | None = None):
        root = Path(root or tempfile.gettempdir())
        remove_unheld(prefix, root)
        # Made under a name the sweep above skips, locked, then renamed: no other process sees it unlocked.
        making = tempfile.mkdtemp(dir=root, prefix=f".{prefix}")
        self._descriptor = os.open(making, os.O_RDONLY | os.O_DIRECTORY)
        fcntl.flock(self._descriptor, fcntl.LOCK_SH)
        self.path = root / (prefix + os.path.basename(making)[len(prefix) + 1:])
        os.rename(making, self.path)

    def remove(self) -> None:
        """Remove the folder and let go of it (once; a second call does nothing)."""
        if self._descriptor is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            os.close(self._descriptor)
            self._descriptor = None


def remove_unheld(prefix: str, root: Path | None = None) -> None:
    """Remove the folders of `prefix` under `root` (the temporary directory by default) that no process holds: those
    ScratchFolder made for processes that were killed. A hidden one is a folder being made, unlocked for the
    microseconds before its rename: one older than a minute was left by a process killed right then."""
    root = Path(root or tempfile.gettempdir())
    for leftover in root.glob(f"{prefix}*"):
        _remove_if_unheld(leftover)
    for making in root.glob(f".{prefix}*"):
        with contextlib.suppress(OSError):  # gone meanwhile
            if time.time() - making.lstat().st_mtime > 60:
                _remove_if_unheld(making)


def _remove_if_unheld(folder: Path) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:  # gone, not a folder, or not ours to read
        return
    try:
        if os.fstat(descriptor).st_uid != os.getuid():
            return
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:  # its process is alive
        return
    finally:
        os.close(descriptor)
    shutil.rmtree(folder, ignore_errors=True)


def file_sha256(path: Path) -> str:
    """The sha256 of a file's content, read in blocks (samples and data files can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _umask() -> int:
    """The process' umask, read without setting it (os.umask would change it for every thread meanwhile)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("Umask:"):
            return int(line.split()[1], 8)
    return 0o022


def numbered_rows(path: Path, error: type[Exception] = ValueError) -> Iterator[tuple[int, object]]:
    """(line number, parsed value) of every non-blank line of a JSONL or JSONL.gz file; `error` names the
    file and line of the first line that is not JSON."""
    opener = gzip.open if Path(path).suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except ValueError as problem:
                    raise error(f"{path}:{number}: not a JSON line ({problem})") from None
                yield number, row
    except (gzip.BadGzipFile, EOFError, zlib.error) as problem:
        raise error(f"{path}: not a complete gzip file ({problem})") from None
