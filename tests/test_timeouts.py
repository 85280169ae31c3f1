"""A verdict decided by a clock is final only once confirmed: a run stopped by the clocks of a machine twice as fast
is, and so is one that waited for no core (tests/test_margins.py); any other timeout is repeated once under those
clocks (harness.evaluation_runs), after the reference solution was re-timed on the input that decided
(harness.benchmarks.evalplus.scoring); the results say how many were re-checked and how many timed out again."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from harness.benchmarks.evalplus import HUMANEVAL_PLUS
from harness.benchmarks.evalplus.scoring import EvalSettings, evaluate
from harness.evaluation import Execution, journal_path, sample_key, unconfirmed_key
from harness.execution import margins, values
from harness.execution.function_calls import PASS, TIMEOUT, OutputJudge, Verdict
from harness.execution.limits import Limits, TimePolicy
from harness.execution.pool import Run, WorkerPool
from harness.execution.sandbox import choose
from harness.journal import Journal

CORRECT = """
def has_close_elements(numbers, threshold):
    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for j, b in enumerate(numbers) if i != j)
"""
# Python bytecode: the input's own timer stops it, and evalplus fails an input over its limit.
ENDLESS_LOOP = "def has_close_elements(numbers, threshold):\n    while True:\n        pass\n"
# One C call: no signal handler runs until it returns, so the run's CPU budget stops it (before RLIMIT_CPU).
ENDLESS_C_CALL = "def has_close_elements(numbers, threshold):\n    return sum(range(10 ** 15))\n"


def test_endless_programs_are_final_once_their_margin_is_known(tmp_path, data_dir):
    samples = tmp_path / "s.jsonl"
    samples.write_text("".join(json.dumps({"task_id": "HumanEval/0", "solution": code}) + "\n" for code in (ENDLESS_LOOP, ENDLESS_C_CALL, CORRECT)))
    settings = EvalSettings(TimePolicy(timeout_per_task=0.5))
    results = evaluate(HUMANEVAL_PLUS, samples, tmp_path / "out.json", data_dir, settings, progress=False, execution=Execution(parallel=2))
    loop, c_call, correct = results["eval"]["HumanEval/0"]
    assert (loop["base_status"], loop["plus_status"]) == ("fail", "fail")
    assert loop["base_error"].startswith("TimeoutException")
    assert (c_call["base_status"], c_call["plus_status"]) == ("timeout", "timeout")
    assert c_call["base_error"] == "killed: cpu budget"  # the supervisor's budget, never SIGXCPU (exit -24)
    assert (correct["base_status"], correct["plus_status"]) == ("pass", "pass")
    # The loop's timer stopped it at twice its limit; the C call held its timer off until the budget stopped it, at
    # twice the official 2.5 s. Neither is re-checked: no load, nor a machine twice as fast, gives them a pass.
    assert results["scoder"]["timeouts"] == {"rechecked": 0, "confirmed": 0}
    assert loop["base_margin"]["ratio"] >= 2 and loop["base_margin"]["final"]
    assert c_call["base_margin"]["ratio"] >= 2 and c_call["base_margin"]["passes_up_to"] == 0.0


def test_a_limit_relative_to_the_reference_is_not_stretched(humaneval):
    """The first run's clocks are a machine twice as fast's: the floor twice as long, but a limit of 4x the reference's
    time as it is, since the reference would run twice as fast there too (so a run over it is over on any machine)."""
    from harness.benchmarks.evalplus.groundtruth import Expected
    from harness.benchmarks.evalplus.scoring import _run_for

    problem = humaneval.problems["HumanEval/0"]
    # FAKE reference times: 1 s on the first input
    expected = Expected(problem.inputs_lines["base"], [b"0"] * 7, [1.0] + [0.0] * 6, None)
    policy = TimePolicy()
    official, faster = (margins.evalplus_clocks(clocks, expected.seconds) for clocks in (policy, margins.at_speed(policy, 1 / 2)))
    run, _ = _run_for(problem, "base", CORRECT, expected, official, faster, EvalSettings(), lambda judge: None)
    assert run.time_limits == [4.0] + [1.0] * 6  # the official limits, from which the wall backstops are made
    # Each input's CPU timer: max(limit x 1.02, 2 x the floor x 1.02), so 4.08 s on the first (not 8.16), 2.04 s after.
    assert (run.timer_stretch, run.timer_floor) == (1.02, 2.04)
    # The budget a machine twice as fast has: min(120, 4 + 6 x 2) + 2 x 2 seconds, and 2%.
    assert run.budget_cpu_s == pytest.approx(1.02 * (16 + 4))


def test_each_input_timer_runs_to_its_stretched_limit_or_the_timer_floor():
    endless = "def f(x):\n    while True:\n        pass\n"  # written for this test
    runs = {"limit": Run(endless, "f", b"[[1]]", [0.3], 5.0, 10.0, timer_stretch=1.02, timer_floor=0.1),
            "floor": Run(endless, "f", b"[[1]]", [0.1], 5.0, 10.0, timer_stretch=1.02, timer_floor=0.3)}

    def judge() -> OutputJudge:
        return OutputJudge([b"1"], lambda index, output: True, lambda index: True, lambda index: 100)

    with WorkerPool(2, choose(), Limits()) as pool:
        stopped = {name: listener.verdict for name, listener in pool.map((name, run, judge) for name, run in runs.items())}
    # The timer counts CPU in scheduler ticks, but an input is stopped only once the exact count (the run's CPU too)
    # has reached its limit: 0.306 s and 0.3 s. 0.1 s is far below either.
    allowed = {"limit": 0.306, "floor": 0.3}
    for name, verdict in stopped.items():
        assert verdict.reason.startswith("TimeoutException") and allowed[name] <= verdict.cpu_s < 0.6, (name, verdict)


def test_a_cpu_timer_that_fires_early_does_not_stop_the_input():
    """The profiling timer counts in scheduler ticks, and beside processes that wake often it fires before the exact
    CPU count reaches its limit (worker._on_cpu_timer). Written for this test: a program that delivers the timer's
    signal to itself at once, as an early tick would, then computes for 0.2 s of its 0.5 s limit and returns."""
    early = ("import signal, time\ndef f(x):\n    signal.raise_signal(signal.SIGPROF)\n    started = time.process_time()\n"
             "    while time.process_time() - started < 0.2:\n        pass\n    return x\n")
    verdict = _verdict_alone(Run(early, "f", b"[[1]]", [0.5], 5.0, 10.0))
    assert verdict.status == PASS, verdict


def test_a_program_that_replaces_the_cpu_clock_is_still_timed_and_stopped():
    """Written for this test: a program that replaces time.process_time with a clock that stands still (as one mocking
    time might), then computes for 1 s on an input whose limit is 0.3 s. The worker reads its own clock, bound before
    any program ran: the input is stopped at its limit, not let run because the program's clock says no time passed."""
    frozen = ("import time\n_real = time.process_time\ntime.process_time = lambda: 0.0\ndef f(x):\n    started = _real()\n"
              "    while _real() - started < 1.0:\n        pass\n    return x\n")
    verdict = _verdict_alone(Run(frozen, "f", b"[[1]]", [0.3], 5.0, 10.0))
    assert verdict.reason.startswith("TimeoutException") and 0.3 <= verdict.cpu_s < 0.9, verdict


