"""Benchmark registry: one line per benchmark. What a benchmark offers is harness.benchmarks.benchmark.Benchmark."""

from __future__ import annotations

import argparse

from harness.arguments import factor_above_one
from harness.benchmarks.benchmark import Benchmark
from harness.benchmarks.bigcodebench import BIGCODEBENCH, BIGCODEBENCH_HARD
from harness.benchmarks.cruxeval import CRUXEVAL_I, CRUXEVAL_O
from harness.benchmarks.evalplus import HUMANEVAL_PLUS, HUMANEVAL_PLUS_MINI, MBPP_PLUS
from harness.benchmarks.livecodebench import LIVECODEBENCH
from harness.execution.margins import DEFAULT_FACTOR
from harness.execution.task_env import TaskEnvironment

BENCHMARKS: dict[str, Benchmark] = {
    benchmark.name: benchmark
    for benchmark in (HUMANEVAL_PLUS, HUMANEVAL_PLUS_MINI, MBPP_PLUS, BIGCODEBENCH, BIGCODEBENCH_HARD, LIVECODEBENCH, CRUXEVAL_O, CRUXEVAL_I)
}
# evalplus' dataset names: the base and plus verdicts come from the same file anyway.
ALIASES = {"humaneval": "humaneval+", "mbpp": "mbpp+"}


def register(benchmark: Benchmark) -> None:
    """Add a benchmark (one defined outside this package); its name must be new."""
    if benchmark.name in BENCHMARKS or benchmark.name in ALIASES:
        raise ValueError(f"a benchmark named {benchmark.name!r} is already registered")
    BENCHMARKS[benchmark.name] = benchmark


def get_benchmark(name: str) -> Benchmark:
    key = ALIASES.get(name.lower(), name.lower())
    if key not in BENCHMARKS:
        raise KeyError(f"unknown benchmark {name!r}; choose one of {', '.join(BENCHMARKS)}")
    return BENCHMARKS[key]


def resolve(spec: str) -> tuple[Benchmark, dict]:
    """A recipe's benchmark, `name` or `name:variant`: the benchmark, and the variant as the values of its options.
    Refuses an unknown name or variant (a ValueError saying which)."""
    name, _, variant = spec.partition(":")
    try:
        benchmark = get_benchmark(name)
    except KeyError as error:
        raise ValueError(error.args[0]) from None
    return benchmark, benchmark.variant_options(variant) if variant else {}


def benchmark_options(spec: str, command: str = "eval", **values) -> tuple[Benchmark, argparse.Namespace]:
    """The benchmark a spec (`name` or `name:variant`) names, and its options as code that is not the command line
    gets them: the command line's defaults, then the variant's values, then `values` (data_dir=..., lcb_dir=...).
    A ValueError for a value no option of `command` takes."""
    benchmark, variant = resolve(spec)
    defaults = vars(parse_options([], command))
    unknown = sorted(set(values) - set(defaults))
    if unknown:
        raise ValueError(f"no benchmark option {', '.join(unknown)} for {command}; the options are {', '.join(sorted(defaults))}")
    return benchmark, argparse.Namespace(**{**defaults, **variant, **values})


def add_benchmark_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """The arguments that select and read benchmarks' data, for `command` (eval, generate, export)."""
    parser.add_argument("--data-dir", help="folder with the benchmark files (default: $SCODER_DATA_DIR, then the cache, then download)")
    owners: dict[str, str] = {"data_dir": "every benchmark"}  # each option's destination -> the family that declared it
    if command == "eval":
        parser.add_argument("--margin-factor", type=factor_above_one, default=DEFAULT_FACTOR, metavar="F",
                            help="the scores are also given for a machine F times faster and F times slower, from each "
                                 "verdict's margin to its time limit; a timeout runs with clocks up to F times longer "
                                 "(default %(default)s; BigCodeBench: its re-check only)")
        owners["margin_factor"] = "every benchmark"
    added = set()
    for benchmark in BENCHMARKS.values():
        if benchmark.add_arguments in added:  # a family's benchmarks share one
            continue
        added.add(benchmark.add_arguments)
        family, known = benchmark.name, len(parser._actions)
        try:
            benchmark.add_arguments(parser, command)
        except argparse.ArgumentError as error:  # a flag another family declared
            raise ValueError(f"{family}: {error}; a benchmark's options need names of their own") from None
        for action in parser._actions[known:]:
            if action.dest in owners:  # two families would read one value
                raise ValueError(f"{family}: its option {'/'.join(action.option_strings)} would share the value "
                                 f"{action.dest!r} with {owners[action.dest]}'s; give it a name of its own")
            owners[action.dest] = family


class _OptionsParser(argparse.ArgumentParser):
    def error(self, message: str):
        raise ValueError(message)


def parse_options(argv: list[str], command: str = "eval") -> argparse.Namespace:
    """The benchmarks' options from arguments as the command line takes them (the defaults for the rest), so that a
    default is declared once: in the family's add_arguments."""
    parser = _OptionsParser(add_help=False)
    add_benchmark_arguments(parser, command)
    return parser.parse_args(argv)


def leaderboards() -> dict[str, Benchmark]:
    """Each `scoder export` format, with a benchmark that exports it (any of its benchmarks exports all of them)."""
    found: dict[str, Benchmark] = {}
    for benchmark in BENCHMARKS.values():
        found.setdefault(benchmark.leaderboard, benchmark)
    return found


def column_titles() -> dict[str, str]:
    """Every report column key, in table order, with its title."""
    return {key: title for benchmark in BENCHMARKS.values() for key, title in benchmark.columns.items()}


def windowed_columns() -> set[str]:
    """The report columns whose scores may have a contest-date window."""
    return {key for benchmark in BENCHMARKS.values() if benchmark.windowed for key in benchmark.columns}


def execution_roles() -> tuple[str, ...]:
    """The container roles that run benchmarks' programs, each once."""
    return tuple(dict.fromkeys(benchmark.execution_role for benchmark in BENCHMARKS.values()))


def task_environments() -> dict[str, TaskEnvironment]:
    """The task-library environments the benchmarks run on, by name (`scoder sandbox setup NAME`)."""
    return {benchmark.task_environment.name: benchmark.task_environment
            for benchmark in BENCHMARKS.values() if benchmark.task_environment is not None}


def data_variables() -> tuple[str, ...]:
    """The host variables naming benchmarks' own data folders, each once."""
    return tuple(dict.fromkeys(variable for benchmark in BENCHMARKS.values() for variable in benchmark.data_variables))


def decontamination_benchmarks() -> tuple[str, ...]:
    """The benchmarks whose task texts training data is checked against where a recipe names none."""
    return tuple(name for name, benchmark in BENCHMARKS.items() if benchmark.decontaminate)


def roles_starting_processes() -> set[str]:
    """The execution roles of the benchmarks whose programs start processes."""
    return {benchmark.execution_role for benchmark in BENCHMARKS.values() if benchmark.starts_processes}
