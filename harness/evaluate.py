"""Evaluate samples on HumanEval+ / MBPP+: every sample runs on the base and the plus inputs in the
sandbox, verdicts are decided here, and the results file is evalplus' eval_results format.

Finished samples go to a journal beside the output as they complete, so re-running with the same
settings reuses them and a killed run resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm import tqdm

from harness import __version__
from harness.benchmarks.data import write_atomically
from harness.benchmarks.evalplus import EVALPLUS_GUARD, KINDS, Dataset, EvalPlusBenchmark, Problem
from harness.execution import values
from harness.execution.executor import Executor, run_alone
from harness.execution.function_calls import PASS, Digest, OutputJudge, ReferenceRecorder, Verdict
from harness.execution.limits import Limits, TimePolicy
from harness.execution.pool import Run
from harness.execution.sandbox import choose
from harness.groundtruth import Expected, GroundTruth, reference_run
from harness.journal import Journal
from harness.metrics import mean_pass_at_k
from harness.samples import Sample, SamplesError, read_samples

# An output this much larger than the expected one cannot be equal to it: not decoded at all.
OUTPUT_SIZE_SLACK_BYTES = 1 << 20
OUTPUT_SIZE_FACTOR = 16
WALL_BACKSTOP_EXTRA_S = 5.0


@dataclass(frozen=True)
class EvalSettings:
    time_policy: TimePolicy = field(default_factory=TimePolicy)
    limits: Limits = field(default_factory=Limits)
    parallel: int | None = None  # worker processes; default: one per core
    isolation: str = "auto"
    executor: Executor = field(default_factory=Executor)  # where runs execute; never changes a verdict

    def fingerprint(self, dataset: Dataset) -> str:
        decisive = {"dataset": dataset.hash, "benchmark": dataset.benchmark.name, "harness": __version__,
                    "time_policy": asdict(self.time_policy), "limits": asdict(self.limits.resolved())}
        return hashlib.sha256(json.dumps(decisive, sort_keys=True).encode()).hexdigest()


def default_output_path(samples_path: Path) -> Path:
    name = samples_path.name
    for suffix in (".gz", ".jsonl", ".json"):
        name = name.removesuffix(suffix)
    return samples_path.with_name(name.removesuffix("_eval_results") + "_eval_results.json")


def journal_path(output_path: Path) -> Path:
    return output_path.with_name(output_path.name + ".journal.jsonl")


def solution_of(sample: Sample, problem: Problem) -> str:
    return sample.solution if sample.solution is not None else problem.solution_from_completion(sample.completion)


def sample_key(task_id: str, solution: str) -> str:
    return hashlib.sha256(f"{task_id}\0{solution}".encode()).hexdigest()


def check_task_ids(samples: list[Sample], dataset: Dataset) -> list[str]:
    """Raise on samples for tasks the benchmark lacks; return the benchmark's tasks with no sample."""
    unknown = [sample for sample in samples if sample.task_id not in dataset.problems]
    if unknown:
        listed = ", ".join(f"{s.task_id!r} ({s.origin})" for s in unknown[:5])
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise SamplesError(f"{len(unknown)} samples name tasks that {dataset.benchmark.name} does not have: {listed}{more}")
    present = {sample.task_id for sample in samples}
    return [task_id for task_id in dataset.problems if task_id not in present]


def evaluate(
    benchmark: EvalPlusBenchmark,
    samples_path: str | Path,
    output_path: str | Path | None = None,
    data_dir: str | None = None,
    settings: EvalSettings = EvalSettings(),
    progress: bool = True,
) -> dict:
    samples_path = Path(samples_path)
    output_path = Path(output_path) if output_path else default_output_path(samples_path)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    if not os.access(output_path.parent, os.W_OK):
        raise SamplesError(f"cannot write results into {output_path.parent}; choose another place with --output")
    dataset = benchmark.load(data_dir)
    samples = read_samples(samples_path)
    if not samples:
        raise SamplesError(f"{samples_path}: no samples")
    missing = check_task_ids(samples, dataset)
    journal = Journal(journal_path(output_path), settings.fingerprint(dataset))
    keyed = [(sample, solution_of(sample, dataset.problems[sample.task_id])) for sample in samples]
    todo = {}
    for sample, solution in keyed:
        key = sample_key(sample.task_id, solution)
        if key not in journal.records:
            todo[key] = (sample.task_id, solution)
    restarts = 0
    try:
        if todo:
            restarts = _execute(dataset, todo, journal, settings, progress)
    finally:
        journal.close()
    results = _assemble(dataset, keyed, journal.records, missing, samples_path, settings)
    results["scoder"]["worker_restarts"] = restarts
    write_atomically(output_path, json.dumps(results).encode())
    results["scoder"]["output"] = str(output_path)
    return results


