"""The `scoder` command."""

from __future__ import annotations

import argparse
import os
import sys
import warnings

from harness.benchmarks import BENCHMARKS, get_benchmark, bigcodebench, livecodebench
from harness.benchmarks.data import DataError, read_dataset
from harness.execution.limits import Limits, TimePolicy
from harness.execution.sandbox import LAYERS, SandboxError
from harness.execution.task_env import ENVIRONMENTS, EnvironmentMissing, get_environment
from harness.samples import SamplesError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scoder", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    evaluate = commands.add_parser("eval", help="evaluate a samples file on a benchmark")
    evaluate.add_argument("--benchmark", required=True, help=f"one of {', '.join(BENCHMARKS)}, livecodebench (humaneval, mbpp are aliases)")
    evaluate.add_argument("--samples", help="JSONL of {task_id, solution|completion}, or an eval_results JSON (.gz ok)")
    evaluate.add_argument("--output", help="results file (default: beside the samples, <name>_eval_results.json)")
    evaluate.add_argument("--data-dir", help="folder with the benchmark files (default: $SCODER_DATA_DIR, then the cache, then download)")
    evaluate.add_argument("--parallel", type=int, help="worker processes (default: one per core)")
    evaluate.add_argument("--isolation", default="auto", choices=("auto",) + LAYERS, help="sandbox layer (default: strongest available)")
    evaluate.add_argument("--min-time-limit", type=float, default=TimePolicy.min_time_limit, help="seconds of CPU per input at least (evalplus default 1.0)")
    evaluate.add_argument("--gt-time-limit-factor", type=float, default=TimePolicy.gt_time_limit_factor, help="x the reference time per input (evalplus default 4.0)")
    evaluate.add_argument("--no-progress", action="store_true", help="no progress bars")
    bcb = evaluate.add_argument_group("BigCodeBench")
    bcb.add_argument("--split", default="complete", choices=bigcodebench.SPLITS, help="the prompt split the samples answer (default: complete)")
    bcb.add_argument("--version", default=bigcodebench.DEFAULT_VERSION, choices=tuple(bigcodebench.VERSIONS),
                     help=f"dataset version (default: {bigcodebench.DEFAULT_VERSION})")
    bcb.add_argument("--no-calibrate", action="store_true", help="run solutions as given (default: the code prompt and `pass` first, as upstream)")
    bcb.add_argument("--check-ground-truth", action="store_true", help="also check the reference solutions (cached); alone, without --samples, only that")
    lcb = evaluate.add_argument_group("LiveCodeBench")
    lcb.add_argument("--release", default=livecodebench.DEFAULT_RELEASE, help="release_v1 ... release_v6, release_latest, or shards v1 ... v6, vA_vB")
    lcb.add_argument("--start-date", help="first contest date included (YYYY-MM-DD)")
    lcb.add_argument("--end-date", help="last contest date included (YYYY-MM-DD)")
    lcb.add_argument("--lcb-dir", help=f"folder with the JSONL shards (default: ${livecodebench.DATA_DIR_VARIABLE}, then the cache, then the hub)")

    data = commands.add_parser("data", help="fetch and verify benchmark files")
    data.add_argument("benchmarks", nargs="*", default=list(BENCHMARKS), help="which (default: all)")
    data.add_argument("--data-dir")

    sandbox = commands.add_parser("sandbox", help="show which isolation layer this machine gives, or build a task environment")
    sandbox_commands = sandbox.add_subparsers(dest="action")
    setup = sandbox_commands.add_parser("setup", help="build a benchmark's task-library environment (virtualenv from its lock file)")
    setup.add_argument("environment", choices=tuple(ENVIRONMENTS))
    setup.add_argument("--python", help="the base interpreter (default: python3.10 on PATH, else pyenv's)")
    setup.add_argument("--force", action="store_true", help="rebuild even if it is ready")

    args = parser.parse_args(argv)
    try:
        if args.command == "eval":
            return _eval(args)
        if args.command == "data":
            return _data(args)
        if args.action == "setup":
            get_environment(args.environment).setup(args.python, args.force)
            return 0
        return _sandbox()
    except (DataError, SandboxError, EnvironmentMissing, SamplesError, KeyError, ValueError, OSError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"scoder: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("scoder: interrupted; finished samples are kept and a re-run resumes", file=sys.stderr)
        return 130


def _eval(args) -> int:
    from harness.evaluate import EvalSettings, evaluate
    from harness.report.tables import print_eval_summary

    benchmark = "livecodebench" if args.benchmark.lower() == "livecodebench" else get_benchmark(args.benchmark)
    progress = not args.no_progress and not os.environ.get("CI")
    if benchmark == "livecodebench":
        return _eval_livecodebench(args, progress)
    if benchmark.family == "bigcodebench":
        return _eval_bigcodebench(benchmark, args, progress)
    if not args.samples:
        raise SamplesError("--samples is required")
    settings = EvalSettings(TimePolicy(args.min_time_limit, args.gt_time_limit_factor), Limits(), args.parallel, args.isolation)
    results = evaluate(benchmark, args.samples, args.output, args.data_dir, settings, progress=progress)
    print_eval_summary(results)
    return 0


def _eval_livecodebench(args, progress: bool) -> int:
    from harness.evaluate_livecodebench import LiveCodeBenchSettings, evaluate
    from harness.report.tables import print_pass_at_k

    if not args.samples:
        raise SamplesError("--samples is required")
    livecodebench.shards_for(args.release)  # an unknown release is refused before anything runs
    settings = LiveCodeBenchSettings(args.release, args.start_date, args.end_date, parallel=args.parallel, isolation=args.isolation)
    results = evaluate(args.samples, args.output, args.lcb_dir, settings, progress)
    window = f" {args.start_date or '...'} to {args.end_date or '...'}" if args.start_date or args.end_date else ""
    print_pass_at_k(f"livecodebench {args.release}{window}", results)
    return 0


def _eval_bigcodebench(benchmark, args, progress: bool) -> int:
    from harness.evaluate_bigcodebench import BigCodeBenchSettings, evaluate
    from harness.report.tables import print_pass_at_k

    settings = BigCodeBenchSettings(args.version, args.split, not args.no_calibrate, args.parallel, args.isolation)
    results = evaluate(benchmark, args.samples, args.output, args.data_dir, settings, args.check_ground_truth, progress)
    print_pass_at_k(f"{benchmark.name} {args.version} {args.split}", results)
    return 0


def _data(args) -> int:
    for name in args.benchmarks:
        benchmark = get_benchmark(name)
        files = bigcodebench.VERSIONS.values() if benchmark.family == "bigcodebench" else [benchmark.data]
        for spec in files:
            content = read_dataset(spec, args.data_dir)
            print(f"{benchmark.name}: {spec.filename} ok ({len(content.splitlines())} tasks, md5 {spec.md5})")
    return 0


def _sandbox() -> int:
    from harness.execution.pool import WorkerPool

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        with WorkerPool(1) as pool:
            info = pool.describe()
    print(f"isolation: {info['isolation']}\nseccomp: {'on' if info['seccomp'] else 'OFF'}\nsandbox python: {info['sandbox_python']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
