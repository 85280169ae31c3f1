"""The one evaluation skeleton every benchmark goes through: samples file in, results file out.

A benchmark says what is particular to it in a Plan (which program each sample runs, how its programs run and
are judged, what a result entry and the scores are); this module does the rest the same way for all: the output
path checked before any work, the journal beside it (finished samples are reused, a killed run resumes), the
execution with its timeout re-check (harness.evaluation_runs), the results per task in the benchmark's order,
the tasks without samples, the common record of how it ran, and an atomic write.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from harness import __version__
from harness.execution import calibration
from harness.execution.function_calls import PASS, TIMEOUT
from harness.execution.margins import DEFAULT_FACTOR, Margin
from harness.evaluation_runs import NO_VERDICT_KEY, Execution, Runs, Todo, execute, unconfirmed_key
from harness.files import Busy, Interrupted, exclusive, file_sha256, write_atomically
from harness.output_paths import output_file, writable_folder
from harness.journal import Journal
from harness.samples import Sample, SamplesError, read_samples, warn_of_raw_outputs

@dataclass(frozen=True)
class Plan:
    """What one benchmark contributes to evaluating one samples file."""
    benchmark: str  # the registry's name, recorded as the results' "benchmark"
    task_ids: list[str]  # the tasks scored (a release window's, a subset's), in the benchmark's order
    keyed: list[tuple[Sample, str]]  # each sample kept, with the program that runs for it
    fingerprint: str  # everything that decides verdicts: a journal of another fingerprint is not reused
    runs: Runs  # how its programs run and are judged (harness.evaluation_runs runs them)
    entry: Callable[[Sample, str, dict], dict]  # a sample's entry in the results, from its program and record
    scores: Callable[[dict[str, list[dict]]], dict]  # the results' pass_at_k, from the entries per task
    meta: dict = field(default_factory=dict)  # what else the results' "scoder" record says (versions, limits)
    fields: dict = field(default_factory=dict)  # top-level fields of the benchmark's official format (evalplus' hash)
    always_execute: bool = False  # run (its `prepare`) even when the journal has every sample (a reference check)
    companions: Callable[[dict, Path], dict[Path, bytes]] = lambda results, output: {}  # files written beside
    # (entry, slow-down) -> the entry as a machine that many times slower decides it (below 1: faster), from the
    # margins of the verdicts clocks decided (harness.execution.margins); None: the benchmark keeps no margins
    at_speed: Callable[[dict, float], dict] | None = None
    margin_factor: float = DEFAULT_FACTOR  # the slow-down and speed-up the results' score range is given for


def default_output_path(samples_path: Path, benchmark: str) -> Path:
    """Beside the samples, named for them and the benchmark: one samples file scored on two benchmarks (humaneval+
    and humaneval+mini) keeps both results."""
    name = samples_path.name
    for suffix in (".gz", ".jsonl", ".json"):
        name = name.removesuffix(suffix)
    return samples_path.with_name(f"{name.removesuffix('_eval_results')}_{benchmark}_eval_results.json")


def journal_path(output_path: Path) -> Path:
    return output_path.with_name(output_path.name + ".journal.jsonl")


def sample_key(task_id: str, code: str) -> str:
    return hashlib.sha256(f"{task_id}\0{code}".encode()).hexdigest()


def refuse_unknown_tasks(samples: list[Sample], known, what: str) -> None:
    """A SamplesError naming the first samples whose task is not in `known` (a container of task ids)."""
    unknown = [sample for sample in samples if sample.task_id not in known]
    if unknown:
        listed = ", ".join(f"{sample.task_id!r} ({sample.origin})" for sample in unknown[:5])
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise SamplesError(f"{len(unknown)} samples name tasks that {what} does not have: {listed}{more}")


def refuse_repeated_samples(samples_path: Path) -> None:
    """More samples of a task than its generation record's n is what two runs writing one file give (each
    counted as the other's pass@k): refused, naming the task, unless the user says it is meant."""
    samples = read_samples(samples_path)
    counts: dict[str, int] = {}
    for sample in samples:
        counts[sample.task_id] = counts.get(sample.task_id, 0) + 1
    for sample in samples:
        decoding = (sample.generation or {}).get("decoding")
        wanted = decoding.get("n") if isinstance(decoding, dict) else None
        if isinstance(wanted, int) and counts[sample.task_id] > wanted:
            how = "greedily, one per task" if not decoding.get("temperature") else f"with n={wanted} per task"
            raise SamplesError(f"{samples_path} has {counts[sample.task_id]} samples of {sample.task_id}, but they were generated "
                               f"{how} (two runs writing one file?): score them all with --allow-repeated-samples, "
                               "or generate into a new file")


