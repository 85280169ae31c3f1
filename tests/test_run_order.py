"""evalplus' runs go longest first (harness.benchmarks.evalplus.scoring): the base runs before the plus runs, and each
plus run queued, once its base run has ended, by a length predicted from that run; before the base runs still queued
if it is predicted to outlast them. Three programs for Mbpp/781, written
for this test (labelled): one as fast as the reference, one that spends 0.05 s of CPU on every call, one that loops
forever. Their base runs are real; the plus run of the endless one is to go first, then the slow one's, then the fast
one's, where the reference's time alone rates all three alike. The reference's base inputs read 0 s here, or next to it
(a process with a CPU limit reads its CPU clock in scheduler ticks), so the prediction must not rest on the reference
alone."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from harness.benchmarks.evalplus import MBPP_PLUS
from harness.benchmarks.evalplus.groundtruth import GroundTruth
from harness.benchmarks.evalplus.scoring import AHEAD_PLUS_RUNS, BASE_RUNS_AHEAD_S, PLUS_RUNS, EvalSettings, _priority, _runs
from harness.execution.pool import WorkerPool

TASK = "Mbpp/781"
COUNT = ("    count, i = 0, 1\n    while i * i <= n:\n        if n % i == 0:\n            count += 1 if i * i == n else 2\n"
         "        i += 1\n    return count % 2 == 0\n")
PROGRAMS = {
    "endless": "def count_divisors(n):\n    while True:\n        pass\n",
    "slow": "import time\ndef count_divisors(n):\n    started = time.process_time()\n"
            "    while time.process_time() - started < 0.05:\n        pass\n" + COUNT,
    "fast": "def count_divisors(n):\n" + COUNT,
    # The same count with a for loop: no construct whose cost may outgrow its base run (harness.execution.growth).
    "fast, bounded": "import math\ndef count_divisors(n):\n    count = 0\n    for i in range(1, math.isqrt(n) + 1):\n"
                     "        if n % i == 0:\n            count += 1 if i * i == n else 2\n    return count % 2 == 0\n",
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
        # 0 s, or a few microseconds where the clock was read between ticks (a context switch updates it): far under
        # the slow program's 0.05 s a call either way.
        assert sum(GroundTruth(dataset).get(TASK)["base"].seconds) < 1e-3, "the reference no longer reads ~0 s: see the docstring"
        assert [done[name].verdict.status for name in PROGRAMS] == ["fail", "pass", "pass", "pass"]
        priorities = {name: check["plus"].after[1](done[name]) for name, check in checks.items()}

        # FAKE reference times (the real ones read ~0): the task's reference made to take 6 s, over BASE_RUNS_AHEAD_S.
        path = GroundTruth(dataset)._path(TASK)
        header, _, outputs = path.read_bytes().partition(b"\n")
        record = json.loads(header)
        record["plus"]["seconds"] = [6.0 / len(record["plus"]["seconds"])] * len(record["plus"]["seconds"])
        path.write_bytes(json.dumps(record).encode() + b"\n" + outputs)
        long_runs = _runs(dataset, EvalSettings())
        long_checks = [long_runs.checks(TASK, PROGRAMS["endless"]) for _ in range(2)]
        return priorities, checks, long_checks, done["endless"]


def test_a_plus_run_goes_ahead_of_the_base_runs_once_no_long_reference_s_base_run_is_left(plus_priorities):
    """Two endless programs on a task whose reference takes 6 s: their base runs go before every plus run, and the
    first one's plus run, though predicted long, waits behind the base runs while the second's base run has not ended
    (it may show a longer one); the second's, queued when none is left, goes ahead."""
    _, checks, long_checks, endless_base = plus_priorities
    assert max(check["base"].priority for check in long_checks) < _priority(AHEAD_PLUS_RUNS, 1e6)
    first, second = (check["plus"].after[1](endless_base) for check in long_checks)
    assert _priority(PLUS_RUNS, 1e6) < first < _priority(PLUS_RUNS, 0)
    assert second < min(check["base"].priority for check in checks.values())
    assert _priority(AHEAD_PLUS_RUNS, 1e6) < second < _priority(AHEAD_PLUS_RUNS, BASE_RUNS_AHEAD_S)


def test_a_plus_run_is_queued_by_its_base_run_s_length(plus_priorities):
    priorities = plus_priorities[0]
    assert priorities["endless"] < priorities["slow"] < priorities["fast"]


def test_a_plus_run_whose_cost_may_outgrow_its_base_run_is_not_taken_for_a_short_one(plus_priorities):
    """The same base run, of milliseconds, predicts the plus run of the program with a while loop at least the floor
    (1 s): such a run may take far longer on the plus inputs, and queued last it would end the evaluation alone. The
    bounded one's stays what its base run predicts (under the floor). The base run is FAKE (a stand-in with its two figures): this
    task's real ones predict both plus runs over a second already."""
    checks = plus_priorities[1]
    base = SimpleNamespace(verdict=SimpleNamespace(cpu_s=0.002), loading=0.001)
    may_grow, bounded = (checks[name]["plus"].after[1](base) for name in ("fast", "fast, bounded"))
    assert may_grow <= _priority(PLUS_RUNS, EvalSettings().time_policy.floor) < bounded


def test_the_base_runs_go_before_a_plus_run_unless_it_is_predicted_to_outlast_them(plus_priorities):
    priorities, checks = plus_priorities[:2]
    base = [check["base"].priority for check in checks.values()]
    assert max(base) < priorities["fast"] and priorities["endless"] < min(base)
    assert all(check["base"].after is None and check["plus"].after[0] == "base" for check in checks.values())
