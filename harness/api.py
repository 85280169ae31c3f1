"""The harness as a typed Python API: a request to generate a benchmark's samples, or to evaluate a samples file.

The command line (harness.cli) turns its flags into these requests and the method (scoder.pipeline) builds them
from a recipe; both go through the functions here, so the checks made before a model loads or a sandbox starts
are the same for both. A request is data: written as JSON, it crosses a container boundary, and
`python -m harness.api REQUEST.json` runs it inside the container (scoder.stage_exec).

Scores come out through the Benchmark (its score_columns), named as the evaluator names them, so a caller reads
pass@1 without knowing any results file's layout.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from harness.benchmarks.benchmark import Benchmark
from harness.benchmarks.data import DataError
from harness.benchmarks.registry import benchmark_options, resolve
from harness.container_engine import ContainerError
from harness.evaluation_runs import Execution
from harness.execution.executor import Executor
from harness.execution.sandbox import SandboxError
from harness.execution.task_env import EnvironmentMissing
from harness.files import Busy, write_atomically
from harness.generation.backend import Decoding
from harness.generation.models import ModelError
from harness.generation.options import make_options
from harness.samples import SamplesError

# The errors that are a user's to fix (a missing file, a bad option): said in a line, not a traceback.
USER_ERRORS = (DataError, SandboxError, EnvironmentMissing, SamplesError, ModelError, ContainerError, Busy, KeyError,
               ValueError, OSError)


@dataclass(frozen=True)
class GenerationRequest:
    """Generate a benchmark's samples into `output` (an existing file of the same settings is resumed)."""
    benchmark: str  # a registered name, or a recipe's name:variant (bigcodebench-hard:instruct)
    model: str
    output: str  # samples JSONL
    backend: str = "hf"
    backend_options: object = None  # the backend's options dataclass (harness.generation.options); None: its defaults
    decoding: Decoding = Decoding()  # max_new_tokens None: the benchmark's default
    limit: int | None = None  # only the first `limit` tasks
    data_dir: str | None = None  # None: $SCODER_DATA_DIR, then the cache, then download
    progress: bool = False


@dataclass(frozen=True)
class EvaluationRequest:
    """Evaluate a samples file on a benchmark into `output` (default: beside the samples)."""
    benchmark: str  # a registered name, or a recipe's name:variant
    samples: str
    output: str | None = None
    data_dir: str | None = None
    progress: bool = False
    execution: Execution = field(default_factory=Execution)
    fresh: bool = False  # discard this output's journal and results first
    allow_repeated_samples: bool = False  # score more samples of a task than its generation record's n


def generate(request: GenerationRequest, options: argparse.Namespace | None = None, flag: str = "--output") -> dict:
    """Generate; returns the generation's summary. Every check that can fail comes before the model loads.
    `options`: the benchmarks' options as the command line parsed them (default: the spec's variant and data_dir);
    `flag`: how the caller's user named the output, for messages."""
    from harness.generate import check_samples_output, generate_samples, precheck_output
    from harness.generation.backend import load_backend

    output = check_samples_output(request.output, flag)
    benchmark, options = _benchmark(request.benchmark, request.data_dir, "generate", options)
    build_prompts = benchmark.prompt_builder(options)  # loads the data: bad data fails before the model loads
    precheck_output(output, flag, request.backend, request.decoding)
    backend = load_backend(request.backend, request.model, request.backend_options)
    summary = generate_samples(backend, build_prompts(backend.chat), request.decoding, output, request.limit, request.progress, flag)
    print(f"samples: {summary['output']} ({summary['generated_tasks']} tasks generated, {summary['kept_tasks']} kept; "
          f"{summary['tokens']} tokens in {summary['seconds']} s, {summary['tokens_per_second']} tok/s)")
    return summary


def evaluate(request: EvaluationRequest, options: argparse.Namespace | None = None) -> dict[str, float]:
    """Evaluate, print the benchmark's summary, and return pass@1 of each score (pass_at_1). `options`: as for
    generate."""
    from harness.evaluation import discard_results, prepared_output, refuse_repeated_samples
    from harness.execution import calibration

    benchmark, options = _benchmark(request.benchmark, request.data_dir, "eval", options)
    samples = Path(request.samples)
    output = prepared_output(samples, request.output, benchmark.name)
    # Once the request is known to be sound, measured on the core left idle while the samples and the benchmark's data
    # load, and then on the cores the evaluation's runs leave idle (harness.evaluation).
    calibration.begin()
    if not request.allow_repeated_samples:
        refuse_repeated_samples(samples)
    if request.fresh:
        discard_results(output, samples, benchmark.name)
    results = benchmark.evaluate(request.samples, str(output), options, request.execution, request.progress)
    benchmark.summarize(results, options)
    return pass_at_1(benchmark, results)


