"""LiveCodeBench code generation as a Benchmark: the package's adapter to the rest of the harness.

  tasks.py    releases, shards and problems (the dataset's loading script, lcb_runner's schema and date window)
  grading.py  lcb_runner's rules: program preparation, output comparison, timeouts, reliability guard
  prompts.py  lcb_runner's prompts and its extraction (the last fenced block)
  scoring.py  the evaluation plan: a sample's tests in one run, judged by the harness
  export.py   a LiveCodeBench submissions folder
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from harness.arguments import positive_int
from harness.benchmarks.benchmark import ScoreColumn
from harness.benchmarks.data import Availability
from harness.benchmarks.livecodebench.export import export_livecodebench
from harness.benchmarks.livecodebench.prompts import MAX_NEW_TOKENS, livecodebench_prompts
from harness.benchmarks.livecodebench.scoring import LiveCodeBenchSettings, evaluate
from harness.benchmarks.livecodebench.tasks import (DATA_DIR_VARIABLE, DEFAULT_RELEASE, NAME, SHARD_CONTENTS, data_availability, load_problems,
                                                    release_label, shards_for, window)
from harness.execution.limits import MIB
from harness.report.console import print_pass_at_k
from harness.samples import SamplesError


def add_livecodebench_arguments(parser, command: str) -> None:
    group = parser.add_argument_group("LiveCodeBench")
    if command != "export":
        group.add_argument("--release", default=DEFAULT_RELEASE, help="release_v1 ... release_v6, release_latest, or shards v1 ... v6, vA_vB")
        group.add_argument("--start-date", help="first contest date included (YYYY-MM-DD)")
        group.add_argument("--end-date", help="last contest date included (YYYY-MM-DD)")
    if command == "eval":
        group.add_argument("--lcb-stack-mib", type=positive_int, help="the programs' stack limit in MiB (default: this "
                           "machine's, as lcb_runner's process inherits it: `ulimit -s`)")
    group.add_argument("--lcb-data", "--lcb-dir", dest="lcb_dir",
                       help="folder with the JSONL shards, or one JSONL(.gz) file of problems in the upstream row format "
                            f"(default: ${DATA_DIR_VARIABLE}, then the cache, then the hub)")


@dataclass(frozen=True)
class LiveCodeBenchmark:
    """LiveCodeBench code generation as a harness.benchmarks.benchmark.Benchmark."""
    name = NAME
    columns = {NAME: "LiveCodeBench"}
    execution_role = "sandbox"
    task_environment = None
    starts_processes = False
    data_variables = (DATA_DIR_VARIABLE,)
    task_count = sum(count for count, _ in SHARD_CONTENTS.values())  # every shard; a window or an older release has fewer
    max_new_tokens = MAX_NEW_TOKENS
    leaderboard = "livecodebench"
    windowed = True
    hub_only_data = True  # large shards on the hub, no file to pin here
    decontaminate = True
    add_arguments = staticmethod(add_livecodebench_arguments)

    def variant_options(self, variant: str) -> dict:
        shards_for(variant)  # an unknown release is refused
        return {"release": variant}

    def data_files(self) -> list:
        return []

    def data_availability(self, options) -> Availability:
        return data_availability(options.release, options.lcb_dir)

    def prompt_builder(self, options):
        return partial(livecodebench_prompts, load_problems(options.release, options.start_date, options.end_date, options.lcb_dir))

    def samples_name(self, options) -> str:
        return self.name

    def evaluate(self, samples, output, options, execution, progress: bool) -> dict:
        if not samples:
            raise SamplesError("--samples is required")
        shards_for(options.release)  # an unknown release is refused before anything runs
        stack = {"stack_bytes": options.lcb_stack_mib * MIB} if options.lcb_stack_mib else {}
        settings = LiveCodeBenchSettings(options.release, options.start_date, options.end_date, **stack,
                                         margin_factor=options.margin_factor)
        return evaluate(samples, output, options.lcb_dir, settings, progress, execution)

    def summarize(self, results: dict, options, out=None) -> None:
        window = f" {options.start_date or '...'} to {options.end_date or '...'}" if options.start_date or options.end_date else ""
        print_pass_at_k(f"{self.name} {release_label(results['scoder'])}{window}", results, out)

    def score_columns(self, results: dict) -> list:
        meta = results["scoder"]
        return [ScoreColumn(NAME, release_label(meta), window(meta["start_date"], meta["end_date"]),
                            lambda entry: entry["passed"], results["pass_at_k"])]

    def task_texts(self, options) -> list[str]:
        return [f"{problem.question_content}\n{problem.starter_code}" for problem in load_problems(options.release, data_dir=options.lcb_dir)]

    def export(self, run_dir, runs, out_dir, model_name, allow_partial: bool, options) -> list:
        return export_livecodebench(run_dir, runs, out_dir, model_name, allow_partial, lcb_dir=options.lcb_dir)


LIVECODEBENCH = LiveCodeBenchmark()
