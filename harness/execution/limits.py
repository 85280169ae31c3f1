"""Resource and time limits of one program run. Defaults cite where they come from."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

GIB = 1024**3
MIB = 1024**2


def _default_memory() -> int:
    # evalplus 0.3.1 (eval/__init__.py, query_maximum_memory_bytes): EVALPLUS_MAX_MEMORY_BYTES, default
    # 4 GiB, never more than the machine has; applied to RLIMIT_AS, RLIMIT_DATA and RLIMIT_STACK.
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return min(4 * GIB, total)


@dataclass(frozen=True)
class Limits:
    """What a child process may use. The harness enforces them; the program cannot raise them."""

    memory_bytes: int = 0  # 0: the evalplus default, see _default_memory
    file_size_bytes: int = 64 * MIB  # evalplus sets none (it disables open()); a 10 GB write stops here
    open_files: int = 256
    processes: int = 1024  # threads count too; new processes are refused by seccomp anyway
    max_output_bytes: int = 256 * MIB  # one encoded return value; larger ones travel as a digest. Largest measured: 11.4 MB (HumanEval/130), 926 MB (Mbpp/255)
    wall_factor: float = 3.0  # wall backstop = factor x CPU limit (+1 s): loaded machines stay CPU-bound
    seccomp: bool = True  # no new processes, no signals to others, no internet sockets (seccomp.py)
    landlock: bool = True  # no file-system changes outside the run's folder (landlock.py)

    def resolved(self) -> "Limits":
        if self.memory_bytes:
            return self
        return Limits(**{**asdict(self), "memory_bytes": _default_memory()})


@dataclass(frozen=True)
class TimePolicy:
    """evalplus' time limits (evalplus 0.3.1, config.py and eval/__init__.py untrusted_check).

    Per input: max(min_time_limit, gt_time_limit_factor x the reference solution's time on it).
    Per run: min(timeout_per_task, sum of the per-input limits) + 2 seconds: untrusted_check's `timeout` adds one
    (eval/__init__.py:236; not the second one at :238, since evaluate.py:220 checks with fast_check by default) and its
    p.join(timeout=timeout + 1) waits one more (:263).
    evalplus measures these as wall time; here they are the child's CPU time, so a busy machine does
    not turn a correct program into a timeout. Wall time only backs them up (see Limits.wall_factor).
    """

    min_time_limit: float = 1.0  # DEFAULT_MIN_TIME_LIMIT
    gt_time_limit_factor: float = 4.0  # DEFAULT_GT_TIME_LIMIT_FACTOR
    timeout_per_task: float = 60.0  # EVALPLUS_TIMEOUT_PER_TASK default
    run_extra_s: float = 2.0  # see above
    # None: the official absolute limits (the floor, the task budget, the run's extra seconds). A speed
    # (harness.execution.calibration: 1.0 is the reference machine) divides them, so a machine half as fast gets twice
    # the seconds: not the official setting.
    speed: float | None = None

    def __post_init__(self):
        optional = () if self.speed is None else ("speed",)
        for name in ("min_time_limit", "gt_time_limit_factor", "timeout_per_task", "run_extra_s", *optional):
            value = getattr(self, name)
            if not value > 0 or value == float("inf"):  # NaN compares false
                raise ValueError(f"time policy: {name} must be a number of seconds (a factor) above 0, got {value}")

    @property
    def floor(self) -> float:
        return self.min_time_limit / (self.speed or 1.0)

    @property
    def task_budget(self) -> float:
        return self.timeout_per_task / (self.speed or 1.0)

    @property
    def run_extra(self) -> float:
        return self.run_extra_s / (self.speed or 1.0)

    def per_input(self, reference_seconds: list[float]) -> list[float]:
        floor, factor = self.floor, self.gt_time_limit_factor  # once: a plus run has a thousand inputs
        return [max(floor, factor * t) for t in reference_seconds]

    def per_run(self, per_input: list[float]) -> float:
        return min(self.task_budget, sum(per_input)) + self.run_extra
