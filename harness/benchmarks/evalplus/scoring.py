"""Evaluate samples on HumanEval+ / MBPP+: every sample runs on the base and the plus inputs in the
sandbox, verdicts are decided here, and the results file is evalplus' eval_results format (through
harness.evaluation, which journals finished samples so that a killed run resumes)."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from harness import __version__
from harness.benchmarks.evalplus.tasks import KINDS, Dataset, Problem
from harness.execution import values
from harness.execution.executor import run_alone
from harness.execution.function_calls import PASS, Digest, OutputJudge, ReferenceRecorder, Verdict
from harness.execution.limits import Limits, TimePolicy
from harness.execution.pool import Run
from harness.execution.guards import EVALPLUS_GUARD
from harness.benchmarks.evalplus.groundtruth import Expected, GroundTruth, reference_run
from harness.evaluation import Plan, evaluate_samples, refuse_unknown_tasks
from harness.evaluation_runs import Check, Execution, Runs
from harness.metrics import entries_pass_at_k
from harness.samples import Sample

# An output this much larger than the expected one cannot be equal to it: not decoded at all.
OUTPUT_SIZE_SLACK_BYTES = 1 << 20
OUTPUT_SIZE_FACTOR = 16
WALL_BACKSTOP_EXTRA_S = 5.0


@dataclass(frozen=True)
class EvalSettings:
    """What decides HumanEval+ / MBPP+ verdicts (where they run is the Execution's)."""
    time_policy: TimePolicy = field(default_factory=TimePolicy)
    limits: Limits = field(default_factory=Limits)

    def fingerprint(self, dataset: Dataset) -> str:
        decisive = {"dataset": dataset.hash, "benchmark": dataset.benchmark.name, "harness": __version__,
                    "time_policy": asdict(self.time_policy), "limits": asdict(self.limits.resolved())}
        return hashlib.sha256(json.dumps(decisive, sort_keys=True).encode()).hexdigest()


def solution_of(sample: Sample, problem: Problem) -> str:
    return sample.solution if sample.solution is not None else problem.solution_from_completion(sample.completion)


def evaluate(
    benchmark,  # an EvalPlusBenchmark (harness.benchmarks.evalplus)
    samples_path: str | Path,
    output_path: str | Path | None = None,
    data_dir: str | None = None,
    settings: EvalSettings = EvalSettings(),
    progress: bool = True,
    execution: Execution = Execution(),
) -> dict:
    return evaluate_samples(samples_path, output_path, functools.partial(plan, benchmark.load(data_dir), settings=settings), progress,
                            execution=execution)


def plan(dataset: Dataset, samples: list[Sample], samples_path: Path | None = None, settings: EvalSettings = EvalSettings()) -> Plan:
    refuse_unknown_tasks(samples, dataset.problems, dataset.benchmark.name)
    return Plan(
        benchmark=dataset.benchmark.name,
        task_ids=list(dataset.problems),
        keyed=[(sample, solution_of(sample, dataset.problems[sample.task_id])) for sample in samples],
        fingerprint=settings.fingerprint(dataset),
        runs=_runs(dataset, settings),
        entry=_entry,
        scores=_scores,
        meta={"dataset_file": dataset.benchmark.data.filename, "time_policy": asdict(settings.time_policy),
              "limits": asdict(settings.limits.resolved()),
              **({"not_official": [f"floors scaled to speed {settings.time_policy.speed:.2f}"]} if settings.time_policy.speed else {})},
        fields={"hash": dataset.hash},
    )


def _runs(dataset: Dataset, settings: EvalSettings) -> Runs:
    """Each sample runs on its base and its plus inputs (two checks), with limits from the reference solution's times,
    which run first (the ground truth). A timed-out check is repeated alone right after the reference solution is
    re-timed on the same inputs in the same conditions; its limits come from the slower of the two timings."""
    truth = GroundTruth(dataset)
    retimed: dict[tuple[str, str], Expected] = {}
    order = {task_id: index for index, task_id in enumerate(dataset.problems)}

    def checks(task_id: str, solution: str) -> dict[str, Check]:
        # Slowest first (by the reference solution's time, which also flags inputs that are slow by nature).
        return {kind: Check(*_run_for(dataset.problems[task_id], kind, solution, truth.get(task_id)[kind], settings),
                            priority=-sum(truth.get(task_id)[kind].seconds)) for kind in KINDS}

    def recheck(pool, task_id: str, solution: str, kind: str) -> Check:
        if (task_id, kind) not in retimed:
            retimed[task_id, kind] = _retime_reference(pool, dataset.problems[task_id], kind, truth.get(task_id)[kind])
        return Check(*_run_for(dataset.problems[task_id], kind, solution, retimed[task_id, kind], settings))

    def record(task_id: str, solution: str, outcomes: dict[str, dict]) -> dict:
        return _record(dataset.problems[task_id], {kind: Verdict(**outcome) for kind, outcome in outcomes.items()})

    return Runs(limits=settings.limits, checks=checks, outcome=lambda judge: asdict(judge.verdict),
                timed_out=lambda outcome: Verdict(**outcome).timed_out, record=record, recheck=recheck,
                prepare=lambda pool, task_ids, progress: truth.compute(sorted(task_ids, key=order.__getitem__), pool, progress),
                label=f"{dataset.benchmark.name} samples")


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


def _record(problem: Problem, verdicts: dict[str, Verdict]) -> dict:
    record = {}
    for kind, verdict in verdicts.items():
        failed = verdict.status != PASS and verdict.fail_index is not None
        record[f"{kind}_status"] = verdict.status
        record[f"{kind}_fail_tests"] = [problem.raw_inputs[kind][verdict.fail_index]] if failed else []
        record[f"{kind}_error"] = verdict.reason
        record[f"{kind}_cpu_s"] = verdict.cpu_s
    return record


def _entry(sample: Sample, solution: str, record: dict) -> dict:
    return {"task_id": sample.task_id, "solution": solution,
            **{f"{kind}_{part}": record[f"{kind}_{part}"] for kind in KINDS for part in ("status", "fail_tests")},
            **{f"{kind}_error": record[f"{kind}_error"] for kind in KINDS}}


def _scores(evaluated: dict[str, list[dict]]) -> dict:
    """pass@k on the base tests, and on the base and plus tests together (evalplus' "plus")."""
    return {"base": entries_pass_at_k(evaluated, lambda entry: entry["base_status"] == PASS),
            "plus": entries_pass_at_k(evaluated, lambda entry: entry["base_status"] == PASS and entry["plus_status"] == PASS)}