def prepared_output(samples_path: Path, output_path: str | Path | None, benchmark: str) -> Path:
    """The results file's path, refused before any work if it cannot be written, would overwrite the samples, or
    holds anything but results scoder wrote for these samples on this benchmark (claim_output). Nothing is made."""
    default = default_output_path(samples_path, benchmark)
    if not output_path and not writable_folder(default.parent):
        raise SamplesError(f"the results go beside the samples by default, and {default.parent} is not writable; "
                           f"name them with --output (e.g. --output {default.name})")
    output_path = output_file(output_path, "--output", default.name) if output_path else default
    if output_path.resolve() == samples_path.resolve():
        raise SamplesError(f"--output {output_path} is the samples file: the results would overwrite it; choose another name")
    claim_output(output_path, samples_path, benchmark)
    return output_path


def claim_output(output_path: Path, samples_path: Path, benchmark: str) -> None:
    """Refuse, naming it, an existing results file or journal that this evaluation may not replace: anything but
    results of `scoder eval` for the same samples (the same file, or the same content) on the same benchmark."""
    if output_path.exists():
        why = _foreign_results(output_path, samples_path, benchmark)
        if why:
            raise SamplesError(f"--output {output_path} exists and {why}; it is left as it is: choose another --output")
    journal = journal_path(output_path)
    if journal.exists() and not Journal.is_journal(journal):
        raise SamplesError(f"{journal} (where the results' journal goes) exists and is not a journal of scoder eval; "
                           "it is left as it is: choose another --output")


def _foreign_results(path: Path, samples_path: Path, benchmark: str) -> str | None:
    """Why `path` is not results scoder wrote for these samples on this benchmark (None if it is)."""
    try:
        results = json.loads(path.read_bytes())
        meta = results["scoder"]
        meta["harness_version"], meta["benchmark"]
    except (OSError, ValueError, KeyError, TypeError):
        return "is not a results file written by scoder eval"
    if meta["benchmark"] != benchmark:
        return f"holds results for {meta['benchmark']}, not {benchmark}"
    recorded = meta.get("samples")
    # Older results recorded the path as given (relative to where eval ran): from here, or from beside the results.
    same_file = bool(recorded) and samples_path.resolve() in (Path(recorded).resolve(), (path.parent / recorded).resolve())
    same_content = samples_path.is_file() and meta.get("samples_sha256") == file_sha256(samples_path)
    if not (same_file or same_content):
        return f"holds the results of other samples ({recorded})"
    return None


def evaluate_samples(samples_path: str | Path, output_path: str | Path | None, plan_for: Callable[[list[Sample], Path], Plan],
                     progress: bool = True, log: Callable[[str], None] = print, execution: Execution = Execution()) -> dict:
    """Evaluate a samples file: `plan_for` turns its samples (and the file's path) into the benchmark's Plan,
    refusing samples for tasks the benchmark lacks. `log` says how many verdicts were reused. Returns the
    results as written, with scoder.output added."""
    samples_path = Path(samples_path)
    samples = read_samples(samples_path)
    if not samples:
        raise SamplesError(f"{samples_path}: no samples")
    plan = plan_for(samples, samples_path)
    warn_of_raw_outputs(samples, samples_path, plan.benchmark, log)
    output_path = prepared_output(samples_path, output_path, plan.benchmark)
    with _claimed(output_path, samples_path, plan.benchmark):
        return _evaluate(samples_path, output_path, plan, execution, progress, log)


