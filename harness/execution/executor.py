"""Where sandboxed runs execute: on this machine (a WorkerPool) or spread over a Ray cluster (a RayPool,
one warm WorkerPool per node). Both take the same runs and give the same listeners back, so an evaluator
does not know which one it has; the sandbox, the limits and the verdicts are the same either way."""

from __future__ import annotations

import os
from dataclasses import dataclass

from harness.execution.limits import Limits
from harness.execution.pool import WorkerPool
from harness.execution.sandbox import Sandbox

EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class Executor:
    kind: str = "local"
    ray_address: str | None = None  # None: $RAY_ADDRESS if set, else a new Ray instance on this machine

    def __post_init__(self):
        if self.kind not in EXECUTORS:
            raise ValueError(f"unknown executor {self.kind!r}; choose one of {', '.join(EXECUTORS)}")
        if self.ray_address and self.kind != "ray":
            raise ValueError("a Ray address needs the ray executor (--executor ray)")

    def pool(self, size: int | None, sandbox: Sandbox, limits: Limits, idle_per_core: int = 0):
        """A pool of `size` workers per machine (default: one per core), plus `idle_per_core` per worker
        for runs that wait rather than compute (see WorkerPool)."""
        if self.kind == "ray":
            from harness.execution.ray_pool import RayPool

            return RayPool(size, sandbox, limits, idle_per_core, self.ray_address)
        cores = size or os.cpu_count() or 1
        return WorkerPool(cores, sandbox, limits, idle_extra=idle_per_core * cores)

