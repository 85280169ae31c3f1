"""Evaluate samples on LiveCodeBench (code generation): each program runs in the sandbox on its problem's
public then private tests, in order, stopping at the first failure as lcb_runner does; the child only
returns what the program printed (stdin problems) or returned (functional problems), and the harness
judges it with lcb_runner's comparison rules (harness.benchmarks.livecodebench).

Time: lcb_runner gives each test 6 s of wall time (signal.alarm), and the sample (6 + 1) s per test + 5 s; here
they are CPU time of the child, with wall time as a backstop (Limits.wall_factor), so a loaded machine does not turn
correct programs into timeouts. As for evalplus (harness.benchmarks.evalplus.scoring._runs), the first run's CPU clocks
are the margin factor F times those, the verdict under the official ones is settled from the measured times, and a
timeout is final when it still trips a clock on a machine F times faster or its run waited for no core, else
re-checked once under those clocks; every verdict a clock decided, or could have, carries its margin
(harness.execution.margins). Results: per problem the samples' verdicts (pass/fail/timeout, lcb_runner's error
code and message, the failing test), and pass@1 / pass@5 over all problems.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from harness import __version__
from harness.benchmarks.livecodebench import tasks as lcb
from harness.benchmarks.livecodebench import grading
from harness.evaluation import Plan, evaluate_samples, passed_at_speed, refuse_unknown_tasks
from harness.evaluation_runs import Check, Execution, Recheck, Runs
from harness.execution import margins, values
from harness.execution.function_calls import PASS, TIMEOUT, OutputJudge
from harness.execution.limits import Limits
from harness.execution.pool import Run
from harness.metrics import entries_pass_at_k
from harness.samples import Sample

LCB_GUARD = {"attributes": {module: list(names) for module, names in grading.DISABLED_ATTRIBUTES.items()},
             "modules": list(grading.BLOCKED_MODULES), "int_max_str_digits": grading.INT_MAX_STR_DIGITS}
# lcb_runner's error codes (testing_util): -1 compilation, -2 wrong answer, -3 time limit, -4 runtime error.
OUTPUT_SLACK_BYTES = 64 << 20


@dataclass(frozen=True)
class LiveCodeBenchSettings:
    release: str = lcb.DEFAULT_RELEASE
    start_date: str | None = None
    end_date: str | None = None
    test_timeout_s: float = grading.TEST_TIMEOUT_S
    limits: Limits = field(default_factory=Limits)
    stack_bytes: int | None = field(default_factory=grading.machine_stack_bytes)  # None: no limit but the memory's
    margin_factor: float = margins.DEFAULT_FACTOR

    def __post_init__(self):
        margins.check_factor(self.margin_factor)

    def fingerprint(self) -> str:
        decisive = {"harness": __version__, "revision": lcb.PINNED_REVISION, "timeout": self.test_timeout_s,
                    "limits": asdict(self.limits.resolved()), "stack_bytes": self.stack_bytes, "margin_factor": self.margin_factor}
        return hashlib.sha256(json.dumps(decisive, sort_keys=True).encode()).hexdigest()


def _arguments(problem: lcb.Problem, test: lcb.Test) -> list:
    return grading.parse_call_inputs(test.input) if problem.style == lcb.FUNCTIONAL else [test.input]


def _expected(problem: lcb.Problem, test: lcb.Test):
    return grading.parse_call_output(test.output) if problem.style == lcb.FUNCTIONAL else test.output


def _clocks(n_tests: int, settings: LiveCodeBenchSettings) -> margins.Clocks:
    """lcb_runner's clocks: each test's, and the sample's (grading.sample_timeout_s)."""
    return margins.Clocks.fixed([float(settings.test_timeout_s)] * n_tests,
                                float(grading.sample_timeout_s(n_tests, int(settings.test_timeout_s))))


def _task(problem: lcb.Problem, code: str, settings: LiveCodeBenchSettings, slowdown: float, stretch: float,
          rechecking: bool):
    """A run under the official clocks as a machine `slowdown` times slower has them, whose CPU clocks run to `stretch`
    times those (and a little more, margins.TIMER_OVERSHOOT); its verdict is settled under the official clocks."""
    tests = problem.tests()
    official = _clocks(len(tests), settings)
    clocks = official.slower(slowdown)
    program = grading.prepare_program(problem, code)
    try:
        inputs_line = values.encode([_arguments(problem, test) for test in tests]).encode()
        expected = [values.encode(_expected(problem, test)).encode() for test in tests]
    except ValueError as error:  # a test that is not valid JSON: the data is broken, not the sample
        raise lcb.DataError(f"LiveCodeBench problem {problem.question_id}: unreadable test ({error})") from None
    run = Run(program.text, grading.ENTRY_NAME, inputs_line, clocks.per_input, stretch * margins.TIMER_OVERSHOOT * clocks.budget,
              clocks.budget * settings.limits.wall_factor + 5.0, guard=LCB_GUARD, module_name=grading.MODULE_NAME,
              devnull_stdin=True, stack_bytes=settings.stack_bytes, timer_stretch=stretch * margins.TIMER_OVERSHOOT)
    compare = grading.call_outputs_match if problem.style == lcb.FUNCTIONAL else _stdio_match

    def oracle(index: int, output) -> bool:
        return compare(output, values.decode(expected[index]))

    def settle(judge: OutputJudge):
        return margins.settle_fixed(judge.verdict, judge.timed_seconds, judge.loading, official, settings.margin_factor, rechecking)

    def make_judge() -> OutputJudge:
        return OutputJudge(expected, oracle, lambda index: True, lambda index: OUTPUT_SLACK_BYTES + 16 * len(expected[index]),
                           settle=settle)

    return run, make_judge


