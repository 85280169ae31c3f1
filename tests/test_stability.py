"""Verdicts do not depend on how busy the machine is: three runs of the same samples while two other
processes keep both cores busy give identical verdicts, equal to the official ones and to a quiet run. (The
official evalplus, whose limits are wall-clock time, was seen to flip Mbpp/583 between two such runs.)

Besides real model outputs, the samples hold correct programs that are slow: the ones a busy machine can push
over their limits. A timeout near its limit is re-checked (harness.evaluation_runs), so they must still pass.
"""

import gzip
import json

from harness.benchmarks.evalplus import MBPP_PLUS
from harness.benchmarks.evalplus.scoring import EvalSettings, evaluate
from harness.evaluation_runs import Execution
from tests.busy import busy_loops

# Written for this test, not model outputs: plain loops where the reference solutions use builtins, correct on
# every input, at about half of their tightest per-input limit (measured on this project's 2-core machine: 0.54
# and 0.55 of it; 11.9 s and 7.7 s of CPU over all plus inputs).
SLOW_BUT_CORRECT = {
    "Mbpp/271": "def even_Power_Sum(n):\n    total = 0\n    for i in range(1, n + 1):\n        power = 1\n"
                "        for _ in range(5):\n            power *= 2 * i\n        total += power\n    return total\n",
    "Mbpp/392": "def get_max_sum(n):\n    best = {0: 0}\n    for i in range(1, n + 1):\n"
                "        best[i] = max(best[i // 2] + best[i // 3] + best[i // 4] + best[i // 5], i)\n    return best[n]\n",
}


def statuses(results: dict) -> dict:
    return {task: [(entry["base_status"], entry["plus_status"]) for entry in entries] for task, entries in results["eval"].items()}


def test_three_runs_under_full_load_agree(conformance_dir, data_dir, tmp_path):
    official_path = conformance_dir / "mbpp_Meta-Llama-3-8B-Instruct.eval_results.json.gz"
    official = json.loads(gzip.decompress(official_path.read_bytes()))
    slow = tmp_path / "slow.jsonl"
    slow.write_text("".join(json.dumps({"task_id": task_id, "solution": code}) + "\n" for task_id, code in SLOW_BUT_CORRECT.items()))
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps({"task_id": entry["task_id"], "solution": entry["solution"]}) + "\n"
                               for entries in official["eval"].values() for entry in entries) + slow.read_text())
    quiet = statuses(evaluate(MBPP_PLUS, slow, tmp_path / "quiet.json", data_dir, EvalSettings(), progress=False, execution=Execution(parallel=2)))
    assert quiet == {task_id: [("pass", "pass")] for task_id in SLOW_BUT_CORRECT}

    with busy_loops(2):
        runs = [statuses(evaluate(MBPP_PLUS, samples, tmp_path / f"run{attempt}.json", data_dir, EvalSettings(), progress=False, execution=Execution(parallel=2)))
                for attempt in range(3)]
    expected = statuses(official)
    for task_id, verdicts in quiet.items():
        expected[task_id] = expected[task_id] + verdicts
    assert runs[0] == runs[1] == runs[2]
    assert runs[0] == expected
