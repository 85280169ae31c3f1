"""How the evaluation skeleton runs a benchmark's programs, the same way for every benchmark: one sandbox pool,
one progress bar, one journal record per sample, and the timeout re-check.

A benchmark declares its Runs: the checks a sample needs (evalplus: its base and plus inputs; the others: one
run), how a finished run's listener becomes a JSON outcome, which outcomes a clock decided, and how a sample's
outcomes make its record. Everything else is here:
- the pool, from the Execution (where programs run; never a verdict) and the benchmark's sandbox needs;
- `prepare` (reference solutions) before the samples, then every check, longest first (one may wait for another
  part's run, whose length predicts its own: Check.after);
- a sample whose outcomes are final is journaled at once; one with an outcome decided by a clock that its margin
  leaves open (`final` says which are not) is journaled as waiting (`unconfirmed_key`), and each such check runs
  again, since CPU time is not load-invariant (processes sharing the cores slow each other down: margins.contended
  says which runs did, and a margin leaves open no other). A re-check joins the one queue as soon as its part's
  first run ends, ordered with the rest by its expected length (its Check's priority), so that no core idles while
  another finishes a long re-check after everything else; the trusted runs a re-check needs first
  (`Recheck.before`) go first, once for all that need them. The repeat's outcome is final. An interrupted run keeps
  the waiting outcomes, and its re-run goes straight to their re-check.
- a grader fault (the harness's own error while making, judging or recording a sample's runs; an outcome whose status
  is NO_VERDICT, as OutputJudge gives where the comparison breaks on the expected output) is that sample's record,
  {"no_verdict": the reason}: harness.evaluation leaves it out of the scores and says so, never a pass nor a fail.
"""

from __future__ import annotations

import functools
import gc
import math
from dataclasses import dataclass, field
from typing import Callable

from tqdm import tqdm

from harness.execution.executor import Executor
from harness.execution.function_calls import NO_VERDICT
from harness.execution.limits import Limits
from harness.execution.pool import IdleWork, Run
from harness.execution.sandbox import choose
from harness.journal import Journal

# Sample key -> (task id, the code that runs): the samples the journal lacks.
Todo = dict[str, tuple[str, str]]


@dataclass(frozen=True)
class Execution:
    """Where and how programs run; never changes a verdict."""
    parallel: int | None = None  # worker processes; default: one per core
    isolation: str = "auto"
    executor: Executor = field(default_factory=Executor)


@dataclass(frozen=True)
class Check:
    """One sandboxed run that decides a part of a sample's verdict."""
    run: Run
    listener: Callable[[], object]  # a fresh harness.execution.pool.Listener, which decides the run as it reports
    priority: float = 0.0  # lower first: long runs start early, so that none is left alone at the end
    # (part, priority): queued once the sample's first run of that part has ended, at the priority this gives from its
    # done listener (evalplus: a plus run's expected length, from how much slower than the reference its base run was)
    after: tuple[str, Callable[[object], float]] | None = None


@dataclass(frozen=True)
class Recheck:
    """A timed-out check run again: `check` builds it from the listeners of the trusted runs in `before` (evalplus
    re-times its reference solution there), each (key, run, listener factory); re-checks needing the same key share
    one run of it."""
    check: Callable[[list], Check]
    before: tuple = ()


def margin_is_final(outcome: dict) -> bool:
    """Whether an outcome's margin (harness.execution.margins) says no repeat can change it; without one, no."""
    return bool((outcome.get("margin") or {}).get("final"))


