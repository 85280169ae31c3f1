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

from tqdm import tqdm

from harness import __version__
from harness.benchmarks.evalplus import EVALPLUS_GUARD, KINDS, Dataset, EvalPlusBenchmark, Problem
from harness.execution import values
from harness.execution.executor import Executor, run_alone
from harness.execution.function_calls import PASS, Digest, OutputJudge, ReferenceRecorder, Verdict
from harness.execution.limits import Limits, TimePolicy
from harness.execution.pool import Run
from harness.execution.sandbox import choose
from harness.groundtruth import Expected, GroundTruth, reference_run
from harness.evaluation import Plan, Todo, evaluate_samples, refuse_unknown_tasks, unconfirmed_key
from harness.journal import Journal
from harness.metrics import entries_pass_at_k
from harness.samples import Sample

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


def solution_of(sample: Sample, problem: Problem) -> str:
    return sample.solution if sample.solution is not None else problem.solution_from_completion(sample.completion)


def evaluate(
    benchmark: EvalPlusBenchmark,
    samples_path: str | Path,
    output_path: str | Path | None = None,
    data_dir: str | None = None,
    settings: EvalSettings = EvalSettings(),
    progress: bool = True,
) -> dict:
    return evaluate_samples(samples_path, output_path, functools.partial(plan, benchmark.load(data_dir), settings=settings), progress)


def plan(dataset: Dataset, samples: list[Sample], samples_path: Path | None = None, settings: EvalSettings = EvalSettings()) -> Plan:
    refuse_unknown_tasks(samples, dataset.problems, dataset.benchmark.name)
    return Plan(
        benchmark=dataset.benchmark.name,
        task_ids=list(dataset.problems),
        keyed=[(sample, solution_of(sample, dataset.problems[sample.task_id])) for sample in samples],
        fingerprint=settings.fingerprint(dataset),
        execute=functools.partial(_execute, dataset, settings=settings),
        entry=_entry,
        scores=_scores,
        meta={"dataset_file": dataset.benchmark.data.filename, "time_policy": asdict(settings.time_policy),
              "limits": asdict(settings.limits.resolved())},
        fields={"hash": dataset.hash},
    )


def _execute(dataset: Dataset, todo: Todo, journal: Journal, progress: bool, settings: EvalSettings) -> int:
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

        # Samples an interrupted run left waiting for the re-check go straight to it.
        suspects: dict[str, dict[str, Verdict]] = {
            key: {kind: Verdict(**verdict) for kind, verdict in journal.records[unconfirmed_key(key)].items()}
            for key in todo if unconfirmed_key(key) in journal.records}
        # Slowest first (by the reference solution's time, which also flags inputs that are slow by
        # nature), so that no long run is left alone at the end.
        first_pass = [key for key in todo if key not in suspects]
        for key in first_pass:
            for kind in KINDS:
                submit(key, kind, -sum(truth.get(todo[key][0])[kind].seconds))
        verdicts: dict[str, dict[str, Verdict]] = {}
        bar = tqdm(total=len(first_pass), desc=f"{dataset.benchmark.name} samples", unit="sample", disable=not progress)
        for _ in range(len(first_pass) * len(KINDS)):
            (key, kind), judge = pool.next_result()
            verdicts.setdefault(key, {})[kind] = judge.verdict
            if len(verdicts[key]) == len(KINDS):
                finished = verdicts.pop(key)
                if any(verdict.timed_out for verdict in finished.values()):
                    suspects[key] = finished  # journaled as final once confirmed
                    journal.append(unconfirmed_key(key), {kind: asdict(verdict) for kind, verdict in finished.items()})
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


def _entry(sample: Sample, solution: str, record: dict) -> dict:
    return {"task_id": sample.task_id, "solution": solution,
            **{f"{kind}_{part}": record[f"{kind}_{part}"] for kind in KINDS for part in ("status", "fail_tests")},
            **{f"{kind}_error": record[f"{kind}_error"] for kind in KINDS}}


def _scores(evaluated: dict[str, list[dict]]) -> dict:
    """pass@k on the base tests, and on the base and plus tests together (evalplus' "plus")."""
    return {"base": entries_pass_at_k(evaluated, lambda entry: entry["base_status"] == PASS),
            "plus": entries_pass_at_k(evaluated, lambda entry: entry["base_status"] == PASS and entry["plus_status"] == PASS)}
