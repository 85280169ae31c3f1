"""Evaluate samples on BigCodeBench: each program runs with its task's TestCases in the sandbox, on the
task-library environment's interpreter, and the results file follows the official eval_results format
(per task: status pass/fail/timeout and the failing tests' tracebacks in `details`) plus pass@k.

Time and memory follow bigcodebench 0.2.5: the suite runs under a 240 + 1 s wall timer and the process
is stopped at 242 s (a stopped or crashed run is "timeout"); RLIMIT_AS and RLIMIT_DATA 30 GiB,
RLIMIT_STACK 10 MiB. The limit is wall time as upstream's because these tests sleep, wait for
processes and servers. A verdict that clock decided carries its margin and is re-checked once, with clocks twice as
long, unless the run spent the time waiting (see _margin).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm import tqdm

from harness import __version__
from harness.benchmarks.bigcodebench.tasks import DEFAULT_VERSION, TASK_ENVIRONMENT, Dataset, Problem
from harness.evaluation import Plan, evaluate_samples, refuse_unknown_tasks
from harness.evaluation_runs import Check, Execution, Recheck, Runs
from harness.execution import margins
from harness.execution.function_calls import FAIL, PASS, TIMEOUT
from harness.execution.limits import GIB, MIB, Limits
from harness.execution.pool import Run, WorkerPool
from harness.execution.sandbox import SandboxError, choose
from harness.files import cache_dir, write_atomically
from harness.metrics import entries_pass_at_k
from harness.samples import Sample, SamplesError

SUITE_TIMEOUT_S = 240.0 + 1  # TIMEOUT_LIMIT, + 1 as untrusted_check adds
PROCESS_TIMEOUT_S = SUITE_TIMEOUT_S + 1  # untrusted_check's p.join(timeout + 1)
CPU_BUDGET_S = PROCESS_TIMEOUT_S * 4  # a safety net only: the wall limits decide
# What the worker imports before forking, so that runs start warm (the most imported task libraries).
PRELOAD = ("numpy", "pandas", "matplotlib", "matplotlib.pyplot", "scipy", "scipy.stats", "sklearn", "seaborn", "requests")
# Workers beyond one per core, for runs that wait rather than compute (WorkerPool's idle_extra): two
# per core kept the cores busy on the Hard set, where two tests wait out the 240 s limit.
IDLE_WORKERS_PER_CORE = 2
# Tasks whose tests may wait (processes, sockets, servers, sleeps) run first: a run that ends at the
# 240 s limit then overlaps the rest instead of starting last and adding its 240 s to the wall time.
WAITING_LIBRARIES = frozenset(("socket", "select", "subprocess", "multiprocessing", "threading", "time", "psutil", "signal",
                               "requests", "urllib", "http", "asyncio", "smtplib", "ftplib", "queue", "mechanize", "selenium"))


def may_wait(problem: Problem) -> bool:
    return not WAITING_LIBRARIES.isdisjoint(problem.libs)
GROUND_TRUTH_FORMAT = 1


def bigcodebench_limits() -> Limits:
    # evaluate.py defaults: max_as_limit = max_data_limit = 30 * 1024 MB, max_stack_limit = 10 MB.
    return Limits(memory_bytes=30 * GIB)


STACK_BYTES = 10 * MIB


@dataclass(frozen=True)
class BigCodeBenchSettings:
    version: str = DEFAULT_VERSION
    split: str = "complete"
    calibrated: bool = True  # the official default
    limits: Limits = field(default_factory=bigcodebench_limits)
    # A verdict the suite's clock decided is re-checked with a clock this many times longer, unless the time the run
    # spent waiting rather than computing was over the limit by itself (see _margin).
    margin_factor: float = margins.DEFAULT_FACTOR

    def __post_init__(self):
        margins.check_factor(self.margin_factor)

    def fingerprint(self, dataset: Dataset, python: str) -> str:
        decisive = {"dataset": dataset.hash, "harness": __version__, "calibrated": self.calibrated,
                    "limits": asdict(self.limits.resolved()), "environment": _environment_id(python),
                    "timeout_s": SUITE_TIMEOUT_S, "margin_factor": self.margin_factor}
        return hashlib.sha256(json.dumps(decisive, sort_keys=True).encode()).hexdigest()


def _environment_id(python: str) -> str:
    return hashlib.sha256(TASK_ENVIRONMENT.lock_file.read_bytes()).hexdigest()[:12] + ":" + os.path.realpath(python)


class SuiteJudge:
    """Decides one run from the child's untrusted lines: pass only if the suite finished, nothing
    failed, and every test the test code defines reported success."""

    def __init__(self, expected_tests: frozenset[str], first: dict | None = None):
        self.expected_tests = expected_tests
        self.first = first  # a re-check's: the outcome of the first run, which the suite's clock decided
        self.passed: set[str] = set()
        self.details: dict[str, str] = {}
        self.finished = False
        self.status: str | None = None
        self.error: str | None = None
        self.cpu_s = 0.0
        self.wall_s = 0.0

    def on_line(self, line: bytes) -> bool:
        kind, _, payload = line.partition(b" ")
        try:
            message = json.loads(payload)
            if kind == b"T" and not self.finished:
                name = str(message["test"])
                if message["ok"]:
                    self.passed.add(name)
                else:
                    self.details[name] = str(message["trace"])
            elif kind == b"U" and not self.finished:
                self.finished = True
                if message["error"] is not None:
                    self.details["ALL"] = str(message["error"])
            elif kind == b"L":
                self.finished = True
                self.details["ALL"] = str(message)
            else:
                raise ValueError(f"unexpected line kind {kind!r}")
        except (ValueError, KeyError, TypeError) as error:
            self.finished = True
            self.details["ALL"] = f"malformed report from the program's process ({error})"
            return True
        return False

    def on_done(self, report: dict) -> None:
        self.cpu_s = report.get("cpu_s", 0.0)
        self.wall_s = report.get("wall_s", 0.0)
        if not self.finished:
            # Stopped or crashed before the suite ended: upstream's status stays unknown, i.e. timeout.
            killed = report.get("killed")
            self.status = TIMEOUT
            self.error = f"killed: {killed}" if killed else f"exited with code {report.get('exit')} before the suite ended"
            self.details = {}
            return
        missing = sorted(self.expected_tests - self.passed - set(self.details))
        if missing and not self.details:
            self.details["ALL"] = f"tests that did not report a result: {', '.join(missing)}"
            self.error = "the test run was cut short or tampered with"
        self.status = FAIL if self.details else PASS


def _run(problem: Problem, code: str) -> Run:
    return Run(code, problem.entry_point, b"[]", None, CPU_BUDGET_S, PROCESS_TIMEOUT_S, style="unittest",
               test_code=problem.test, timeout_s=SUITE_TIMEOUT_S, stack_bytes=STACK_BYTES)


def _sandbox(isolation: str):
    """The task environment's interpreter with the task libraries preloaded, in a layer with its own namespaces."""
    sandbox = choose(isolation, TASK_ENVIRONMENT.python(), PRELOAD)
    if not sandbox.own_namespaces:
        raise SandboxError(
            "BigCodeBench's tests start processes, which is only allowed inside a PID and network namespace: "
            "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap) or allow unprivileged user namespaces"
        )
    return sandbox


