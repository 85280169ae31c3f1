"""An append-only JSONL record of finished work, so a re-run reuses it and a killed run resumes.

The first line is a header with a fingerprint of everything that decides the records (dataset,
limits, harness version); a journal with another fingerprint is started afresh. Each record is
flushed as soon as it is written (a killed process loses nothing already written) and fsync'd at
least once a second and on close; a torn last line from a crash is ignored on reading.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

FSYNC_INTERVAL_S = 1.0


class Journal:
    def __init__(self, path: Path, fingerprint: str):
        self.path = Path(path)
        self.fingerprint = fingerprint
        self.records: dict[str, dict] = self._read()
        self.handle = None
        self.last_sync = 0.0

    @staticmethod
    def is_journal(path: Path) -> bool:
        """Whether `path` starts with a journal's header (any fingerprint): a file a journal may replace."""
        with open(path, "rb") as handle:
            first = handle.readline(1 << 16)
        try:
            header = json.loads(first)
        except ValueError:
            return False
        return isinstance(header, dict) and set(header) == {"fingerprint"}

    @staticmethod
    def count_records(path: Path) -> int:
        with open(path, "rb") as handle:
            return max(sum(1 for line in handle if line.strip()) - 1, 0)

    def _read(self) -> dict[str, dict]:
        if not self.path.is_file():
            return {}
        lines = self.path.read_bytes().split(b"\n")
        try:
            if json.loads(lines[0]).get("fingerprint") != self.fingerprint:
                return {}
        except (ValueError, AttributeError):
            return {}
        records = {}
        for line in lines[1:]:
            try:
                entry = json.loads(line)
                records[entry["key"]] = entry["record"]
            except (ValueError, KeyError, TypeError):
                continue  # the torn tail of a killed run
        return records

    def append(self, key: str, record: dict) -> None:
        if self.handle is None:
            self._rewrite()
        self.records[key] = record
        self.handle.write(json.dumps({"key": key, "record": record}) + "\n")
        self.handle.flush()
        if time.monotonic() - self.last_sync > FSYNC_INTERVAL_S:
            os.fsync(self.handle.fileno())
            self.last_sync = time.monotonic()

    def _rewrite(self) -> None:
        """Start the file afresh with the header and the records still valid (drops a torn tail)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        with open(temporary, "w") as handle:
            handle.write(json.dumps({"fingerprint": self.fingerprint}) + "\n")
            for key, record in self.records.items():
                handle.write(json.dumps({"key": key, "record": record}) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)
        self.handle = open(self.path, "a")

    def close(self) -> None:
        if self.handle is not None:
            self.handle.flush()
            os.fsync(self.handle.fileno())
            self.handle.close()
            self.handle = None
