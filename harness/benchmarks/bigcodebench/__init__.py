"""BigCodeBench, full and hard, as Benchmarks: the package's adapter to the rest of the harness.

  tasks.py    the data (versions, the hard subset) and its checks
  prompts.py  the official prompts (complete and instruct splits) and bigcodebench's sanitizer
  scoring.py  the evaluation plan: each sample's unittest suite in the task libraries' environment
  export.py   the leaderboard's submission files
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.benchmarks.benchmark import ScoreColumn
from harness.benchmarks.bigcodebench.export import export_bigcodebench
from harness.benchmarks.bigcodebench.prompts import MAX_NEW_TOKENS, bigcodebench_prompts
from harness.benchmarks.bigcodebench.scoring import BigCodeBenchSettings, evaluate
from harness.benchmarks.bigcodebench.tasks import DEFAULT_VERSION, FULL_TASK_COUNT, HARD_TASK_NUMBERS, SPLITS, TASK_ENVIRONMENT, VERSIONS, Dataset, load_dataset
from harness.benchmarks.data import Availability, DatasetFile, dataset_availability
from harness.execution.function_calls import PASS
from harness.report.console import print_pass_at_k


def add_bigcodebench_arguments(parser, command: str) -> None:
    if command == "export":
        return
    group = parser.add_argument_group("BigCodeBench")
    group.add_argument("--split", default="complete", choices=SPLITS, help="the prompt split (default: complete)")
    group.add_argument("--version", default=DEFAULT_VERSION, choices=tuple(VERSIONS), help=f"dataset version (default: {DEFAULT_VERSION})")
    if command == "eval":
        group.add_argument("--no-calibrate", action="store_true",
                           help="run solutions as given (default: the code prompt and `pass` first, as upstream)")
        group.add_argument("--check-ground-truth", action="store_true",
                           help="also check the reference solutions (cached); alone, without --samples, only that")


@dataclass(frozen=True)
class BigCodeBenchmark:
    """BigCodeBench full or hard as a harness.benchmarks.benchmark.Benchmark."""
    name: str
    subset: str  # full or hard
    title: str
    decontaminate: bool = True  # False for the hard subset, whose tasks are the full set's

    family = "bigcodebench"
    execution_role = "bigcodebench"  # its task libraries' image
    task_environment = TASK_ENVIRONMENT
    starts_processes = True  # subprocess, multiprocessing, servers
    data_variables = ()
    max_new_tokens = MAX_NEW_TOKENS
    leaderboard = "bigcodebench"
    windowed = False
    hub_only_data = False
    add_arguments = staticmethod(add_bigcodebench_arguments)

    @property
    def data(self) -> DatasetFile:
        return VERSIONS[DEFAULT_VERSION]

    @property
    def task_count(self) -> int:
        return len(HARD_TASK_NUMBERS) if self.subset == "hard" else FULL_TASK_COUNT

    @property
    def columns(self) -> dict[str, str]:
        return {f"bigcodebench-{self.subset}-{split}": f"{self.title} {split.capitalize()}" for split in SPLITS}

    def variant_options(self, variant: str) -> dict:
        if variant not in SPLITS:
            raise ValueError(f"{self.name}:{variant}: the variant is a split, one of {', '.join(SPLITS)}")
        return {"split": variant}

    def data_files(self) -> list[DatasetFile]:
        return list(VERSIONS.values())

    def data_availability(self, options) -> Availability:
        return dataset_availability([VERSIONS[options.version]], options.data_dir)

    def prompt_builder(self, options):
        dataset = self.load(options.data_dir, options.version)
        return lambda chat: bigcodebench_prompts(dataset, options.split, chat)

    def samples_name(self, options) -> str:
        return f"{self.name}-{options.split}"

    def evaluate(self, samples, output, options, execution, progress: bool) -> dict:
        settings = BigCodeBenchSettings(options.version, options.split, not options.no_calibrate,
                                        margin_factor=options.margin_factor)
        return evaluate(self, samples, output, options.data_dir, settings, options.check_ground_truth, progress, execution)

    def summarize(self, results: dict, options, out=None) -> None:
        print_pass_at_k(f"{self.name} {options.version} {options.split}", results, out)

    def score_columns(self, results: dict) -> list:
        key = f"bigcodebench-{self.subset}-{results['pass_at_k']['split']}"
        return [ScoreColumn(key, results["scoder"]["version"], "", lambda entry: entry["status"] == PASS, results["pass_at_k"])]

    def task_texts(self, options) -> list[str]:
        return [f"{problem.complete_prompt}\n{problem.instruct_prompt}\n{problem.canonical_solution}"
                for problem in self.load(options.data_dir, options.version).problems.values()]

    def export(self, run_dir, runs, out_dir, model_name, allow_partial: bool, options) -> list:
        return export_bigcodebench(run_dir, runs, out_dir, model_name, allow_partial)

    def load(self, data_dir: str | None = None, version: str = DEFAULT_VERSION) -> Dataset:
        return load_dataset(self, data_dir, version)


BIGCODEBENCH = BigCodeBenchmark("bigcodebench", "full", "BigCodeBench")
BIGCODEBENCH_HARD = BigCodeBenchmark("bigcodebench-hard", "hard", "BigCodeBench-Hard", decontaminate=False)