@dataclass(frozen=True)
class Runs:
    """What a benchmark tells the skeleton about running its programs."""
    limits: Limits  # the sandbox's limits (they decide verdicts: part of the fingerprint)
    checks: Callable[[str, str], dict[str, Check]]  # (task id, code) -> its checks by part; none: decided without running
    outcome: Callable[[object], dict]  # a done listener -> its part's outcome, as JSON (journaled while it waits)
    timed_out: Callable[[dict], bool]  # whether a clock decided an outcome: then the check is repeated
    record: Callable[[str, str, dict[str, dict]], dict]  # (task id, code, outcomes by part) -> the sample's record
    # (task id, code, part, first outcome) -> how to repeat it; default: the same check again
    recheck: Callable[[str, str, str, dict], Recheck] | None = None
    final: Callable[[dict], bool] = margin_is_final  # a timed-out outcome no repeat can change
    prepare: Callable[[object, list[str], bool], None] | None = None  # (pool, task ids in order, progress): reference runs
    sandbox: Callable[[str], object] = choose  # isolation -> Sandbox (a benchmark may need its own interpreter)
    idle_per_core: int = 0  # extra workers per core for runs that wait rather than compute
    label: str = "samples"  # the progress bar's


def unconfirmed_key(key: str) -> str:
    """The journal key of a sample's outcomes while one decided by a clock waits to be re-checked."""
    return f"{key}:unconfirmed"


# A trusted run a re-check waits for goes before everything: it is short, and the re-check is long.
BEFORE_PRIORITY = -math.inf


def execute(runs: Runs, todo: Todo, journal: Journal, execution: Execution, progress: bool,
            idle_work: IdleWork | None = None) -> int:
    """Run what the journal lacks, journaling one record per sample; returns how many workers had to be restarted.
    `idle_work` (the evaluation's calibration) computes only on cores the runs leave idle (WorkerPool.fill_idle_with)."""
    # Everything loaded by now (the benchmark's data above all: HumanEval+'s inputs are 200,000 lists, none of them ever
    # garbage) lives through the runs: frozen, the cycle collector does not traverse it again on each of its passes over
    # the older generations (0.11 s of the main thread's CPU per HumanEval+ evaluation, MBPP+ 0.16 s; frozen 0.05 and
    # 0.03 s). Unfrozen at the end, so that what was or becomes garbage meanwhile is then collected; left as it is where
    # the caller had frozen objects itself (before forking, say), as unfreezing would undo that too.
    ours = gc.get_freeze_count() == 0
    if ours:
        gc.freeze()
    try:
        with execution.executor.pool(execution.parallel, runs.sandbox(execution.isolation), runs.limits,
                                     idle_per_core=runs.idle_per_core) as pool:
            if idle_work is not None:
                pool.fill_idle_with(idle_work)
            if runs.prepare:
                runs.prepare(pool, list(dict.fromkeys(task_id for task_id, _ in todo.values())), progress)
            _Execution(runs, todo, journal, pool, progress).run()
            return pool.restarts
    finally:
        if ours:
            gc.unfreeze()


@dataclass
class _Sample:
    """A sample's runs so far: each part's first outcome, its settled one (a re-check's, once done), how many parts it
    has, how many runs the pool still owes it, and which parts are re-checked."""
    parts: int
    first: dict[str, dict] = field(default_factory=dict)
    settled: dict[str, dict] = field(default_factory=dict)
    owed: int = 0
    rechecked: list[str] = field(default_factory=list)
    held: dict[str, Check] = field(default_factory=dict)  # first runs queued after another part's (Check.after)
    shown: float = 0.0  # its share of the progress bar shown so far: each first run's part of it as the run ends


