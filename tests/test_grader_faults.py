"""A sample the harness cannot judge (its own error, an expected output it cannot decode, a comparison that breaks on
the expected value) has no verdict: recorded with its reason, left out of pass@k with a warning, never a pass nor a
silent fail, and judged again by the next run. The faults here are made for the purpose (labelled): the fixture
benchmark (tests/fixture_benchmark.py) with a check that raises, or an expected output that is not JSON."""

from __future__ import annotations

import dataclasses
import json

import pytest

import tests.fixture_benchmark as fixture
from harness.benchmarks.registry import BENCHMARKS, register
from harness.evaluation import evaluate_samples
from harness.evaluation_runs import Check
from harness.execution import values
from harness.execution.function_calls import FAIL, NO_VERDICT, OutputJudge
from harness.report.exports import export_run
from harness.report.runs import read_results
from harness.report.submission import ExportError

GOOD = {"Arithmetic/0": "def add(a, b):\n    return a + b\n", "Arithmetic/1": "def double(x):\n    return x + x\n",
        "Arithmetic/2": "def negate(x):\n    return -x\n"}


def judge(expected: list, oracle) -> OutputJudge:
    return OutputJudge([values.encode(value).encode() if not isinstance(value, bytes) else value for value in expected],
                       oracle, lambda index: False, lambda index: 1 << 20)


def test_a_comparison_the_output_breaks_fails_the_input_as_evalplus():
    # sorted() of a list mixing ints and strings raises: the program's output is at fault.
    found = judge([[1, 2]], lambda index, output: sorted(output) == [1, 2])
    found.on_line(b"O 0 0.001 " + values.encode([2, "1"]).encode())
    assert found.verdict.status == FAIL and found.verdict.reason == "wrong output"


@pytest.mark.parametrize("expected, oracle, says", [
    ([b"{not json"], lambda index, output: output == values.decode(b"{not json"), "comparing the expected output with itself raises"),
    ([{"a": 1}], lambda index, output: output["a"] < output["b"], "KeyError"),  # breaks on the expected value too
])
def test_a_comparison_that_breaks_on_the_expected_output_is_no_verdict(expected, oracle, says):
    found = judge(expected, oracle)
    assert found.on_line(b"O 0 0.001 " + values.encode({"a": 2}).encode()) is True  # the run is stopped: nothing to judge
    found.on_done({"cpu_s": 0.01})
    assert found.verdict.status == NO_VERDICT and says in found.verdict.reason and "grader fault on input 0" in found.verdict.reason


def plan_with_faults(broken: dict[str, str]):
    """The fixture's plan, where a task of `broken` makes its check as a harness bug would ("raise"), or is judged
    against expected outputs that are not JSON ("undecodable")."""
    def plan_for(samples, samples_path):
        base = fixture._plan(samples, samples_path)

        def checks(task_id: str, code: str) -> dict[str, Check]:
            if broken.get(task_id) == "raise":
                raise RuntimeError("a bug in the harness")
            made = base.runs.checks(task_id, code)
            if broken.get(task_id) != "undecodable":
                return made

            def broken_judge() -> OutputJudge:
                made_judge = made["inputs"].listener()
                undecodable = [b"{not json"] * len(made_judge.expected)
                return dataclasses.replace(made_judge, expected=undecodable,
                                           oracle=lambda index, output: output == values.decode(undecodable[index]))
            return {"inputs": Check(made["inputs"].run, broken_judge)}
        return dataclasses.replace(base, runs=dataclasses.replace(base.runs, checks=checks))
    return plan_for


@pytest.fixture
def arithmetic():
    register(fixture.ARITHMETIC)
    yield
    del BENCHMARKS[fixture.ARITHMETIC.name]


def test_samples_without_a_verdict_are_left_out_said_and_judged_again(tmp_path, arithmetic):
    samples = tmp_path / "run" / "s.jsonl"
    samples.parent.mkdir()
    samples.write_text("".join(json.dumps({"task_id": task_id, "solution": code}) + "\n" for task_id, code in GOOD.items()))
    output, said = tmp_path / "run" / "results.json", []
    results = evaluate_samples(samples, output, plan_with_faults({"Arithmetic/1": "raise", "Arithmetic/2": "undecodable"}),
                               progress=False, log=said.append)
    entries = {task_id: entries[0] for task_id, entries in results["eval"].items()}
    assert entries["Arithmetic/0"]["status"] == "pass" and "no_verdict" not in entries["Arithmetic/0"]
    assert entries["Arithmetic/1"]["no_verdict"] == "grader fault: RuntimeError: a bug in the harness"
    assert "grader fault on input 0" in entries["Arithmetic/2"]["no_verdict"] and "status" not in entries["Arithmetic/2"]
    # pass@1 is over the judged sample alone (1 of 1), not 1 of 3 nor 3 of 3.
    assert results["pass_at_k"] == {"pass@1": 1.0}
    assert results["scoder"]["no_verdict"]["samples"] == 2
    assert results["scoder"]["no_verdict"]["tasks_left_out"] == ["Arithmetic/1", "Arithmetic/2"]
    assert any(line.startswith("warning: 2 samples have no verdict") and "left out of pass@k" in line for line in said)
    # The report recounts the same score from the entries; an export refuses to submit samples without a status.
    [score] = read_results(output)
    assert score.value == 100.0 and set(score.per_task) == {"Arithmetic/0"}
    with pytest.raises(ExportError, match="2 samples have no verdict"):
        export_run("arithmetic-board", tmp_path / "run", tmp_path / "export", model_name="m",
                   generation={"model": "m", "adapter": None, "backend": "hf", "prompt_format": "x",
                               "decoding": {"temperature": 0.0, "n": 1}})
    # Fixed, the same command judges them; the judged sample is reused from the journal.
    said.clear()
    results = evaluate_samples(samples, output, fixture._plan, progress=False, log=said.append)
    assert [entries[0]["status"] for entries in results["eval"].values()] == ["pass", "pass", "pass"]
    assert results["scoder"]["no_verdict"]["samples"] == 0 and results["pass_at_k"]["pass@1"] == 1.0
    assert said[0].startswith("resumed: 1 of 3 samples' verdicts reused")


def test_a_run_with_no_judged_sample_has_no_score_and_says_why(tmp_path, arithmetic):
    from harness.api import pass_at_1
    from harness.samples import SamplesError

    samples = tmp_path / "s.jsonl"
    samples.write_text("".join(json.dumps({"task_id": task_id, "solution": code}) + "\n" for task_id, code in GOOD.items()))
    every = {task_id: "raise" for task_id in GOOD}
    results = evaluate_samples(samples, tmp_path / "results.json", plan_with_faults(every), progress=False, log=lambda line: None)
    assert results["pass_at_k"] == {}
    with pytest.raises(SamplesError, match="arithmetic: no score: 3 samples have no verdict"):
        pass_at_1(fixture.ARITHMETIC, results)
