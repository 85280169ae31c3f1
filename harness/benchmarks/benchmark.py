"""What a benchmark is to the rest of the harness: the one interface the command line, the containers, the
report, the exports and the method's decontamination ask, so that none of them knows a benchmark by name.

A benchmark's options are its command-line arguments (add_arguments), a default declared once: the command line
parses them, and code that is not the command line (harness.api, decontamination) gets their defaults with the
values a recipe's `name:variant` gives (harness.benchmarks.registry.benchmark_options). Options arrive as an
argparse.Namespace holding every registered benchmark's options; each benchmark reads its own.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable, NamedTuple, Protocol

from harness.execution.task_env import TaskEnvironment

class ScoreColumn(NamedTuple):
    """One score a results file holds, for the report: which column, and how to recount it."""
    key: str  # a key of the benchmark's `columns`
    version: str  # the dataset version, or the LiveCodeBench release
    window: str  # contest dates "2024-08-01..2025-02-01"; "" for the whole release or a benchmark without dates
    passed: Callable[[dict], bool]  # whether one entry of the results' "eval" passed
    reported: dict  # the pass@k the evaluator wrote, which the entries must reproduce
    tests: str = ""  # where a results file holds several scores, the name of this one's test set (evalplus: base, plus)


class Benchmark(Protocol):
    name: str  # the registry's name: --benchmark, recipes, and the results' "benchmark"
    # The container role whose image, containers/<role>/Dockerfile, runs its programs: isolated (no network, no GPU),
    # as every benchmark's execution role is. "sandbox" (the standard library) unless its tasks need libraries.
    execution_role: str
    # The Python and libraries its programs run on when not the harness's own (None): built on the host by
    # `scoder sandbox setup NAME` from the same lock file its execution role's image installs.
    task_environment: TaskEnvironment | None
    # Its programs start processes, which the sandbox allows only in PID and network namespaces of their own: a
    # container of its execution role cannot run them as uid 0.
    starts_processes: bool
    # Host variables naming its data outside --data-dir (a folder of its own): every container receives them.
    data_variables: tuple[str, ...]
    leaderboard: str  # the `scoder export` format its results go to
    columns: dict[str, str]  # the report's column keys for its scores -> their titles, in table order
    windowed: bool  # whether its scores have a contest-date window (published baselines may give one)
    hub_only_data: bool  # its data lives on the Hugging Face hub only: decontamination goes on without it
    # For planning a run before any data is read (its disk estimate): how many tasks its default data holds at most,
    # and its prompts' default generation budget in tokens, the largest where its prompt forms differ.
    task_count: int
    max_new_tokens: int
    # Whether training data is checked against its task texts where a recipe does not name the benchmarks
    # (decontamination.benchmarks): SCoder's evaluation benchmarks, each once (not a subset of another's tasks).
    decontaminate: bool

    # A function, shared by the benchmarks of one family (a staticmethod): the command line calls each distinct
    # one once. It adds the arguments the benchmark reads to the parser of `command`: eval and generate select
    # its problems, export reads what its submission needs.
    add_arguments: Callable[[argparse.ArgumentParser, str], None]

    def variant_options(self, variant: str) -> dict:
        """A recipe's `name:variant` (bigcodebench-hard:instruct, livecodebench:release_v5) as the values of its options
        (their destinations: {"split": "instruct"}); a ValueError for a variant it does not have."""

    def data_files(self) -> list:
        """The harness.benchmarks.data.DatasetFile it reads, for `scoder data` (none if fetched otherwise)."""

    def data_availability(self, options: argparse.Namespace):
        """Where the data these options select will come from (a harness.benchmarks.data.Availability), found
        without downloading it: a recipe's run asks before its first stage. A DataError, saying what to set, where
        the data is not on this machine and cannot be downloaded now (offline, or its source does not answer)."""

    def prompt_builder(self, options: argparse.Namespace) -> Callable[[bool], object]:
        """Loads its data now (bad data fails before a model loads); returns chat -> PromptSet."""

    def samples_name(self, options: argparse.Namespace) -> str:
        """Its part of a default samples file name (the benchmark, and a split where prompts differ)."""

    def evaluate(self, samples: str, output: str | None, options: argparse.Namespace, execution, progress: bool) -> dict:
        """Evaluate a samples file through harness.evaluation; returns the results as written."""

    def summarize(self, results: dict, options: argparse.Namespace, out=None) -> None:
        """The console summary of an evaluation."""

    def score_columns(self, results: dict) -> list[ScoreColumn]:
        """The scores of one of its results files."""

    def task_texts(self, options: argparse.Namespace) -> list[str]:
        """One text per task (prompts and reference solution), which training data must not contain."""

    def export(self, run_dir: Path, runs: list, out_dir: Path, model_name: str | None, allow_partial: bool,
               options: argparse.Namespace) -> list[Path]:
        """Its leaderboard's submission files (the export of `leaderboard`) from a run directory's results of the
        benchmarks that go to it (harness.report.submission.Evaluated, found by harness.report.exports)."""