class _Execution:
    """One execute(): every result the pool gives back is a first run ("check"), a trusted run a re-check needs
    ("before") or a re-check ("recheck"). A part's re-check joins the queue as soon as its first run ends, not after
    the sample's other parts (a plus run's timeout would otherwise wait for its base run, queued far behind it, and
    leave its re-check to the end); the sample is journaled once its last part is settled."""

    def __init__(self, runs: Runs, todo: Todo, journal: Journal, pool, progress: bool):
        self.runs, self.todo, self.journal, self.pool = runs, todo, journal, pool
        self.pending = 0  # results the pool still owes
        self.samples: dict[str, _Sample] = {}  # sample key -> its runs so far, until journaled
        self.before: dict = {}  # a trusted run's key -> its listener, once done
        self.blocked: dict = {}  # a trusted run's key -> the re-checks waiting for it: (sample key, part, Recheck)
        waiting = [key for key in todo if unconfirmed_key(key) in journal.records]
        self.bar = tqdm(total=len(todo), desc=runs.label, unit="sample", disable=not progress)
        for key in waiting:  # an interrupted run's outcomes: straight to their re-check
            self._resume(key, journal.records[unconfirmed_key(key)])
        for key, (task_id, code) in todo.items():
            if key not in waiting:
                self._start(key, task_id, code)

    def run(self) -> None:
        while self.pending:
            tag, listener = self.pool.next_result()
            self.pending -= 1
            kind, key, part = tag
            if kind == "before":
                self._before_done(key, listener)
            elif kind == "check":
                self._release_held(key, part, listener)
                self._first_done(key, part, _outcome(self.runs, listener))
            else:
                self._settled(key, part, _outcome(self.runs, listener))
        self.bar.close()

    def _submit(self, tag: tuple, run, listener, priority: float) -> None:
        self.pool.submit((tag, run, listener), priority)
        self.pending += 1

    def _start(self, key: str, task_id: str, code: str) -> None:
        try:
            checks = self.runs.checks(task_id, code)
        except Exception as error:  # whatever the harness's own code raises is a grader fault
            return self._final(key, no_verdict(error))
        if not checks:
            return self._final(key, _recorded(self.runs, task_id, code, {}))
        sample = self.samples[key] = _Sample(len(checks), owed=len(checks))
        for part, check in checks.items():
            if check.after is None:
                self._submit(("check", key, part), check.run, check.listener, check.priority)
            else:
                sample.held[part] = check

    def _resume(self, key: str, first: dict[str, dict]) -> None:
        """An interrupted run's first outcomes, journaled while some waited for their re-check."""
        sample = self.samples[key] = _Sample(len(first), first=dict(first), settled=dict(first))
        for part, outcome in first.items():
            if self._open(sample, outcome):
                self._recheck(key, part)
        self._maybe_final(key)

    def _open(self, sample: _Sample, outcome: dict) -> bool:
        """Whether a first outcome is a timeout its margin leaves open (none is, in a sample with a grader fault)."""
        return not _fault(sample.first) and self.runs.timed_out(outcome) and not self.runs.final(outcome)

    def _release_held(self, key: str, done_part: str, listener) -> None:
        """Queue the sample's first runs that waited for this part's, at the priority its listener gives them."""
        sample = self.samples[key]
        for part, check in list(sample.held.items()):
            if check.after[0] == done_part:
                del sample.held[part]
                try:
                    priority = check.after[1](listener)
                except Exception:  # the run it waited for gives no length (a grader fault there): its own priority
                    priority = check.priority
                self._submit(("check", key, part), check.run, check.listener, priority)

    def _first_done(self, key: str, part: str, outcome: dict) -> None:
        sample = self.samples[key]
        sample.first[part] = sample.settled[part] = outcome
        sample.owed -= 1
        # The bar moves with each run: evalplus' base runs all go first, and no sample ends until its plus run does.
        self.bar.update(1 / sample.parts)
        sample.shown += 1 / sample.parts
        if self._open(sample, outcome):
            self._recheck(key, part)
        if len(sample.first) == sample.parts and sample.rechecked and sample.owed:
            self.journal.append(unconfirmed_key(key), sample.first)  # kept, should the run be interrupted
        self._maybe_final(key)

    def _recheck(self, key: str, part: str) -> None:
        """Run a part again (after the trusted runs its re-check needs); its outcome settles the part."""
        sample = self.samples[key]
        sample.rechecked.append(part)
        sample.owed += 1
        task_id, code = self.todo[key]
        try:
            recheck = (self.runs.recheck(task_id, code, part, sample.first[part]) if self.runs.recheck
                       else Recheck(lambda done: self.runs.checks(task_id, code)[part]))
        except Exception as error:  # a grader fault, as above
            return self._settled(key, part, _fault_outcome(error))
        missing = [step for step in recheck.before if step[0] not in self.before]
        for step_key, run, listener in missing:
            if step_key not in self.blocked:
                self.blocked[step_key] = []
                self._submit(("before", step_key, None), run, listener, BEFORE_PRIORITY)
            self.blocked[step_key].append((key, part, recheck))
        if not missing:
            self._submit_recheck(key, part, recheck)

    def _before_done(self, step_key, listener) -> None:
        self.before[step_key] = listener
        for key, part, recheck in self.blocked.pop(step_key):
            if all(step[0] in self.before for step in recheck.before):
                self._submit_recheck(key, part, recheck)

    def _submit_recheck(self, key: str, part: str, recheck: Recheck) -> None:
        try:
            check = recheck.check([self.before[step[0]] for step in recheck.before])
        except Exception as error:  # a grader fault, as above
            return self._settled(key, part, _fault_outcome(error))
        self._submit(("recheck", key, part), check.run, check.listener, check.priority)

    def _settled(self, key: str, part: str, outcome: dict) -> None:
        """A re-check's outcome (or its grader fault): the part's final one."""
        sample = self.samples[key]
        sample.settled[part] = outcome
        sample.owed -= 1
        self._maybe_final(key)

    def _maybe_final(self, key: str) -> None:
        sample = self.samples.get(key)  # None: journaled already (a re-check's grader fault settled it)
        if sample is None or sample.owed or len(sample.first) < sample.parts:
            return
        del self.samples[key]
        confirmed = sum(self.runs.timed_out(sample.settled[part]) for part in sample.rechecked
                        if not _fault_in(sample.settled[part]))
        self._final(key, _recorded(self.runs, *self.todo[key], sample.settled), len(sample.rechecked), confirmed,
                    shown=sample.shown)

    @functools.cached_property
    def layers(self) -> str:
        """Asked for once the first sample is final: the pool's workers may still be starting as the runs are queued."""
        return isolation_layers(self.pool.describe())

    def _final(self, key: str, record: dict, rechecked: int = 0, confirmed: int = 0, shown: float = 0.0) -> None:
        self.journal.append(key, _final(record, self.layers, rechecked, confirmed))
        if shown < 1:
            self.bar.update(1 - shown)


