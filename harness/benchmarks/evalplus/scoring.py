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
from typing import Callable

from harness import __version__
from harness.benchmarks.evalplus.tasks import KINDS, Dataset, Problem
from harness.execution import margins, values
from harness.execution.growth import may_grow_fast
from harness.execution.function_calls import PASS, TIMEOUT, OutputJudge, ReferenceRecorder, Verdict
from harness.execution.limits import Limits, TimePolicy
from harness.execution.pool import Run
from harness.execution.guards import EVALPLUS_GUARD
from harness.benchmarks.evalplus.groundtruth import Expected, GroundTruth, reference_run
from harness.evaluation import Plan, evaluate_samples, refuse_unknown_tasks
from harness.evaluation_runs import Check, Execution, Recheck, Runs
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
    # How much faster or slower a machine the margins look at (harness.execution.margins): the score's range, and how
    # long a timeout's re-check may run (this many times its limit) before it is final.
    margin_factor: float = margins.DEFAULT_FACTOR

    def __post_init__(self):
        margins.check_factor(self.margin_factor)

    def fingerprint(self, dataset: Dataset) -> str:
        decisive = {"dataset": dataset.hash, "benchmark": dataset.benchmark.name, "harness": __version__,
                    "time_policy": asdict(self.time_policy), "limits": asdict(self.limits.resolved()),
                    "margin_factor": self.margin_factor}
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
        at_speed=_at_speed,
        margin_factor=settings.margin_factor,
        meta={"dataset_file": dataset.benchmark.data.filename, "time_policy": asdict(settings.time_policy),
              "limits": asdict(settings.limits.resolved()),
              **({"not_official": [f"floors scaled to speed {settings.time_policy.speed:.2f}"]} if settings.time_policy.speed else {})},
        fields={"hash": dataset.hash},
    )