def discard_results(output_path: Path, samples_path: Path, benchmark: str, log: Callable[[str], None] = print) -> None:
    """A fresh run (evalplus' --i-just-wanna-run): this output's journal and results go, once recognised as ours."""
    with _claimed(output_path, samples_path, benchmark):
        _discard(output_path, log)


@contextlib.contextmanager
def _claimed(output_path: Path, samples_path: Path, benchmark: str):
    """The results file locked against other scoder processes and checked again, now that no one else writes it."""
    try:
        with exclusive(output_path.with_name(f".{output_path.name}.lock"), f"the results file {output_path}"):
            claim_output(output_path, samples_path, benchmark)
            yield
    except Busy as error:
        raise SamplesError(str(error)) from None


def _discard(output_path: Path, log) -> None:
    discarded = []
    journal = journal_path(output_path)
    if journal.exists():
        discarded.append(f"{journal} ({Journal.count_records(journal)} journaled runs)")
        journal.unlink()
    if output_path.exists():
        discarded.append(str(output_path))
        output_path.unlink()
    log(f"fresh run: discarded {' and '.join(discarded)}" if discarded else "fresh run: nothing to discard")


def _evaluate(samples_path: Path, output_path: Path, plan: Plan, execution: Execution, progress: bool, log) -> dict:
    journal = Journal(journal_path(output_path), plan.fingerprint)
    todo: Todo = {}
    for sample, code in plan.keyed:
        key = sample_key(sample.task_id, code)
        record = journal.records.get(key)
        if record is None or NO_VERDICT_KEY in record:  # not run yet, or a grader fault: judged (again)
            todo[key] = (sample.task_id, code)
    # Counted from the journal: a sample repeated word for word runs once but was not reused from anywhere.
    reused = sum(sample_key(sample.task_id, code) not in todo for sample, code in plan.keyed)
    if reused:
        log(f"resumed: {reused} of {len(plan.keyed)} samples' verdicts reused from {journal.path} (--fresh to run them again)")
    restarts = 0
    try:
        if todo or plan.always_execute:
            # The calibration (begun as the evaluation started: harness.api) computes only on the cores the runs leave
            # idle, so that no run computes beside it (a run that waits for a core looks contended, and a timeout near
            # its limit is re-checked); where no run is left to do, it ends when the results are assembled.
            restarts = execute(plan.runs, todo, journal, execution, progress, idle_work=calibration.begin())
    except KeyboardInterrupt:
        keys = {sample_key(sample.task_id, code) for sample, code in plan.keyed}
        final = len(keys & journal.records.keys())
        waiting = sum(unconfirmed_key(key) in journal.records for key in keys - journal.records.keys())
        rechecks = f", and {waiting} that timed out go straight to their re-check" if waiting else ""
        raise Interrupted(f"{final} of {len(keys)} samples have final verdicts in {journal.path}; the same command "
                          f"reuses them{rechecks}") from None
    finally:
        journal.close()
    results = assemble_results(plan, journal.records, samples_path, restarts)
    companions = plan.companions(results, output_path)
    for path in companions:
        if path.exists() and not output_path.exists():
            raise SamplesError(f"{path} (written beside the results) exists and is not scoder's; it is left as it is: "
                               "choose another --output (the verdicts are journaled and reused)")
    write_atomically(output_path, json.dumps(results, indent=1).encode())
    for path, content in companions.items():
        write_atomically(path, content)
    warning = no_verdict_warning(results)
    if warning:
        log(warning)
    results["scoder"]["output"] = str(output_path)
    return results