def _pool(settings: BigCodeBenchSettings, execution: Execution):
    return execution.executor.pool(execution.parallel, _sandbox(execution.isolation), settings.limits, idle_per_core=IDLE_WORKERS_PER_CORE)


class ReferenceCheck:
    """Whether each reference solution passes its own tests here, cached per dataset and environment."""

    def __init__(self, dataset: Dataset, python: str):
        environment = hashlib.sha256(_environment_id(python).encode()).hexdigest()[:12]
        self.folder = cache_dir() / "groundtruth" / f"bigcodebench-{dataset.hash}-{environment}-v{GROUND_TRUTH_FORMAT}"
        self.dataset = dataset

    def _path(self, task_id: str) -> Path:
        return self.folder / (task_id.replace("/", "_") + ".json")

    def check(self, pool: WorkerPool, progress: bool) -> dict:
        problems = self.dataset.problems
        todo = [task_id for task_id in problems if not self._path(task_id).is_file()]
        runs = [(task_id, _run(problems[task_id], problems[task_id].reference_code),
                 functools.partial(SuiteJudge, problems[task_id].test_names)) for task_id in todo]
        bar = tqdm(total=len(todo), desc="BigCodeBench reference solutions", unit="task", disable=not progress or not todo)
        for task_id, judge in pool.map(runs):
            record = {"status": judge.status, "details": judge.details, "error": judge.error, "cpu_s": judge.cpu_s}
            write_atomically(self._path(task_id), json.dumps(record).encode())
            bar.update()
        bar.close()
        records = {task_id: json.loads(self._path(task_id).read_bytes()) for task_id in problems}
        failed = sorted((task_id for task_id, record in records.items() if record["status"] != PASS), key=_number)
        return {"gt_pass_rate": 1 - len(failed) / max(1, len(records)), "failed_tasks": failed}


