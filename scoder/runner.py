"""The stage runner: each stage of a recipe writes into its own folder of the run directory, with a
`manifest.json` (config, input keys, versions, git revision, timings, summary).

A stage's key is the hash of its config and its inputs' keys, so a change anywhere upstream reaches
everything downstream. A finished stage with the same key is skipped; a started one (killed) resumes in
place: the stage bodies journal their records and SFT resumes from its newest checkpoint; a stage whose
key changed starts afresh in an emptied folder.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from harness.files import exclusive, write_atomically

MANIFEST = "manifest.json"
RECORDS = "records.jsonl"
LOCK = ".scoder.lock"  # held by the process running the directory
DISCARDED = ".discarded"  # the suffix of a stage folder being emptied for a rerun


class ForeignFiles(ValueError):
    """A stage's folder in the run directory holds files scoder did not write; nothing is changed."""


def refuse_foreign(run_dir: Path, planned: list[tuple["Stage", str, str]]) -> None:
    foreign = [str(run_dir / stage.name) for stage, _, action in planned if action == "foreign"]
    if foreign:
        raise ForeignFiles(f"{', '.join(foreign)} {'exists' if len(foreign) == 1 else 'exist'} and {'was' if len(foreign) == 1 else 'were'} "
                           "not written by scoder run (no manifest.json), so the run would replace someone else's files; "
                           "they are left as they are: choose another --run-dir (or run_dir in the recipe), or move them")


@dataclass(frozen=True)
class Stage:
    name: str  # also its folder, e.g. "iteration-1/sample"
    config: dict  # everything besides the inputs that decides the output, and all of the configuration the body gets
    inputs: tuple[str, ...]  # names of earlier stages whose outputs it reads
    body: Callable[[dict, Path, dict[str, Path], object], dict]  # (config, its folder, input folders, context) -> summary
    context: object = None  # how it runs, never what it makes (progress bars, where commands run): not in the key


def stage_key(stage: Stage, input_keys: dict[str, str]) -> str:
    text = json.dumps({"stage": stage.name, "config": plain(stage.config), "inputs": input_keys}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def plain(value):
    """A config as JSON data: dataclasses as their fields (the settings objects bodies get), the rest as is, or as
    text where JSON has no form for it."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value if value is None or isinstance(value, (str, int, float, bool)) else str(value)


def read_manifest(folder: Path) -> dict | None:
    try:
        return json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def write_json(path: Path, data) -> None:
    write_atomically(path, (json.dumps(data, indent=2, default=str) + "\n").encode())


def write_records(folder: Path, records: list[dict], name: str = RECORDS) -> None:
    write_atomically(folder / name, "".join(json.dumps(record) + "\n" for record in records).encode())


def read_records(folder: Path, name: str = RECORDS) -> list[dict]:
    path = folder / name
    return [json.loads(line) for line in path.read_text().split("\n") if line.strip()]


def versions() -> dict:
    found = {"python": platform.python_version()}
    for package in ("scoder-harness", "torch", "transformers", "trl", "peft", "datasets", "vllm"):
        try:
            from importlib.metadata import version

            found[package] = version(package)
        except Exception:  # not installed: absent from the manifest
            continue
    return found


def git_revision() -> str | None:
    try:
        here = Path(__file__).resolve().parent
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


class StageRunner:
    def __init__(self, run_dir: Path, log: Callable[[str], None] = print):
        self.run_dir = Path(run_dir)
        self.log = log

    def plan(self, stages: list[Stage]) -> list[tuple[Stage, str, str]]:
        """(stage, key, what happens: skip | resume | run | rerun) for each stage, in order."""
        keys: dict[str, str] = {}
        planned = []
        for stage in stages:
            key = stage_key(stage, {name: keys[name] for name in stage.inputs})
            keys[stage.name] = key
            manifest = read_manifest(self.run_dir / stage.name)
            if manifest is None:  # every stage folder of ours gets its manifest first: files without one are not ours
                folder = self.run_dir / stage.name
                action = "foreign" if folder.exists() and not (folder.is_dir() and not any(folder.iterdir())) else "run"
            elif manifest.get("key") != key:
                action = "rerun"
            else:
                action = "skip" if manifest.get("finished") else "resume"
            planned.append((stage, key, action))
        return planned

    def run(self, stages: list[Stage]) -> dict[str, dict]:
        """Run what the plan says; returns each stage's summary. One process per run directory (harness.files.Busy).
        Refused before any stage runs where a stage's folder holds files scoder did not write (ForeignFiles)."""
        with exclusive(self.run_dir / LOCK, f"the run directory {self.run_dir}"):
            refuse_foreign(self.run_dir, self.plan(stages))
            for leftover in self.run_dir.rglob(f"*{DISCARDED}"):  # a rerun killed while it emptied a stage's folder
                shutil.rmtree(leftover, ignore_errors=True)
            return self._run(stages)

    def _run(self, stages: list[Stage]) -> dict[str, dict]:
        summaries = {}
        for stage, key, action in self.plan(stages):
            folder = self.run_dir / stage.name
            if action == "skip":
                summaries[stage.name] = read_manifest(folder)["summary"]
                self.log(f"[{stage.name}] up to date, skipped")
                continue
            if action == "rerun" and folder.exists():
                # Renamed first: a kill while it is deleted leaves a folder marked as ours to delete, not a stage
                # folder without its manifest, which the next run could not tell from someone else's.
                discarded = folder.with_name(f".{folder.name}{DISCARDED}")
                folder.rename(discarded)
                shutil.rmtree(discarded)
            folder.mkdir(parents=True, exist_ok=True)
            manifest = read_manifest(folder) if action == "resume" else None
            manifest = manifest or {"stage": stage.name, "key": key, "config": plain(stage.config),
                                    "inputs": {name: read_manifest(self.run_dir / name)["key"] for name in stage.inputs},
                                    "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "seconds": 0.0, "finished": None}
            manifest.update(versions=versions(), git=git_revision())
            write_json(folder / MANIFEST, manifest)
            self.log(f"[{stage.name}] {'resuming' if action == 'resume' else 'running'}")
            started = time.monotonic()
            summary = stage.body(stage.config, folder, {name: self.run_dir / name for name in stage.inputs}, stage.context)
            manifest.update(summary=summary, seconds=round(manifest["seconds"] + time.monotonic() - started, 2),
                            finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"), outputs=_digests(folder))
            write_json(folder / MANIFEST, manifest)
            summaries[stage.name] = summary
            self.log(f"[{stage.name}] done in {time.monotonic() - started:.1f} s: {brief(summary)}")
        return summaries


def _digests(folder: Path) -> dict[str, str]:
    """sha256 of the stage's record files (checkpoints are named in the summary, not hashed: gigabytes)."""
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.glob("*.jsonl")) if not path.name.endswith(".journal.jsonl")}


def brief(summary: dict) -> str:
    shown = {key: value for key, value in summary.items() if not isinstance(value, (list, dict))}
    return ", ".join(f"{key}={value}" for key, value in shown.items()) or "ok"


def file_digest(path: str | os.PathLike) -> str:
    """What a stage's config records for an input file outside the run directory."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
