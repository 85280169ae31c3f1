"""Every verdict a clock decided, or could have, carries its margin (harness.execution.margins), and the results say
what the score would be on a machine F times slower or faster, each such verdict re-decided from its measured times:
a pass near its limit fails on the slower machine, and a timeout that finishes within F times its limit passes on the
faster one. A timeout that is still running at F times its limit is final, and so is one whose run did not wait for a
core: only a busy machine's is re-checked.

The programs are written for the purpose (labelled): each is correct, and its first call spins a set fraction of the
1 s floor in CPU time (0.5x, 0.95x, 1.05x and 3x), which no load on the machine changes."""

from __future__ import annotations

import io
import json
import os
import random
from contextlib import contextmanager

import pytest

from harness.benchmarks.evalplus import HUMANEVAL_PLUS
from harness.benchmarks.evalplus.scoring import EvalSettings, evaluate
from harness.cli import main
from harness.evaluation import Execution
from harness.execution import margins
from harness.execution.function_calls import FAIL, Verdict
from harness.execution.limits import TimePolicy
from harness.report.console import print_eval_summary, print_pass_at_k
from tests.busy import busy_loops

FRACTIONS = (0.5, 0.95, 1.05, 3.0)


def spinning(fraction: float, floor: float = 1.0) -> str:
    return f'''import time
_calls = []
def has_close_elements(numbers, threshold):
    if not _calls:  # written for this test: spin {fraction} of the floor on the first call
        started = time.process_time()
        while time.process_time() - started < {fraction * floor!r}:
            pass
    _calls.append(1)
    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])
'''


