"""Sandboxed runs spread over a Ray cluster (the optional `ray` extra). Ray only decides where a run
executes: on each node one actor holds a warm WorkerPool, with the sandbox, limits and listeners that a
local run has.

A run's listener is built on the node, so that a failing program is stopped early there (fail-fast) as
it is locally. The node sends back only the lines that listener read and the sandbox worker's final
report: bytes and JSON values, never an object the program made. Here the same lines are replayed into
a fresh listener, so every verdict is decided on this machine by the same code as a local run's.

Every node must offer the sandbox chosen here (the same layer and interpreter path: run the nodes from
the sandbox container image); nodes that protect runs differently are refused. A lost node stops the
evaluation; its journal keeps the finished samples and a re-run resumes.
"""

from __future__ import annotations

import heapq
import itertools
import json
import threading
from concurrent.futures import Future

from harness.execution.limits import Limits
from harness.execution.pool import HELLO_TIMEOUT_S, Run, WorkerPool
from harness.execution.sandbox import Sandbox, SandboxError

# Ray may need to start a worker process and install nothing else before the pool says hello.
STARTUP_TIMEOUT_S = 2 * HELLO_TIMEOUT_S
CLOSE_TIMEOUT_S = 60


class _Recording:
    """A listener that keeps what its inner listener read, for the driver to replay."""

    def __init__(self, inner):
        self.inner = inner
        self.lines: list[bytes] = []
        self.report: dict | None = None

    def on_line(self, line: bytes) -> bool:
        self.lines.append(line)
        return self.inner.on_line(line)

    def on_done(self, report: dict) -> None:
        self.report = report
        self.inner.on_done(report)


class NodeExecutor:
    """The actor on one node: a WorkerPool fed by concurrent `execute` calls, each waiting for its run."""

    def __init__(self, size: int, sandbox: Sandbox, limits: Limits, idle_extra: int):
        self.pool = WorkerPool(size, sandbox, limits, idle_extra)
        self.pool.wait_started()  # a node whose sandbox cannot start fails as its actor is made
        self.waiting: dict[int, Future] = {}
        self.numbers = itertools.count()
        self.lock = threading.Lock()
        self.broken: BaseException | None = None
        threading.Thread(target=self._deliver, daemon=True, name="deliver").start()

    def execute(self, run: Run, make_listener, priority: float) -> tuple[list[bytes], dict]:
        future: Future = Future()
        with self.lock:
            if self.broken is not None:
                raise self.broken
            number = next(self.numbers)
            self.waiting[number] = future
        self.pool.submit((number, run, lambda: _Recording(make_listener())), priority)
        recording = future.result()
        return recording.lines, recording.report

    def _deliver(self) -> None:
        while True:
            try:
                number, recording = self.pool.next_result()
            except BaseException as error:  # the pool cannot go on: every waiting run fails with its error
                with self.lock:
                    self.broken = error
                    for future in self.waiting.values():
                        future.set_exception(error)
                return
            with self.lock:
                future = self.waiting.pop(number)
            future.set_result(recording)

    def describe(self) -> dict:
        return self.pool.describe()

    def restarts(self) -> int:
        return self.pool.restarts

    def abort(self) -> None:
        self.pool.abort()

    def close(self) -> None:
        self.pool.close()


