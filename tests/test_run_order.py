"""evalplus' runs go longest first (harness.benchmarks.evalplus.scoring): every base run before any plus run, and each
plus run queued, once its base run has ended, by a length predicted from that run. Three programs for Mbpp/781, written
for this test (labelled): one as fast as the reference, one that spends 0.05 s of CPU on every call, one that loops
forever. Their base runs are real; the plus run of the endless one is to go first, then the slow one's, then the fast
one's, where the reference's time alone rates all three alike. The reference's base inputs read 0 s here (a process
with a CPU limit reads its CPU clock in scheduler ticks), so the prediction must not rest on the reference alone."""

from __future__ import annotations

import pytest

from harness.benchmarks.evalplus import MBPP_PLUS
from harness.benchmarks.evalplus.groundtruth import GroundTruth
from harness.benchmarks.evalplus.scoring import EvalSettings, _runs
from harness.execution.pool import WorkerPool

TASK = "Mbpp/781"
COUNT = ("    count, i = 0, 1\n    while i * i <= n:\n        if n % i == 0:\n            count += 1 if i * i == n else 2\n"
         "        i += 1\n    return count % 2 == 0\n")
PROGRAMS = {
    "endless": "def count_divisors(n):\n    while True:\n        pass\n",
    "slow": "import time\ndef count_divisors(n):\n    started = time.process_time()\n"
            "    while time.process_time() - started < 0.05:\n        pass\n" + COUNT,
    "fast": "def count_divisors(n):\n" + COUNT,
}


@pytest.fixture(scope="module")
def plus_priorities(tmp_path_factory, data_dir):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SCODER_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        dataset = MBPP_PLUS.load(data_dir)
        with WorkerPool(2) as pool:
            GroundTruth(dataset).compute([TASK], pool, progress=False)
            runs = _runs(dataset, EvalSettings())
            checks = {name: runs.checks(TASK, code) for name, code in PROGRAMS.items()}
            done = dict(pool.map([(name, check["base"].run, check["base"].listener) for name, check in checks.items()]))
        assert sum(GroundTruth(dataset).get(TASK)["base"].seconds) == 0, "the reference no longer reads 0 s: see the docstring"
        assert [done[name].verdict.status for name in PROGRAMS] == ["fail", "pass", "pass"]
        return {name: check["plus"].after[1](done[name]) for name, check in checks.items()}, checks


def test_a_plus_run_is_queued_by_its_base_run_s_length(plus_priorities):
    priorities, _ = plus_priorities
    assert priorities["endless"] < priorities["slow"] < priorities["fast"] <= 0


def test_every_base_run_goes_before_any_plus_run(plus_priorities):
    priorities, checks = plus_priorities
    assert max(check["base"].priority for check in checks.values()) < min(priorities.values())
    assert all(check["base"].after is None and check["plus"].after[0] == "base" for check in checks.values())
