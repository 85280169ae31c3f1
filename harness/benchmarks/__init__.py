"""Benchmark registry: one line per benchmark."""

from harness.benchmarks.bigcodebench import BIGCODEBENCH, BIGCODEBENCH_HARD
from harness.benchmarks.evalplus import HUMANEVAL_PLUS, HUMANEVAL_PLUS_MINI, MBPP_PLUS

BENCHMARKS = {
    benchmark.name: benchmark
    for benchmark in (HUMANEVAL_PLUS, HUMANEVAL_PLUS_MINI, MBPP_PLUS, BIGCODEBENCH, BIGCODEBENCH_HARD)
}
# evalplus' dataset names: the base and plus verdicts come from the same file anyway.
ALIASES = {"humaneval": "humaneval+", "mbpp": "mbpp+"}


def get_benchmark(name: str):
    key = ALIASES.get(name.lower(), name.lower())
    if key not in BENCHMARKS:
        raise KeyError(f"unknown benchmark {name!r}; choose one of {', '.join(sorted(BENCHMARKS))}")
    return BENCHMARKS[key]