class RayPool:
    """WorkerPool's interface over a Ray cluster: `size` workers per node (default: the node's CPUs)."""

    def __init__(self, size: int | None, sandbox: Sandbox, limits: Limits, idle_per_core: int = 0,
                 address: str | None = None):
        try:
            import ray
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
        except ImportError:
            raise SandboxError("the ray executor needs Ray: pip install 'scoder-harness[ray]'") from None
        self.ray = ray
        self.started_ray = not ray.is_initialized()
        if self.started_ray:
            ray.init(address=address)
        self.actors: list = []
        try:
            nodes = [node for node in ray.nodes() if node["Alive"] and node["Resources"].get("CPU", 0) >= 1]
            if not nodes:
                raise SandboxError("the Ray cluster has no node with a CPU to run programs on")
            actor_class = ray.remote(NodeExecutor)
            limits = limits.resolved()  # resolved here, so that every node applies the same numbers
            self.free: list[int] = []
            for node in nodes:
                cpus = int(node["Resources"]["CPU"])
                workers = size or cpus
                # One run queued per core beyond the slots, so that a freed worker never waits for a round
                # trip; one more thread for describe/abort/close while every run slot is taken.
                capacity = workers * (2 + idle_per_core)
                self.actors.append(actor_class.options(
                    num_cpus=min(workers, cpus), max_concurrency=capacity + 1,
                    scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False),
                ).remote(workers, sandbox, limits, idle_per_core * workers))
                self.free.append(capacity)
            self.description = self._agreed([self._get(actor.describe.remote(), STARTUP_TIMEOUT_S) for actor in self.actors])
        except BaseException:
            self.close()
            raise
        self.queue: list = []
        self.submitted = itertools.count()  # ties keep submission order; tasks themselves never compare
        self.running: dict = {}  # Ray reference -> (key, listener factory, actor index)

    def _get(self, reference, timeout: float | None = None):
        """ray.get with Ray's errors turned into the harness's."""
        ray = self.ray
        try:
            return ray.get(reference, timeout=timeout)
        except ray.exceptions.GetTimeoutError:
            raise SandboxError(f"Ray did not start the sandbox on every node within {timeout:.0f} s "
                               "(are the nodes' CPUs taken by other work?)") from None
        except ray.exceptions.RayTaskError as error:
            raise error.as_instanceof_cause() from None
        except ray.exceptions.RayActorError as error:
            if error.actor_init_failed:  # its message ends with the pool's own error, after Ray's traceback
                raise SandboxError(f"the sandbox did not start on a Ray node: {str(error).strip().splitlines()[-1]}") from None
            raise SandboxError(f"a Ray node's sandbox stopped ({error}); finished samples are kept and a re-run resumes") from None

    @staticmethod
    def _agreed(descriptions: list[dict]) -> dict:
        protections = {json.dumps({key: value for key, value in description.items() if key != "workers"}, sort_keys=True)
                       for description in descriptions}
        if len(protections) > 1:
            raise SandboxError("the Ray nodes protect runs differently, so their verdicts could differ; run every node "
                               f"from the same sandbox image: {' / '.join(sorted(protections))}")
        return dict(descriptions[0], workers=sum(description["workers"] for description in descriptions),
                    nodes=len(descriptions))

    def fill_idle_with(self, work) -> None:
        """Nothing to do: the runs compute on the cluster's nodes, and this machine's cores are `work`'s."""

    def submit(self, task, priority: float = 0.0) -> None:
        heapq.heappush(self.queue, (priority, next(self.submitted), task))
        self._start_runs()

    def _start_runs(self) -> None:
        while self.queue:
            index = max(range(len(self.actors)), key=self.free.__getitem__)
            if not self.free[index]:
                return
            priority, _, (key, run, make_listener) = heapq.heappop(self.queue)
            self.free[index] -= 1
            self.running[self.actors[index].execute.remote(run, make_listener, priority)] = (key, make_listener, index)

    def next_result(self):
        if not self.running:
            raise RuntimeError("next_result with no run submitted")
        [reference], _ = self.ray.wait(list(self.running), num_returns=1)
        key, make_listener, index = self.running.pop(reference)
        self.free[index] += 1
        lines, report = self._get(reference)
        self._start_runs()
        listener = make_listener()
        for line in lines:
            if listener.on_line(line):
                break
        listener.on_done(report)
        return key, listener

    map = WorkerPool.map  # submit everything, then collect: the same loop over this pool's submit and next_result

    @property
    def restarts(self) -> int:
        return sum(self._get([actor.restarts.remote() for actor in self.actors]))

    def describe(self) -> dict:
        return self.description

    def abort(self) -> None:
        for actor in self.actors:
            actor.abort.remote()

    def close(self) -> None:
        ray = self.ray
        try:
            if self.actors:
                ray.wait([actor.close.remote() for actor in self.actors], num_returns=len(self.actors), timeout=CLOSE_TIMEOUT_S)
        finally:
            for actor in self.actors:
                ray.kill(actor)
            if self.started_ray:
                ray.shutdown()

    def __enter__(self) -> "RayPool":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is not None:
            self.abort()
        self.close()
