"""How near its clocks a function-call run's verdict was, and what it would be on a machine F times faster or slower.

evalplus' limits (harness.execution.limits.TimePolicy) are of two kinds. Relative ones, four times the reference
solution's time on the same input, scale with the machine just as the program does. Absolute ones, the 1 s floor, the
60 s task budget and the run budget's 2 extra seconds, do not. So a run's verdict on a machine x times slower is the
policy at speed x applied to this run's own times: re-decided from what was measured, never guessed. LiveCodeBench's
and CRUXEval's limits are all fixed seconds (Clocks.fixed): on a machine x times slower each is 1/x of itself in this
machine's seconds, so a pass's room is its tightest limit's.

The number kept per run is `passes_up_to`, the largest slow-down at which it still passes:
- above 1: a pass with that much room;
- below 1: a run that timed out here and passes on a machine 1/that times faster;
- 0: no pass within what was measured.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from harness.execution.function_calls import FAIL, PASS, TIMEOUT, Verdict
from harness.execution.limits import TimePolicy

DEFAULT_FACTOR = 2.0  # the margin factor F: scores are also given for a machine F times slower and F times faster
# A first run's CPU clocks are those of a machine F times faster, and this much more (Run.timer_stretch): a run such a
# clock stops is over the faster machine's clocks on the count its times are read from, rounding and all (the worker
# stops an input only once that count has reached its timer: worker._on_cpu_timer).
TIMER_OVERSHOOT = 1.02
FLOOR, PER_INPUT, TASK_BUDGET, RUN_BUDGET = "floor", "per-input", "task budget", "run budget"
BUDGETS = (TASK_BUDGET, RUN_BUDGET)
STOPPED = "no CPU clock"  # the wall backstop stopped it (it slept or blocked), or it died (evalplus: a timeout too)
# A run that waited for a core this long, over its CPU time, shared the machine with more processes than it has cores:
# cache refills and migrations then add to its CPU time (measured on the 2-core machine: up to +10% with a busy loop
# beside two runs, where two quiet runs differed by 8%). A quiet run waits under 1% (0.3% measured); one beside a busy
# loop per core, each in a session of its own, about 40%, and two per core 170%. (Linux's autogroup shares the cores
# between sessions first, and each sandboxed run has its own: busy loops all in one other session cost it about 5%.)
CONTENDED_SHARE = 0.1


@dataclass(frozen=True)
class Margin:
    """A run's nearest clock: its time over that limit (a pass's is at most 1; a timeout's is how far over, or at
    least how far when the run was stopped there), which limit, and the input it was on (a pass's budget: None)."""
    ratio: float
    limit: str
    input: int | None
    passes_up_to: float  # see the module's docstring
    final: bool = True  # false: a timeout that a machine F times faster might pass, or a stopped one: a re-check settles it

    def passes_at(self, slowdown: float) -> bool:
        """Whether the run passes on a machine `slowdown` times slower (below 1: faster)."""
        return self.passes_up_to >= slowdown

    def record(self) -> dict:
        return {**dataclasses.asdict(self), "ratio": round(self.ratio, 4), "passes_up_to": round(self.passes_up_to, 4)}


@dataclass(frozen=True)
class Clocks:
    """The CPU clocks a run is held to, in this machine's seconds: each input's limit and the run's budget (which counts
    the CPU used before the first call too), with what each limit is called in a margin: the floor (evalplus: an input
    limit at or below `floor`), else per-input; the budget's name."""
    per_input: list[float]
    budget: float
    budget_kind: str
    floor: float = 0.0

    @classmethod
    def fixed(cls, per_input: list[float], budget: float) -> "Clocks":
        """Limits in fixed seconds (LiveCodeBench's per test and per sample, CRUXEval's per program)."""
        return cls(per_input, budget, RUN_BUDGET)

    def input_kind(self, index: int) -> str:
        return FLOOR if self.per_input[index] <= self.floor else PER_INPUT

    def slower(self, slowdown: float) -> "Clocks":
        """Fixed-seconds clocks as a machine `slowdown` times slower has them, in this machine's seconds: each limit is
        absolute, so all shrink together (evalplus' do not: see evalplus_clocks and at_speed)."""
        return dataclasses.replace(self, per_input=[limit / slowdown for limit in self.per_input], budget=self.budget / slowdown,
                                   floor=self.floor / slowdown)


def check_factor(factor: float) -> None:
    """Refuse a margin factor that is not a finite number above 1 (a settings object's, as the command line does)."""
    if not 1 < factor < float("inf"):
        raise ValueError(f"the margin factor must be a number above 1, got {factor}")


def at_speed(policy: TimePolicy, slowdown: float) -> TimePolicy:
    """The policy a machine `slowdown` times slower than this one has, in this machine's seconds."""
    return dataclasses.replace(policy, speed=(policy.speed or 1.0) * slowdown)


def evalplus_clocks(policy: TimePolicy, reference: list[float]) -> Clocks:
    limits = policy.per_input(reference)
    return Clocks(limits, policy.per_run(limits), TASK_BUDGET if policy.task_budget < sum(limits) else RUN_BUDGET, policy.floor)


def first_clock(clocks: Clocks, spent: list[float], loading: float) -> Margin | None:
    """The first clock these per-input times trip, walking the inputs in order as the run does (`loading`: the CPU used
    before the first call, all of a run with no inputs); None if none does."""
    used = loading
    for index, seconds in enumerate(spent):
        if used + min(seconds, clocks.per_input[index]) > clocks.budget:  # the budget stops the run first
            return Margin((used + seconds) / clocks.budget, clocks.budget_kind, index, 0.0)
        if seconds > clocks.per_input[index]:
            return Margin(seconds / clocks.per_input[index], clocks.input_kind(index), index, 0.0)
        used += seconds
    return Margin(used / clocks.budget, clocks.budget_kind, None, 0.0) if used > clocks.budget else None


def _tightest(clocks: Clocks, spent: list[float], cpu_s: float) -> tuple[float, str, int | None]:
    """A finished run's nearest limit: (its time over it, which, the input or None for the budget)."""
    ratio, index = cpu_s / clocks.budget, None
    for i, seconds in enumerate(spent):
        if seconds / clocks.per_input[i] > ratio:
            ratio, index = seconds / clocks.per_input[i], i
    return ratio, clocks.budget_kind if index is None else clocks.input_kind(index), index


def of_finished_fixed(clocks: Clocks, spent: list[float], cpu_s: float) -> Margin:
    """The margin of a run that finished right under fixed-seconds clocks: every limit scales with the machine, so it
    passes up to the slow-down that brings its tightest limit to 1."""
    ratio, limit, index = _tightest(clocks, spent, cpu_s)
    return Margin(ratio, limit, index, 1 / max(ratio, 1e-9))


def of_finished(policy: TimePolicy, reference: list[float], spent: list[float], cpu_s: float) -> Margin:
    """The margin of a run whose every input finished with the right output under evalplus' clocks, in `spent` seconds
    (`cpu_s` in all, its loading included): its tightest limit, and the largest slow-down it passes at."""
    ratio, limit, index = _tightest(evalplus_clocks(policy, reference), spent, cpu_s)
    # An input over 4x its reference passes while the floor, which does not scale, covers it.
    bounds = [policy.floor / seconds for seconds, ref in zip(spent, reference) if seconds > policy.gt_time_limit_factor * ref]
    bounds.append(_budget_covers_up_to(policy, reference, cpu_s))
    return Margin(ratio, limit, index, min(bounds))


def _budget_covers_up_to(policy: TimePolicy, reference: list[float], cpu_s: float) -> float:
    """The largest slow-down at which evalplus' run budget still covers `cpu_s`. At a slow-down s the absolute settings
    (the floor F, the task budget B, the extra seconds E) are divided by speed x s and the limits made of the reference
    (k x t_i) are not, so in u = 1 / (speed x s) the budget is min(B u, sum of max(F u, k t_i)) + E u: it grows with u,
    and the sum is linear between the points where F u reaches each k t_i. The least u that covers `cpu_s` is the
    larger of the task budget's, cpu_s / (B + E), and the sum's, found on its pieces in order."""
    floor, extra = policy.min_time_limit, policy.run_extra_s
    least = max(cpu_s, 1e-9) / (policy.timeout_per_task + extra)
    limits = sorted(policy.gt_time_limit_factor * seconds for seconds in reference)
    above_floor = sum(limits)  # on the first piece every limit is over the floor
    for at_floor, limit in enumerate(limits + [float("inf")]):  # the piece where F u is under `limit`
        slope = extra + at_floor * floor
        if slope == 0:  # no extra seconds and no limit at the floor yet: the sum alone, constant here
            if above_floor >= cpu_s:
                break
        elif (cpu_s - above_floor) / slope <= limit / floor:
            least = max(least, (cpu_s - above_floor) / slope)
            break
        above_floor -= limit
    return 1 / ((policy.speed or 1.0) * least)


def tripped_verdict(tripped: Margin) -> Verdict:
    """What the official run gives where a clock stops it: its budget kills the process (a timeout); an input's own
    timer raises inside the program (worker._on_timer), which evalplus and lcb_runner record as that input's failure."""
    if tripped.limit in BUDGETS:
        return Verdict(TIMEOUT, tripped.input, "killed: cpu budget")
    return Verdict(FAIL, tripped.input, "TimeoutException: Timed out!")


def recheck_slowdown(first: dict | None, factor: float) -> float:
    """The machine a timeout's re-check runs as, from its first run's margin: one `factor` times faster, whose clocks
    let it run to its end; or this one, where no CPU clock stopped it (it slept, blocked or died), since longer CPU clocks
    would not change that."""
    return 1.0 if (first or {}).get("limit") == STOPPED else 1 / factor


def settle_fixed(verdict: Verdict, spent: list[float], loading: float, clocks: Clocks, factor: float,
                 rechecking: bool) -> Verdict:
    """settle() under fixed-seconds clocks, which all scale with the machine."""
    finished = of_finished_fixed(clocks, spent, verdict.cpu_s) if verdict.status == PASS else None
    return settle(verdict, spent, loading, clocks, clocks.slower(1 / factor), finished, rechecking)


def settle(verdict: Verdict, spent: list[float], loading: float, clocks: Clocks, faster: Clocks, finished: Margin | None,
           rechecking: bool) -> Verdict:
    """The verdict under the official `clocks`, settled from a run whose CPU clocks were longer: the official run ends
    where its first clock trips on these times (`spent`: each input's, the one that failed included where it was
    timed), else as this run ended; with the margin of every verdict a clock decided or could have (`finished`: a
    pass's). A timeout is final once a re-check settled it, if its times (only a lower bound for the input a clock
    stopped) trip a clock even on the faster machine, whose clocks are `faster`, or if the run did not wait for a core
    (contended): a second run on a quiet machine samples the same times, and would only repeat the first."""
    stopped = verdict.timed_out  # by one of this run's clocks, or it died
    times = list(spent)
    if stopped and len(times) < len(clocks.per_input):  # the input it was stopped on used at least the rest
        times.append(max(0.0, verdict.cpu_s - loading - sum(times)))
    tripped = first_clock(clocks, times, loading)
    if tripped is None:
        if stopped:  # no CPU clock: it slept or blocked until the wall backstop, or it died; re-checked once
            return dataclasses.replace(verdict, margin=Margin(1.0, STOPPED, verdict.fail_index, 0.0, final=rechecking).record())
        return dataclasses.replace(verdict, margin=finished and finished.record())  # in time: its own verdict
    # A run that ended on its own without passing (a wrong output, an error) fails at any speed: nothing to re-check.
    final = (rechecking or (not stopped and verdict.status != PASS) or not contended(verdict)
             or first_clock(faster, times, loading) is not None)
    margin = dataclasses.replace(tripped, passes_up_to=finished.passes_up_to if finished else 0.0, final=final)
    # On the input this run was stopped on, the official run is stopped the same way (a timer; or the budget, where a C
    # call holds the timer off); on an earlier one, as that clock stops it.
    stopped_there = stopped and tripped.input == verdict.fail_index
    official = Verdict(verdict.status, tripped.input, verdict.reason) if stopped_there else tripped_verdict(tripped)
    return dataclasses.replace(official, cpu_s=verdict.cpu_s, waited_s=verdict.waited_s, margin=margin.record())


def contended(verdict: Verdict) -> bool:
    """Whether other processes competing for the cores may have added to the run's CPU time (or it is not known)."""
    return verdict.waited_s is None or verdict.waited_s > CONTENDED_SHARE * verdict.cpu_s