@contextmanager
def as_if_busy():
    """FAKE contention, labelled: every run counts as having waited for a core (margins.contended), as on a busy machine,
    so that a timeout near its limit is re-checked whatever this machine's load.
    test_a_near_timeout_is_re_checked_only_on_a_busy_machine runs the real thing."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(margins, "CONTENDED_SHARE", -1.0)
        yield


@pytest.fixture(scope="module")
def runs(tmp_path_factory, data_dir):
    """The four programs scored with the margin factor 2.5 and 4, as on a busy machine."""
    folder = tmp_path_factory.mktemp("margins")
    samples = folder / "s.jsonl"
    samples.write_text("".join(json.dumps({"task_id": "HumanEval/0", "solution": spinning(f)}) + "\n" for f in FRACTIONS))
    with as_if_busy():
        return {factor: evaluate(HUMANEVAL_PLUS, samples, folder / f"factor-{factor}.json", data_dir, EvalSettings(margin_factor=factor),
                                 progress=False, execution=Execution(parallel=2))
                for factor in (2.5, 4.0)}


def test_each_verdict_carries_its_margin(runs):
    half, near_pass, near_fail, triple = runs[2.5]["eval"]["HumanEval/0"]
    assert [entry["base_status"] for entry in (half, near_pass, near_fail, triple)] == ["pass", "pass", "fail", "fail"]
    for entry, fraction in ((half, 0.5), (near_pass, 0.95), (near_fail, 1.05)):
        margin = entry["base_margin"]
        assert (margin["limit"], margin["input"]) == (margins.FLOOR, 0)
        assert fraction <= margin["ratio"] < fraction + 0.03, entry["base_margin"]
    # Over its limit: failed by the input's timer, as evalplus fails it; the re-check measured how far over.
    assert near_fail["base_error"].startswith("TimeoutException")
    assert 1 / 1.08 < near_fail["base_margin"]["passes_up_to"] < 1 / 1.05  # passes on a machine 1.05x faster
    # Still running at 2.5 times its limit: how far over is at least that, and no faster machine within it passes it.
    assert triple["base_margin"]["ratio"] >= 2.45 and triple["base_margin"]["passes_up_to"] == 0.0
    # The 1.05x run is re-checked (base and plus): a machine 2.5x faster may pass it, and the machine was busy. The 3x
    # one is not: its timer stopped it at 2.5 times its limit, which no load on this machine explains either.
    assert runs[2.5]["scoder"]["timeouts"] == {"rechecked": 2, "confirmed": 2}


def test_a_near_timeout_is_re_checked_only_on_a_busy_machine(tmp_path, data_dir):
    """The 1.05x program, alone on a quiet machine and then beside two busy loops per core. Quiet, its run waits for no
    core: a second run would sample the same CPU time, so its verdict is final as measured, margin and all. Beside the
    loops, its run waits for a core (and shares its caches), so the timeout is re-checked. (With fewer loops than that,
    the scheduler may leave it a core of its own: then it waits for none, and is final too.)"""
    from harness.execution import calibration

    calibration.measure()  # measured before, not beside, the quiet run
    samples = tmp_path / "s.jsonl"
    samples.write_text(json.dumps({"task_id": "HumanEval/0", "solution": spinning(1.05)}) + "\n")
    quiet = evaluate(HUMANEVAL_PLUS, samples, tmp_path / "quiet.json", data_dir, progress=False, execution=Execution(parallel=1))
    with busy_loops(2 * len(os.sched_getaffinity(0))):
        busy = evaluate(HUMANEVAL_PLUS, samples, tmp_path / "busy.json", data_dir, progress=False, execution=Execution(parallel=1))
    for results in (quiet, busy):
        [entry] = results["eval"]["HumanEval/0"]
        assert entry["base_status"] == "fail" and entry["base_error"].startswith("TimeoutException")
        assert entry["base_margin"]["final"] and 1 / 1.2 < entry["base_margin"]["passes_up_to"] < 1 / 1.05
    assert quiet["scoder"]["timeouts"] == {"rechecked": 0, "confirmed": 0}
    assert busy["scoder"]["timeouts"] == {"rechecked": 2, "confirmed": 2}


def test_the_score_range_is_re_decided_not_guessed(runs):
    wide, wider = runs[2.5]["scoder"]["margins"], runs[4.0]["scoder"]["margins"]
    assert runs[2.5]["pass_at_k"]["plus"]["pass@1"] == 0.5
    # 2.5x slower: even the 0.5x program is over its floor; 2.5x faster: the 1.05x one passes, the 3x one does not.
    assert wide["near"] == 3 and wide["slower"]["plus"]["pass@1"] == 0 and wide["faster"]["plus"]["pass@1"] == 0.75
    # With a factor 4 the 3x program ran to its end (3 s, under a 4 s timer): it passes on a machine 4x faster.
    assert wider["near"] == 4 and wider["faster"]["plus"]["pass@1"] == 1.0
    assert runs[4.0]["eval"]["HumanEval/0"][3]["base_margin"]["passes_up_to"] == pytest.approx(1 / 3, rel=0.03)


def test_the_console_and_the_report_say_how_far_the_score_could_move(runs, tmp_path, capsys):
    results = runs[2.5]
    print_eval_summary(results, ("HumanEval", "HumanEval+"))
    printed = capsys.readouterr().out
    assert "margins: 3 verdicts within a factor 2.5 of a time limit" in printed
    assert "HumanEval+ (base + plus tests): between 0.0 and 75.0 (here 50.0)" in printed
    run = tmp_path / "run"
    run.mkdir()
    (run / "humaneval+_eval_results.json").write_text(json.dumps(results))
    assert main(["report", str(run), "--no-baselines", "--output", str(tmp_path / "report")]) == 0
    table = (tmp_path / "report" / "report.md").read_text()
    assert "3 verdicts within a factor 2.5 of a time limit; between 0.0 and 75.0 on a machine 2.5x slower or faster" in table


def test_the_slow_down_a_run_budget_covers_is_where_the_budget_at_that_speed_ends():
    """of_finished's closed form against the definition: the run budget of the policy at each slow-down
    (evalplus_clocks of at_speed), on random policies, references and run times; just under the figure the budget
    covers the run, just over it does not."""
    rng = random.Random(24)
    for _ in range(2000):
        policy = TimePolicy(min_time_limit=rng.choice([1.0, 0.5, 4.0]), gt_time_limit_factor=rng.choice([4.0, 2.0]),
                            timeout_per_task=rng.choice([60.0, 20.0, 2.0]), run_extra_s=rng.choice([2.0, 0.5, 1e-3]),
                            speed=rng.choice([None, 0.5, 1.3]))
        reference = [10 ** rng.uniform(-5, 0.5) for _ in range(rng.randint(0, 60))]
        cpu_s = 10 ** rng.uniform(-3, 2.2)
        slowdown = margins.of_finished(policy, reference, [0.0] * len(reference), cpu_s).passes_up_to

        def budget(at: float) -> float:
            return margins.evalplus_clocks(margins.at_speed(policy, at), reference).budget

        assert budget(slowdown * (1 - 1e-6)) >= cpu_s > budget(slowdown * (1 + 1e-6)), (policy, reference, cpu_s)


def test_a_margin_is_the_policy_at_another_speed():
    """Re-deciding by hand what the policy at another speed says (harness.execution.margins)."""
    policy = TimePolicy()
    faster = margins.at_speed(policy, 1 / 2)  # a machine twice as fast, in this machine's seconds: a 2 s floor
    # An input of 0.6 s passes the 1 s floor up to a machine 1/0.6 times slower; under 4x its reference, at any speed.
    assert margins.of_finished(policy, [0.01, 0.01], [0.6, 0.01], 0.7).passes_up_to == pytest.approx(1 / 0.6)
    # Under 4x its reference, only the absolute task budget and the run's 2 extra seconds bind it: (60 + 2) / 0.4.
    assert margins.of_finished(policy, [0.5], [0.3], 0.4).passes_up_to == pytest.approx(155)
    # Ten inputs far under 4x their references, but 0.5 s in all (a slow import): the run budget made of ten 1 s
    # floors and 2 s, (10 + 2) / slow-down, covers it up to 24 times slower, well before the task budget's 124.
    assert margins.of_finished(policy, [0.001] * 10, [0.003] * 10, 0.5).passes_up_to == pytest.approx(24, rel=1e-6)
    # 1.5 s trips the floor here, not on the faster machine; 3 s over a limit made of a 0.6 s reference (2.4 s) trips
    # it at any speed, since the reference scales too.
    assert margins.first_clock(margins.evalplus_clocks(policy, [0.01]), [1.5], 0.0).limit == margins.FLOOR
    assert margins.first_clock(margins.evalplus_clocks(faster, [0.01]), [1.5], 0.0) is None
    assert margins.first_clock(margins.evalplus_clocks(faster, [0.6]), [3.0], 0.0).limit == margins.PER_INPUT
    # Inputs of 0.9 s each under a 2 s task budget: the budget (4 s with its two extra seconds) trips on the fifth.
    tight = TimePolicy(timeout_per_task=2.0)
    assert margins.first_clock(margins.evalplus_clocks(tight, [0.01] * 4), [0.9] * 4, 0.0) is None
    tripped = margins.first_clock(margins.evalplus_clocks(tight, [0.01] * 5), [0.9] * 5, 0.0)
    assert (tripped.limit, tripped.input, tripped.ratio) == (margins.TASK_BUDGET, 4, pytest.approx(4.5 / 4))


@pytest.mark.parametrize("waited_s, final", [(0.01, True), (0.5, False), (None, False)])
def test_a_timeout_s_verdict_keeps_the_wait_that_decided_whether_it_is_re_checked(waited_s, final):
    """A run stopped 1.5 s into an input under the 1 s floor (a machine twice as fast passes it), settled by hand: final
    if it waited for no core, re-checked if it waited for one (or the wait is not known), and in each case the settled
    verdict records the wait that decided it (it used to record None, which reads as contended)."""
    policy = TimePolicy()
    run = Verdict(FAIL, 0, "TimeoutException: Timed out!", cpu_s=1.5, waited_s=waited_s)
    settled = margins.settle(run, [], 0.0, margins.evalplus_clocks(policy, [0.01]),
                             margins.evalplus_clocks(margins.at_speed(policy, 1 / 2), [0.01]), None, rechecking=False)
    assert (settled.status, settled.fail_index, settled.margin["limit"]) == (FAIL, 0, margins.FLOOR)
    assert settled.margin["final"] is final and settled.waited_s == waited_s and settled.cpu_s == 1.5


# Written for this test: correct, but every call spins 0.4 s of CPU, under each input's 1 s floor.
SLOW_EVERY_CALL = spinning(0.4).replace("if not _calls:", "if True:")


def test_a_budget_kill_is_final_in_one_run_and_a_near_one_is_re_checked(tmp_path, data_dir):
    samples = tmp_path / "s.jsonl"
    samples.write_text(json.dumps({"task_id": "HumanEval/0", "solution": SLOW_EVERY_CALL}) + "\n")
    settings = EvalSettings(TimePolicy(timeout_per_task=0.5))  # a run budget of 0.5 + 2 s
    with as_if_busy():
        results = evaluate(HUMANEVAL_PLUS, samples, tmp_path / "out.json", data_dir, settings, progress=False,
                           execution=Execution(parallel=2))
    [entry] = results["eval"]["HumanEval/0"]
    assert (entry["base_status"], entry["plus_status"]) == ("timeout", "timeout")
    # The 7 base inputs take 2.8 s: the budget trips on the last, 1.12x over, as evalplus' would. A machine 1.12x
    # faster passes it, so it was re-checked (clocks twice as long) before its margin was final.
    base = entry["base_margin"]
    assert (base["limit"], base["input"], base["final"]) == (margins.TASK_BUDGET, 6, True)
    assert 1.1 < base["ratio"] < 1.2 and base["passes_up_to"] == pytest.approx(2.5 / 2.8, rel=0.05)
    # The plus inputs go on far longer: the first run's budget, twice the official one, stopped it, which no machine
    # twice as fast would pass. Final in that one run.
    plus = entry["plus_margin"]
    assert (plus["limit"], plus["input"], plus["final"], plus["passes_up_to"]) == (margins.TASK_BUDGET, 6, True, 0.0)
    assert results["scoder"]["timeouts"] == {"rechecked": 1, "confirmed": 1}


# LiveCodeBench and CRUXEval: fixed seconds, which all scale with the machine. Programs written for the purpose: right,
# but their first call (LiveCodeBench) or their answer (CRUXEval) spins a set fraction of the limit in CPU time.
def lcb_spinning(fraction: float) -> str:
    return f'''import time
_calls = []
class Solution:
    def countPairs(self, nums, target):
        if not _calls:  # written for this test: spin {fraction} of the 1 s limit on the first test
            started = time.process_time()
            while time.process_time() - started < {fraction!r}:
                pass
        _calls.append(1)
        return sum(nums[i] + nums[j] == target for i in range(len(nums)) for j in range(i + 1, len(nums)))
'''


def test_livecodebench_margins_and_score_range(tmp_path):
    from harness.benchmarks.livecodebench.scoring import LiveCodeBenchSettings, evaluate as evaluate_lcb
    from tests.test_livecodebench_eval import FIXTURES

    samples = tmp_path / "s.jsonl"
    samples.write_text("".join(json.dumps({"task_id": "9001", "solution": lcb_spinning(f)}) + "\n" for f in (0.6, 1.25)))
    printed = io.StringIO()
    with as_if_busy():
        results = evaluate_lcb(samples, tmp_path / "out.json", str(FIXTURES), LiveCodeBenchSettings(release="release_v2", test_timeout_s=1),
                               progress=False, execution=Execution(parallel=2))
    near_pass, near_fail = results["eval"]["9001"]
    assert (near_pass["status"], near_fail["status"], near_fail["error_code"]) == ("pass", "timeout", -3)
    assert (near_pass["margin"]["limit"], near_pass["margin"]["input"]) == (margins.PER_INPUT, 0)
    assert near_pass["margin"]["passes_up_to"] == pytest.approx(1 / 0.6, rel=0.05)
    # 1.25 s on its first test: over the 1 s limit, as lcb_runner's alarm stops it; re-checked, and a machine 1.25x
    # faster passes it.
    assert (near_fail["margin"]["limit"], near_fail["margin"]["input"], near_fail["margin"]["final"]) == (margins.PER_INPUT, 0, True)
    assert near_fail["margin"]["passes_up_to"] == pytest.approx(1 / 1.25, rel=0.05)
    assert results["scoder"]["timeouts"] == {"rechecked": 1, "confirmed": 1}
    wide = results["scoder"]["margins"]
    assert (wide["near"], wide["slower"]["pass@1"], wide["faster"]["pass@1"]) == (2, 0.0, 1.0)
    print_pass_at_k("LiveCodeBench", results, out=printed)
    assert "margins: 2 verdicts within a factor 2 of a time limit" in printed.getvalue()
    assert "LiveCodeBench: between 0.0 and 100.0 (here 50.0)" in printed.getvalue()


def test_cruxeval_margins_and_score_range(tmp_path, data_dir, monkeypatch):
    from harness.benchmarks.cruxeval import CRUXEVAL_O
    from harness.benchmarks.cruxeval import scoring as cruxeval
    from tests.test_cruxeval import SAMPLE_0_OUTPUT, evaluated

    monkeypatch.setattr(cruxeval, "CLOCKS", margins.Clocks.fixed([], 1.0))  # 1 s, not 3, so that the test is quick

    def spinning_answer(seconds: float) -> str:  # written for this test: the right output, after spinning
        return f"any(iter(lambda: __import__('time').process_time() > {seconds!r}, True)) or {SAMPLE_0_OUTPUT}"

    with as_if_busy():
        results = evaluated(CRUXEVAL_O, [spinning_answer(0.6), spinning_answer(1.25)], tmp_path, data_dir, "spins")
    near_pass, near_fail = results["eval"]["sample_0"]
    assert (near_pass["status"], near_fail["status"]) == ("pass", "timeout")
    assert near_pass["margin"]["limit"] == margins.RUN_BUDGET and 0.6 <= near_pass["margin"]["ratio"] < 0.7
    assert near_fail["margin"]["final"] and 1 / 1.35 < near_fail["margin"]["passes_up_to"] < 1 / 1.25
    assert results["scoder"]["timeouts"] == {"rechecked": 1, "confirmed": 1}
    assert results["scoder"]["margins"]["faster"]["pass@1"] == 1.0 and results["scoder"]["margins"]["slower"]["pass@1"] == 0.0


# BigCodeBench: its clock is the suite's wall timer (240 s; 3 s here, patched, so that the test is quick).
SLEEPS = "import time\ndef task_func(*args, **kwargs):\n    time.sleep(1000)\n"  # written for this test: waits
SPINS = "def task_func(*args, **kwargs):\n    while True:\n        pass\n"  # written for this test: computes


def test_a_bigcodebench_timeout_is_rechecked_only_if_a_faster_machine_could_change_it(data_dir, tmp_path, monkeypatch):
    from harness.benchmarks.bigcodebench import BIGCODEBENCH
    from harness.benchmarks.bigcodebench import scoring

    monkeypatch.setattr(scoring, "SUITE_TIMEOUT_S", 3.0)
    monkeypatch.setattr(scoring, "PROCESS_TIMEOUT_S", 4.0)
    samples = tmp_path / "s.jsonl"
    samples.write_text("".join(json.dumps({"task_id": "BigCodeBench/0", "solution": code}) + "\n" for code in (SLEEPS, SPINS)))
    results = scoring.evaluate(BIGCODEBENCH, samples, tmp_path / "out.json", str(data_dir),
                               scoring.BigCodeBenchSettings(version="v0.1.0_hf"), progress=False)
    sleeps, spins = results["eval"]["BigCodeBench/0"]
    assert sleeps["status"] != "pass" and spins["status"] != "pass"
    # The sleeper waited out the clock: no faster machine shortens a wait, so it is final as it stands.
    assert sleeps["margin"]["final"] and sleeps["margin"]["ratio"] >= 1
    # The spinner computed all along: run again with clocks twice as long, still stopped, confirmed.
    assert results["scoder"]["timeouts"] == {"rechecked": 1, "confirmed": 1}
    assert spins["margin"]["ratio"] >= 2 and spins["margin"]["cpu_s"] > 3


@pytest.mark.parametrize("factor", [1.0, 0.5, float("inf"), float("nan")])
def test_every_benchmark_s_settings_refuse_a_margin_factor_not_above_1(factor):
    from harness.benchmarks.bigcodebench.scoring import BigCodeBenchSettings
    from harness.benchmarks.cruxeval import scoring as cruxeval
    from harness.benchmarks.livecodebench.scoring import LiveCodeBenchSettings

    for make in (lambda: EvalSettings(margin_factor=factor), lambda: LiveCodeBenchSettings(margin_factor=factor),
                 lambda: BigCodeBenchSettings(margin_factor=factor),
                 lambda: cruxeval.plan({}, cruxeval.OUTPUT, "cruxeval-o", [], margin_factor=factor)):
        with pytest.raises(ValueError, match="margin factor must be a number above 1"):
            make()
