"""How the evaluation skeleton runs a benchmark's programs, the same way for every benchmark: one sandbox pool,
one progress bar, one journal record per sample, and the timeout re-check.

A benchmark declares its Runs: the checks a sample needs (evalplus: its base and plus inputs; the others: one
run), how a finished run's listener becomes a JSON outcome, which outcomes a clock decided, and how a sample's
outcomes make its record. Everything else is here:
- the pool, from the Execution (where programs run; never a verdict) and the benchmark's sandbox needs;
- `prepare` (reference solutions) before the samples, then every check, longest first;
- a sample whose outcomes are final is journaled at once; one with an outcome decided by a clock is journaled as
  waiting (`unconfirmed_key`), and each such check is then repeated alone, after everything else, since CPU time
  is not load-invariant (processes on sibling hyperthreads slow each other down). The repeat's outcome is final.
  An interrupted run keeps the waiting outcomes, and its re-run goes straight to their re-check.
- a grader fault (the harness's own error while making, judging or recording a sample's runs; an outcome whose status
  is NO_VERDICT, as OutputJudge gives where the comparison breaks on the expected output) is that sample's record,
  {"no_verdict": the reason}: harness.evaluation leaves it out of the scores and says so, never a pass nor a fail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from tqdm import tqdm

from harness.execution.executor import Executor, run_alone
from harness.execution.function_calls import NO_VERDICT
from harness.execution.limits import Limits
from harness.execution.pool import Run
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


@dataclass(frozen=True)
class Runs:
    """What a benchmark tells the skeleton about running its programs."""
    limits: Limits  # the sandbox's limits (they decide verdicts: part of the fingerprint)
    checks: Callable[[str, str], dict[str, Check]]  # (task id, code) -> its checks by part; none: decided without running
    outcome: Callable[[object], dict]  # a done listener -> its part's outcome, as JSON (journaled while it waits)
    timed_out: Callable[[dict], bool]  # whether a clock decided an outcome: then the check is repeated alone
    record: Callable[[str, str, dict[str, dict]], dict]  # (task id, code, outcomes by part) -> the sample's record
    # (pool, task id, code, part) -> the check to repeat alone; default: the same check (evalplus re-times its reference)
    recheck: Callable[[object, str, str, str], Check] | None = None
    prepare: Callable[[object, list[str], bool], None] | None = None  # (pool, task ids in order, progress): reference runs
    sandbox: Callable[[str], object] = choose  # isolation -> Sandbox (a benchmark may need its own interpreter)
    idle_per_core: int = 0  # extra workers per core for runs that wait rather than compute
    label: str = "samples"  # the progress bar's


def unconfirmed_key(key: str) -> str:
    """The journal key of a sample's outcomes while one decided by a clock waits to be re-checked alone."""
    return f"{key}:unconfirmed"


def execute(runs: Runs, todo: Todo, journal: Journal, execution: Execution, progress: bool) -> int:
    """Run what the journal lacks, journaling one record per sample; returns how many workers had to be restarted."""
    with execution.executor.pool(execution.parallel, runs.sandbox(execution.isolation), runs.limits,
                                 idle_per_core=runs.idle_per_core) as pool:
        if runs.prepare:
            runs.prepare(pool, list(dict.fromkeys(task_id for task_id, _ in todo.values())), progress)
        layers = isolation_layers(pool.describe())
        waiting = {key: journal.records[unconfirmed_key(key)] for key in todo if unconfirmed_key(key) in journal.records}
        started: dict[str, int] = {}  # sample key -> how many checks it has in the pool
        for key, (task_id, code) in todo.items():
            if key in waiting:
                continue
            try:
                checks = runs.checks(task_id, code)
            except Exception as error:  # whatever the harness's own code raises is a grader fault
                journal.append(key, _final(no_verdict(error), layers))
                continue
            if not checks:
                journal.append(key, _final(_recorded(runs, task_id, code, {}), layers))
            for part, check in checks.items():
                pool.submit(((key, part), check.run, check.listener), check.priority)
            started[key] = len(checks)
        started = {key: count for key, count in started.items() if count}
        outcomes: dict[str, dict[str, dict]] = {}
        bar = tqdm(total=len(started), desc=f"{runs.label}", unit="sample", disable=not progress)
        for _ in range(sum(started.values())):
            (key, part), listener = pool.next_result()
            outcomes.setdefault(key, {})[part] = _outcome(runs, listener)
            if len(outcomes[key]) == started[key]:
                found = outcomes.pop(key)
                if not _fault(found) and any(map(runs.timed_out, found.values())):
                    waiting[key] = found
                    journal.append(unconfirmed_key(key), found)
                else:
                    journal.append(key, _final(_recorded(runs, *todo[key], found), layers))
                bar.update()
        bar.close()
        for key, found in tqdm(waiting.items(), desc="re-checking timeouts alone", unit="sample", disable=not progress or not waiting):
            task_id, code = todo[key]
            rechecked = [part for part, outcome in found.items() if runs.timed_out(outcome)]
            for part in rechecked:
                try:
                    check = runs.recheck(pool, task_id, code, part) if runs.recheck else runs.checks(task_id, code)[part]
                    found[part] = _outcome(runs, run_alone(pool, check.run, check.listener))
                except Exception as error:  # a grader fault, as above
                    found[part] = _fault_outcome(error)
            confirmed = sum(runs.timed_out(found[part]) for part in rechecked if not _fault_in(found[part]))
            journal.append(key, _final(_recorded(runs, task_id, code, found), layers, len(rechecked), confirmed))
        return pool.restarts


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
