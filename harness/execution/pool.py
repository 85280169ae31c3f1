"""Warm sandbox workers, one per parallel slot, fed from a queue by harness threads.

Each slot thread owns one worker (a zygote inside the isolation layer, see worker.py) for its whole
life: the kernel's die-with-parent signal follows the thread that started the process. A run is a
program with its inputs; the caller passes a listener that sees the child's lines as they arrive and
may stop the run early (fail-fast), then sees the zygote's final report.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import queue
import subprocess
import tempfile
import threading
import warnings
from dataclasses import asdict, dataclass, fields
from typing import Callable, Iterable, Iterator, Protocol

from harness.execution.limits import Limits
from harness.execution.sandbox import Sandbox, SandboxError, choose

HELLO_TIMEOUT_S = 120


@dataclass(frozen=True)
class Run:
    """One program execution. Style "calls": `code` is exec'd, then `entry_point` is called on each
    input. Style "unittest": `code` and `test_code` form one module whose TestCases run under a
    `timeout_s` wall timer (see worker.py)."""

    code: str
    entry_point: str
    inputs_line: bytes  # values.encode() of the list of argument lists; b"[]" for unittest
    time_limits: list[float] | None  # CPU seconds per input; None for trusted reference code
    budget_cpu_s: float
    budget_wall_s: float
    memory_bytes: int | None = None  # None: the pool's limit
    style: str = "calls"
    guard: dict | None = None  # the official evaluator's Python-level restrictions (worker._apply_guard)
    module_name: str | None = None  # __name__ of the program's namespace; None: an empty namespace
    devnull_stdin: bool = False  # stdin reads /dev/null instead of raising
    test_code: str | None = None
    timeout_s: float | None = None
    stack_bytes: int | None = None  # None: the memory limit
    # Each input's CPU timer runs to this many times its time limit, or to timer_floor seconds if that is longer; the
    # wall backstops (time_limits x Limits.wall_factor + 1 s) do not: a program that sleeps gets no more wall time.
    timer_stretch: float = 1.0
    timer_floor: float = 0.0
    # Inputs whose expected output is large and compares as encoded: an output that does too travels as a digest.
    digest_inputs: tuple[int, ...] = ()


class Listener(Protocol):
    def on_line(self, line: bytes) -> bool:
        """A line from the child (untrusted). Return True to stop the run now."""

    def on_done(self, report: dict) -> None:
        """The zygote's report: exit code, why it was killed if it was, CPU seconds."""


class WorkerDied(RuntimeError):
    pass