def _stdio_match(output, expected: str) -> bool:
    return isinstance(output, str) and grading.stdio_outputs_match(output, expected)


def _record(judge: OutputJudge) -> dict:
    verdict = judge.settle(judge)
    if verdict.status == PASS:
        code, message = 0, None
    elif verdict.timed_out:
        code, message = -3, "Time Limit Exceeded"
    elif verdict.reason == "wrong output":
        code, message = -2, "Wrong Answer"
    elif verdict.fail_index is None:
        code, message = -1, "Compilation Error"
    else:
        code, message = -4, "Runtime Error"
    status = TIMEOUT if code == -3 else verdict.status
    return {"status": status, "error_code": code, "error_message": message, "reason": verdict.reason,
            "fail_test": verdict.fail_index, "cpu_s": verdict.cpu_s, "margin": verdict.margin}


def evaluate(
    samples_path: str | Path,
    output_path: str | Path | None = None,
    data_dir: str | None = None,
    settings: LiveCodeBenchSettings = LiveCodeBenchSettings(),
    progress: bool = True,
    execution: Execution = Execution(),
) -> dict:
    problems, data_file = lcb.read_release(settings.release, settings.start_date, settings.end_date, data_dir)
    return evaluate_samples(samples_path, output_path,
                            functools.partial(plan, problems, data_dir=data_dir, settings=settings, data_file=data_file), progress,
                            execution=execution)


def plan(problems: list[lcb.Problem], samples: list[Sample], samples_path: Path | None = None, data_dir: str | None = None,
         settings: LiveCodeBenchSettings = LiveCodeBenchSettings(), data_file: lcb.DataFile | None = None) -> Plan:
    problems = {problem.question_id: problem for problem in problems}
    # Samples for problems outside the window are left out, as lcb_runner scores only the window's problems;
    # ids that no release has at all are an error.
    outside = [sample for sample in samples if sample.task_id not in problems]
    if outside:  # the release is read once, and only when a sample is outside the window
        refuse_unknown_tasks(outside, _release_ids(settings, data_dir), f"release {settings.release}")
    return Plan(
        benchmark=lcb.NAME,
        task_ids=list(problems),
        keyed=[(sample, sample.solution if sample.solution is not None else sample.completion)
               for sample in samples if sample.task_id in problems],
        fingerprint=settings.fingerprint(),
        runs=_runs(problems, settings),
        entry=lambda sample, code, record: {"question_id": sample.task_id, "solution": code, "passed": record["status"] == PASS,
                                            **{key: record.get(key) for key in ("status", "error_code", "error_message", "reason",
                                                                                "fail_test", "margin")}},
        scores=lambda evaluated: entries_pass_at_k(evaluated, lambda entry: entry["passed"], ks=(1, 5)),
        at_speed=passed_at_speed,
        margin_factor=settings.margin_factor,
        meta={"release": settings.release, "revision": lcb.PINNED_REVISION, "start_date": settings.start_date,
              "end_date": settings.end_date, "data_file": str(data_file.path) if data_file else None,
              "data_file_holds": data_file.record() if data_file else None,  # what the file is, not only what it is called
              "test_timeout_s": settings.test_timeout_s, "limits": asdict(settings.limits.resolved()),
              "stack_bytes": settings.stack_bytes},
    )


def _runs(problems: dict[str, lcb.Problem], settings: LiveCodeBenchSettings) -> Runs:
    """One run per sample over all its tests; a timeout its margin leaves open runs again once, as on a machine
    `margin_factor` times faster (margins.recheck_slowdown), and its times settle it."""
    factor = settings.margin_factor

    def checks(question_id: str, code: str) -> dict[str, Check]:
        return {"tests": Check(*_task(problems[question_id], code, settings, 1.0, factor, False))}

    def recheck(question_id: str, code: str, part: str, outcome: dict) -> Recheck:
        slowdown = margins.recheck_slowdown(outcome.get("margin"), factor)
        return Recheck(lambda before: Check(*_task(problems[question_id], code, settings, slowdown, 1.0, True),
                                            priority=-outcome["cpu_s"]))

    return Runs(limits=settings.limits, checks=checks, outcome=_record, timed_out=lambda outcome: outcome["status"] == TIMEOUT,
                record=lambda question_id, code, outcomes: outcomes["tests"], recheck=recheck, label="livecodebench samples")


def _release_ids(settings: LiveCodeBenchSettings, data_dir: str | None) -> set[str]:
    """The problems of the whole release, when a date window narrows it (else the window is the release)."""
    if settings.start_date is None and settings.end_date is None:
        return set()
    return {problem.question_id for problem in lcb.load_problems(settings.release, data_dir=data_dir)}