def _execute(dataset: Dataset, todo: dict, journal: Journal, settings: EvalSettings, progress: bool) -> int:
    """Run what the journal lacks; returns how many times a sandbox worker had to be restarted."""
    sandbox = choose(settings.isolation)
    with settings.executor.pool(settings.parallel, sandbox, settings.limits) as pool:
        truth = GroundTruth(dataset)
        truth.compute(sorted({task_id for task_id, _ in todo.values()}, key=list(dataset.problems).index), pool, progress)
        protection = pool.describe()

        def submit(key: str, kind: str, priority: float) -> None:
            task_id, solution = todo[key]
            run, make_judge = _run_for(dataset.problems[task_id], kind, solution, truth.get(task_id)[kind], settings)
            pool.submit(((key, kind), run, make_judge), priority)

        # Slowest first (by the reference solution's time, which also flags inputs that are slow by
        # nature), so that no long run is left alone at the end.
        for key, (task_id, _) in todo.items():
            for kind in KINDS:
                submit(key, kind, -sum(truth.get(task_id)[kind].seconds))
        verdicts: dict[str, dict[str, Verdict]] = {}
        suspects: dict[str, dict[str, Verdict]] = {}
        bar = tqdm(total=len(todo), desc=f"{dataset.benchmark.name} samples", unit="sample", disable=not progress)
        for _ in range(len(todo) * len(KINDS)):
            (key, kind), judge = pool.next_result()
            verdicts.setdefault(key, {})[kind] = judge.verdict
            if len(verdicts[key]) == len(KINDS):
                finished = verdicts.pop(key)
                if any(verdict.timed_out for verdict in finished.values()):
                    suspects[key] = finished  # journaled once confirmed
                else:
                    journal.append(key, _record(dataset.problems[todo[key][0]], finished, protection))
                bar.update()
        bar.close()
        _confirm_timeouts(pool, suspects, todo, dataset, truth, settings, journal, protection, progress)
        return pool.restarts


def _confirm_timeouts(pool, suspects: dict, todo: dict, dataset: Dataset, truth: GroundTruth, settings: EvalSettings,
                      journal: Journal, protection: dict, progress: bool) -> None:
    """A verdict decided by a clock is final only once confirmed. CPU time is not load-invariant (processes
    on sibling hyperthreads slow each other down), so each timed-out run is repeated alone, right after the
    reference solution was re-timed on the same inputs in the same conditions; the limits come from the
    slower of its two timings, and the repeated run's verdict is the sample's."""
    retimed: dict[tuple[str, str], Expected] = {}
    bar = tqdm(total=len(suspects), desc="re-checking timeouts alone", unit="sample", disable=not progress or not suspects)
    for key, verdicts in suspects.items():
        task_id, solution = todo[key]
        problem = dataset.problems[task_id]
        rechecked = [kind for kind, verdict in verdicts.items() if verdict.timed_out]
        for kind in rechecked:
            if (task_id, kind) not in retimed:
                retimed[task_id, kind] = _retime_reference(pool, problem, kind, truth.get(task_id)[kind])
            run, make_judge = _run_for(problem, kind, solution, retimed[task_id, kind], settings)
            verdicts[kind] = run_alone(pool, run, make_judge).verdict
        journal.append(key, _record(problem, verdicts, protection, rechecked))
        bar.update()
    bar.close()


def _retime_reference(pool, problem: Problem, kind: str, expected: Expected) -> Expected:
    recorder = run_alone(pool, reference_run(problem, kind), functools.partial(ReferenceRecorder, len(problem.inputs[kind])))
    if recorder.error is not None:  # it passed when the ground truth was computed: keep those times
        return expected
    return dataclasses.replace(expected, seconds=[max(old, new) for old, new in zip(expected.seconds, recorder.seconds)])


