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
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from harness.files import cache_dir, write_atomically

DATA_DIR_VARIABLE = "SCODER_DATA_DIR"
OFFLINE_VARIABLE = "SCODER_OFFLINE"
HUB_OFFLINE_VARIABLE = "HF_HUB_OFFLINE"  # huggingface_hub's: set, nothing is fetched from huggingface.co
DOWNLOAD_TIMEOUT_S = 60
PROBE_TIMEOUT_S = 10  # asking whether a source answers, before hours of work that end in needing it


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
    path, searched = _find_local(spec, data_dir)
    if path is not None:
        return _read_local(spec, path)
    return _download(spec, cache_dir() / "datasets", searched)


def _find_local(spec: DatasetFile, data_dir: str | os.PathLike | None) -> tuple[Path | None, list[str]]:
    """The local copy of `spec` (in the resolution order above), else None and the folders searched."""
    data_dir = data_dir or os.environ.get(DATA_DIR_VARIABLE)
    folders = [(Path(data_dir), f"{data_dir} (from --data-dir or {DATA_DIR_VARIABLE})")] if data_dir else []
    datasets_cache = cache_dir() / "datasets"
    folders.append((datasets_cache, f"{datasets_cache} (the user cache)"))
    for folder, _ in folders:
        # A file published plain (CRUXEval's data/cruxeval.jsonl) may be kept gzipped in a data folder.
        for name in dict.fromkeys((spec.filename, spec.stem, spec.stem + ".gz")):
            if (folder / name).is_file():
                return folder / name, []
    return None, [description for _, description in folders]


def _read_local(spec: DatasetFile, path: Path) -> bytes:
    raw = path.read_bytes()
    try:
        content = gzip.decompress(raw) if path.name.endswith(".gz") else raw
    except (OSError, EOFError) as error:
        raise DataError(f"{path}: not a readable gzip file ({error}); fetch it again from {spec.url}")
    spec.verify(content, str(path))
    return content


def _download(spec: DatasetFile, folder: Path, searched: list[str]) -> bytes:
    def unavailable(reason: str) -> DataError:
        return DataError(
            f"{spec.filename} was not found in {' or '.join(searched)} and {reason}. "
            f"Download it from {spec.url}, save it as {spec.filename} in a folder and pass that "
            f"folder with --data-dir or the {DATA_DIR_VARIABLE} variable."
        )

    refusal = downloads_off(spec.url)
    if refusal:
        raise unavailable(refusal)
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


# ------------------------------------------------------------------------------- availability, before a run


def _is_set(variable: str) -> bool:
    return os.environ.get(variable, "").strip().lower() not in ("", "0", "false", "no", "off")


def downloads_off(url: str) -> str | None:
    """Why `url` may not be downloaded now (None: it may). huggingface_hub's own switch counts for the hub too:
    whoever set it expects nothing to be fetched from there."""
    if _is_set(OFFLINE_VARIABLE):
        return f"downloads are off ({OFFLINE_VARIABLE} is set)"
    if urlparse(url).hostname == "huggingface.co" and _is_set(HUB_OFFLINE_VARIABLE):
        return f"the Hugging Face hub is off ({HUB_OFFLINE_VARIABLE} is set)"
    return None


def _unreachable(url: str) -> str | None:
    """Why `url` does not answer a HEAD request (None: it does); nothing is downloaded."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=PROBE_TIMEOUT_S):
            return None
    except urllib.error.HTTPError as error:
        return f"{url} answers {error.code} {error.reason}"
    except (urllib.error.URLError, OSError) as error:
        return f"{urlparse(url).hostname} cannot be reached ({getattr(error, 'reason', error)})"


@dataclass(frozen=True)
class Availability:
    """Where a benchmark's data will come from: found on this machine, or to be downloaded on first use."""
    local: tuple[str, ...] = ()  # files found here
    downloads: tuple[str, ...] = ()  # URLs its first use downloads from, into the cache

    def __str__(self) -> str:
        found = f"found {', '.join(self.local)}" if self.local else ""
        fetched = f"not on this machine, to be downloaded from {', '.join(self.downloads)}" if self.downloads else ""
        return "; ".join(part for part in (found, fetched) if part)


def available(local: Iterable[str], downloads: Iterable[str], missing: str, fix: str) -> Availability:
    """The Availability of data found at `local` and to be fetched from `downloads`, once those downloads are known
    to be possible: else a DataError saying what is `missing`, why it cannot be downloaded, and the `fix`.
    Reachability is asked of the first URL only (a HEAD request): the others are on the same host."""
    local, downloads = tuple(local), tuple(downloads)
    if downloads:
        refusal = downloads_off(downloads[0]) or _unreachable(downloads[0])
        if refusal:
            raise DataError(f"{missing} and cannot be downloaded: {refusal}. {fix}")
    return Availability(local, downloads)


def dataset_availability(specs: Iterable[DatasetFile], data_dir: str | os.PathLike | None = None) -> Availability:
    """Where the pinned files `specs` are (see read_dataset), found without reading or downloading them."""
    local, absent, searched = [], [], []
    for spec in specs:
        path, searched = _find_local(spec, data_dir)
        if path is not None:
            local.append(str(path))
        else:
            absent.append(spec)
    return available(local, [spec.url for spec in absent],
                     f"{', '.join(spec.filename for spec in absent)} not found in {' or '.join(searched)}",
                     f"Save {' and '.join(f'{spec.url} as {spec.filename}' for spec in absent)} in a folder and pass it with "
                     f"--data-dir (in a recipe: evaluation.data_dir) or {DATA_DIR_VARIABLE}, or go online.")