def assemble_results(plan: Plan, records: dict, samples_path: Path, restarts: int = 0) -> dict:
    """The results file's content from the plan and every kept sample's record."""
    per_task: dict[str, list[dict]] = {}
    kept_records = []
    for sample, code in plan.keyed:
        record = records[sample_key(sample.task_id, code)]
        kept_records.append(record)
        entry = ({"task_id": sample.task_id, "solution": code, NO_VERDICT_KEY: record[NO_VERDICT_KEY]}
                 if NO_VERDICT_KEY in record else plan.entry(sample, code, record))
        per_task.setdefault(sample.task_id, []).append(entry)
    evaluated = {task_id: per_task[task_id] for task_id in plan.task_ids if task_id in per_task}
    judged = decided(evaluated)
    faults = [entry for entries in evaluated.values() for entry in entries if NO_VERDICT_KEY in entry]
    return {
        "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        **plan.fields,
        "eval": evaluated,
        "pass_at_k": plan.scores(judged),
        "scoder": {
            "harness_version": __version__,
            "benchmark": plan.benchmark,
            **plan.meta,
            "samples": str(samples_path.resolve()),  # export and report find it from any folder
            "samples_sha256": file_sha256(samples_path),
            "n_samples": len(plan.keyed),
            "n_tasks": len(evaluated),
            "missing_tasks": [task_id for task_id in plan.task_ids if task_id not in per_task],
            # Scores of part of a benchmark are not the benchmark's score: said wherever they are shown.
            "partial": f"{len(evaluated)} of {len(plan.task_ids)} tasks" if len(evaluated) < len(plan.task_ids) else None,
            "isolation": sorted({record["isolation"] for record in kept_records}),
            "timeouts": timeout_counts(kept_records),
            **({"margins": score_range(plan, judged)} if plan.at_speed else {}),
            "worker_restarts": restarts,
            "calibration": calibration.measure().record(),  # this machine's speed: results of other machines are read beside it
            # Samples the harness could not judge (a grader fault): left out of pass_at_k, with their reasons.
            "no_verdict": {"samples": len(faults), "tasks_left_out": [task_id for task_id in evaluated if task_id not in judged],
                           "reasons": sorted({entry[NO_VERDICT_KEY] for entry in faults})[:10]},
        },
    }


def score_range(plan: Plan, judged: dict[str, list[dict]]) -> dict:
    """How much of the score depends on the machine's speed: the scores on a machine `margin_factor` times slower and
    one that many times faster, each verdict re-decided from its margin, and how many samples differ between them."""
    factor = plan.margin_factor
    slower = {task_id: [plan.at_speed(entry, factor) for entry in entries] for task_id, entries in judged.items()}
    faster = {task_id: [plan.at_speed(entry, 1 / factor) for entry in entries] for task_id, entries in judged.items()}
    near = sum(one != other for task_id in judged for one, other in zip(slower[task_id], faster[task_id]))
    return {"factor": factor, "near": near, "slower": plan.scores(slower), "faster": plan.scores(faster)}


def passed_at_speed(entry: dict, slowdown: float) -> dict:
    """A one-verdict entry ("passed", and "margin" where a clock decided it or could have) as a machine `slowdown`
    times slower (below 1: faster) decides it (Plan.at_speed)."""
    margin = entry.get("margin")
    if margin is None or Margin(**margin).passes_at(slowdown) == entry["passed"]:
        return entry
    return {**entry, "passed": not entry["passed"], "status": TIMEOUT if entry["passed"] else PASS}


def decided(evaluated: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """A results file's entries that have a verdict, per task; a task none of whose samples has one is left out."""
    judged = {task_id: [entry for entry in entries if NO_VERDICT_KEY not in entry] for task_id, entries in evaluated.items()}
    return {task_id: entries for task_id, entries in judged.items() if entries}


def no_verdict_warning(results: dict) -> str | None:
    """What the console says of samples without a verdict, if any."""
    found = results["scoder"].get("no_verdict") or {}
    if not found.get("samples"):
        return None
    left_out = found["tasks_left_out"]
    tasks = f", and {len(left_out)} tasks with none judged ({', '.join(left_out[:5])})" if left_out else ""
    return (f"warning: {found['samples']} samples have no verdict: the harness could not judge them (a grader fault, "
            f"not the program's); they are left out of pass@k{tasks}. First reason: {found['reasons'][0]}")


def timeout_counts(records) -> dict:
    """How many timed-out runs were re-checked, and how many of those timed out again."""
    counts = {"rechecked": 0, "confirmed": 0}
    for record in records:
        counts["rechecked"] += record.get("timeouts_rechecked", 0)
        counts["confirmed"] += record.get("timeouts_confirmed", 0)
    return counts