def _number(task_id: str) -> int:
    return int(task_id.rsplit("/", 1)[1])


def evaluate(
    benchmark,  # a BigCodeBenchmark (harness.benchmarks.bigcodebench)
    samples_path: str | Path | None,
    output_path: str | Path | None = None,
    data_dir: str | None = None,
    settings: BigCodeBenchSettings = BigCodeBenchSettings(),
    check_ground_truth: bool = False,
    progress: bool = True,
    execution: Execution = Execution(),
) -> dict:
    """Evaluate a samples file (and/or check the reference solutions); returns the results dict."""
    dataset = benchmark.load(data_dir, settings.version)
    if samples_path is None:
        if not check_ground_truth:
            raise SamplesError("give a samples file, or ask for the reference-solution check only")
        with _pool(settings, execution) as pool:
            return {"ground_truth": ReferenceCheck(dataset, TASK_ENVIRONMENT.python()).check(pool, progress)}
    return evaluate_samples(samples_path, output_path, functools.partial(plan, dataset, settings=settings,
                                                                         check_ground_truth=check_ground_truth), progress,
                            execution=execution)


def plan(dataset: Dataset, samples: list[Sample], samples_path: Path, settings: BigCodeBenchSettings = BigCodeBenchSettings(),
         check_ground_truth: bool = False) -> Plan:
    refuse_unknown_tasks(samples, dataset.problems, dataset.benchmark.name)
    keyed = []
    for sample in samples:
        problem = dataset.problems[sample.task_id]
        solution = sample.solution if sample.solution is not None else problem.solution_from_completion(sample.completion)
        keyed.append((sample, problem.calibrated(solution) if settings.calibrated else solution))
    python = TASK_ENVIRONMENT.python()
    ground_truth = {}  # filled by execute when asked for

    def prepare(pool, task_ids: list[str], progress: bool) -> None:
        if check_ground_truth:
            ground_truth.update(ReferenceCheck(dataset, python).check(pool, progress))

    def checks(task_id: str, code: str) -> dict[str, Check]:
        problem = dataset.problems[task_id]
        # The listener factory names only what it uses: with the ray executor it travels with the run. Runs that
        # may wait (sleeps, sockets) start first, beside the ones that compute.
        return {"suite": Check(_run(problem, code), functools.partial(SuiteJudge, problem.test_names), priority=-may_wait(problem))}

    def recheck(task_id: str, code: str, part: str, outcome: dict) -> Recheck:
        problem = dataset.problems[task_id]
        longer = _with_clocks(_run(problem, code), settings.margin_factor)
        return Recheck(lambda done: Check(longer, functools.partial(SuiteJudge, problem.test_names, first=outcome),
                                          priority=-settings.margin_factor * outcome["wall_s"]))

    runs = Runs(limits=settings.limits, checks=checks, outcome=functools.partial(_outcome, settings.margin_factor),
                timed_out=_clocked, recheck=recheck,
                record=lambda task_id, code, outcomes: outcomes["suite"], prepare=prepare,
                sandbox=_sandbox, idle_per_core=IDLE_WORKERS_PER_CORE, label=f"{dataset.benchmark.name} samples")

    def scores(evaluated: dict[str, list[dict]]) -> dict:
        pass_at_k = entries_pass_at_k(evaluated, lambda entry: entry["status"] == PASS, ks=(1, 5, 10))
        pass_at_k.update({"model": samples_path.name.split("--bigcodebench-")[0], "split": settings.split,
                          "subset": dataset.benchmark.subset, "calibrated": settings.calibrated, "version": dataset.version})
        return {**pass_at_k, **ground_truth}

    return Plan(
        benchmark=dataset.benchmark.name,
        task_ids=list(dataset.problems),
        keyed=keyed,
        fingerprint=settings.fingerprint(dataset, python),
        runs=runs,
        entry=lambda sample, code, record: {"task_id": sample.task_id, "solution": code, "status": record["status"],
                                            "details": record["details"], "error": record["error"],
                                            "margin": record.get("margin")},
        scores=scores,
        meta={"version": dataset.version, "dataset_hash": dataset.hash, "task_environment": _environment_id(python),
              "limits": asdict(settings.limits.resolved()), "suite_timeout_s": SUITE_TIMEOUT_S},
        always_execute=check_ground_truth,
        companions=_pass_at_k_file,
    )


