"""CRUXEval's verdicts, as upstream decides them (github.com/facebookresearch/cruxeval at commit 190faf1,
evaluation/utils_general.py and utils_execute.py), with each program run in our sandbox.

An answer (a sample's solution) is a predicted output (CRUXEval-O) or a call `f(...)` (CRUXEval-I). The rules:
- not run, and false: for input prediction an answer without "f(" (utils_general.py line 15); for output prediction
  one that holds the call on the task's input, `f(<input>)`, which would pass by computing the output (line 17);
- every other answer runs as `<code>\\nassert <output> == <answer>` (line 20, the same for both modes) and is true
  when that program ends without an exception (utils_execute.py lines 55-64), within 3 seconds (line 21), under
  upstream's reliability_guard (utils_execute.py lines 141-219: exit, quit and help, most of os' file and process
  functions, shutil's and subprocess.Popen gone; no memory limit there, evalplus' 4 GiB here).
Upstream's 3 s are wall-clock time (signal.setitimer(ITIMER_REAL), utils_execute.py line 77); here they are CPU time
of the child with wall time as a backstop. As for evalplus (harness.benchmarks.evalplus.scoring._runs), the first run
may go on to the margin factor F times 3 s: the verdict is settled from its time, a timeout is final if it is still over
on a machine F times faster or its run waited for no core, and otherwise runs again once as on that machine, and
every verdict a clock decided, or could have, carries its margin (harness.execution.margins).

"When no generation of a task passes, all are false" (utils_general.py lines 22-23) is what these verdicts are
anyway. Upstream's list holds only the answers it ran (line 21 appends to it, lines 15-18 do not): where a task has
a refused answer and a passing one, its list is shorter than its answers, no longer in step with them, and its
pass@k counts only the answers run. Here every answer keeps its verdict in its place, a refused one false, and
pass@k counts all; the two agree wherever no answer of a task is refused or none passes.

pass@k: upstream's unbiased estimator (utils_general.py lines 6-8, harness.metrics.pass_at_k), averaged over tasks
(evaluate_generations.py lines 28-37); pass@5 only where every task has 5 answers (upstream would count a task with
fewer as passed).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from harness import __version__
from harness.benchmarks.cruxeval.prompts import INPUT, OUTPUT
from harness.benchmarks.cruxeval.tasks import DATA, VERSION, Task
from harness.evaluation import Plan, passed_at_speed, refuse_unknown_tasks
from harness.evaluation_runs import Check, Recheck, Runs
from harness.execution import margins
from harness.execution.function_calls import FAIL, PASS, TIMEOUT, Verdict, _reason, parse_line
from harness.execution.limits import Limits
from harness.execution.pool import Run
from harness.execution.guards import EVALPLUS_GUARD
from harness.metrics import entries_pass_at_k
from harness.samples import Sample, SamplesError

TIME_LIMIT_S = 3.0  # utils_general.py line 21: check_correctness(code_to_execute, 3)
CLOCKS = margins.Clocks.fixed([], TIME_LIMIT_S)  # the whole program's: it has no inputs
WALL_BACKSTOP_EXTRA_S = 5.0
PASS_AT_K = (1, 5)  # evaluate_generations.py lines 28-37
# utils_execute.py reliability_guard (lines 162-219), applied in the child before the program runs (worker._apply_guard):
# evalplus' guard but for open(), which upstream leaves.
CRUXEVAL_GUARD = {**EVALPLUS_GUARD, "attributes": {**EVALPLUS_GUARD["attributes"],
                                                   "builtins": [name for name in EVALPLUS_GUARD["attributes"]["builtins"] if name != "open"]}}


def refusal(task: Task, answer: str, mode: str) -> str | None:
    """Why upstream does not run this answer (it is then false), or None."""
    if mode == INPUT and "f(" not in answer:
        return "not run: an input prediction must call f"
    if mode == OUTPUT and f"f({task.input})" in answer:
        return "not run: the predicted output calls f on the input"
    return None


def check_program(task: Task, answer: str) -> str:
    """The program whose clean end is the verdict, as upstream writes it for both modes."""
    return f"{task.code}\nassert {task.output} == {answer}"


@dataclass
class RanToItsEnd:
    """A pool listener (harness.execution.pool.Listener) for a program that is its own test: it passes when it ends
    without an exception. The program is the module the worker loads; `f` is its entry point but, with no inputs,
    is never called, so the worker's "D" (done) line comes exactly when loading, the assert included, succeeded."""
    rechecking: bool = False  # whether this run is a timeout's re-check (then its margin is final)
    error: str | None = None
    done: bool = False
    verdict: Verdict | None = None

    def on_line(self, line: bytes) -> bool:
        try:
            kind, _, _, payload = parse_line(line)
        except (ValueError, UnicodeDecodeError):
            self.error = "malformed report from the program's process"
            return True
        if kind == "D":
            self.done = True
        elif kind != "B":  # "B" says it loaded; "L" that it did not (the assert failed, or anything else raised)
            self.error = _reason(payload)
        return False

    def on_done(self, report: dict) -> None:
        killed = report.get("killed")
        if killed in ("cpu budget", "wall budget"):
            self.verdict = Verdict(TIMEOUT, reason=f"killed: {killed}")
        elif self.done and self.error is None and not killed:
            self.verdict = Verdict(PASS)
        else:
            why = f"killed: {killed}" if killed else f"exited with code {report.get('exit')} before finishing"
            self.verdict = Verdict(FAIL, reason=self.error or why)
        self.verdict.cpu_s, self.verdict.waited_s = report.get("cpu_s", 0.0), report.get("waited_s")


