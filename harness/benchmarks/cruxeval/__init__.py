"""CRUXEval (github.com/facebookresearch/cruxeval, MIT): 800 short Python functions, each with one input and the
output it gives. CRUXEval-O asks a model for the output, CRUXEval-I for an input (a call f(...)); an answer is
right when `assert <output> == <answer>` holds after the function, run in the sandbox.

The whole benchmark is this package, registered by one line in harness.benchmarks:
  tasks.py    the pinned data file and its tasks
  prompts.py  upstream's prompts (direct and chain of thought, base and chat form) and its answer extraction
  scoring.py  upstream's verdict rules as a harness.evaluation Plan, run through the sandbox pool
  export.py   upstream's generations and scored files (`scoder export cruxeval`)
and here, the harness.benchmarks.benchmark.Benchmark that ties them to the command line, report and exports.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from harness.benchmarks.benchmark import ScoreColumn
from harness.benchmarks.cruxeval.export import export_cruxeval
from harness.benchmarks.cruxeval.prompts import INPUT, MAX_NEW_TOKENS, OUTPUT, prompt_set
from harness.benchmarks.cruxeval.scoring import plan
from harness.benchmarks.cruxeval.tasks import DATA, load_tasks
from harness.benchmarks.data import Availability, DatasetFile, dataset_availability
from harness.evaluation import evaluate_samples
from harness.report.console import print_pass_at_k

CHAIN_OF_THOUGHT = "cot"  # the one variant: cruxeval-o:cot in a recipe, --cot on the command line


def add_cruxeval_arguments(parser, command: str) -> None:
    if command == "export":
        return
    group = parser.add_argument_group("CRUXEval")
    group.add_argument("--cot", action="store_true",
                       help="CRUXEval: the chain-of-thought prompts (upstream's --cot; default: the direct ones)")


@dataclass(frozen=True)
class CRUXEvalBenchmark:
    """CRUXEval-O or CRUXEval-I as a harness.benchmarks.benchmark.Benchmark."""
    name: str
    mode: str  # what is predicted, OUTPUT or INPUT (upstream's --mode)
    title: str

    execution_role = "sandbox"
    task_environment = None
    starts_processes = False
    data_variables = ()
    task_count = 800
    max_new_tokens = max(MAX_NEW_TOKENS.values())
    leaderboard = "cruxeval"
    windowed = False
    hub_only_data = False
    # Not among SCoder's benchmarks, whose default decontamination (and stage keys) stay the paper's; a recipe
    # evaluating CRUXEval names it in decontamination.benchmarks.
    decontaminate = False
    add_arguments = staticmethod(add_cruxeval_arguments)

    @property
    def columns(self) -> dict[str, str]:
        return {self.name: self.title}

    def variant_options(self, variant: str) -> dict:
        if variant != CHAIN_OF_THOUGHT:
            raise ValueError(f"{self.name}:{variant}: the one variant is {CHAIN_OF_THOUGHT} (chain-of-thought prompts)")
        return {"cot": True}

    def data_files(self) -> list[DatasetFile]:
        return [DATA]

    def data_availability(self, options) -> Availability:
        return dataset_availability([DATA], options.data_dir)

    def prompt_builder(self, options):
        return functools.partial(prompt_set, load_tasks(options.data_dir), self.mode, options.cot)

    def samples_name(self, options) -> str:
        return f"{self.name}-{CHAIN_OF_THOUGHT}" if options.cot else self.name

    def evaluate(self, samples, output, options, execution, progress: bool) -> dict:
        tasks = load_tasks(options.data_dir)
        return evaluate_samples(samples, output, functools.partial(plan, tasks, self.mode, self.name, margin_factor=options.margin_factor), progress, execution=execution)

    def summarize(self, results: dict, options, out=None) -> None:
        print_pass_at_k(self.title, results, out)

    def score_columns(self, results: dict) -> list[ScoreColumn]:
        return [ScoreColumn(self.name, results["scoder"]["version"], "", lambda entry: entry["passed"], results["pass_at_k"])]

    def task_texts(self, options) -> list[str]:
        return [f"{task.code}\nassert f({task.input}) == {task.output}" for task in load_tasks(options.data_dir).values()]

    def export(self, run_dir, runs, out_dir, model_name, allow_partial: bool, options) -> list[Path]:
        return export_cruxeval(run_dir, runs, out_dir, model_name, allow_partial)


CRUXEVAL_O = CRUXEvalBenchmark("cruxeval-o", OUTPUT, "CRUXEval-O")
CRUXEVAL_I = CRUXEvalBenchmark("cruxeval-i", INPUT, "CRUXEval-I")