def run(request: GenerationRequest | EvaluationRequest) -> None:
    """Run a request of either kind."""
    if isinstance(request, GenerationRequest):
        generate(request)
    else:
        evaluate(request)


def results_path(request: EvaluationRequest) -> Path:
    """Where an evaluation writes its results."""
    from harness.evaluation import default_output_path

    return Path(request.output) if request.output else default_output_path(Path(request.samples), resolve(request.benchmark)[0].name)


def read_scores(request: EvaluationRequest) -> dict[str, float]:
    """pass@1 of each score of a finished evaluation (one run elsewhere, in a container), from its results file."""
    return pass_at_1(resolve(request.benchmark)[0], json.loads(results_path(request).read_text()))


def pass_at_1(benchmark: Benchmark, results: dict) -> dict[str, float]:
    """pass@1 (a fraction) of each score a results file holds, by the name of its test set where it holds several
    (evalplus: base, plus), else "pass@1". A SamplesError where there is none: no sample had a verdict."""
    from harness.evaluation import no_verdict_warning
    from harness.samples import SamplesError

    columns = benchmark.score_columns(results)
    if any("pass@1" not in column.reported for column in columns):
        why = (no_verdict_warning(results) or "the results hold no judged sample").removeprefix("warning: ")
        raise SamplesError(f"{benchmark.name}: no score: {why}")
    return {column.tests or "pass@1": column.reported["pass@1"] for column in columns}


def data_availability(benchmark: str, data_dir: str | None = None):
    """Where the data of a benchmark (name or name:variant) will come from, found without downloading it (a
    harness.benchmarks.data.Availability); a DataError, saying what to set, where it cannot be had now."""
    found, options = _benchmark(benchmark, data_dir, "eval", None)
    return found.data_availability(options)


def _benchmark(spec: str, data_dir: str | None, command: str, options: argparse.Namespace | None):
    """The benchmark of a spec, and its options: those given, else the spec's variant's with the data folder."""
    if options is None:
        return benchmark_options(spec, command, data_dir=data_dir)
    benchmark, variant = resolve(spec)
    if variant:  # given options already say what a variant would: two answers, one of them silently dropped
        flags = " ".join(f"--{name.replace('_', '-')} {value}" for name, value in variant.items())
        raise ValueError(f"benchmark {spec}: a variant comes with options of its own; give {benchmark.name} and {flags}")
    return benchmark, options


def request_to_json(request: GenerationRequest | EvaluationRequest) -> dict:
    """The request as JSON data, with its kind; request_from_json reads it back as an equal request."""
    kind = "generation" if isinstance(request, GenerationRequest) else "evaluation"
    return {"request": kind, **dataclasses.asdict(request)}


def request_from_json(data: dict) -> GenerationRequest | EvaluationRequest:
    fields = {key: value for key, value in data.items() if key != "request"}
    if data["request"] == "generation":
        options = fields["backend_options"]
        return GenerationRequest(**{**fields, "decoding": Decoding(**fields["decoding"]),
                                    "backend_options": None if options is None else make_options(fields["backend"], options)})
    if data["request"] == "evaluation":
        execution = fields["execution"]
        return EvaluationRequest(**{**fields, "execution": Execution(execution["parallel"], execution["isolation"],
                                                                     Executor(**execution["executor"]))})
    raise ValueError(f"unknown request kind {data['request']!r}: generation or evaluation")


def write_request(request: GenerationRequest | EvaluationRequest, path: Path) -> None:
    write_atomically(Path(path), (json.dumps(request_to_json(request), indent=1) + "\n").encode())


def read_request(path: Path) -> GenerationRequest | EvaluationRequest:
    return request_from_json(json.loads(Path(path).read_text()))


def main(argv: list[str] | None = None) -> int:
    """Run one request written as JSON (inside a container: scoder.stage_exec sends it there)."""
    parser = argparse.ArgumentParser(prog="python -m harness.api", description=main.__doc__)
    parser.add_argument("request", help="a request's JSON file (harness.api.write_request)")
    args = parser.parse_args(argv)
    try:
        run(read_request(Path(args.request)))
    except USER_ERRORS as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"scoder: error: {message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
