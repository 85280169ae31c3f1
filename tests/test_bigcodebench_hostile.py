"""Hostile programs in the unittest test style (BigCodeBench's): the verdict stays right, the harness
and the machine are untouched, and nothing is left running.

The tasks here are fake (written for these cases, labelled FAKE), run on the harness's own Python so
that this test does not need the task-library environment: the sandbox side is standard library only.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import uuid

import pytest

from harness.benchmarks.bigcodebench.tasks import Problem
from harness.benchmarks.bigcodebench.scoring import SuiteJudge, _run, bigcodebench_limits
from harness.execution.pool import WorkerPool
from harness.execution.sandbox import Sandbox, works

FAKE_TEST = """
import unittest
class TestCases(unittest.TestCase):
    def test_double(self):
        self.assertEqual(task_func(2), 4)
    def test_zero(self):
        self.assertEqual(task_func(0), 0)
"""
FAKE_TASK = Problem("FAKE/0", "def task_func(x):\n", "", "def task_func(x):\n", "    return 2 * x\n", FAKE_TEST, "task_func", ())

LAYERS = [layer for layer in ("bwrap", "unshare") if works(layer)]


@pytest.fixture(scope="module", params=LAYERS)
def pool(request):
    with WorkerPool(2, Sandbox(request.param, sys.executable, ()), bigcodebench_limits()) as pool:
        yield pool


def judge(pool: WorkerPool, code: str, test: str = FAKE_TEST) -> SuiteJudge:
    problem = Problem("FAKE/0", "", "", "", "", test, "task_func", ())
    [(_, verdict)] = list(pool.map([("run", _run(problem, code), lambda: SuiteJudge(problem.test_names))]))
    return verdict


def test_bubblewrap_is_required_in_ci():
    import os

    if os.environ.get("CI"):
        assert "bwrap" in LAYERS


def test_correct_and_wrong_programs(pool):
    assert judge(pool, "def task_func(x):\n    return 2 * x\n").status == "pass"
    wrong = judge(pool, "def task_func(x):\n    return x\n")
    assert wrong.status == "fail" and set(wrong.details) == {"test_double"}
    assert judge(pool, "def task_func(x) return\n").details.keys() == {"ALL"}  # SyntaxError


HOSTILE = {
    "replaces assertEqual": "import unittest\nunittest.TestCase.assertEqual = lambda *a, **k: None\ndef task_func(x):\n    return 0\n",
    "replaces TestResult.addFailure": "import unittest\nunittest.TestResult.addFailure = lambda *a: None\n"
                                      "unittest.TestResult.addError = lambda *a: None\ndef task_func(x):\n    return 0\n",
    "empties the suite": "import unittest\nunittest.TestLoader.loadTestsFromTestCase = lambda self, c: unittest.TestSuite()\n"
                         "def task_func(x):\n    return 0\n",
    "exits at import": "import sys\nsys.exit(0)\n",
    "exits the process in a test": "import os\ndef task_func(x):\n    os._exit(0)\n",
    "kills its supervisor": "import ctypes, os\ndef task_func(x):\n    ctypes.CDLL(None).kill(os.getppid(), 9)\n    return 0\n",
    "kills everyone": "import ctypes\ndef task_func(x):\n    ctypes.CDLL(None).kill(-1, 9)\n    return 0\n",
    "kills the supervisor through a command": "import os, subprocess\ndef task_func(x):\n"
                                              "    subprocess.run(['/bin/kill', '-9', str(os.getppid())])\n    return 0\n",
    "fork bomb": "import os\ndef task_func(x):\n    while True:\n        try:\n            os.fork()\n        except OSError:\n            pass\n",
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_program_does_not_pass(pool, name):
    verdict = judge(pool, HOSTILE[name])
    assert verdict.status in ("fail", "timeout"), (name, verdict.details)
    assert pool.restarts == 0
    # The pool still judges a correct program right afterwards.
    assert judge(pool, "def task_func(x):\n    return 2 * x\n").status == "pass"


def test_processes_left_behind_are_killed(pool):
    marker = f"scoder-daemon-{uuid.uuid4().hex}"
    code = ("import subprocess\ndef task_func(x):\n"
            f"    subprocess.Popen(['/bin/sh', '-c', 'exec -a {marker} sleep 300'])\n"
            "    return 2 * x\n")
    assert judge(pool, code).status == "pass"
    listed = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert marker not in listed


def test_files_outside_the_sandbox_stay_unchanged(pool, tmp_path):
    canary = tmp_path / "canary.txt"
    canary.write_text("original")
    code = (f"def task_func(x):\n    try:\n        open({str(canary)!r}, 'w').write('changed')\n    except OSError:\n        pass\n"
            "    return 2 * x\n")
    judge(pool, code)
    assert canary.read_text() == "original"


def test_no_connection_leaves_the_sandbox(pool):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(3)
    port = listener.getsockname()[1]
    accepted = []
    thread = threading.Thread(target=lambda: accepted.append(_accept(listener)))
    thread.start()
    code = (f"import socket\ndef task_func(x):\n    try:\n        socket.create_connection(('127.0.0.1', {port}), timeout=1).send(b'x')\n"
            "    except OSError:\n        pass\n    return 2 * x\n")
    judge(pool, code)
    thread.join()
    listener.close()
    assert accepted == [None]


def _accept(listener):
    try:
        return listener.accept()
    except OSError:
        return None


def test_legitimate_processes_files_and_loopback_servers_work(pool):
    """What BigCodeBench's real tests do: run commands, write to /tmp, serve on loopback."""
    code = """
import os, socket, subprocess, tempfile, threading
def task_func(x):
    assert subprocess.run(['echo', 'hi'], capture_output=True, text=True).stdout == 'hi\\n'
    with tempfile.NamedTemporaryFile('w', delete=False) as handle:
        handle.write('data')
    server = socket.socket()
    server.bind(('127.0.0.1', 0))
    server.listen(1)
    threading.Thread(target=lambda: server.accept()[0].sendall(b'ok'), daemon=True).start()
    assert socket.create_connection(server.getsockname()).recv(2) == b'ok'
    return 2 * x
"""
    verdict = judge(pool, code)
    assert verdict.status == "pass", verdict.details


def test_a_waiting_run_gives_its_core_to_the_next_one():
    """One core, two extra workers: a test that sleeps (FAKE) reports idle and the quick runs queued
    after it finish before it does, where one worker per core would have run them after it."""
    sleeping = "import time\ndef task_func(x):\n    time.sleep(6)\n    return 2 * x\n"
    quick = "def task_func(x):\n    return 2 * x\n"
    problem = Problem("FAKE/0", "", "", "", "", FAKE_TEST, "task_func", ())
    runs = [(name, _run(problem, code), lambda: SuiteJudge(problem.test_names))
            for name, code in (("sleeping", sleeping), ("quick-1", quick), ("quick-2", quick))]
    with WorkerPool(1, Sandbox(LAYERS[0], sys.executable, ()), bigcodebench_limits(), idle_extra=2) as pool:
        finished = [(name, verdict.status) for name, verdict in pool.map(runs)]
    assert finished == [("quick-1", "pass"), ("quick-2", "pass"), ("sleeping", "pass")]
