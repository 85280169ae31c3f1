"""A verdict decided by a clock is final only once confirmed: each timed-out run is repeated alone, after the
reference solution was re-timed in the same conditions (harness.evaluate._confirm_timeouts), and the results
say how many were re-checked and how many timed out again."""

from __future__ import annotations

import json

from harness.benchmarks.evalplus import HUMANEVAL_PLUS
from harness.evaluate import EvalSettings, _confirm_timeouts, evaluate
from harness.evaluation import sample_key
from harness.execution.function_calls import PASS, TIMEOUT, Verdict
from harness.execution.limits import TimePolicy
from harness.execution.pool import WorkerPool
from harness.groundtruth import GroundTruth
from harness.journal import Journal

CORRECT = """
def has_close_elements(numbers, threshold):
    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for j, b in enumerate(numbers) if i != j)
"""
# Python bytecode: the input's own timer stops it, and evalplus fails an input over its limit.
ENDLESS_LOOP = "def has_close_elements(numbers, threshold):\n    while True:\n        pass\n"
# One C call: no signal handler runs until it returns, so the run's CPU budget stops it (before RLIMIT_CPU).
ENDLESS_C_CALL = "def has_close_elements(numbers, threshold):\n    return sum(range(10 ** 15))\n"


def test_endless_programs_are_rechecked_alone_and_confirmed(tmp_path, data_dir):
    samples = tmp_path / "s.jsonl"
    samples.write_text("".join(json.dumps({"task_id": "HumanEval/0", "solution": code}) + "\n" for code in (ENDLESS_LOOP, ENDLESS_C_CALL, CORRECT)))
    settings = EvalSettings(TimePolicy(timeout_per_task=2.0), parallel=2)
    results = evaluate(HUMANEVAL_PLUS, samples, tmp_path / "out.json", data_dir, settings, progress=False)
    loop, c_call, correct = results["eval"]["HumanEval/0"]
    assert (loop["base_status"], loop["plus_status"]) == ("fail", "fail")
    assert loop["base_error"].startswith("TimeoutException")
    assert (c_call["base_status"], c_call["plus_status"]) == ("timeout", "timeout")
    assert c_call["base_error"] == "killed: cpu budget"  # the supervisor's budget, never SIGXCPU (exit -24)
    assert (correct["base_status"], correct["plus_status"]) == ("pass", "pass")
    assert results["scoder"]["timeouts"] == {"rechecked": 4, "confirmed": 4}


def test_a_timeout_that_does_not_repeat_alone_is_not_final(tmp_path, humaneval):
    # The first verdict is injected (FAKE: what a busy machine can give a correct program); the repeat decides.
    key = sample_key("HumanEval/0", CORRECT)
    suspects = {key: {"base": Verdict(TIMEOUT, 3, "killed: cpu budget"), "plus": Verdict(PASS)}}
    journal = Journal(tmp_path / "journal.jsonl", "test")
    with WorkerPool(1) as pool:
        truth = GroundTruth(humaneval)
        truth.compute(["HumanEval/0"], pool, progress=False)
        _confirm_timeouts(pool, suspects, {key: ("HumanEval/0", CORRECT)}, humaneval, truth, EvalSettings(), journal,
                          pool.describe(), progress=False)
    journal.close()
    record = journal.records[key]
    assert (record["base_status"], record["plus_status"]) == ("pass", "pass")
    assert (record["timeouts_rechecked"], record["timeouts_confirmed"]) == (1, 0)
