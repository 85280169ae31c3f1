"""The one evaluation skeleton every benchmark goes through: samples file in, results file out.

A benchmark says what is particular to it in a Plan (which program each sample runs, what decides its
verdicts, how to execute what is left, what a result entry and the scores are); this module does the rest
the same way for all: the output path checked before any work, the journal beside it (finished samples
are reused, a killed run resumes), the results per task in the benchmark's order, the tasks without
samples, the common record of how it ran, and an atomic write.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from harness import __version__
from harness.execution.executor import Executor
from harness.files import Busy, exclusive, write_atomically
from harness.journal import Journal
from harness.samples import Sample, SamplesError, read_samples, warn_of_raw_outputs

# What execute receives: sample key -> (task id, the code that runs), the samples the journal lacks.
Todo = dict[str, tuple[str, str]]


@dataclass(frozen=True)
class Execution:
    """Where and how programs run; never changes a verdict."""
    parallel: int | None = None  # worker processes; default: one per core
    isolation: str = "auto"
    executor: Executor = field(default_factory=Executor)


@dataclass(frozen=True)
class Plan:
    """What one benchmark contributes to evaluating one samples file."""
    benchmark: str  # the registry's name, recorded as the results' "benchmark"
    task_ids: list[str]  # the tasks scored (a release window's, a subset's), in the benchmark's order
    keyed: list[tuple[Sample, str]]  # each sample kept, with the program that runs for it
    fingerprint: str  # everything that decides verdicts: a journal of another fingerprint is not reused
    execute: Callable[[Todo, Journal, bool], int]  # runs the todo, journals one record per key; returns worker restarts
    entry: Callable[[Sample, str, dict], dict]  # a sample's entry in the results, from its program and record
    scores: Callable[[dict[str, list[dict]]], dict]  # the results' pass_at_k, from the entries per task
    meta: dict = field(default_factory=dict)  # what else the results' "scoder" record says (versions, limits)
    fields: dict = field(default_factory=dict)  # top-level fields of the benchmark's official format (evalplus' hash)
    always_execute: bool = False  # execute even when the journal has every sample (a reference-solution check)
    companions: Callable[[dict, Path], dict[Path, bytes]] = lambda results, output: {}  # files written beside


def default_output_path(samples_path: Path) -> Path:
    name = samples_path.name
    for suffix in (".gz", ".jsonl", ".json"):
        name = name.removesuffix(suffix)
    return samples_path.with_name(name.removesuffix("_eval_results") + "_eval_results.json")


def journal_path(output_path: Path) -> Path:
    return output_path.with_name(output_path.name + ".journal.jsonl")


def sample_key(task_id: str, code: str) -> str:
    return hashlib.sha256(f"{task_id}\0{code}".encode()).hexdigest()


def refuse_unknown_tasks(samples: list[Sample], known, what: str) -> None:
    """A SamplesError naming the first samples whose task is not in `known` (a container of task ids)."""
    unknown = [sample for sample in samples if sample.task_id not in known]
    if unknown:
        listed = ", ".join(f"{sample.task_id!r} ({sample.origin})" for sample in unknown[:5])
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise SamplesError(f"{len(unknown)} samples name tasks that {what} does not have: {listed}{more}")


def prepared_output(samples_path: Path, output_path: str | Path | None) -> Path:
    """The results file's path, refused if it would overwrite the samples or is a folder, its folder made and
    checked writable: all before any work."""
    output_path = Path(output_path) if output_path else default_output_path(samples_path)
    if output_path.is_dir():
        raise SamplesError(f"--output {output_path} is a folder; name the results file (e.g. {output_path / default_output_path(samples_path).name})")
    if output_path.resolve() == samples_path.resolve():
        raise SamplesError(f"--output {output_path} is the samples file: the results would overwrite it; choose another name")
    output_path.parent.mkdir(parents=True, exist_ok=True)
    if not os.access(output_path.parent, os.W_OK):
        raise SamplesError(f"cannot write results into {output_path.parent}; choose another place with --output")
    return output_path


def evaluate_samples(samples_path: str | Path, output_path: str | Path | None, plan_for: Callable[[list[Sample], Path], Plan],
                     progress: bool = True) -> dict:
    """Evaluate a samples file: `plan_for` turns its samples (and the file's path) into the benchmark's Plan,
    refusing samples for tasks the benchmark lacks. Returns the results as written, with scoder.output added."""
    samples_path = Path(samples_path)
    output_path = prepared_output(samples_path, output_path)
    try:
        with exclusive(output_path.with_name(f".{output_path.name}.lock"), f"the results file {output_path}"):
            return _evaluate(samples_path, output_path, plan_for, progress)
    except Busy as error:
        raise SamplesError(str(error)) from None


def _evaluate(samples_path: Path, output_path: Path, plan_for, progress: bool) -> dict:
    samples = read_samples(samples_path)
    if not samples:
        raise SamplesError(f"{samples_path}: no samples")
    plan = plan_for(samples, samples_path)
    warn_of_raw_outputs(samples, samples_path, plan.benchmark)
    journal = Journal(journal_path(output_path), plan.fingerprint)
    todo: Todo = {}
    for sample, code in plan.keyed:
        key = sample_key(sample.task_id, code)
        if key not in journal.records:
            todo[key] = (sample.task_id, code)
    restarts = 0
    try:
        if todo or plan.always_execute:
            restarts = plan.execute(todo, journal, progress)
    finally:
        journal.close()
    results = assemble_results(plan, journal.records, samples_path, restarts)
    write_atomically(output_path, json.dumps(results, indent=1).encode())
    for path, content in plan.companions(results, output_path).items():
        write_atomically(path, content)
    results["scoder"]["output"] = str(output_path)
    return results


def assemble_results(plan: Plan, records: dict, samples_path: Path, restarts: int = 0) -> dict:
    """The results file's content from the plan and every kept sample's record."""
    per_task: dict[str, list[dict]] = {}
    kept_records = []
    for sample, code in plan.keyed:
        record = records[sample_key(sample.task_id, code)]
        kept_records.append(record)
        per_task.setdefault(sample.task_id, []).append(plan.entry(sample, code, record))
    evaluated = {task_id: per_task[task_id] for task_id in plan.task_ids if task_id in per_task}
    return {
        "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        **plan.fields,
        "eval": evaluated,
        "pass_at_k": plan.scores(evaluated),
        "scoder": {
            "harness_version": __version__,
            "benchmark": plan.benchmark,
            **plan.meta,
            "samples": str(samples_path),
            "n_samples": len(plan.keyed),
            "n_tasks": len(evaluated),
            "missing_tasks": [task_id for task_id in plan.task_ids if task_id not in per_task],
            # Scores of part of a benchmark are not the benchmark's score: said wherever they are shown.
            "partial": f"{len(evaluated)} of {len(plan.task_ids)} tasks" if len(evaluated) < len(plan.task_ids) else None,
            "isolation": sorted({record["isolation"] for record in kept_records}),
            "timeouts": timeout_counts(kept_records),
            "worker_restarts": restarts,
        },
    }


def timeout_counts(records) -> dict:
    """How many timed-out runs were re-checked alone, and how many of those timed out again."""
    counts = {"rechecked": 0, "confirmed": 0}
    for record in records:
        counts["rechecked"] += record.get("timeouts_rechecked", 0)
        counts["confirmed"] += record.get("timeouts_confirmed", 0)
    return counts
