"""Programs compile as under the official tools: with none of the harness's own compiler flags.

The harness's modules start with `from __future__ import annotations`; a bare exec() of a program would inherit
it, so annotations naming something the program never imported (List without `from typing import List`) would
stay unevaluated strings and the program would load, where under evalplus, bigcodebench and lcb_runner (whose
modules have no such import) defining the function raises NameError. One such program per benchmark, each with a
control that imports the name and passes.
"""

from __future__ import annotations

import json

from harness.benchmarks.bigcodebench import BIGCODEBENCH
from harness.benchmarks.evalplus import HUMANEVAL_PLUS, MBPP_PLUS
from harness.benchmarks.evalplus.scoring import EvalSettings, evaluate
from harness.benchmarks.bigcodebench.scoring import BigCodeBenchSettings, evaluate as evaluate_bigcodebench
from harness.benchmarks.livecodebench.scoring import LiveCodeBenchSettings, evaluate as evaluate_livecodebench
from harness.evaluation_runs import Execution
from harness.journal import Journal
from scoder.scoring import execution_signals
from tests.test_livecodebench_eval import FIXTURES

HUMANEVAL_0 = """
def has_close_elements(numbers: List[float], threshold: float) -> bool:
    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for j, b in enumerate(numbers) if i != j)
"""
MBPP_2 = """
def similar_elements(test_tup1: Tuple[int, ...], test_tup2: Tuple[int, ...]) -> Tuple[int, ...]:
    return tuple(set(test_tup1) & set(test_tup2))
"""
BIGCODEBENCH_0 = """
import itertools
from random import shuffle

def task_func(numbers: List[int] = list(range(1, 3))) -> float:
    permutations = list(itertools.permutations(numbers))
    total = 0
    for permutation in permutations:
        permutation = list(permutation)
        shuffle(permutation)
        total += sum(abs(permutation[i] - permutation[i + 1]) for i in range(len(permutation) - 1))
    return total / len(permutations)
"""
# LiveCodeBench's prelude star-imports typing, so the undefined name here is a LeetCode helper class.
LIVECODEBENCH_9001 = """
class Solution:
    def countPairs(self, nums: List[int], target: int) -> Counted:
        return sum(nums[i] + nums[j] == target for i in range(len(nums)) for j in range(i + 1, len(nums)))
"""


def write_samples(path, samples: list[tuple[str, str]]):
    path.write_text("".join(json.dumps({"task_id": task_id, "solution": code}) + "\n" for task_id, code in samples))
    return path


def test_evalplus(tmp_path, data_dir):
    for benchmark, task_id, code, name in ((HUMANEVAL_PLUS, "HumanEval/0", HUMANEVAL_0, "List"), (MBPP_PLUS, "Mbpp/2", MBPP_2, "Tuple")):
        samples = write_samples(tmp_path / "s.jsonl", [(task_id, code), (task_id, f"from typing import {name}\n" + code)])
        results = evaluate(benchmark, samples, tmp_path / f"{benchmark.name}.json", data_dir, EvalSettings(), progress=False, execution=Execution(parallel=2))
        unimported, imported = results["eval"][task_id]
        assert (unimported["base_status"], imported["base_status"], imported["plus_status"]) == ("fail", "pass", "pass")
        assert unimported["base_error"].startswith(f"did not load: NameError: name '{name}' is not defined")


def test_bigcodebench(tmp_path, data_dir):
    task_id = "BigCodeBench/0"
    samples = write_samples(tmp_path / "s.jsonl", [(task_id, BIGCODEBENCH_0), (task_id, "from typing import List\n" + BIGCODEBENCH_0)])
    results = evaluate_bigcodebench(BIGCODEBENCH, samples, tmp_path / "out.json", str(data_dir),
                                    BigCodeBenchSettings(version="v0.1.0_hf"), progress=False,
                                    execution=Execution(parallel=2))
    unimported, imported = results["eval"][task_id]
    assert (unimported["status"], imported["status"]) == ("fail", "pass")
    assert "name 'List' is not defined" in unimported["details"]["ALL"]


def test_livecodebench(tmp_path):
    samples = write_samples(tmp_path / "s.jsonl", [("9001", LIVECODEBENCH_9001), ("9001", "Counted = int\n" + LIVECODEBENCH_9001)])
    results = evaluate_livecodebench(samples, tmp_path / "out.json", str(FIXTURES), LiveCodeBenchSettings(release="release_v2"),
                                     progress=False, execution=Execution(parallel=2))
    unimported, imported = results["eval"]["9001"]
    assert (unimported["status"], unimported["error_code"], imported["status"]) == ("fail", -1, "pass")
    assert "name 'Counted' is not defined" in unimported["reason"]


def test_the_scorers_sandbox_signals(tmp_path):
    test = "\n\ndef test_double():\n    assert double(2) == 4\n"
    code = "def double(values: List[int]) -> int:\n    return 2 * values\n"
    samples = [{"id": "unimported", "solution": code + test}, {"id": "imported", "solution": "from typing import List\n" + code + test}]
    journal = Journal(tmp_path / "exec.journal.jsonl", "test")
    execution_signals(samples, journal, seconds=2.0)
    journal.close()
    assert journal.records["exec:unimported"]["runs"] is False
    assert journal.records["exec:imported"]["runs"] is True