class SandboxWorker:
    def __init__(self, sandbox: Sandbox, limits: Limits, tree_memory_bytes: int):
        self.sandbox = sandbox
        self.limits = limits
        self.tree_memory_bytes = tree_memory_bytes
        self.process: subprocess.Popen | None = None
        self.hello: dict = {}
        self.start()

    def start(self) -> None:
        launch = self.sandbox.launch()
        self.scratch = launch.scratch
        self.stderr = tempfile.TemporaryFile()
        self.process = None
        try:
            self.process = subprocess.Popen(
                launch.argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self.stderr,
                env=launch.env,
                start_new_session=True,  # Ctrl-C reaches the harness, which shuts workers down in order
                bufsize=1 << 20,
            )
        except BaseException:  # no interpreter there, say: its scratch folder goes now
            self.close()
            raise
        line = self.process.stdout.readline()
        if not line.startswith(b"Z"):
            error = SandboxError(f"the {self.sandbox.layer} sandbox worker did not start: {self.stderr_tail()}")
            self.close()  # its stderr too: read above
            raise error
        self.hello = json.loads(line[1:])

    def stderr_tail(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read()[-2000:].decode("utf-8", "replace").strip() or "(no output)"

    def run(self, run: Run, listener: Listener, on_idle: Callable[[], None] = lambda: None) -> None:
        # Shallow: asdict would deep-copy a plus run's thousand time limits, for every run.
        header = dict(asdict(self.limits), **{field.name: getattr(run, field.name) for field in fields(run)})
        del header["inputs_line"]
        header["seccomp"] = self.limits.seccomp and self.hello.get("seccomp", False)
        header["memory_bytes"] = run.memory_bytes or self.limits.memory_bytes
        header["tree_memory_bytes"] = min(header["memory_bytes"], self.tree_memory_bytes)
        header["landlock"] = self.limits.landlock and self.hello.get("landlock", 0) > 0
        try:
            self.process.stdin.write(json.dumps(header).encode() + b"\n" + run.inputs_line + b"\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            raise WorkerDied(self.stderr_tail())
        stopped, unfinished = False, []  # unfinished: the pieces of the line the child is still writing
        readline, read = self.process.stdout.readline, self.process.stdout.read
        while True:
            message = readline()
            if not message:
                raise WorkerDied(self.stderr_tail())
            if message[:1] == b"C":  # the next bytes the child wrote (worker.py's protocol)
                size = int(message[1:])
                written = read(size)
                if len(written) < size:
                    raise WorkerDied(self.stderr_tail())
                if stopped:
                    continue
                *lines, rest = written.split(b"\n")
                if lines and unfinished:  # joined once: a long line comes in many pieces
                    unfinished.append(lines[0])
                    lines[0] = b"".join(unfinished)
                    unfinished.clear()
                if rest:
                    unfinished.append(rest)
                for line in lines:
                    if listener.on_line(line):
                        stopped = True
                        self.abort_run()
                        break
            elif message[:1] == b"I":
                on_idle()
            elif message[:1] == b"Z":
                listener.on_done(json.loads(message[1:]))
                return

    def abort_run(self) -> None:
        """Ask the zygote to kill the running child now (its verdict is decided)."""
        try:
            self.process.stdin.write(b"abort\n")
            self.process.stdin.flush()
        except OSError:
            pass

    def close(self) -> None:
        if self.process is not None:
            try:
                self.process.stdin.close()
                self.process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()
            self.process.stdout.close()
        if self.scratch:
            self.scratch.remove()
        self.stderr.close()

    def restart(self) -> None:
        self.close()
        self.start()


Task = tuple[object, Run, Callable[[], Listener]]  # (key, run, listener factory)


class IdleWork(Protocol):
    def go_on(self, going: bool) -> None:
        """Compute (True) or pause (False)."""


class CoreToken:
    """One held core; released once, by an idle report or by the end of the run, whichever is first."""

    def __init__(self, cores: threading.Semaphore):
        self.cores = cores
        self.held = True

    def release(self) -> None:
        if self.held:
            self.held = False
            self.cores.release()


class WorkerPool:
    """`size` warm workers. Use as a context manager. `submit` queues a run (lowest priority value
    first), `next_result` waits for any run to finish; `map` does both for a fixed list.

    With `idle_extra` > 0 there are that many more workers, but still only `size` runs computing at
    once: a run holds one of `size` core tokens until the worker reports it idle (sleeping, waiting on a
    server, hung until its wall timeout), and then another run may start. BigCodeBench's tests wait a
    lot; the official evaluator keeps a core per waiting test."""

    def __init__(self, size: int | None = None, sandbox: Sandbox | None = None, limits: Limits | None = None,
                 idle_extra: int = 0):
        self.size = max(1, size or os.cpu_count() or 1)
        self.cores = threading.Semaphore(self.size)
        slots = self.size + max(0, idle_extra)
        self.sandbox = sandbox or choose()
        self.limits = (limits or Limits()).resolved()
        # Where runs may start processes, all of one run's together may use this much memory: the
        # machine's share of one slot, so that parallel runs cannot exhaust it between them.
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        self.tree_memory_bytes = int(physical * 0.75 / self.size)
        self.tasks: queue.PriorityQueue = queue.PriorityQueue()
        self.submitted = itertools.count()  # ties keep submission order; tasks themselves never compare
        self.results: queue.Queue = queue.Queue()
        # The workers start in the slots' threads, and runs may be queued meanwhile: not waited for here, so that the
        # caller's own preparation (an evaluation's expected outputs and runs: 0.2 s of HumanEval+'s) overlaps their start
        # (0.2 s, the two at once on two cores). What needs them started waits (wait_started, describe); a start that
        # failed is raised there and by next_result, and no run starts.
        self.started = threading.Barrier(slots, action=self._all_started)
        self.ready = threading.Event()
        self.hello: dict = {}
        self.aborting = False
        self.restarts = 0  # workers that died mid-run; healthy runs have none
        self.workers: list[SandboxWorker] = []
        self.idle_work: IdleWork | None = None  # see fill_idle_with
        self.waiting = 0  # workers waiting for a run with a core they do not use
        self.waiting_lock = threading.Lock()
        self.threads = [threading.Thread(target=self._slot, daemon=True, name=f"sandbox-{i}") for i in range(slots)]
        for thread in self.threads:
            thread.start()

    startup_error: Exception | None = None

    def _all_started(self) -> None:
        if self.startup_error is not None:
            self.results.put((None, None, self.startup_error))
        self.ready.set()

    def wait_started(self) -> None:
        """Return once every worker has started; raise the error of one that could not."""
        self.ready.wait()
        if self.startup_error is not None:
            raise self.startup_error

    def _slot(self) -> None:
        try:
            worker = SandboxWorker(self.sandbox, self.limits, self.tree_memory_bytes)
            self.hello = worker.hello
            self.workers.append(worker)
        except Exception as error:  # raised by wait_started and next_result
            self.startup_error = error
            self.started.wait()
            return
        self.started.wait()
        if self.startup_error is not None:
            worker.close()
            return
        try:
            while True:
                self.cores.acquire()
                core = CoreToken(self.cores)
                try:
                    task = self._next_task()[2]
                    if task is None or self.aborting:
                        return
                    key, run, make_listener = task
                    try:
                        self.results.put((key, self._execute(worker, run, make_listener, core.release), None))
                    except BaseException as error:  # surfaced in the caller's thread
                        self.results.put((key, None, error))
                finally:
                    core.release()
        finally:
            worker.close()

    def _execute(self, worker: SandboxWorker, run: Run, make_listener, on_idle: Callable[[], None]) -> Listener:
        # A worker that dies mid-run (it should not: the child cannot signal it) is restarted and
        # the run repeated once on a fresh one, so one bad program cannot cost another its verdict.
        for _ in range(2):
            listener = make_listener()
            try:
                worker.run(run, listener, on_idle)
                return listener
            except WorkerDied as died:
                if self.aborting:
                    raise
                reason = str(died)
                self.restarts += 1
                warnings.warn(f"a sandbox worker died and was restarted: {reason[-500:]}", RuntimeWarning, stacklevel=1)
                worker.restart()
        listener.on_done({"done": True, "exit": None, "killed": f"sandbox worker died: {reason}", "cpu_s": 0.0})
        return listener

    def fill_idle_with(self, work: IdleWork) -> None:
        """Let `work` (the evaluation's calibration, whose figure is CPU time, so that pausing it changes nothing)
        compute only on a core that a worker waiting for a run leaves idle: it pauses while every worker has a run, goes
        on while one waits, and goes on for good once the pool closes. No run computes beside it, and it costs the runs
        no core."""
        with self.waiting_lock:
            self.idle_work = work
            self._let_idle_work_go_on(self.waiting > 0)

    def _next_task(self) -> tuple:
        try:
            return self.tasks.get_nowait()
        except queue.Empty:
            pass
        self._count_waiting(+1)
        try:
            return self.tasks.get()
        finally:
            self._count_waiting(-1)

    def _count_waiting(self, change: int) -> None:
        with self.waiting_lock:
            self.waiting += change
            if self.waiting == (1 if change > 0 else 0):  # from none waiting to one, or back
                self._let_idle_work_go_on(change > 0)

    def _let_idle_work_go_on(self, go_on: bool) -> None:
        if self.idle_work is not None:
            self.idle_work.go_on(go_on)

    def submit(self, task: Task, priority: float = 0.0) -> None:
        self.tasks.put((priority, next(self.submitted), task))

    def next_result(self) -> tuple[object, Listener]:
        key, listener, error = self.results.get()
        if error is not None:
            if error is self.startup_error:  # put back: every later wait raises it too, none waits for ever
                self.results.put((key, listener, error))
            raise error
        return key, listener

    def map(self, tasks: Iterable[Task]) -> Iterator[tuple[object, Listener]]:
        pending = 0
        for task in tasks:
            self.submit(task)
            pending += 1
        for _ in range(pending):
            yield self.next_result()

    def close(self) -> None:
        while True:  # runs not started yet are dropped
            try:
                self.tasks.get_nowait()
            except queue.Empty:
                break
        for _ in self.threads:
            self.tasks.put((math.inf, next(self.submitted), None))
        for thread in self.threads:
            thread.join()
        with self.waiting_lock:
            self._let_idle_work_go_on(True)

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is not None:
            self.abort()
        self.close()

    def abort(self) -> None:
        """Stop now (Ctrl-C, an error): running programs are killed, not waited for."""
        self.aborting = True
        for worker in list(self.workers):
            if worker.process is not None and worker.process.poll() is None:
                worker.process.kill()

    def describe(self) -> dict:
        """What protected the runs, for the results file."""
        self.wait_started()
        return {
            "isolation": self.sandbox.layer,
            "seccomp": bool(self.limits.seccomp and self.hello.get("seccomp")),
            "landlock": self.hello.get("landlock", 0) if self.limits.landlock else 0,
            "workers": len(self.threads),
            "sandbox_python": self.hello.get("python"),
            "limits": asdict(self.limits),
        }