def _run_for(problem: Problem, kind: str, solution: str, expected: Expected, settings: EvalSettings):
    policy = settings.time_policy
    limits = policy.per_input(expected.seconds)
    budget = policy.per_run(limits)
    run = Run(solution, problem.entry_point, problem.inputs_lines[kind], limits, budget,
              budget * settings.limits.wall_factor + WALL_BACKSTOP_EXTRA_S, guard=EVALPLUS_GUARD)
    arguments = problem.inputs[kind]
    exact_text_ok = not problem.has_special_oracle

    def oracle(index: int, output) -> bool:
        wanted = values.decode(expected.outputs[index])
        return problem.outputs_match(arguments[index], output, wanted, expected.atol_at(index, problem.atol))

    def make_judge() -> OutputJudge:
        return OutputJudge(
            expected.outputs, oracle, lambda index: exact_text_ok,
            lambda index: OUTPUT_SIZE_SLACK_BYTES + OUTPUT_SIZE_FACTOR * _size(expected.outputs[index]),
        )

    return run, make_judge


def _size(output: bytes | Digest) -> int:
    return output.size if isinstance(output, Digest) else len(output)


def _record(problem: Problem, verdicts: dict[str, Verdict], protection: dict, rechecked: tuple[str, ...] | list[str] = ()) -> dict:
    layers = [protection["isolation"]] + ["seccomp"] * protection["seccomp"] + ["landlock"] * bool(protection["landlock"])
    record = {"isolation": "+".join(layers), "timeouts_rechecked": len(rechecked),
              "timeouts_confirmed": sum(verdicts[kind].timed_out for kind in rechecked)}
    for kind, verdict in verdicts.items():
        failed = verdict.status != PASS and verdict.fail_index is not None
        record[f"{kind}_status"] = verdict.status
        record[f"{kind}_fail_tests"] = [problem.raw_inputs[kind][verdict.fail_index]] if failed else []
        record[f"{kind}_error"] = verdict.reason
        record[f"{kind}_cpu_s"] = verdict.cpu_s
    return record


def timeout_counts(records) -> dict:
    """How many timed-out runs were re-checked alone, and how many of those timed out again."""
    counts = {"rechecked": 0, "confirmed": 0}
    for record in records:
        counts["rechecked"] += record.get("timeouts_rechecked", 0)
        counts["confirmed"] += record.get("timeouts_confirmed", 0)
    return counts


def _assemble(dataset: Dataset, keyed, records: dict, missing: list[str], samples_path: Path, settings: EvalSettings) -> dict:
    per_task: dict[str, list] = {task_id: [] for task_id in dataset.problems}
    isolation = set()
    for sample, solution in keyed:
        record = records[sample_key(sample.task_id, solution)]
        isolation.add(record["isolation"])
        per_task[sample.task_id].append({
            "task_id": sample.task_id,
            "solution": solution,
            **{f"{kind}_{part}": record[f"{kind}_{part}"] for kind in KINDS for part in ("status", "fail_tests")},
            **{f"{kind}_error": record[f"{kind}_error"] for kind in KINDS},
        })
    evaluated = {task_id: entries for task_id, entries in per_task.items() if entries}
    base_counts = [(len(e), sum(r["base_status"] == PASS for r in e)) for e in evaluated.values()]
    plus_counts = [(len(e), sum(r["base_status"] == PASS and r["plus_status"] == PASS for r in e)) for e in evaluated.values()]
    return {
        "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "hash": dataset.hash,
        "eval": evaluated,
        "pass_at_k": {"base": mean_pass_at_k(base_counts), "plus": mean_pass_at_k(plus_counts)},
        "scoder": {
            "harness_version": __version__,
            "benchmark": dataset.benchmark.name,
            "dataset_file": dataset.benchmark.data.filename,
            "samples": str(samples_path),
            "n_samples": len(keyed),
            "n_tasks": len(evaluated),
            "missing_tasks": missing,
            "isolation": sorted(isolation),
            "timeouts": timeout_counts(records[sample_key(sample.task_id, solution)] for sample, solution in keyed),
            "time_policy": asdict(settings.time_policy),
            "limits": asdict(settings.limits.resolved()),
        },
    }
