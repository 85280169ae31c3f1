"""Our verdicts equal the official evalplus verdicts on real model outputs (../shared/conformance).

Every task must agree on base and plus status, except where the official evaluator is known to be
wrong; each exception is listed here with its reason and is only accepted in that direction.
"""

import gzip
import json

import pytest

from harness.benchmarks.registry import get_benchmark
from harness.benchmarks.evalplus.scoring import EvalSettings, evaluate

FILES = [
    "humaneval_Meta-Llama-3-8B-Instruct",
    "humaneval_Mistral-7B-Instruct-v0.2",
    "mbpp_Meta-Llama-3-8B-Instruct",
    "mbpp_Mistral-7B-Instruct-v0.2",
]

# task -> (official verdict, ours, why the official one is wrong)
KNOWN_OFFICIAL_DEFECTS = {
    "HumanEval/32": (
        "fail", "pass",
        "evalplus 0.3.1 checks find_zero's root with its special oracle, then `continue`s before recording "
        "the pass, so it reports fail for every program (fixed upstream later; ../shared/conformance/README.md)",
    ),
}


@pytest.mark.parametrize("name", FILES)
def test_verdicts_equal_official(name, conformance_dir, data_dir, tmp_path):
    official_path = conformance_dir / f"{name}.eval_results.json.gz"
    official = json.loads(gzip.decompress(official_path.read_bytes()))
    ours = evaluate(get_benchmark(name.split("_")[0]), official_path, tmp_path / "ours.json", data_dir,
                    EvalSettings(), progress=False)
    assert ours["hash"] == official["hash"]
    assert ours["scoder"]["worker_restarts"] == 0 and ours["scoder"]["partial"] is None  # every task has a sample
    assert set(ours["eval"]) == set(official["eval"])
    differences = {}
    for task_id, entries in official["eval"].items():
        for theirs, mine in zip(entries, ours["eval"][task_id], strict=True):
            pair_theirs = (theirs["base_status"], theirs["plus_status"])
            pair_mine = (mine["base_status"], mine["plus_status"])
            if pair_theirs != pair_mine:
                differences[task_id] = (pair_theirs, pair_mine)
    unexplained = {}
    for task_id, (theirs, mine) in differences.items():
        defect = KNOWN_OFFICIAL_DEFECTS.get(task_id)
        explained = defect and all(t == m or (t, m) == defect[:2] for t, m in zip(theirs, mine))
        if not explained:
            unexplained[task_id] = (theirs, mine)
    assert not unexplained, f"verdicts differ from the official evaluator: {unexplained}"
