"""How near its clocks a function-call run's verdict was, and what it would be on a machine F times faster or slower.

evalplus' limits (harness.execution.limits.TimePolicy) are of two kinds. Relative ones, four times the reference
solution's time on the same input, scale with the machine just as the program does. Absolute ones, the 1 s floor and
the 60 s task budget, do not. So a run's verdict on a machine x times slower is the policy at speed x applied to
this run's own times: re-decided from what was measured, never guessed.

The number kept per run is `passes_up_to`, the largest slow-down at which it still passes:
- above 1: a pass with that much room;
- below 1: a run that timed out here and passes on a machine 1/that times faster;
- 0: no pass within what was measured;
- None: a pass at any speed, because no absolute limit binds it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from harness.execution.limits import TimePolicy

FLOOR, PER_INPUT, TASK_BUDGET, RUN_BUDGET = "floor", "per-input", "task budget", "run budget"
BUDGETS = (TASK_BUDGET, RUN_BUDGET)
STOPPED = "no CPU clock"  # the wall backstop stopped it (it slept or blocked), or it died (evalplus: a timeout too)


@dataclass(frozen=True)
class Margin:
    """A run's nearest clock: its time over that limit (a pass's is at most 1; a timeout's is how far over, or at
    least how far when the run was stopped there), which limit, and the input it was on (a pass's budget: None)."""
    ratio: float
    limit: str
    input: int | None
    passes_up_to: float | None  # see the module's docstring
    final: bool = True  # false: a lower bound from a stopped run, which a re-check with longer clocks settles

    def passes_at(self, slowdown: float) -> bool:
        """Whether the run passes on a machine `slowdown` times slower (below 1: faster)."""
        return self.passes_up_to is None or self.passes_up_to >= slowdown

    def record(self) -> dict:
        return {**dataclasses.asdict(self), "ratio": round(self.ratio, 4),
                "passes_up_to": None if self.passes_up_to is None else round(self.passes_up_to, 4)}


def at_speed(policy: TimePolicy, slowdown: float) -> TimePolicy:
    """The policy a machine `slowdown` times slower than this one has, in this machine's seconds."""
    return dataclasses.replace(policy, speed=(policy.speed or 1.0) * slowdown)


def limit_kind(policy: TimePolicy, limit: float) -> str:
    return FLOOR if limit <= policy.floor else PER_INPUT


def budget_kind(policy: TimePolicy, limits: list[float]) -> str:
    return TASK_BUDGET if policy.task_budget < sum(limits) else RUN_BUDGET


def first_clock(policy: TimePolicy, reference: list[float], spent: list[float], loading: float) -> Margin | None:
    """The first of the policy's clocks that these per-input times trip, walking the inputs in order as the run does
    (`loading`: the CPU used before the first call, which the run's budget counts too); None if none does."""
    limits = policy.per_input(reference)
    budget = policy.per_run(limits)
    used = loading
    for index, seconds in enumerate(spent):
        if used + min(seconds, limits[index]) > budget:  # the budget stops the run first
            return Margin((used + seconds) / budget, budget_kind(policy, limits), index, 0.0)
        if seconds > limits[index]:
            return Margin(seconds / limits[index], limit_kind(policy, limits[index]), index, 0.0)
        used += seconds
    return None


def of_finished(policy: TimePolicy, reference: list[float], spent: list[float], cpu_s: float) -> Margin:
    """The margin of a run whose every input finished with the right output in `spent` seconds (`cpu_s` in all): its
    tightest limit, and the slow-downs it passes at (closed forms; the per-input limits' sum by bisection)."""
    limits = policy.per_input(reference)
    budget = policy.per_run(limits)
    ratio, limit, index = cpu_s / budget, budget_kind(policy, limits), None
    for i, seconds in enumerate(spent):
        if seconds / limits[i] > ratio:
            ratio, limit, index = seconds / limits[i], limit_kind(policy, limits[i]), i
    bounds = [policy.floor / seconds for seconds, ref in zip(spent, reference) if seconds > policy.gt_time_limit_factor * ref]
    over = cpu_s - 1.0  # per_run's one second is not scaled
    if over > 0:
        bounds.append(policy.task_budget / over)
        if sum(policy.gt_time_limit_factor * ref for ref in reference) < over:  # the floors in the sum bind too
            bounds.append(_largest(lambda slowdown: sum(at_speed(policy, slowdown).per_input(reference)) >= over))
    return Margin(ratio, limit, index, min(bounds) if bounds else None)


def _largest(holds, low: float = 1e-6, high: float = 1e6) -> float:
    """The largest slow-down at which a condition that holds below some point and fails above it still holds."""
    if not holds(low):
        return 0.0
    for _ in range(100):
        middle = (low * high) ** 0.5
        low, high = (middle, high) if holds(middle) else (low, middle)
    return low
