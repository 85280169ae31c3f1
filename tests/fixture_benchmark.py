"""A benchmark written for the tests (labelled fixture data, not a real benchmark): three one-line tasks, each
called on two inputs and judged by equality. All of it is this one file; registering it is one line
(harness.benchmarks.registry.register(ARITHMETIC)). tests/test_benchmark_registry.py runs it through `scoder eval`,
`scoder report` and `scoder export` with no other change to the harness: what a new benchmark needs."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from harness.benchmarks.benchmark import ScoreColumn
from harness.benchmarks.data import Availability
from harness.evaluation import Plan, evaluate_samples, refuse_unknown_tasks
from harness.evaluation_runs import Check, Runs
from harness.execution import values
from harness.execution.function_calls import PASS, OutputJudge
from harness.execution.limits import Limits
from harness.execution.pool import Run
from harness.metrics import entries_pass_at_k

# task id -> (prompt, entry point, reference solution, inputs as argument lists)
TASKS = {
    "Arithmetic/0": ("def add(a, b):\n    \"\"\"a + b\"\"\"\n", "add", "    return a + b\n", [[1, 2], [-3, 3]]),
    "Arithmetic/1": ("def double(x):\n    \"\"\"2 * x\"\"\"\n", "double", "    return 2 * x\n", [[0], [21]]),
    "Arithmetic/2": ("def negate(x):\n    \"\"\"-x\"\"\"\n", "negate", "    return -x\n", [[5], [-7]]),
}
VERSION = "v1"
CPU_SECONDS_PER_INPUT = 2.0


def add_arithmetic_arguments(parser, command: str) -> None:
    """It has no options of its own."""


@dataclass(frozen=True)
class ArithmeticBenchmark:
    name = "arithmetic"
    columns = {"arithmetic": "Arithmetic (test fixture)"}
    execution_role = "sandbox"
    task_environment = None
    starts_processes = False
    data_variables = ()
    leaderboard = "arithmetic-board"
    windowed = False
    hub_only_data = False
    decontaminate = False  # a test's: a recipe's default decontamination does not read it
    task_count = len(TASKS)
    max_new_tokens = 0  # it has no prompts: evaluation only
    add_arguments = staticmethod(add_arithmetic_arguments)

    def variant_options(self, variant: str) -> dict:
        raise ValueError(f"{self.name} has no variants")

    def data_files(self) -> list:
        return []

    def data_availability(self, options) -> Availability:
        return Availability(local=(f"{__file__} (its tasks are written in it)",))

    def prompt_builder(self, options):
        raise ValueError("the arithmetic fixture is for evaluation only")

    def samples_name(self, options) -> str:
        return self.name

    def evaluate(self, samples, output, options, execution, progress: bool) -> dict:
        return evaluate_samples(samples, output, _plan, progress, execution=execution)

    def summarize(self, results: dict, options, out=None) -> None:
        from harness.report.console import print_pass_at_k

        print_pass_at_k(self.name, results, out)

    def score_columns(self, results: dict) -> list[ScoreColumn]:
        return [ScoreColumn("arithmetic", VERSION, "", lambda entry: entry["status"] == PASS, results["pass_at_k"])]

    def task_texts(self, options) -> list[str]:
        return [prompt + solution for prompt, _, solution, _ in TASKS.values()]

    def export(self, run_dir, runs, out_dir, model_name, allow_partial: bool, options) -> list[Path]:
        """Its "leaderboard" takes one JSON of the scores and a manifest, as the real exports end with one."""
        scores = {f"{self.columns[column.key]} {column.version}": 100 * column.reported["pass@1"]
                  for run in runs for column in self.score_columns(run.results)}
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        written = [out_dir / "arithmetic_scores.json", out_dir / "scoder_export.json"]
        written[0].write_text(json.dumps({"model": model_name, "scores": scores}))
        written[1].write_text(json.dumps({"leaderboard": self.leaderboard, "partial": [], "fill_in": []}))
        return written


def _plan(samples, samples_path) -> Plan:
    refuse_unknown_tasks(samples, TASKS, ARITHMETIC.name)
    return Plan(
        benchmark=ARITHMETIC.name,
        task_ids=list(TASKS),
        keyed=[(sample, sample.solution if sample.solution is not None else TASKS[sample.task_id][0] + sample.completion)
               for sample in samples],
        fingerprint=hashlib.sha256(json.dumps([VERSION, CPU_SECONDS_PER_INPUT]).encode()).hexdigest(),
        runs=Runs(limits=Limits(), checks=lambda task_id, code: {"inputs": Check(*_task(task_id, code))},
                  outcome=lambda judge: {"status": judge.verdict.status, "reason": judge.verdict.reason}, timed_out=lambda outcome: False,
                  record=lambda task_id, code, outcomes: outcomes["inputs"], label="arithmetic samples"),
        entry=lambda sample, code, record: {"task_id": sample.task_id, "solution": code, "status": record["status"]},
        scores=lambda evaluated: entries_pass_at_k(evaluated, lambda entry: entry["status"] == PASS),
        meta={"version": VERSION},
    )


def _task(task_id: str, code: str):
    prompt, entry_point, solution, inputs = TASKS[task_id]
    reference = {}
    exec(prompt + solution, reference)  # trusted: the fixture's own reference solution
    expected = [values.encode(reference[entry_point](*arguments)).encode() for arguments in inputs]
    limits = [CPU_SECONDS_PER_INPUT] * len(inputs)
    run = Run(code, entry_point, values.encode(inputs).encode(), limits, sum(limits), 4 * sum(limits) + 5)

    def make_judge() -> OutputJudge:
        return OutputJudge(expected, lambda index, output: output == values.decode(expected[index]), lambda index: True,
                           lambda index: 1 << 20)

    return run, make_judge


ARITHMETIC = ArithmeticBenchmark()
