"""The unittest test style (BigCodeBench), sandbox side: run a task's TestCases on a program in the
forked child and report each test's outcome. Standard library only; runs on the task environment's
Python (3.10), imported by worker.py.

What the official evaluator does around a run decides verdicts, so it is reproduced here with the same
effects (bigcodebench 0.2.5, eval/__init__.py unsafe_execute and eval/utils.py): program and tests are
one module "__test__" given sys, os and environ; TZ=UTC and the thread variables; exit()/quit()
disabled; matplotlib figures closed; stdout/stderr swallowed and stdin unreadable; subprocess output
captured by default; kill/killpg limited to the run's own processes; os.system, subprocess.* and
os.popen answer commands that mention kill (and check_output of ps) without running them; os.exec*
do nothing; a 241 s wall timer around the suite. The sandbox, rlimits and seccomp are the security
boundary; these patches are kept because the official verdicts depend on them.

Beyond upstream, a run fails when the program changed the test framework (unittest's TestCase,
TestResult, suites, loader: compared before and after), and the harness checks that every test the
test code defines reported a result: patching assertions away or stopping the suite early does not
pass.

Child lines (see worker.py): "T <json>" per finished test {"test", "ok", "trace"}, then
"U <json>" {"ran", "error"} once the suite ended, "L <reason>" if the module did not load.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
import types
import unittest

TRACE_CAP_CHARS = 20_000  # per failing test; official keeps whole tracebacks, these are for reading


class TimeoutException(Exception):
    """Raised in the running test by the suite's wall timer (the official name and role)."""


class _ReportingResult(unittest.TestResult):
    """Sends each test's outcome as soon as it is known, so a run killed later keeps what it did.
    Failures are recorded here, not by TestResult's methods, which a program could have replaced."""

    def __init__(self, report):
        super().__init__()
        self.report = report
        self.traces = []

    def addFailure(self, test, err):
        self.traces.append(self._exc_info_to_string(err, test))
        self.failures.append((test, self.traces[-1]))

    def addError(self, test, err):
        self.traces.append(self._exc_info_to_string(err, test))
        self.errors.append((test, self.traces[-1]))

    def addSubTest(self, test, subtest, err):
        if err is not None:
            self.addFailure(test, err) if issubclass(err[0], test.failureException) else self.addError(test, err)

    def startTest(self, test):
        self.traces = []
        self.testsRun += 1

    def stopTest(self, test):
        name = test.id().split(".")[-1]
        trace = self.traces[-1][:TRACE_CAP_CHARS] if self.traces else None
        self.report("T " + json.dumps({"test": name, "ok": trace is None, "trace": trace}))


def _framework_state() -> dict:
    """What a program could replace to make failing tests pass: the attributes of unittest's classes."""
    owners = (unittest.TestCase, unittest.TestResult, unittest.suite.BaseTestSuite, unittest.TestSuite,
              unittest.TestLoader, unittest.case._Outcome)
    return {(index, name): id(value) for index, owner in enumerate(owners) for name, value in vars(owner).items()}


def _framework_changes(before: dict) -> list[str]:
    after = _framework_state()
    return sorted({name for key, name in ((key, key[1]) for key in before) if after.get(key) != before[key]})


def run(job: dict, report) -> None:
    """Run job["code"] + job["test_code"] as the official evaluator does; `report(line)` sends a line."""
    _set_environment()
    own_pid = os.getpid()
    # Upstream keeps the pids of the processes a run starts in a multiprocessing Manager's list. The
    # Manager's server process is part of every official run and changes how programs behave (with
    # it, a multiprocessing Pool whose workers may not be killed hangs on exit, and the official
    # verdict is a timeout), so it is started here too.
    started_children = multiprocessing.Manager().list()
    _guard_processes(own_pid, started_children)
    swallowed = _WriteOnly()
    module = types.ModuleType("__test__")
    module.__dict__.update({"__builtins__": builtins, "__file__": "__test__.py", "__package__": None, "__doc__": None,
                            "sys": sys, "os": os, "environ": os.environ})
    result = _ReportingResult(report)
    framework = _framework_state()
    try:
        with _swallowed_io(swallowed):
            # No compiler flags of this module's (its __future__ import) reach the program: see worker.compile_untrusted.
            exec(compile(job["code"] + "\n" + job["test_code"], "__test__.py", "exec", dont_inherit=True), module.__dict__)
            sys.modules["__test__"] = module
            suite = unittest.TestLoader().loadTestsFromTestCase(getattr(module, "TestCases"))
            with _wall_limit(job["timeout_s"]):
                suite.run(result)
        changed = _framework_changes(framework)
        error = f"the program replaced parts of unittest: {', '.join(changed[:10])}" if changed else None
        report("U " + json.dumps({"ran": result.testsRun, "error": error}))
    except BaseException as error:  # the official "ALL" detail: the module or the suite itself failed
        report("U " + json.dumps({"ran": result.testsRun, "error": _text(error)}))
    # Upstream then terminates the processes the run started; here the supervisor kills everything
    # left in the sandbox once the child exits, so the verdict is not kept waiting for them.


