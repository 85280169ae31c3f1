"""Benchmark data files: pinned versions and checksums, found locally or downloaded once.

Resolution order for a file (first hit wins):
  1. the folder given with --data-dir, else the SCODER_DATA_DIR variable;
  2. the user cache (SCODER_CACHE_DIR, else $XDG_CACHE_HOME/scoder, else ~/.cache/scoder) under datasets/;
  3. the upstream release URL, checked and written atomically into the cache.
A file whose checksum differs is refused wherever it was found; nothing falls back silently.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from harness.files import cache_dir, write_atomically

DATA_DIR_VARIABLE = "SCODER_DATA_DIR"
OFFLINE_VARIABLE = "SCODER_OFFLINE"
DOWNLOAD_TIMEOUT_S = 60


class DataError(RuntimeError):
    """Benchmark data is missing or does not match its pinned checksum."""


@dataclass(frozen=True)
class DatasetFile:
    """One pinned upstream file. Checksums are of the decompressed JSONL, as evalplus computes them."""

    filename: str  # local name, with the version in it
    url: str
    md5: str | None = None
    sha256: str | None = None

    @property
    def stem(self) -> str:
        return self.filename.removesuffix(".gz")

    def verify(self, content: bytes, origin: str) -> None:
        for algorithm, pinned in (("md5", self.md5), ("sha256", self.sha256)):
            if pinned is None:
                continue
            actual = hashlib.new(algorithm, content).hexdigest()
            if actual != pinned:
                raise DataError(
                    f"{origin}: {algorithm} of the decompressed content is {actual}, but "
                    f"{self.filename} is pinned to {pinned}. The file is corrupt or another "
                    f"version; delete it and fetch it again from {self.url}"
                )


def read_dataset(spec: DatasetFile, data_dir: str | os.PathLike | None = None) -> bytes:
    """Return the verified, decompressed JSONL content of `spec`."""
    data_dir = data_dir or os.environ.get(DATA_DIR_VARIABLE)
    searched = []
    if data_dir:
        found = _read_local(spec, Path(data_dir))
        if found is not None:
            return found
        searched.append(f"{data_dir} (from --data-dir or {DATA_DIR_VARIABLE})")
    datasets_cache = cache_dir() / "datasets"
    found = _read_local(spec, datasets_cache)
    if found is not None:
        return found
    searched.append(f"{datasets_cache} (the user cache)")
    return _download(spec, datasets_cache, searched)


def _read_local(spec: DatasetFile, folder: Path) -> bytes | None:
    for name, decompress in ((spec.filename, spec.filename.endswith(".gz")), (spec.stem, False)):
        path = folder / name
        if path.is_file():
            raw = path.read_bytes()
            try:
                content = gzip.decompress(raw) if decompress else raw
            except (OSError, EOFError) as error:
                raise DataError(f"{path}: not a readable gzip file ({error}); fetch it again from {spec.url}")
            spec.verify(content, str(path))
            return content
    return None


def _download(spec: DatasetFile, folder: Path, searched: list[str]) -> bytes:
    def unavailable(reason: str) -> DataError:
        return DataError(
            f"{spec.filename} was not found in {' or '.join(searched)} and {reason}. "
            f"Download it from {spec.url}, save it as {spec.filename} in a folder and pass that "
            f"folder with --data-dir or the {DATA_DIR_VARIABLE} variable."
        )

    if os.environ.get(OFFLINE_VARIABLE, "") not in ("", "0"):
        raise unavailable(f"downloads are off ({OFFLINE_VARIABLE} is set)")
    try:
        with urllib.request.urlopen(spec.url, timeout=DOWNLOAD_TIMEOUT_S) as response:
            raw = response.read()
    except (urllib.error.URLError, OSError) as error:
        raise unavailable(f"could not be downloaded ({error})")
    try:
        content = gzip.decompress(raw) if spec.filename.endswith(".gz") else raw
    except (OSError, EOFError) as error:
        raise DataError(f"the download from {spec.url} is not a readable gzip file ({error})")
    spec.verify(content, spec.url)
    write_atomically(folder / spec.filename, raw)
    return content
