"""LiveCodeBench through the sandbox, on the hand-written fixtures (tests/fixtures/livecodebench: NOT real
LiveCodeBench data, only its format): right and wrong programs of both styles, the date window, pass@k,
the CLI, and programs that try to cheat the comparison."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from harness.cli import main
from harness.benchmarks.livecodebench.scoring import LiveCodeBenchSettings, evaluate
from harness.evaluation_runs import Execution

FIXTURES = Path(__file__).parent / "fixtures" / "livecodebench"

CORRECT = {
    "9001": "class Solution:\n    def countPairs(self, nums, target):\n"
            "        return sum(nums[i] + nums[j] == target for i in range(len(nums)) for j in range(i + 1, len(nums)))\n",
    "9002_A": "n = int(input())\nprint(sum(map(int, input().split())))\n",
    "9004": "class Solution:\n    def evensAndOdds(self, nums):\n"
            "        return [x for x in nums if x % 2 == 0], [x for x in nums if x % 2]\n",  # a tuple counts as a list
    "abc900_b": "import sys\ndata = sys.stdin.read().split()\nvalues = list(map(int, data[1:]))\n"
                "print(sum(values) / len(values))\n",  # prints 2.0 where 2 is expected: equal as decimals
}
WRONG = {
    "9001": "class Solution:\n    def countPairs(self, nums, target):\n        return 0\n",
    "9002_A": "print(0)\n",
    "9004": "class Solution:\n    def evensAndOdds(self, nums):\n        while True:\n            pass\n",
    "abc900_b": "print('2.5 extra')\n",
}
CHEATS = {
    # An object that says it equals everything: the parent compares plain values, never the program's objects.
    "9001": "class Anything:\n    def __eq__(self, other):\n        return True\n"
            "class Solution:\n    def countPairs(self, nums, target):\n        return Anything()\n",
    # Exits successfully before printing anything.
    "9002_A": "import sys\nsys.exit(0)\n",
    # Kills its own process after the first test: the remaining tests never pass.
    "abc900_b": "import os, signal\nprint(2.5)\nos.kill(os.getpid(), signal.SIGKILL)\n",
}


def write_samples(path: Path, programs: dict[str, str], repeat: int = 1) -> Path:
    path.write_text("".join(json.dumps({"task_id": task_id, "solution": code}) + "\n" for task_id, code in programs.items() for _ in range(repeat)))
    return path


def statuses(results: dict) -> dict[str, list[str]]:
    return {question_id: [entry["status"] for entry in entries] for question_id, entries in results["eval"].items()}


TWO = Execution(parallel=2)


@pytest.fixture(scope="module")
def settings():
    return LiveCodeBenchSettings(release="release_v2", test_timeout_s=2)


def test_right_and_wrong_programs_of_both_styles(tmp_path, settings):
    samples = write_samples(tmp_path / "s.jsonl", CORRECT)
    with open(samples, "a") as handle:
        handle.write("".join(json.dumps({"task_id": task_id, "solution": code}) + "\n" for task_id, code in WRONG.items()))
    results = evaluate(samples, tmp_path / "out.json", str(FIXTURES), settings, progress=False, execution=TWO)
    assert statuses(results) == {"9001": ["pass", "fail"], "9002_A": ["pass", "fail"], "9004": ["pass", "timeout"], "abc900_b": ["pass", "fail"]}
    by_code = {entry["solution"]: entry for entries in results["eval"].values() for entry in entries}
    assert by_code[WRONG["9004"]]["error_code"] == -3 and by_code[WRONG["9001"]]["error_code"] == -2
    assert results["pass_at_k"] == {"pass@1": 0.5}
    assert results["scoder"]["worker_restarts"] == 0
    # The endless loop was still running at twice its limit: final in that one run, no re-check.
    assert results["scoder"]["timeouts"] == {"rechecked": 0, "confirmed": 0}
    assert by_code[WRONG["9004"]]["margin"]["ratio"] >= 2 and by_code[WRONG["9004"]]["margin"]["final"]


# Programs whose verdict depends on what lcb_runner's evaluating process is like (testing_util.py and
# compute_code_generation_metrics.py at LiveCodeBench 15808c76; harness.benchmarks.livecodebench cites the lines).
SUM = "n = int(input())\nvalues = list(map(int, input().split()))\n"
UPSTREAM_VERDICTS = [
    (SUM + "print(sum(values))\nexit()\nprint('never')\n", "pass"),  # builtins.exit is left usable: SystemExit is caught
    (SUM + "print(sum(values))\nquit()\n", "fail"),  # quit is None: calling it is a runtime error
    # str() of a 5001-digit int: the evaluating process allows 50000 digits, the interpreter's default 4300
    (SUM + "big = 10 ** 5000\nprint(int(str(big + sum(values))) - big)\n", "pass"),
    # A thread that needs less than one GIL switch interval prints before the output is read ...
    ("import threading\ndef main():\n" + textwrap.indent(SUM + "print(sum(values))\n", "    ")
     + "threading.Thread(target=main).start()\n", "pass"),
    # ... one that needs far more prints too late: upstream reads the output when the main thread returns.
    ("import threading\ndef main():\n" + textwrap.indent(SUM + "for _ in range(3_000_000):\n    pass\nprint(sum(values))\n", "    ")
     + "threading.Thread(target=main).start()\n", "fail"),
]


def test_programs_get_the_verdict_lcb_runner_gives_them(tmp_path, settings):
    samples = tmp_path / "s.jsonl"
    samples.write_text("".join(json.dumps({"task_id": "9002_A", "solution": code}) + "\n" for code, _ in UPSTREAM_VERDICTS))
    results = evaluate(samples, tmp_path / "out.json", str(FIXTURES), settings, progress=False, execution=TWO)
    assert [entry["status"] for entry in results["eval"]["9002_A"]] == [verdict for _, verdict in UPSTREAM_VERDICTS]
    quit_call, slow_thread = results["eval"]["9002_A"][1], results["eval"]["9002_A"][4]
    assert (quit_call["error_code"], slow_thread["error_code"]) == (-4, -2)


def test_programs_that_cheat_do_not_pass(tmp_path, settings):
    results = evaluate(write_samples(tmp_path / "s.jsonl", CHEATS), tmp_path / "out.json", str(FIXTURES), settings, progress=False, execution=TWO)
    assert all(status != ["pass"] for status in statuses(results).values()), statuses(results)


def test_date_window_selects_problems_and_pass_at_5(tmp_path, settings):
    samples = write_samples(tmp_path / "s.jsonl", CORRECT, repeat=5)
    window = LiveCodeBenchSettings(release="release_v2", start_date="2024-01-01", end_date="2024-12-31")
    results = evaluate(samples, tmp_path / "out.json", str(FIXTURES), window, progress=False, execution=TWO)
    assert sorted(results["eval"]) == ["9004", "abc900_b"]  # the 2024 contests only
    assert results["pass_at_k"] == {"pass@1": 1.0, "pass@5": 1.0}


def test_unknown_problem_is_refused(tmp_path, settings):
    samples = write_samples(tmp_path / "s.jsonl", {"no-such-problem": "print(1)\n"})
    assert main(["eval", "--benchmark", "livecodebench", "--release", "release_v2", "--lcb-dir", str(FIXTURES),
                 "--samples", str(samples), "--no-progress"]) == 2


def test_cli_with_lcb_runner_samples_format(tmp_path, capsys):
    samples = tmp_path / "custom.json"
    samples.write_text(json.dumps([{"question_id": task_id, "code_list": [code]} for task_id, code in CORRECT.items()]))
    output = tmp_path / "results.json"
    assert main(["eval", "--benchmark", "livecodebench", "--release", "v1", "--lcb-dir", str(FIXTURES), "--samples", str(samples),
                 "--output", str(output), "--no-progress"]) == 2  # v1 lacks the 2024 problems: refused, nothing written
    assert not output.exists()
    assert main(["eval", "--benchmark", "livecodebench", "--release", "release_v2", "--lcb-dir", str(FIXTURES),
                 "--samples", str(samples), "--output", str(output), "--no-progress"]) == 0
    assert "pass@1 100.0" in capsys.readouterr().out
    assert json.loads(output.read_text())["scoder"]["release"] == "release_v2"


# Written for this test (labelled, not a model's): the right answer, after a recursion 60000 deep through
# lru_cache's C wrapper, which needs more than the 8 MiB stack most machines give (and lcb_runner inherits).
DEEP_RECURSION = textwrap.dedent("""\
    import sys
    from functools import lru_cache
    sys.setrecursionlimit(10 ** 6)
    n = int(input())
    values = list(map(int, input().split()))
    @lru_cache(None)
    def depth(k):
        return 0 if k == 0 else depth(k - 1) + 1
    depth(60000)
    print(sum(values))
    """)


def test_the_stack_is_the_machines_as_lcb_runners_unless_asked(tmp_path, settings):
    import resource

    from harness.benchmarks.livecodebench.grading import machine_stack_bytes
    from harness.execution.limits import GIB, MIB

    assert LiveCodeBenchSettings().stack_bytes == machine_stack_bytes() == resource.getrlimit(resource.RLIMIT_STACK)[0]
    samples = write_samples(tmp_path / "deep.jsonl", {"9002_A": DEEP_RECURSION})
    verdicts = {}
    for stack in (8 * MIB, 4 * GIB):
        results = evaluate(str(samples), str(tmp_path / f"{stack}.json"), FIXTURES,
                           LiveCodeBenchSettings(release="release_v2", test_timeout_s=2, stack_bytes=stack), progress=False)
        verdicts[stack] = results["eval"]["9002_A"][0]["passed"]
        assert results["scoder"]["stack_bytes"] == stack
    assert verdicts == {8 * MIB: False, 4 * GIB: True}
