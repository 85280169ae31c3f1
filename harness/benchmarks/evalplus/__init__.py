"""HumanEval+ and MBPP+ (evalplus) as Benchmarks: the package's adapter to the rest of the harness.

  tasks.py        the data, the input fix-ups and the output oracle (evalplus 0.3.1's rules)
  groundtruth.py  the reference solutions' outputs and times, cached per dataset
  scoring.py      the evaluation plan: a sample's base and plus inputs in one run, judged by the harness
  prompts.py      the official prompts and the program extraction
  export.py       the evalplus leaderboard entry
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import partial

from harness.arguments import positive_float
from harness.benchmarks.benchmark import ScoreColumn
from harness.benchmarks.data import Availability, DatasetFile, dataset_availability
from harness.benchmarks.evalplus.export import export_evalplus
from harness.benchmarks.evalplus.prompts import MAX_NEW_TOKENS, evalplus_prompts
from harness.benchmarks.evalplus.scoring import EvalSettings, evaluate
from harness.benchmarks.evalplus.tasks import HUMANEVAL_PLUS_DATA, HUMANEVAL_PLUS_MINI_DATA, MBPP_PLUS_DATA, TASK_COUNTS, Dataset, load_dataset
from harness.execution.calibration import measure
from harness.execution.function_calls import PASS
from harness.execution.limits import Limits, TimePolicy
from harness.report.console import print_eval_summary
from harness.samples import SamplesError

def add_evalplus_arguments(parser, command: str) -> None:
    if command != "eval":
        return
    group = parser.add_argument_group("HumanEval+ / MBPP+")
    group.add_argument("--min-time-limit", type=positive_float, default=TimePolicy.min_time_limit,
                       help="seconds of CPU per input at least (evalplus default 1.0)")
    group.add_argument("--gt-time-limit-factor", type=positive_float, default=TimePolicy.gt_time_limit_factor,
                       help="x the reference time per input (evalplus default 4.0)")
    group.add_argument("--speed", type=_speed, default="official",
                       help="official (default): the floor and the task budget in evalplus' seconds; measured: divided by "
                            "this machine's speed (harness.execution.calibration, 1.0 = its reference machine); or a speed "
                            "to divide them by. Not the official setting: results and reports say so")


def _speed(text: str) -> str | float:
    return text if text in ("official", "measured") else positive_float(text)


@dataclass(frozen=True)
class EvalPlusBenchmark:
    """HumanEval+ and MBPP+ as a harness.benchmarks.benchmark.Benchmark."""
    name: str
    family: str  # "humaneval" or "mbpp": selects the input fix-ups and the special oracles
    data: DatasetFile
    title: str  # of its base + plus tests' column
    decontaminate: bool = True  # False for HumanEval+ Mini, whose tasks are HumanEval+'s

    execution_role = "sandbox"
    task_environment = None
    starts_processes = False
    data_variables = ()
    max_new_tokens = MAX_NEW_TOKENS
    leaderboard = "evalplus"
    windowed = False
    hub_only_data = False
    add_arguments = staticmethod(add_evalplus_arguments)

    @property
    def task_count(self) -> int:
        return TASK_COUNTS[self.family]

    def load(self, data_dir=None) -> Dataset:
        return load_dataset(self, data_dir)

    @property
    def columns(self) -> dict[str, str]:
        """Its base tests' column (HumanEval, MBPP: evalplus' base score) and its base + plus tests' column."""
        return {self.family: _BASE_TITLES[self.family], self.name: self.title}

    def variant_options(self, variant: str) -> dict:
        raise ValueError(f"{self.name} has no variants (got {self.name}:{variant})")

    def data_files(self) -> list[DatasetFile]:
        return [self.data]

    def data_availability(self, options) -> Availability:
        return dataset_availability([self.data], options.data_dir)

    def prompt_builder(self, options):
        return partial(evalplus_prompts, self.load(options.data_dir))

    def samples_name(self, options) -> str:
        return self.name

    def evaluate(self, samples, output, options, execution, progress: bool) -> dict:
        if not samples:
            raise SamplesError("--samples is required")
        speed = None if options.speed == "official" else measure().speed if options.speed == "measured" else options.speed
        settings = EvalSettings(TimePolicy(options.min_time_limit, options.gt_time_limit_factor, speed=speed), Limits(),
                                options.margin_factor)
        return evaluate(self, samples, output, options.data_dir, settings, progress=progress, execution=execution)

    def summarize(self, results: dict, options, out=None) -> None:
        print_eval_summary(results, self.columns.values(), out)

    def score_columns(self, results: dict) -> list:
        named = results["scoder"]["dataset_file"]
        found = re.search(r"-(v\d[\w.]*?)\.jsonl", named)
        if not found:
            raise ValueError(f"no dataset version in the dataset file name {named!r}")
        version = found.group(1)
        return [ScoreColumn(self.family, version, "", lambda entry: entry["base_status"] == PASS, results["pass_at_k"]["base"], "base"),
                ScoreColumn(self.name, version, "", lambda entry: entry["base_status"] == PASS and entry["plus_status"] == PASS,
                            results["pass_at_k"]["plus"], "plus")]

    def task_texts(self, options) -> list[str]:
        return [f"{problem.prompt}\n{problem.canonical_solution}" for problem in self.load(options.data_dir).problems.values()]

    def export(self, run_dir, runs, out_dir, model_name, allow_partial: bool, options) -> list:
        return export_evalplus(run_dir, runs, out_dir, model_name, allow_partial)


_BASE_TITLES = {"humaneval": "HumanEval", "mbpp": "MBPP"}


HUMANEVAL_PLUS = EvalPlusBenchmark("humaneval+", "humaneval", HUMANEVAL_PLUS_DATA, "HumanEval+")
HUMANEVAL_PLUS_MINI = EvalPlusBenchmark("humaneval+mini", "humaneval", HUMANEVAL_PLUS_MINI_DATA, "HumanEval+ Mini", decontaminate=False)
MBPP_PLUS = EvalPlusBenchmark("mbpp+", "mbpp", MBPP_PLUS_DATA, "MBPP+")