def _runs(dataset: Dataset, settings: EvalSettings) -> Runs:
    """Each sample runs on its base and its plus inputs (two checks), with limits from the reference solution's times,
    which run first (the ground truth).

    The first run's CPU clocks, each input's timer and the run's budget, are those of a machine `margin_factor` times
    faster (and a little more), in this machine's seconds: the floor and the task budget that many times longer, a limit
    of 4x the reference's time as it is (the reference would be faster there too). The verdict under the official
    limits is decided from the measured times (harness.execution.margins), and a run still going when such a clock
    stops it is a timeout that no machine within the factor would pass: final in one run, an endless input or a budget
    kill alike; so is one over an official limit by less than that whose run waited for no core (margins.contended).
    Another such one, or one stopped with no CPU clock (the wall backstop, a death), runs again once under the faster
    machine's clocks, wall backstops included (the official ones, for one no CPU clock stopped), after the reference
    solution is re-timed on the inputs whose limits decided; its times settle the verdict."""
    truth = GroundTruth(dataset)
    order = {task_id: index for index, task_id in enumerate(dataset.problems)}
    long_bases_left = 0  # base runs of LONG_REFERENCE_BASE_RUNS not ended yet
    policy, faster = settings.time_policy, margins.at_speed(settings.time_policy, 1 / settings.margin_factor)

    def clocks(reference: list[float]) -> tuple[margins.Clocks, margins.Clocks]:
        """The official clocks on these reference times, and a machine `margin_factor` times faster's."""
        return margins.evalplus_clocks(policy, reference), margins.evalplus_clocks(faster, reference)

    @functools.cache
    def first_clocks(task_id: str, kind: str) -> tuple[margins.Clocks, margins.Clocks]:
        return clocks(truth.get(task_id)[kind].seconds)  # once per task: a plus run has a thousand inputs

    def checks(task_id: str, solution: str) -> dict[str, Check]:
        nonlocal long_bases_left
        # Longest first, so that none is left alone at the end. A program's reference time alone rates it as the
        # reference, but one that loops forever, spends seconds per call, or is ten times slower shows it on its few
        # base inputs already. So the base runs go first, by the sample's reference time, and each plus run joins the
        # queue as its base run ends, by a length predicted from both (the tiers: _priority).
        expected = {kind: truth.get(task_id)[kind] for kind in KINDS}
        base_reference, plus_reference = (sum(expected[kind].seconds) for kind in KINDS)
        long_reference = base_reference + plus_reference > BASE_RUNS_AHEAD_S
        # Each call also costs a little besides the reference's time, which in the sandbox reads 0 for most inputs (a
        # process with a CPU limit reads its CPU clock in scheduler ticks): the plus run's share of the calls' cost.
        base_cost, plus_cost = (sum(expected[kind].seconds) + CALL_COST_S * len(expected[kind].seconds) for kind in KINDS)
        # A program whose cost may grow much faster than its base run shows: its plus run is not taken for a short one
        # (harness.execution.growth), so that it does not end the evaluation alone if it times out.
        least_s = policy.floor if may_grow_fast(solution) else 0.0

        def plus_priority(base: OutputJudge) -> float:
            nonlocal long_bases_left
            long_bases_left -= long_reference
            calls_s = max(0.0, base.verdict.cpu_s - base.loading)  # a stopped input's CPU included
            predicted = max(least_s, calls_s * plus_cost / base_cost)
            ahead = predicted > BASE_RUNS_AHEAD_S and not long_bases_left
            return _priority(AHEAD_PLUS_RUNS if ahead else PLUS_RUNS, predicted)

        checks = {}
        for kind in KINDS:
            official, fast = first_clocks(task_id, kind)
            tier = PLUS_RUNS if kind == "plus" else LONG_REFERENCE_BASE_RUNS if long_reference else BASE_RUNS
            checks[kind] = Check(*_run_for(dataset.problems[task_id], kind, solution, expected[kind], official, fast, settings,
                                           functools.partial(_settled, policy, expected[kind].seconds, official, fast, False)),
                                 priority=_priority(tier, base_reference + plus_reference),
                                 after=("base", plus_priority) if kind == "plus" else None)
        long_bases_left += long_reference  # once its checks are made: a grader fault above runs no base run
        return checks

    def recheck(task_id: str, solution: str, kind: str, outcome: dict) -> Recheck:
        problem, expected, first = dataset.problems[task_id], truth.get(task_id)[kind], Verdict(**outcome)
        inputs = _deciding_inputs(first, len(expected.seconds))
        before = tuple(((task_id, kind, index), _reference_run_on(problem, kind, index), functools.partial(ReferenceRecorder, 1))
                       for index in inputs)

        def check(recorders: list[ReferenceRecorder]) -> Check:
            seconds = list(expected.seconds)
            for index, recorder in zip(inputs, recorders):
                if recorder.error is None:  # it passed when the ground truth was computed: keep that time
                    seconds[index] = max(seconds[index], recorder.seconds[0])
            official, fast = clocks(seconds)
            # As the faster machine, its wall backstops too; or as this one, where no CPU clock stopped the first run.
            again = fast if margins.recheck_slowdown(first.margin, settings.margin_factor) < 1 else official
            return Check(*_run_for(problem, kind, solution, dataclasses.replace(expected, seconds=seconds), again, again, settings,
                                   functools.partial(_settled, policy, seconds, official, fast, True)),
                         priority=_priority(PLUS_RUNS, first.cpu_s))

        return Recheck(check, before)

    def record(task_id: str, solution: str, outcomes: dict[str, dict]) -> dict:
        return _record(dataset.problems[task_id], {kind: Verdict(**outcome) for kind, outcome in outcomes.items()})

    return Runs(limits=settings.limits, checks=checks, outcome=lambda judge: asdict(judge.settle(judge)),
                timed_out=lambda outcome: Verdict(**outcome).timed_out, record=record, recheck=recheck,
                prepare=lambda pool, task_ids, progress: truth.compute(sorted(task_ids, key=order.__getitem__), pool, progress),
                label=f"{dataset.benchmark.name} samples")


# The run order's tiers (lower first), longest first within each (_priority):
LONG_REFERENCE_BASE_RUNS = 0  # samples whose reference alone takes over BASE_RUNS_AHEAD_S: every plus run of theirs is long
AHEAD_PLUS_RUNS = 1  # plus runs predicted to take over BASE_RUNS_AHEAD_S, queued once no base run of tier 0 is left
BASE_RUNS = 2
PLUS_RUNS = 3
# All the base runs of an MBPP+ file take about 5 s on two cores: a plus run predicted longer is started before them, as
# held back it would only end later (Mbpp/599's sum(range(n + 1)) to n = 1e8, 20 s, ended the evaluation alone 4 s after
# the other core went idle). Not before the long references' base runs have all ended, though: three slow programs for
# Mbpp/599 (reference 18 s), and the plus runs of the two whose base runs ended first held both cores for 40 s, while the
# third's base run, which would have shown its plus run the longest (a 70 s budget kill), was still running.
BASE_RUNS_AHEAD_S = 5.0


def _priority(tier: int, length_s: float) -> float:
    return tier * 1e9 - length_s  # 1e9: more than any run's predicted length in seconds


CALL_COST_S = 1e-5  # a call's cost besides the reference's own time, for predicting a run's length (a rough figure)


def _deciding_inputs(first: Verdict, n_inputs: int) -> list[int]:
    """The inputs whose reference times made the limit that stopped the first run: the input's own, or all of them
    for the run budget their limits add up to (the task budget and the wall backstop owe nothing to the reference)."""
    margin = first.margin or {}
    if margin.get("limit") in (margins.FLOOR, margins.PER_INPUT) and margin.get("input") is not None:
        return [margin["input"]]
    return list(range(n_inputs)) if margin.get("limit") == margins.RUN_BUDGET else []