NO_VERDICT_KEY = "no_verdict"  # in a sample's record and its results entry: why the harness could not judge it


def no_verdict(error: Exception | str) -> dict:
    """The record of a sample the harness could not judge."""
    return {NO_VERDICT_KEY: error if isinstance(error, str) else _fault_reason(error)}


def _fault_reason(error: Exception) -> str:
    return f"grader fault: {type(error).__name__}: {error}"


def _fault_outcome(error: Exception) -> dict:
    return {"status": NO_VERDICT, "reason": _fault_reason(error)}


def _outcome(runs: Runs, listener) -> dict:
    try:
        return runs.outcome(listener)
    except Exception as error:  # a grader fault
        return _fault_outcome(error)


def _fault_in(outcome: dict) -> str | None:
    """The grader fault an outcome records, if it does."""
    return (outcome.get("reason") or "grader fault") if outcome.get("status") == NO_VERDICT else None


def _fault(outcomes: dict[str, dict]) -> str | None:
    """The grader fault among a sample's outcomes, if any."""
    return next(filter(None, map(_fault_in, outcomes.values())), None)


def _recorded(runs: Runs, task_id: str, code: str, outcomes: dict[str, dict]) -> dict:
    """The sample's record, or its grader fault's."""
    fault = _fault(outcomes)
    if fault:
        return no_verdict(fault)
    try:
        return runs.record(task_id, code, outcomes)
    except Exception as error:  # a grader fault
        return no_verdict(error)


def isolation_layers(protection: dict) -> str:
    """The sandbox layers a pool's runs had, as results record them: "bwrap+seccomp+landlock"."""
    return "+".join([protection["isolation"]] + ["seccomp"] * bool(protection["seccomp"]) + ["landlock"] * bool(protection["landlock"]))


def _final(record: dict, layers: str, rechecked: int = 0, confirmed: int = 0) -> dict:
    return {**record, "isolation": layers, "timeouts_rechecked": rechecked, "timeouts_confirmed": confirmed}