def _verdict_alone(run: Run) -> Verdict:
    """The verdict of a run of one input whose expected output is 1, in a pool of one worker."""
    def judge() -> OutputJudge:
        return OutputJudge([b"1"], lambda index, output: output == 1, lambda index: True, lambda index: 100)

    with WorkerPool(1, choose(), Limits()) as pool:
        [(_, listener)] = list(pool.map([("alone", run, judge)]))
    return listener.verdict


def test_a_long_output_arrives_whole_within_its_wall_backstop():
    """An output travels as one line of up to Limits.max_output_bytes, which the zygote relays in the pipe's 64 KB
    pieces. Joined anew on each piece, the line was copied again and again (quadratic: 141 MB took two minutes of the
    zygote's CPU), while the child waited on the pipe, until its wall backstop stopped a correct program. Written for
    this test: a program returning 60 MB of text, in well under its 1 s limit, whose backstop is 4 s of wall time."""
    text = "x" * (60 * 10**6)
    run = Run(f"def f(x):\n    return 'x' * {len(text)}\n", "f", b"[[1]]", [1.0], 2.0, 4.0)

    def judge() -> OutputJudge:
        return OutputJudge([values.encode(text).encode()], lambda index, output: output == text, lambda index: True,
                           lambda index: 2 * len(text))

    with WorkerPool(1, choose(), Limits()) as pool:
        [(_, listener)] = list(pool.map([("long", run, judge)]))
    assert listener.verdict.status == PASS, listener.verdict


