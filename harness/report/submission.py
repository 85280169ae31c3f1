"""What every leaderboard export needs, whatever the leaderboard: a results file with the samples it scored
(Evaluated), the checks an honest submission passes (a whole benchmark, one model, a name to submit under), and a
writer that replaces only files an earlier export wrote. A benchmark's package writes its leaderboard's files with
these (harness.benchmarks.<family>.export); harness.report.exports finds the runs and hands them over."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from harness import __version__
from harness.files import write_atomically

MANIFEST = "scoder_export.json"  # beside the files an export writes
# A model name a submission can go under: a hub id ("org/name" or "name"), not a path or a description.
_HUB_ID = re.compile(r"[\w.-]+(/[\w.-]+)?")


class ExportError(ValueError):
    """A submission cannot honestly be made from the run; the message says why."""


@dataclass(frozen=True)
class Evaluated:
    """One `scoder eval` results file and the samples it scored."""

    path: Path
    results: dict
    samples: list[dict]  # the samples file's records in file order, each with its generation record

    @property
    def meta(self) -> dict:
        return self.results["scoder"]

    @property
    def generation(self) -> dict:
        return self.samples[0]["generation"]

    @property
    def decoding(self) -> dict:
        return self.generation["decoding"]

    @property
    def title(self) -> str:
        split = self.results["pass_at_k"].get("split")
        return f"{self.meta['benchmark']} {split}" if split else self.meta["benchmark"]


def generation_settings(generation) -> tuple | None:
    """What makes samples one model's under one protocol (None without a generation record)."""
    if not isinstance(generation, dict) or not isinstance(generation.get("decoding"), dict):
        return None
    decoding = generation["decoding"]
    return (generation.get("model"), generation.get("adapter"), generation.get("backend"), generation.get("prompt_format"),
            decoding.get("temperature"), decoding.get("n"))


def gaps(run: Evaluated) -> list[str]:
    """Why a results file is not a whole-benchmark run with the asked-for samples on every task (none if it is)."""
    meta, per_task, n = run.meta, run.results["eval"], run.decoding["n"]
    gaps = []
    if meta["missing_tasks"]:
        total = len(per_task) + len(meta["missing_tasks"])
        gaps.append(f"{run.title}: {len(meta['missing_tasks'])} of {total} tasks have no samples")
    short = [task_id for task_id, entries in per_task.items() if len(entries) < n]
    if short:
        gaps.append(f"{run.title}: {len(short)} tasks have fewer than the {n} samples per task the generation asked for")
    if meta.get("start_date") or meta.get("end_date"):
        gaps.append(f"{run.title}: scored on the contest dates {meta['start_date'] or '...'} to {meta['end_date'] or '...'}, "
                    f"not the whole {meta['release']}")
    return gaps


def refuse_partial(gaps: list[str], allow_partial: bool, what: str) -> None:
    if gaps and not allow_partial:
        raise ExportError(f"no {what} from a partial run: {'; '.join(gaps)} (allow_partial, --allow-partial, "
                          "exports it labelled as partial)")


def submission_name(generation: dict, model_name: str | None) -> str:
    if model_name:
        return model_name
    model, adapter = generation.get("model") or "", generation.get("adapter")
    if adapter or not _HUB_ID.fullmatch(model):
        made_by = f"{model!r} with the adapter {adapter!r}" if adapter else repr(model)
        raise ExportError(f"the samples were made by {made_by}, which is no name to submit a model under; give one (--model-name)")
    return model


def samples_by_task(run: Evaluated) -> dict[str, list[dict]]:
    """Each scored task's samples, in the order of its results; a samples file changed since is refused."""
    grouped: dict[str, list[dict]] = {}
    for record in run.samples:
        if record["task_id"] in run.results["eval"]:
            grouped.setdefault(record["task_id"], []).append(record)
    for task_id, entries in run.results["eval"].items():
        found = grouped.get(task_id, [])
        # The results hold the program as run: the sample's solution, after BigCodeBench's calibration prefix.
        if len(found) != len(entries) or not all(entry["solution"].endswith(record["solution"]) for entry, record in zip(entries, found)):
            raise ExportError(f"{run.path}: the samples of {task_id} in the samples file are not the ones scored; re-run `scoder eval`")
    return grouped


def labelled(data: dict, partial: list[str]) -> dict:
    return {**data, "partial": partial} if partial else data


class Writer:
    """Writes an export's files (each atomically) and its manifest, remembering what it wrote."""

    def __init__(self, out_dir: str | Path):
        self.out_dir = Path(out_dir)
        self.pending: dict[Path, bytes] = {}  # written together once every file is known not to replace another's

    def json(self, name: str, data) -> None:
        self._write(name, json.dumps(data, indent=1) + "\n")

    def jsonl(self, name: str, records: list[dict]) -> None:
        self._write(name, "".join(json.dumps(record) + "\n" for record in records))

    def _write(self, name: str, text: str) -> None:
        self.pending[self.out_dir / name] = text.encode()

    def manifest(self, leaderboard: str, model_name: str, runs: list[Evaluated], partial: list[str], fill_in: list[str]) -> list[Path]:
        generation = runs[0].generation
        self.json(MANIFEST, {
            "leaderboard": leaderboard,
            "model_name": model_name,
            "generation": {key: generation.get(key) for key in ("model", "adapter", "backend", "prompt_format", "decoding")},
            "sources": [{"results": str(run.path), "benchmark": run.title,
                         "dataset": run.meta.get("dataset_file") or run.meta.get("version") or run.meta.get("release")} for run in runs],
            "harness_version": __version__,
            "partial": partial,
            "fill_in": fill_in,
            "files": [str(path.relative_to(self.out_dir)) for path in self.pending],  # all but the manifest itself
        })
        ours = exported_before(self.out_dir)
        for path in self.pending:
            if path.exists() and path.resolve() not in ours:
                raise ExportError(f"{path} exists and is not a file of an earlier export into {self.out_dir}; "
                                  "it is left as it is: choose another --output")
        for path, content in self.pending.items():
            write_atomically(path, content)
        return list(self.pending)


def exported_before(out_dir: Path) -> set[Path]:
    """The files an earlier export wrote into `out_dir` (its manifest lists them): an export may replace these."""
    manifest = out_dir / MANIFEST
    try:
        written = json.loads(manifest.read_text())
        listed = written["files"] if {"leaderboard", "harness_version"} <= set(written) else None
    except (OSError, ValueError, KeyError, TypeError):
        listed = None
    if not isinstance(listed, list):
        return set()
    return {manifest.resolve(), *((out_dir / name).resolve() for name in listed if isinstance(name, str))}
