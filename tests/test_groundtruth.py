"""The reference solutions' cached outputs and times (harness.benchmarks.evalplus.groundtruth): computed once, read
once per evaluation however the samples are ordered, a damaged file refused with what to do, and the caches of an
older format freed."""

from __future__ import annotations

import pytest

from harness.benchmarks.data import DataError
from harness.benchmarks.evalplus import HUMANEVAL_PLUS
from harness.benchmarks.evalplus.groundtruth import FORMAT, GroundTruth
from harness.execution.pool import WorkerPool

# More tasks than a bounded cache of 16 held (HumanEval/15's 141 MB of outputs left out: the test needs no large one).
TASKS = [f"HumanEval/{number}" for number in range(24) if number != 15]


@pytest.fixture(scope="module")
def cached(tmp_path_factory, data_dir):
    cache = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SCODER_CACHE_DIR", str(cache))
        dataset = HUMANEVAL_PLUS.load(data_dir)
        folder = GroundTruth(dataset).folder
        older = folder.with_name(folder.name.replace(f"-v{FORMAT}", "-v1"))
        (older / "HumanEval_0.json").parent.mkdir(parents=True)
        (older / "HumanEval_0.json").write_text("{}")  # a cache of the older format, of no more use
        with WorkerPool(2) as pool:
            GroundTruth(dataset).compute(TASKS, pool, progress=False)
        yield dataset, older  # the cache directory stays patched while this module's tests run


def test_a_task_is_read_once_however_the_samples_are_ordered(cached):
    """Samples in rounds over every task (as a file of n samples per task may be ordered): each task's outputs are read
    once, and every run of its samples shares them (a bounded cache read them again for each round, a copy each)."""
    dataset, _ = cached
    truth = GroundTruth(dataset)
    first = {task_id: truth.get(task_id) for task_id in TASKS}
    for _ in range(2):
        assert all(truth.get(task_id) is first[task_id] for task_id in TASKS)
    expected = first["HumanEval/0"]["base"]
    assert len(expected.outputs) == len(expected.seconds) == len(dataset.problems["HumanEval/0"].inputs["base"])
    assert all(isinstance(output, bytes) for output in expected.outputs)


def test_a_damaged_cache_file_is_refused_with_what_to_do(cached):
    dataset, _ = cached
    truth = GroundTruth(dataset)
    path = truth._path("HumanEval/1")
    whole = path.read_bytes()
    try:
        path.write_bytes(whole[:-3])  # cut short, as a full disk might leave a copy made by hand
        with pytest.raises(DataError, match="damaged .*delete the file, and the next evaluation computes them again"):
            GroundTruth(dataset).get("HumanEval/1")
        path.write_bytes(b"not a header\n" + whole)
        with pytest.raises(DataError, match="damaged"):
            GroundTruth(dataset).get("HumanEval/1")
    finally:
        path.write_bytes(whole)
    assert GroundTruth(dataset).get("HumanEval/1")["plus"].outputs == truth.get("HumanEval/1")["plus"].outputs


def test_a_cache_of_an_older_format_is_freed(cached):
    dataset, older = cached
    assert not older.exists() and GroundTruth(dataset).folder.is_dir()
