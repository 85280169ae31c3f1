"""Every verdict a clock decided, or could have, carries its margin (harness.execution.margins), and the results say
what the score would be on a machine F times slower or faster, each such verdict re-decided from its measured times:
a pass near its limit fails on the slower machine, and a timeout that finishes within F times its limit passes on the
faster one. A timeout that is still running at F times its limit is final.

The programs are written for the purpose (labelled): each is correct, and its first call spins a set fraction of the
1 s floor in CPU time (0.5x, 0.95x, 1.05x and 3x), which no load on the machine changes."""

from __future__ import annotations

import json

import pytest

from harness.benchmarks.evalplus import HUMANEVAL_PLUS
from harness.benchmarks.evalplus.scoring import EvalSettings, evaluate
from harness.cli import main
from harness.evaluation import Execution
from harness.execution import margins
from harness.execution.limits import TimePolicy
from harness.report.console import print_eval_summary

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


@pytest.fixture(scope="module")
def runs(tmp_path_factory, data_dir):
    """The four programs scored with the margin factor 2.5 and 4."""
    folder = tmp_path_factory.mktemp("margins")
    samples = folder / "s.jsonl"
    samples.write_text("".join(json.dumps({"task_id": "HumanEval/0", "solution": spinning(f)}) + "\n" for f in FRACTIONS))
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
    # The 1.05x run is re-checked (base and plus): a machine 2.5x faster may pass it. The 3x one is not: its timer
    # stopped it at 2.5 times its limit, which no load on this machine explains either.
    assert runs[2.5]["scoder"]["timeouts"] == {"rechecked": 2, "confirmed": 2}


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


def test_a_margin_is_the_policy_at_another_speed():
    """Re-deciding by hand what the policy at another speed says (harness.execution.margins)."""
    policy = TimePolicy()
    faster = margins.at_speed(policy, 1 / 2)  # a machine twice as fast, in this machine's seconds: a 2 s floor
    # An input of 0.6 s passes the 1 s floor up to a machine 1/0.6 times slower; under 4x its reference, at any speed.
    assert margins.of_finished(policy, [0.01, 0.01], [0.6, 0.01], 0.7).passes_up_to == pytest.approx(1 / 0.6)
    assert margins.of_finished(policy, [0.5], [0.3], 0.4).passes_up_to is None
    # 1.5 s trips the floor here, not on the faster machine; 3 s over a limit made of a 0.6 s reference (2.4 s) trips
    # it at any speed, since the reference scales too.
    assert margins.first_clock(policy, [0.01], [1.5], 0.0).limit == margins.FLOOR
    assert margins.first_clock(faster, [0.01], [1.5], 0.0) is None
    assert margins.first_clock(faster, [0.6], [3.0], 0.0).limit == margins.PER_INPUT
    # Inputs of 0.9 s each under a 2 s task budget: the budget (3 s with its second) trips on the fourth, not before.
    tight = TimePolicy(timeout_per_task=2.0)
    assert margins.first_clock(tight, [0.01] * 3, [0.9] * 3, 0.0) is None
    tripped = margins.first_clock(tight, [0.01] * 4, [0.9] * 4, 0.0)
    assert (tripped.limit, tripped.input, tripped.ratio) == (margins.TASK_BUDGET, 3, pytest.approx(3.6 / 3))


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
