"""The sandbox side of the executor: a warm zygote that forks one child per program run.

Runs inside the isolation layer, started by harness.execution.pool, standard library only (the
libraries a benchmark's programs use, numpy for one, are preloaded when asked for and installed). The zygote never runs untrusted
code itself; each run happens in a forked child that first drops into its limits (rlimits, seccomp,
closed descriptors, a fresh working directory, swallowed stdio) and then reports plain values.

Protocol on the zygote's stdin/stdout, one line per message (but the bytes that follow a "C" line):
  harness -> zygote   a job: one JSON header line, then one line with the encoded inputs;
                      "abort" while a job runs: kill the child now.
  zygote -> harness   "Z" + JSON: the zygote's own reports (hello at start, done after each job);
                      "C" + n: the next n bytes are what the child wrote, untrusted, relayed as read (the
                      harness splits them into lines; a line the child had not ended when it stopped is
                      not one);
                      "I": the run (unittest style) has been idle for IDLE_WINDOW_S: its whole process
                      tree used almost no CPU, so the harness may start another run meanwhile.
A job's "style" says how the program is tested:
  calls     (default) its entry point is called on each input. Child lines: "O <i> <cpu seconds>
            <encoded output>"; "H <i> <cpu seconds> <sha256> <bytes> <nan>" for an output whose
            encoding is over max_output_bytes (hashed piece by piece, never held whole), or that
            compares as encoded on one of the job's digest_inputs (values.compares_as_encoded); "E <i>
            <reason>" (input i raised or timed out); "L <reason>" (the program did not load); "B <cpu
            seconds>" (it loaded, using that much CPU, before the first call); "D <n>" (all n inputs
            ran). The harness alone compares outputs with expected values, which never enter the sandbox.
  unittest  the task's TestCases run on it (unittest_runner.py, which lists its lines). These tests
            start processes and local servers, so the child may fork (seccomp's relaxed rules) and
            the zygote watches the whole process tree: its size, its memory, and a sweep afterwards.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import math
import os
import resource
import select
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import landlock  # noqa: E402
import seccomp  # noqa: E402
import unittest_runner  # noqa: E402
import values  # noqa: E402

MAX_LINE_BYTES = 320 * 1024 * 1024  # over Limits.max_output_bytes: a longer child line kills the run
OVERSIZED = "output too large"  # a child's line over MAX_LINE_BYTES: the run is stopped, the rest of its output dropped
POLL_SECONDS = 0.05  # how often a running child's CPU time is checked against its budget
# After relaying a child's lines, the zygote lets the next ones gather in the pipe this long (its exit and an abort still
# wake it at once): a child that reports an input every 10 us woke the zygote, and behind it the harness, for each line
# (4 us of the zygote's CPU a line, measured on runs of 1,000 fast inputs; HumanEval+'s runs write 55,800 lines). Not
# where the pipe was filling: GATHER_BELOW_BYTES.
GATHER_S = 0.001
GATHER_BELOW_BYTES = 16 * 1024
# A run that sleeps, waits on a server or hangs (BigCodeBench's 240 s timeouts) should not hold a core:
# idle means under 5% of one core over the last two seconds.
IDLE_WINDOW_S = 2.0
IDLE_CPU_SHARE = 0.05
STDIO_CAP_CHARS = 4096  # what a program prints is kept up to this, then dropped
_PR_SET_PDEATHSIG = 1

import collections, copy, decimal, fractions, functools, heapq, itertools, random, re, statistics, string, typing  # noqa: E401,F401,E402
import faulthandler, io, platform, shutil, subprocess  # noqa: E401,E402


class TimeoutException(Exception):
    """Raised in the child by its per-input CPU or wall timer (same name and role as in evalplus)."""


class SwallowedIO(io.StringIO):
    """stdin/stdout/stderr of the program: writes kept up to a cap, reads fail as in evalplus."""

    def write(self, text):
        if isinstance(text, str):
            super().write(text[: max(0, STDIO_CAP_CHARS - self.tell())])
            return len(text)
        return super().write(text)  # raises TypeError like any StringIO

    def read(self, *args, **kwargs):
        raise IOError

    def readline(self, *args, **kwargs):
        raise IOError

    def readlines(self, *args, **kwargs):
        raise IOError

    def readable(self, *args, **kwargs):
        return False


# ---------------------------------------------------------------- child: runs one program, then exits


def run_child(job: dict, inputs_line: bytes, report_fd: int, workdir: str, writable: list[str]) -> None:
    """Never returns. Everything here runs in the forked child."""
    try:
        _enter_limits(job, report_fd, workdir, writable)
        if job.get("style") == "unittest":
            unittest_runner.run(job, lambda line: _report(report_fd, line))
        else:
            _run_program(job, inputs_line, report_fd)
    except BaseException as error:  # the program may raise anything, SystemExit included
        _report(report_fd, f"L {json.dumps(_describe(error))}")
    finally:
        os._exit(0)


def _enter_limits(job: dict, report_fd: int, workdir: str, writable: list[str]) -> None:
    supervisor = os.getppid()
    os.setsid()  # own session and process group, killed whole
    ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # dies with the zygote
    os.chdir(workdir)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    # Close everything inherited (the zygote's pipes to the harness above all) but the report pipe.
    os.closerange(3, report_fd)
    os.closerange(report_fd + 1, 65536)
    memory = job["memory_bytes"]
    # Only a backstop for a supervisor that could not act (a starved zygote): the per-input timers and then the
    # supervisor's run budget decide first, with a wide margin, so SIGXCPU never decides a verdict.
    cpu_seconds = math.ceil(2 * job["budget_cpu_s"]) + 5
    limits = {
        resource.RLIMIT_AS: memory,
        resource.RLIMIT_DATA: memory,
        resource.RLIMIT_STACK: job.get("stack_bytes") or memory,
        resource.RLIMIT_CPU: (cpu_seconds, cpu_seconds + 1),
        resource.RLIMIT_FSIZE: job["file_size_bytes"],
        resource.RLIMIT_NOFILE: job["open_files"],
        resource.RLIMIT_NPROC: job["processes"],
        resource.RLIMIT_CORE: 0,
    }
    for kind, value in limits.items():
        soft, hard = value if isinstance(value, tuple) else (value, value)
        _, current_hard = resource.getrlimit(kind)
        if current_hard != resource.RLIM_INFINITY:
            soft, hard = min(soft, current_hard), min(hard, current_hard)
        resource.setrlimit(kind, (soft, hard))
    # Temporary files belong in the run's folder: the only place it may write to.
    os.environ.update(TMPDIR=workdir, HOME=workdir)
    processes = job.get("style") == "unittest"
    if job["landlock"]:
        # Tests that start processes also get the sandbox's private /tmp and /dev/shm (cleared after
        # the run) and loopback TCP (the network namespace has nothing else).
        landlock.restrict_writes_to(workdir, *(writable if processes else ()), tcp=processes)
    if job["seccomp"]:
        seccomp.install(processes=processes, protected=(supervisor, 1))
    sys.stdin = sys.stdout = sys.stderr = SwallowedIO()


def _run_program(job: dict, inputs_line: bytes, report_fd: int) -> None:
    global _cpu_deadline
    inputs = values.decode(inputs_line)
    time_limits = job.get("time_limits")
    trusted = time_limits is None
    if job.get("guard"):
        _apply_guard(job["guard"])
    if job.get("devnull_stdin"):  # what a multiprocessing child has, which some official tools run in
        sys.stdin = open(os.devnull)
    namespace: dict = {"__name__": job["module_name"]} if job.get("module_name") else {}
    try:
        exec(compile_untrusted(job["code"]), namespace)
        function = namespace[job["entry_point"]]
    except BaseException as error:
        _report(report_fd, f"L {json.dumps(_describe(error))}")
        return
    if not trusted:
        signal.signal(signal.SIGPROF, _on_cpu_timer)
        signal.signal(signal.SIGALRM, _on_timer)
    wall_factor, stretch, timer_floor = job.get("wall_factor", 3.0), job.get("timer_stretch", 1.0), job.get("timer_floor", 0.0)
    clock = _cpu_clock
    digest_inputs = frozenset(job.get("digest_inputs", ()))
    _report(report_fd, f"B {clock()!r}")  # the run's budget counts loading too (harness.execution.margins)
    for index, arguments in enumerate(inputs):
        started = clock()
        try:
            if not trusted:
                # CPU time decides; the wall timer only catches programs that sleep or block.
                allowed = max(time_limits[index] * stretch, timer_floor)
                _cpu_deadline = started + allowed
                signal.setitimer(signal.ITIMER_PROF, allowed)
                signal.setitimer(signal.ITIMER_REAL, time_limits[index] * wall_factor + 1.0)
            output = function(*arguments)
        except BaseException as error:
            _stop_timers(trusted)
            _report(report_fd, f"E {index} {json.dumps(_describe(error))}")
            return
        _stop_timers(trusted)
        spent = clock() - started
        try:
            # An output that can only equal the expected one by being encoded the same travels as its digest, where the
            # expected one is large (GroundTruth): no pipe need carry what the harness would only compare bytewise.
            exact = index in digest_inputs and values.compares_as_encoded(output)
            message = _output_message(index, spent, output, 0 if exact else job["max_output_bytes"])
        except BaseException as error:
            _report(report_fd, f"E {index} {json.dumps('output could not be encoded: ' + _describe(error))}")
            return
        _report(report_fd, message)
    _report(report_fd, f"D {len(inputs)}")


def compile_untrusted(source: str, filename: str = "<string>"):
    """Compiles a program as the official evaluators' modules do: with no compiler flags of ours.
    A bare exec(source) would inherit this module's `from __future__ import annotations`, under which a
    signature naming List without importing it loads here and raises NameError under the official tools."""
    return compile(source, filename, "exec", dont_inherit=True)


def _output_message(index: int, spent: float, output, text_limit: int) -> str:
    pieces, size, digest, has_nan = [], 0, None, False
    for piece in values.encode_pieces(output):
        size += len(piece)
        has_nan = has_nan or "NaN" in piece
        if digest is not None:
            digest.update(piece.encode())
            continue
        pieces.append(piece)
        if size > text_limit:
            digest = hashlib.sha256("".join(pieces).encode())
            pieces = None
    if digest is None:
        return f"O {index} {spent!r} {''.join(pieces)}"
    return f"H {index} {spent!r} {digest.hexdigest()} {size} {int(has_nan)}"


def _on_timer(signum, frame):
    raise TimeoutException("Timed out!")


# The clock a run's times are read from, bound before any program runs: one that replaces time.process_time (to mock
# it, say) changes neither its times nor its timers.
_cpu_clock = time.process_time
# Where the input being run reaches its CPU limit, on that clock.
_cpu_deadline = math.inf


def _on_cpu_timer(signum, frame):
    """The profiling timer counts in scheduler ticks, each charged whole to the process holding the core as it falls,
    while process_time (and the run's rusage) is the scheduler's exact count. A long run among short processes that
    preempt it between ticks is charged more than it used, and its timer fires early: beside two processes on its core
    that each woke every millisecond, a 1.0 s timer fired after 0.94-0.99 s of process_time; in an MBPP+ evaluation a
    plus run was stopped at 1.98 s for a 2.04 s timer, short of the faster machine's clock (margins.settle), and ran a
    second time. So an early signal re-arms the timer for what is left, and the input is stopped on the exact count."""
    left = _cpu_deadline - _cpu_clock()
    if left > 0:
        signal.setitimer(signal.ITIMER_PROF, left)
        return
    raise TimeoutException("Timed out!")


def _stop_timers(trusted: bool) -> None:
    if not trusted:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.setitimer(signal.ITIMER_REAL, 0)


def _describe(error: BaseException) -> str:
    try:
        return f"{type(error).__name__}: {str(error)[:300]}"
    except BaseException:
        return type(error).__name__


def _report(fd: int, line: str) -> None:
    data = line.encode("utf-8", "surrogatepass") + b"\n"
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _apply_guard(guard: dict) -> None:
    """The Python-level restrictions the official evaluator applies before running a program (its
    reliability_guard; the lists come from the benchmark's module, see harness.benchmarks): named
    attributes become None, named modules unimportable, and the interpreter settings of its process.

    They are not the security boundary here (the sandbox, rlimits and seccomp are); they are kept
    because they decide verdicts: a program that calls open(), os.getcwd() or exit() fails in the
    official evaluator, so it must fail here too.
    """
    faulthandler.disable()
    os.environ["OMP_NUM_THREADS"] = "1"
    if guard.get("int_max_str_digits"):  # the official process's own setting, which its programs inherit
        sys.set_int_max_str_digits(guard["int_max_str_digits"])
    for module_name, names in guard.get("attributes", {}).items():
        module = __import__(module_name)
        for name in names:
            setattr(module, name, None)
    for name in guard.get("modules", ()):
        sys.modules[name] = None


# ---------------------------------------------------------------- zygote: forks and supervises children


class ControlReader:
    """Line reader on the harness pipe. "abort" lines are consumed wherever they arrive: one that
    comes after its run already ended must not be taken for the next job."""

    def __init__(self, fd: int):
        self.fd = fd
        self.buffer = b""

    def read_line(self) -> bytes | None:
        while True:
            end = self.buffer.find(b"\n")
            if end < 0:
                # The pipe gives 64 KB at a time: a long line (a program of many MB) is gathered in pieces and
                # joined once, as appending each piece to the buffer copied it all again (quadratic: a 96 MB
                # program took minutes to arrive).
                pieces, size = [self.buffer], len(self.buffer)
                while end < 0:
                    chunk = os.read(self.fd, 1 << 20)
                    if not chunk:
                        return None
                    found = chunk.find(b"\n")
                    end = size + found if found >= 0 else -1
                    pieces.append(chunk)
                    size += len(chunk)
                self.buffer = b"".join(pieces)
            line, self.buffer = self.buffer[:end], self.buffer[end + 1:]
            if line != b"abort":
                return line

    def poll_abort(self) -> bool:
        """Read what is available (select said something is); True if it holds an abort."""
        chunk = os.read(self.fd, 1 << 16)
        if not chunk:
            raise EOFError("the harness closed the control pipe")
        self.buffer += chunk
        lines = self.buffer.split(b"\n")
        aborted = b"abort" in lines[:-1]
        self.buffer = b"\n".join([line for line in lines[:-1] if line != b"abort"] + [lines[-1]])
        return aborted


class Zygote:
    def __init__(self, scratch: str, own_pid_namespace: bool, private_dirs: list[str]):
        # Runs get folders under scratch/runs, and that is cleared between runs: in bubblewrap,
        # scratch is /tmp, where the interpreter itself may be mounted when the checkout lives there.
        self.scratch = os.path.join(scratch, "runs")
        os.makedirs(self.scratch, mode=0o700, exist_ok=True)
        self.own_pid_namespace = own_pid_namespace
        # Folders private to this sandbox that runs of the unittest style may write to; what a run
        # adds there is removed after it, what was there before (mounts among it) stays.
        self.private_dirs = {folder: set(os.listdir(folder)) for folder in private_dirs}
        self.control = ControlReader(0)
        self.jobs = 0
        self.ticks_per_second = os.sysconf("SC_CLK_TCK")
        self.page_size = os.sysconf("SC_PAGE_SIZE")

    def send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(1, view) :]

    def serve(self) -> None:
        self.send(b"Z" + json.dumps(self.hello()).encode() + b"\n")
        while True:
            header = self.control.read_line()
            inputs_line = self.control.read_line() if header is not None else None
            if inputs_line is None:
                return
            job = json.loads(header)
            report = self.run(job, inputs_line)
            self.send(b"Z" + json.dumps(report).encode() + b"\n")

    def hello(self) -> dict:
        return {
            "hello": True,
            "python": platform.python_version(),
            "seccomp": self.seccomp_works(),
            "landlock": landlock.abi_version(),
            "numpy": getattr(sys.modules.get("numpy"), "__version__", None),
        }

    def seccomp_works(self) -> bool:
        pid = os.fork()
        if pid == 0:
            try:
                seccomp.install()
                try:
                    os._exit(1 if os.fork() == 0 else 1)
                except OSError:
                    os._exit(0)
            except BaseException:
                os._exit(2)
        return os.waitpid(pid, 0)[1] == 0

    def run(self, job: dict, inputs_line: bytes) -> dict:
        self.jobs += 1
        workdir = os.path.join(self.scratch, f"run{self.jobs}")
        os.mkdir(workdir, 0o700)
        read_fd, write_fd = os.pipe()
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:
            os.close(read_fd)
            run_child(job, inputs_line, write_fd, workdir, list(self.private_dirs))
        os.close(write_fd)
        try:
            report = self.supervise(pid, read_fd, job, started)
        finally:
            os.close(read_fd)
            self.kill_leftovers(pid)
            self.clear_scratch()
        report["wall_s"] = round(time.monotonic() - started, 4)
        return report

    def supervise(self, pid: int, read_fd: int, job: dict, started: float) -> dict:
        os.set_blocking(read_fd, False)
        exit_fd = os.pidfd_open(pid)
        poller = select.poll()
        for fd in (read_fd, exit_fd, self.control.fd):
            poller.register(fd, select.POLLIN)
        gathering = select.poll()  # the same but the child's pipe, while its lines gather (GATHER_S)
        for fd in (exit_fd, self.control.fd):
            gathering.register(fd, select.POLLIN)
        line_bytes, killed, pipe_open, exited = 0, None, True, False  # line_bytes: of the line the child is writing
        wall_deadline = started + job["budget_wall_s"]
        next_check = started + POLL_SECONDS
        gather_until = 0.0
        idle = IdleWatch(self, started) if job.get("style") == "unittest" and self.own_pid_namespace else None
        try:
            while pipe_open or not exited:
                now = time.monotonic()
                ready = gathering.poll((gather_until - now) * 1000) if now < gather_until else poller.poll(POLL_SECONDS * 1000)
                for fd, _ in ready:
                    if fd == read_fd:
                        pipe_open, read, line_bytes = self.relay(read_fd, line_bytes, killed != OVERSIZED)
                        if not pipe_open:
                            poller.unregister(read_fd)
                        elif read < GATHER_BELOW_BYTES:
                            gather_until = time.monotonic() + GATHER_S
                    elif fd == exit_fd:
                        exited = True
                        poller.unregister(exit_fd)
                    elif self.control.poll_abort() and killed is None:
                        killed = "abort"
                        self.kill(pid)
                if line_bytes > MAX_LINE_BYTES and killed is None:
                    killed = OVERSIZED
                    self.kill(pid)
                if exited and pipe_open:  # nobody else may hold the pipe: read what is left and stop
                    self.relay(read_fd, line_bytes, killed != OVERSIZED)
                    pipe_open = False
                if not exited and killed is None and time.monotonic() >= next_check:
                    next_check = time.monotonic() + POLL_SECONDS
                    if self.cpu_seconds(pid) > job["budget_cpu_s"]:
                        killed = "cpu budget"
                    elif time.monotonic() > wall_deadline:
                        killed = "wall budget"
                    elif job.get("style") == "unittest":
                        killed = self.tree_over_limits(job)
                    if killed:
                        self.kill(pid)
                    elif idle is not None and idle.check():
                        self.send(b"I\n")
                        idle = None
        finally:
            os.close(exit_fd)
        waited_s = self.waited_seconds(pid)  # still readable: the child is a zombie until wait4
        _, status, usage = os.wait4(pid, 0)
        return {
            "done": True,
            "exit": os.waitstatus_to_exitcode(status),
            "killed": killed,
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 4),
            "waited_s": waited_s,
            "max_rss_kb": usage.ru_maxrss,
        }

    def relay(self, read_fd: int, line_bytes: int, forward: bool = True) -> tuple[bool, int, int]:
        """Forward what the child wrote, as read, in one message (or drop it: a run stopped for a line too long); returns
        whether the pipe is still open, how many bytes were read, and the length of the line the child is writing
        (`line_bytes`: before these). Lines are not looked at here: cutting them apart and prefixing each, in Python,
        was a third of the zygote's CPU on HumanEval+ (profiled; 56,000 lines a zygote); the harness splits them.
        Pieces are kept apart and sent one by one, not joined: a long line comes 1 MB at a time, up to 8 MB a call."""
        chunks, read, pipe_open = [], 0, True
        while pipe_open and read <= (8 << 20):  # then back to the supervisor's clocks
            try:
                chunk = os.read(read_fd, 1 << 20)
            except BlockingIOError:
                break
            pipe_open, read = bool(chunk), read + len(chunk)
            end = chunk.rfind(b"\n")
            line_bytes = len(chunk) - end - 1 if end >= 0 else line_bytes + len(chunk)
            chunks.append(chunk)
        if forward and read:
            self.send(b"C%d\n" % read)
            for chunk in chunks:
                self.send(chunk)
        return pipe_open, read, line_bytes

    def cpu_seconds(self, pid: int) -> float:
        try:
            with open(f"/proc/{pid}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            return 0.0
        return (int(fields[11]) + int(fields[12])) / self.ticks_per_second

    @staticmethod
    def waited_seconds(pid: int) -> float | None:
        """How long the child was ready to run but waited for a core (the scheduler's run-queue time, its main thread's):
        what other processes competing for the cores cost it. None where the kernel does not keep it."""
        try:
            with open(f"/proc/{pid}/schedstat", "rb") as handle:
                return round(int(handle.read().split()[1]) / 1e9, 4)
        except (OSError, IndexError, ValueError):
            return None

    def tree_cpu_seconds(self) -> float:
        """CPU of every process in this PID namespace but the zygote's own line, with what their
        finished children used (a run's processes are all here)."""
        total = 0
        for pid in self.others():
            try:
                with open(f"/proc/{pid}/stat", "rb") as handle:
                    fields = handle.read().rsplit(b")", 1)[1].split()
                total += sum(int(value) for value in fields[11:15])
            except (OSError, IndexError, ValueError):
                pass
        return total / self.ticks_per_second

    def kill(self, pid: int) -> None:
        for send in (os.killpg, os.kill):
            try:
                send(pid, signal.SIGKILL)
            except OSError:
                pass

    def others(self) -> list[int]:
        """The processes in this PID namespace but ourselves and our ancestors (runs and their children)."""
        keep = {os.getpid(), os.getppid(), 1}
        return [int(entry) for entry in os.listdir("/proc") if entry.isdigit() and int(entry) not in keep]

    def tree_over_limits(self, job: dict) -> str | None:
        """A run allowed to start processes is stopped when they are too many or use too much memory
        together (each one alone is held by its rlimits)."""
        pids = self.others()
        if len(pids) > job["processes"]:
            return f"more than {job['processes']} processes"
        if len(pids) > 1:
            rss = 0
            for pid in pids:
                try:
                    with open(f"/proc/{pid}/statm", "rb") as handle:
                        rss += int(handle.read().split()[1]) * self.page_size
                except (OSError, IndexError, ValueError):
                    pass
            if rss > job["tree_memory_bytes"]:
                return f"its processes use more than {job['tree_memory_bytes'] >> 20} MiB together"
        return None

    def kill_leftovers(self, pid: int) -> None:
        self.kill(pid)
        if not self.own_pid_namespace:
            return
        # Alone in this PID namespace: anything but ourselves and our ancestors is a leftover. kill(-1)
        # reaches them all at once, so a process that forks meanwhile cannot escape the sweep.
        while self.others():
            try:
                os.kill(-1, signal.SIGKILL)
            except OSError:
                pass
            try:
                while os.waitpid(-1, os.WNOHANG)[0]:
                    pass
            except ChildProcessError:
                pass
            time.sleep(0.001)

    def clear_scratch(self) -> None:
        for entry in os.listdir(self.scratch):
            _remove_tree(os.path.join(self.scratch, entry))
        for folder, before in self.private_dirs.items():
            for entry in set(os.listdir(folder)) - before:
                _remove_tree(os.path.join(folder, entry))


class IdleWatch:
    """Says once when a run's process tree has used less than IDLE_CPU_SHARE of a core over the last
    IDLE_WINDOW_S (samples every half window)."""

    def __init__(self, zygote: "Zygote", started: float):
        self.zygote = zygote
        self.samples = [(started, 0.0)]

    def check(self) -> bool:
        now = time.monotonic()
        if now - self.samples[-1][0] < IDLE_WINDOW_S / 2:
            return False
        self.samples.append((now, self.zygote.tree_cpu_seconds()))
        then, cpu_then = next((sample for sample in reversed(self.samples) if now - sample[0] >= IDLE_WINDOW_S), (None, None))
        return then is not None and self.samples[-1][1] - cpu_then < IDLE_CPU_SHARE * (now - then)


def _remove_tree(path: str) -> None:
    """rmtree that also gets through directories a program made unreadable."""
    def make_writable_and_retry(function, failed_path, _):
        os.chmod(os.path.dirname(failed_path), 0o700)
        if os.path.isdir(failed_path) and not os.path.islink(failed_path):
            os.chmod(failed_path, 0o700)
        function(failed_path)

    if os.path.isdir(path) and not os.path.islink(path):
        os.chmod(path, 0o700)
        shutil.rmtree(path, onerror=make_writable_and_retry)
    else:
        os.unlink(path)


def preload(modules: list[str]) -> None:
    """Import what the benchmark's programs import, so that every forked child starts warm."""
    for name in modules:
        try:
            __import__(name)
        except Exception:  # a missing library fails the program that needs it, not the worker
            pass


def bring_loopback_up() -> None:
    """In a fresh network namespace (the unshare layer) loopback starts down; bubblewrap raises it
    itself. Local servers in tests need it; nothing outside the namespace becomes reachable."""
    import fcntl
    import socket
    import struct

    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            request = struct.pack("16sh", b"lo", 0)
            flags = struct.unpack("16sh", fcntl.ioctl(probe, siocgifflags, request))[1]
            if not flags & iff_up:
                fcntl.ioctl(probe, siocsifflags, struct.pack("16sh", b"lo", flags | iff_up))
    except OSError:
        pass


def main() -> None:
    """argv: scratch folder, 1 if alone in a PID namespace, private folders runs may write to
    (comma-separated), modules to preload (comma-separated)."""
    scratch, own_pid_namespace = sys.argv[1], sys.argv[2] == "1"
    private_dirs, modules = ([item for item in arg.split(",") if item] for arg in sys.argv[3:5])
    ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the harness's to handle
    if own_pid_namespace:
        bring_loopback_up()
    preload(modules)
    Zygote(scratch, own_pid_namespace, private_dirs).serve()


if __name__ == "__main__":
    main()