def _text(error: BaseException) -> str:
    try:
        return str(error)[:TRACE_CAP_CHARS]
    except BaseException:
        return type(error).__name__


def _set_environment() -> None:
    # bigcodebench reliability_guard: these are set in every run (its memory limits are the rlimits).
    os.environ["TZ"] = "UTC"
    time.tzset()
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"
    import faulthandler

    faulthandler.disable()
    builtins.exit = None
    builtins.quit = None
    try:
        import matplotlib.pyplot as plt

        plt.close("all")
    except ImportError:
        pass


class _WriteOnly(io.StringIO):
    """What stdout, stderr and stdin become: writes go nowhere (kept short), reads raise as upstream."""

    def write(self, text):
        return len(text) if isinstance(text, str) else super().write(text)

    def read(self, *args, **kwargs):
        raise IOError

    def readline(self, *args, **kwargs):
        raise IOError

    def readlines(self, *args, **kwargs):
        raise IOError

    def readable(self, *args, **kwargs):
        return False


@contextlib.contextmanager
def _swallowed_io(stream):
    saved = sys.stdout, sys.stderr, sys.stdin
    popen, run_ = subprocess.Popen, subprocess.run
    sys.stdout = sys.stderr = sys.stdin = stream

    def with_pipes(function):
        # Upstream swallow_subprocess_output: output is captured unless the caller chose capture_output.
        def call(*args, **kwargs):
            if kwargs.get("capture_output"):
                kwargs.pop("stdout", None)
                kwargs.pop("stderr", None)
            else:
                kwargs.setdefault("stdout", subprocess.PIPE)
                kwargs.setdefault("stderr", subprocess.PIPE)
            return function(*args, **kwargs)
        return call

    subprocess.Popen, subprocess.run = with_pipes(popen), with_pipes(run_)
    try:
        yield
    finally:
        sys.stdout, sys.stderr, sys.stdin = saved
        subprocess.Popen, subprocess.run = popen, run_


@contextlib.contextmanager
def _wall_limit(seconds: float):
    def expire(signum, frame):
        raise TimeoutException("Timed out!")

    signal.setitimer(signal.ITIMER_REAL, seconds)
    signal.signal(signal.SIGALRM, expire)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _mentions(command, *words) -> bool:
    # Upstream tests `word in command`: a substring of a string, an element of a list.
    try:
        return any(word in command for word in words)
    except TypeError:
        return False


def _guard_processes(own_pid: int, started) -> None:
    """Upstream safe_environment's effects on what programs may do to processes (see the docstring)."""
    kill, killpg, system, popen_os = os.kill, os.killpg, os.system, os.popen
    call, check_output, run_, Popen = subprocess.call, subprocess.check_output, subprocess.run, subprocess.Popen
    own_group = os.getpgid(own_pid)

    def safe_kill(pid, sig):
        try:
            os.getpgid(pid)
            if pid == own_pid or pid in started:
                kill(pid, sig)
        except ProcessLookupError:
            pass

    def safe_killpg(pgid, sig):
        if pgid == own_group or pgid in {os.getpgid(pid) for pid in started}:
            killpg(pgid, sig)

    def safe_system(command):
        return 0 if _mentions(command, "kill", "killall") else system(command)

    def safe_call(command, *args, **kwargs):
        return 0 if _mentions(command, "kill", "killall") else call(command, *args, **kwargs)

    def safe_check_output(command, *args, **kwargs):
        return b"" if _mentions(command, "ps") else check_output(command, *args, **kwargs)

    def safe_run(*args, **kwargs):
        if _mentions(args[0], "kill", "killall"):
            return subprocess.CompletedProcess(args, 0, b"", b"")
        return run_(*args, **kwargs)

    class SafePopen(Popen):
        def __init__(self, *args, **kwargs):
            kwargs["preexec_fn"] = os.setsid
            super().__init__(*args, **kwargs)
            started.append(self.pid)

        def communicate(self, *args, **kwargs):
            try:
                return super().communicate(*args, **kwargs)
            except subprocess.TimeoutExpired:
                return None, None

        def kill(self):
            safe_kill(self.pid, signal.SIGTERM)

        def terminate(self):
            safe_kill(self.pid, signal.SIGTERM)

    def safe_os_popen(command):
        return popen_os("echo Intercepted") if _mentions(command, "kill", "killall") else popen_os(command)

    def no_exec(*args, **kwargs):
        return None

    os.kill, os.killpg, os.system, os.popen = safe_kill, safe_killpg, safe_system, safe_os_popen
    subprocess.call, subprocess.check_output, subprocess.run, subprocess.Popen = safe_call, safe_check_output, safe_run, SafePopen
    os.execv = os.execvp = os.execvpe = no_exec