def _reference_run_on(problem: Problem, kind: str, index: int) -> Run:
    run = reference_run(problem, kind)
    return dataclasses.replace(run, inputs_line=values.encode([problem.inputs[kind][index]]).encode())


def _settled(policy: TimePolicy, reference: list[float], official: margins.Clocks, faster: margins.Clocks, rechecking: bool,
             judge: OutputJudge) -> Verdict:
    """The verdict under evalplus' clocks (`official`, made of `policy` and the `reference` times), settled from a run
    whose CPU clocks may have been longer (see _runs and harness.execution.margins.settle); a timeout's margin is final
    if it trips the `faster` machine's clocks too."""
    verdict = judge.verdict
    finished = margins.of_finished(policy, reference, judge.seconds, verdict.cpu_s) if verdict.status == PASS else None
    return margins.settle(verdict, judge.timed_seconds, judge.loading, official, faster, finished, rechecking)


def _run_for(problem: Problem, kind: str, solution: str, expected: Expected, wall: margins.Clocks, cpu: margins.Clocks,
             settings: EvalSettings, settle: Callable[[OutputJudge], Verdict]):
    """A run whose CPU clocks (each input's timer and the run's budget) are `cpu`'s (and a little more,
    margins.TIMER_OVERSHOOT), and whose wall backstops are made of `wall`'s."""
    # cpu's per-input limits are max(its floor, 4x the reference), and wall's floor is at most its own.
    run = Run(solution, problem.entry_point, expected.inputs_line, wall.per_input, margins.TIMER_OVERSHOOT * cpu.budget,
              wall.budget * settings.limits.wall_factor + WALL_BACKSTOP_EXTRA_S, guard=EVALPLUS_GUARD,
              timer_stretch=margins.TIMER_OVERSHOOT, timer_floor=margins.TIMER_OVERSHOOT * cpu.floor,
              digest_inputs=tuple(expected.digests))
    arguments = problem.inputs[kind]
    exact_text_ok = not problem.has_special_oracle

    def oracle(index: int, output) -> bool:
        wanted = values.decode(expected.outputs[index])
        return problem.outputs_match(arguments[index], output, wanted, expected.atol_at(index, problem.atol))

    def make_judge() -> OutputJudge:
        return OutputJudge(
            expected.outputs, oracle, lambda index: exact_text_ok,
            lambda index: OUTPUT_SIZE_SLACK_BYTES + OUTPUT_SIZE_FACTOR * expected.size(index), settle=settle,
            digests=expected.digests,
        )

    return run, make_judge


def _record(problem: Problem, verdicts: dict[str, Verdict]) -> dict:
    record = {}
    for kind, verdict in verdicts.items():
        failed = verdict.status != PASS and verdict.fail_index is not None
        record[f"{kind}_status"] = verdict.status
        record[f"{kind}_fail_tests"] = [problem.raw_inputs[kind][verdict.fail_index]] if failed else []
        record[f"{kind}_error"] = verdict.reason
        record[f"{kind}_cpu_s"] = verdict.cpu_s
        record[f"{kind}_margin"] = verdict.margin
    return record


def _entry(sample: Sample, solution: str, record: dict) -> dict:
    return {"task_id": sample.task_id, "solution": solution,
            **{f"{kind}_{part}": record[f"{kind}_{part}"] for kind in KINDS for part in ("status", "fail_tests")},
            **{f"{kind}_error": record[f"{kind}_error"] for kind in KINDS},
            **{f"{kind}_margin": record.get(f"{kind}_margin") for kind in KINDS}}  # records made by hand may lack one


def _at_speed(entry: dict, slowdown: float) -> dict:
    """An entry as a machine `slowdown` times slower (below 1: faster) decides it: a verdict a clock decided or could
    have (one with a margin) passes there if its margin says so; one an output decided stays."""
    changed = dict(entry)
    for kind in KINDS:
        margin = entry.get(f"{kind}_margin")
        if margin is not None and margins.Margin(**margin).passes_at(slowdown) != (entry[f"{kind}_status"] == PASS):
            changed[f"{kind}_status"] = PASS if entry[f"{kind}_status"] != PASS else TIMEOUT
    return changed


def _scores(evaluated: dict[str, list[dict]]) -> dict:
    """pass@k on the base tests, and on the base and plus tests together (evalplus' "plus")."""
    return {"base": entries_pass_at_k(evaluated, lambda entry: entry["base_status"] == PASS),
            "plus": entries_pass_at_k(evaluated, lambda entry: entry["base_status"] == PASS and entry["plus_status"] == PASS)}