def _clocked(outcome: dict) -> bool:
    """Whether the suite's wall clock decided an outcome: it did not pass and ran into the clock."""
    return outcome["status"] != PASS and outcome.get("wall_s", 0.0) >= SUITE_TIMEOUT_S


def _outcome(factor: float, judge: SuiteJudge) -> dict:
    """A run's outcome, as JSON, with its margin. A re-check (`judge.first`) that went past the official clock was
    stopped by it in an official run too: the first run's verdict stands, with how far over the re-check went."""
    found = {"status": judge.status, "details": judge.details, "error": judge.error, "cpu_s": judge.cpu_s, "wall_s": judge.wall_s}
    if judge.first is not None and judge.wall_s >= SUITE_TIMEOUT_S:
        found = {**judge.first, "cpu_s": judge.cpu_s, "wall_s": judge.wall_s}
    return {**found, "margin": _margin(found, factor, rechecked=judge.first is not None)}


def _margin(outcome: dict, factor: float, rechecked: bool) -> dict | None:
    """How near the suite's clock a run came, where within `factor` of it. The clock is wall time: a machine `factor`
    times faster shortens the time a run computes, not the time it waits (sleeps, servers, a deadlock). So a verdict
    the clock decided is final if the run's time with its CPU seconds done that much faster is still over the limit;
    else it is re-checked, once. BigCodeBench has no score range: how a test's waits scale is not known."""
    wall, cpu = outcome["wall_s"], outcome["cpu_s"]
    if wall < SUITE_TIMEOUT_S / factor:
        return None
    waited_over = wall - cpu * (1 - 1 / factor) >= SUITE_TIMEOUT_S
    return {"ratio": round(wall / SUITE_TIMEOUT_S, 4), "limit": "suite timer", "cpu_s": cpu,
            "final": rechecked or not _clocked(outcome) or waited_over}


def _with_clocks(run: Run, factor: float) -> Run:
    """The same run with every clock `factor` times longer."""
    return dataclasses.replace(run, timeout_s=factor * run.timeout_s, budget_wall_s=factor * run.budget_wall_s,
                               budget_cpu_s=factor * run.budget_cpu_s)


def _pass_at_k_file(results: dict, output_path: Path) -> dict[Path, bytes]:
    """bigcodebench's evaluate writes pass@k beside the results, as <stem>_pass_at_k.json."""
    stem = re.sub(r"([._]eval_results)?\.json$", "", output_path.name)  # bigcodebench's name, the pipeline's, or any
    return {output_path.with_name(stem + "_pass_at_k.json"): json.dumps(results["pass_at_k"], indent=1).encode()}
