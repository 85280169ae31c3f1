"""Our LiveCodeBench verdicts against the official ones, on real data.

../shared/conformance/livecodebench (its README) holds the 880 release_v5 problems with all their public tests and
part of their private ones, in the upstream row format, and the official evaluation of o1-mini: one program per
problem, its verdict over all official tests, and for most failures the failing test. What can be decided:
  - a program the official evaluator passed passes every test here (they are a subset of the official tests);
  - a program it failed, whose failing test is recorded whole, fails once that test is added, with the same
    kind of error (lcb_runner's code: -2 wrong answer, -4 runtime error);
  - official time-limit verdicts (-3) depend on the machine: counted apart and printed, not asserted.
The problems are read from one JSONL.gz file, the single-file data source.
"""

from __future__ import annotations

import ast
import gzip
import json
from collections import Counter

import pytest

from harness.benchmarks.livecodebench.scoring import LiveCodeBenchSettings, evaluate
from tests.conftest import SHARED

FOLDER = SHARED / "conformance" / "livecodebench"
PROBLEMS = FOLDER / "release_v5-partial-tests.jsonl.gz"
OFFICIAL = FOLDER / "o1-mini-2024-09-12.codegeneration_1_0.2_eval_all.json.gz"
TRUNCATED = "...(truncated) ..."  # testing_util.truncatefn's marker: the recorded test is not whole
WRONG_ANSWER, TIME_LIMIT, RUNTIME_ERROR = -2, -3, -4

# question_id -> (official error code, ours, why). Both fail; only the kind of failure differs.
KNOWN_KIND_DIFFERENCES = {
    "3414": (RUNTIME_ERROR, WRONG_ANSWER,
             "the program returns 2 ** (k + 1), a 40-million-digit int, where 378 is expected: a wrong answer, but "
             "upstream builds its wrong-answer message with str() of the output inside its try (testing_util.py "
             "grade_call_based), str() raises past 50000 digits, and the except turns it into a runtime error"),
}


def _return_annotation(starter_code: str, func_name: str) -> str | None:
    for node in ast.walk(ast.parse(starter_code + "pass\n")):
        if isinstance(node, ast.FunctionDef) and node.name == func_name and node.returns is not None:
            return ast.unparse(node.returns)
    return None


def recorded_failing_test(row: dict, metadata: dict) -> dict | None:
    """The failing test the official evaluator recorded, as a test of the row's format; None when it was truncated
    or cannot be read back. Upstream records stdin tests as their text and functional ones as str() of the parsed
    arguments list and of the expected value (testing_util.grade_call_based)."""
    inputs, expected = metadata.get("inputs"), metadata.get("expected")
    if not isinstance(inputs, str) or not isinstance(expected, str) or TRUNCATED in inputs + expected:
        return None
    func_name = json.loads(row["metadata"]).get("func_name")
    if func_name is None:
        return {"input": inputs, "output": expected, "testtype": "stdin"}
    try:
        arguments = ast.literal_eval(inputs)
        # str() of a string output has no quotes: the starter code's return annotation says which it was.
        value = expected if _return_annotation(row["starter_code"], func_name) == "str" else ast.literal_eval(expected)
    except (ValueError, SyntaxError):
        return None
    return {"input": "\n".join(json.dumps(argument) for argument in arguments), "output": json.dumps(value),
            "testtype": "functional"}


@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    if not (PROBLEMS.is_file() and OFFICIAL.is_file()):
        pytest.fail(f"LiveCodeBench conformance data not found in {FOLDER}")
    folder = tmp_path_factory.mktemp("lcb")
    with gzip.open(PROBLEMS, "rt") as handle:
        rows = {row["question_id"]: row for row in map(json.loads, handle)}
    with gzip.open(OFFICIAL, "rt") as handle:
        official = {entry["question_id"]: entry for entry in json.load(handle)}
    known_failures = {}
    for question_id, entry in official.items():
        metadata = json.loads(entry["metadata"][0])
        test = None if entry["graded_list"][0] else recorded_failing_test(rows[question_id], metadata)
        if test is not None:
            # First, so that it is the test the program fails on, as it was officially.
            rows[question_id] = dict(rows[question_id], public_test_cases=json.dumps([test] + json.loads(rows[question_id]["public_test_cases"])))
            known_failures[question_id] = metadata["error_code"]
    problems = folder / "release_v5-with-failing-tests.jsonl.gz"
    with gzip.open(problems, "wt") as handle:
        handle.writelines(json.dumps(row) + "\n" for row in rows.values())
    samples = folder / "o1-mini.samples.jsonl"
    samples.write_text("".join(json.dumps({"task_id": question_id, "solution": entry["code_list"][0]}) + "\n"
                               for question_id, entry in official.items()))
    results = evaluate(samples, folder / "o1-mini.eval_results.json", str(problems), LiveCodeBenchSettings(release="release_v5"),
                       progress=False)
    ours = {question_id: entries[0] for question_id, entries in results["eval"].items()}
    return official, known_failures, ours, results


def test_every_official_pass_passes(comparison):
    official, _, ours, results = comparison
    assert len(ours) == len(official) == 880
    assert results["scoder"]["data_file"].endswith("release_v5-with-failing-tests.jsonl.gz")
    passes = [question_id for question_id, entry in official.items() if entry["graded_list"][0]]
    differing = {question_id: (ours[question_id]["error_code"], ours[question_id]["reason"])
                 for question_id in passes if ours[question_id]["status"] != "pass"}
    print(f"official passes that pass here: {len(passes) - len(differing)} of {len(passes)}")
    assert len(passes) == 602
    assert not differing, f"official passes that fail here: {differing}"


def test_every_known_official_failure_fails_the_same_way(comparison):
    _, known_failures, ours, _ = comparison
    decidable = {question_id: code for question_id, code in known_failures.items() if code != TIME_LIMIT}
    kinds = Counter((code, ours[question_id]["error_code"]) for question_id, code in known_failures.items())
    print("(official error code, ours) for failures with a known failing test:", dict(sorted(kinds.items())))
    print(f"official time-limit verdicts, reported apart: {sum(n for (code, _), n in kinds.items() if code == TIME_LIMIT)}, "
          f"of which fail here {sum(n for (code, mine), n in kinds.items() if code == TIME_LIMIT and mine != 0)}")
    passing = [question_id for question_id in decidable if ours[question_id]["status"] == "pass"]
    assert len(decidable) >= 200
    assert not passing, f"official failures that pass here on their own failing test: {passing}"
    other_kind = {question_id: (code, ours[question_id]["error_code"]) for question_id, code in decidable.items()
                  if ours[question_id]["error_code"] != code and KNOWN_KIND_DIFFERENCES.get(question_id, ())[:2] != (code, ours[question_id]["error_code"])}
    assert not other_kind, f"failures of another kind than the official one: {other_kind}"
