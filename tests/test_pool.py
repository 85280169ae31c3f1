"""The worker pool starts its workers in the background: runs may be queued while they start, and a start that fails is
raised where the caller waits for them (describe, next_result), never lost."""

import pytest

from harness.execution import values
from harness.execution.function_calls import PASS, OutputJudge
from harness.execution.pool import Run, WorkerPool
from harness.execution.sandbox import Sandbox, SandboxError


def double_run(x: int) -> tuple:
    run = Run("def double(x):\n    return 2 * x\n", "double", values.encode([[x]]).encode(), [1.0], 5.0, 20.0)
    expected = [values.encode(2 * x).encode()]
    return x, run, lambda: OutputJudge(expected, lambda index, output: False, lambda index: True, lambda index: 1 << 10)


def test_runs_queued_while_the_workers_start_run_once_they_have():
    with WorkerPool(2, Sandbox("process", preload=())) as pool:
        for x in range(4):
            pool.submit(double_run(x))
        assert not pool.ready.is_set()  # queued before any worker said hello: the interpreter's start alone takes longer
        verdicts = dict((pool.next_result() for _ in range(4)))
        assert pool.describe()["workers"] == 2
    assert {x: judge.verdict.status for x, judge in verdicts.items()} == {x: PASS for x in range(4)}


def test_a_worker_that_cannot_start_is_raised_where_the_pool_is_waited_for():
    pool = WorkerPool(1, Sandbox("process", "/bin/false", ()))  # an interpreter that exits at once
    pool.submit(double_run(1))
    with pytest.raises(SandboxError, match="did not start"):
        pool.next_result()
    with pytest.raises(SandboxError, match="did not start"):
        pool.describe()
    with pytest.raises(SandboxError, match="did not start"):  # a second wait too, not for ever
        pool.next_result()
    pool.close()
