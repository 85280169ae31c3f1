"""BigCodeBench data: pinned versions, the Hard subset, samples and the calibrated program."""

from __future__ import annotations

import gzip
import json

import pytest

from harness.benchmarks.bigcodebench import BIGCODEBENCH, BIGCODEBENCH_HARD
from harness.benchmarks.bigcodebench.tasks import HARD_TASK_NUMBERS
from harness.benchmarks.data import DataError


@pytest.fixture(scope="module")
def full(data_dir):
    return BIGCODEBENCH.load(data_dir)


def test_both_versions_load_with_all_tasks(data_dir, full):
    old = BIGCODEBENCH.load(data_dir, "v0.1.0_hf")
    assert len(full.problems) == len(old.problems) == 1140
    assert full.version == "v0.1.4" and old.hash == "3522577434616e01948f44671882468e"
    changed = [task_id for task_id in full.problems if full.problems[task_id] != old.problems[task_id]]
    # The upstream v0.1.1-v0.1.4 edits touched ten tasks (../shared/benchmarks/README.md).
    assert sorted(int(task_id.split("/")[1]) for task_id in changed) == [16, 37, 178, 211, 215, 241, 267, 760, 1005, 1006]


def test_unknown_version_is_refused(data_dir):
    with pytest.raises(DataError, match="v0.1.0_hf"):
        BIGCODEBENCH.load(data_dir, "v9")


def test_hard_subset_matches_the_upstream_hard_file(data_dir):
    hard = BIGCODEBENCH_HARD.load(data_dir)
    listed = json.loads((data_dir / "bigcodebench-hard-task-ids.json").read_text())
    assert sorted(HARD_TASK_NUMBERS) == sorted(listed) and len(hard.problems) == 148
    with gzip.open(data_dir / "BigCodeBench-Hard-v0.1.4.jsonl.gz", "rt") as handle:
        rows = [json.loads(line) for line in handle]
    for row in rows:
        problem = hard.problems[row["task_id"]]
        assert (problem.test, problem.canonical_solution, problem.complete_prompt, problem.instruct_prompt) == \
            (row["test"], row["canonical_solution"], row["complete_prompt"], row["instruct_prompt"])


def test_calibration_and_completion_follow_upstream(full):
    problem = full.problems["BigCodeBench/1"]
    assert problem.calibrated("BODY") == problem.code_prompt + "\n    pass\nBODY"
    assert problem.solution_from_completion("    return 1\n") == problem.complete_prompt + "    return 1\n"


def test_test_names_are_read_from_the_test_code(full):
    names = full.problems["BigCodeBench/1"].test_names
    assert names and all(name.startswith("test") for name in names)
    # Every task's tests can be listed statically, so a run that reports fewer is caught.
    assert all(problem.test_names for problem in full.problems.values())
