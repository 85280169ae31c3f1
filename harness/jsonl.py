"""Reading JSON Lines files written by people or other tools, where a bad line must be reported by
file and line number."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator


def numbered_rows(path: Path, error: type[Exception] = ValueError) -> Iterator[tuple[int, object]]:
    """(line number, parsed value) of every non-blank line; `error` names the file and line of the first
    line that is not JSON."""
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as problem:
                raise error(f"{path}:{number}: not a JSON line ({problem})") from None
            yield number, row