def test_a_line_over_the_zygotes_limit_stops_the_run_and_leaves_the_next_one_clean():
    """A child's line longer than worker.MAX_LINE_BYTES (320 MB) stops its run, and what it wrote is not a line of the
    next run: the zygote forwards the child's bytes as it reads them, and the harness, which splits them into lines,
    holds the unfinished one only for this run. Written for this test: a program that writes 400 MB with no newline to
    every pipe it holds open (its report pipe), then a correct program in the same worker."""
    flood = ("import os, stat\ndef f(x):\n    piece = b'x' * (1 << 20)\n    for fd in range(3, 256):\n        try:\n"
             "            if stat.S_ISFIFO(os.fstat(fd).st_mode):\n                for _ in range(400):\n"
             "                    os.write(fd, piece)\n        except OSError:\n            pass\n    return x\n")

    def judge() -> OutputJudge:
        return OutputJudge([b"1"], lambda index, output: output == 1, lambda index: True, lambda index: 100)

    runs = [("flood", Run(flood, "f", b"[[1]]", [20.0], 30.0, 60.0)), ("next", Run("def f(x):\n    return x\n", "f", b"[[1]]", [1.0], 2.0, 4.0))]
    with WorkerPool(1, choose(), Limits()) as pool:
        verdicts = {key: listener.verdict for key, listener in pool.map([(key, run, judge) for key, run in runs])}
    assert (verdicts["flood"].status, verdicts["flood"].reason) == (TIMEOUT, "killed: output too large"), verdicts
    assert verdicts["next"].status == PASS, verdicts


def test_a_timeout_that_does_not_repeat_alone_is_not_final(tmp_path, data_dir, humaneval):
    # The first verdicts are injected (FAKE: what a busy machine can give a correct program), as an interrupted run
    # leaves them in the journal; the repeat alone decides.
    samples = tmp_path / "s.jsonl"
    samples.write_text(json.dumps({"task_id": "HumanEval/0", "solution": CORRECT}) + "\n")
    output = tmp_path / "out.json"
    journal = Journal(journal_path(output), EvalSettings().fingerprint(humaneval))
    journal.append(unconfirmed_key(sample_key("HumanEval/0", CORRECT)),
                   {"base": asdict(Verdict(TIMEOUT, 3, "killed: cpu budget")), "plus": asdict(Verdict(PASS))})
    journal.close()
    results = evaluate(HUMANEVAL_PLUS, samples, output, data_dir, progress=False)
    [entry] = results["eval"]["HumanEval/0"]
    assert (entry["base_status"], entry["plus_status"]) == ("pass", "pass")
    assert results["scoder"]["timeouts"] == {"rechecked": 1, "confirmed": 0}


# Written for this test: correct, but sleeps 2.5 s on every call, using no CPU. Only the wall backstop (3x the limit
# + 1 s) stops it: at a 0.3 s limit, 1.9 s. Backstops made of the longer CPU timers (2.8 s) would let it pass.
SLEEPS = "import time\n" + CORRECT.replace("):\n", "):\n    time.sleep(2.5)\n", 1)


def test_a_sleeping_program_gets_no_more_wall_time_from_longer_cpu_timers(tmp_path, data_dir):
    samples = tmp_path / "s.jsonl"
    samples.write_text(json.dumps({"task_id": "HumanEval/0", "solution": SLEEPS}) + "\n")
    settings = EvalSettings(TimePolicy(min_time_limit=0.3))
    results = evaluate(HUMANEVAL_PLUS, samples, tmp_path / "out.json", data_dir, settings, progress=False, execution=Execution(parallel=2))
    [entry] = results["eval"]["HumanEval/0"]
    assert (entry["base_status"], entry["plus_status"]) == ("fail", "fail") and entry["base_error"].startswith("TimeoutException")
    # No CPU clock stopped it: re-checked once under the same clocks (not longer ones), and confirmed.
    assert entry["base_margin"]["limit"] == "no CPU clock"
    assert results["scoder"]["timeouts"] == {"rechecked": 2, "confirmed": 2}
    # Its first run, too, was stopped by the backstop on its first input, not after sleeping through several.
    lines = map(json.loads, journal_path(tmp_path / "out.json").read_text().splitlines()[1:])
    [first] = [line["record"] for line in lines if line["key"] == unconfirmed_key(sample_key("HumanEval/0", SLEEPS))]
    assert (first["base"]["status"], first["base"]["fail_index"]) == ("fail", 0)