def _run(task: Task, answer: str, limits: Limits, slowdown: float, stretch: float) -> Run:
    """A run under the 3 s a machine `slowdown` times slower has, in this machine's seconds, whose CPU clock runs to
    `stretch` times that (and a little more, margins.TIMER_OVERSHOOT)."""
    budget = CLOCKS.slower(slowdown).budget
    return Run(check_program(task, answer), "f", b"[]", [], stretch * margins.TIMER_OVERSHOOT * budget,
               budget * limits.wall_factor + WALL_BACKSTOP_EXTRA_S, guard=CRUXEVAL_GUARD)


def _record(listener: RanToItsEnd, factor: float) -> dict:
    """The verdict under the official 3 s, with its margin (all of the program's time is its loading)."""
    verdict = margins.settle_fixed(listener.verdict, [], listener.verdict.cpu_s, CLOCKS, factor, listener.rechecking)
    return {"status": verdict.status, "reason": verdict.reason, "cpu_s": verdict.cpu_s, "margin": verdict.margin}


def plan(tasks: dict[str, Task], mode: str, benchmark: str, samples: list[Sample],
         samples_path: Path | None = None, limits: Limits = Limits(), margin_factor: float = margins.DEFAULT_FACTOR) -> Plan:
    """The Plan (harness.evaluation) of one samples file: each sample's answer, keyed by itself (a task's repeated
    answers run once)."""
    margins.check_factor(margin_factor)
    refuse_unknown_tasks(samples, tasks, benchmark)
    completions = [sample for sample in samples if sample.solution is None]
    if completions:
        raise SamplesError(f"{completions[0].origin}: a CRUXEval sample gives its answer as \"solution\" (a predicted output, "
                           "or the call f(...)); for raw model outputs, run `scoder sanitize --benchmark "
                           f"{benchmark}` first, which cuts the answer out as upstream does")
    decisive = {"harness": __version__, "benchmark": benchmark, "data": DATA.sha256, "time_limit_s": TIME_LIMIT_S,
                "guard": CRUXEVAL_GUARD, "limits": asdict(limits.resolved()), "margin_factor": margin_factor}
    return Plan(
        benchmark=benchmark,
        task_ids=list(tasks),
        keyed=[(sample, sample.solution) for sample in samples],
        fingerprint=hashlib.sha256(json.dumps(decisive, sort_keys=True).encode()).hexdigest(),
        runs=_runs(tasks, mode, limits, margin_factor),
        entry=lambda sample, answer, record: {"task_id": sample.task_id, "solution": answer, "passed": record["status"] == PASS,
                                              "status": record["status"], "reason": record["reason"], "margin": record.get("margin")},
        scores=lambda evaluated: entries_pass_at_k(evaluated, lambda entry: entry["passed"], ks=PASS_AT_K),
        at_speed=passed_at_speed,
        margin_factor=margin_factor,
        meta={"mode": mode, "version": VERSION, "data_file": DATA.filename, "data_sha256": DATA.sha256,
              "time_limit_s": TIME_LIMIT_S, "limits": asdict(limits.resolved())},
    )


def _runs(tasks: dict[str, Task], mode: str, limits: Limits, factor: float) -> Runs:
    """One run per answer that upstream runs; one it does not run is false without a check. A timeout its margin
    leaves open runs again once, as on a machine `factor` times faster (margins.recheck_slowdown)."""
    def checks(task_id: str, answer: str) -> dict[str, Check]:
        if refusal(tasks[task_id], answer, mode):
            return {}
        return {"answer": Check(_run(tasks[task_id], answer, limits, 1.0, factor), RanToItsEnd)}

    def recheck(task_id: str, answer: str, part: str, outcome: dict) -> Recheck:
        slowdown = margins.recheck_slowdown(outcome.get("margin"), factor)
        return Recheck(lambda before: Check(_run(tasks[task_id], answer, limits, slowdown, 1.0),
                                            lambda: RanToItsEnd(rechecking=True), priority=-outcome["cpu_s"]))

    def record(task_id: str, answer: str, outcomes: dict[str, dict]) -> dict:
        return outcomes.get("answer") or {"status": FAIL, "reason": refusal(tasks[task_id], answer, mode), "cpu_s": 0.0}

    return Runs(limits=limits, checks=checks, outcome=lambda listener: _record(listener, factor),
                timed_out=lambda outcome: Verdict(outcome["status"], reason=outcome["reason"]).timed_out, record=record,
                recheck=recheck, label=f"cruxeval {mode} prediction")
