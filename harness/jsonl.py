"""Reading JSON Lines files written by people or other tools, where a bad line must be reported by
file and line number."""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path
from typing import Iterator


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
