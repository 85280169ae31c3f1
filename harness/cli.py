"""The `scoder` command."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

from harness import unwatched  # first: before anything imports tqdm
from harness import numpy_one_thread  # before anything imports numpy
from harness.arguments import positive_int
from harness.benchmarks.registry import BENCHMARKS, add_benchmark_arguments, get_benchmark, leaderboards, task_environments
from harness.api import USER_ERRORS
from harness.benchmarks.data import read_dataset
from harness.containers import IN_CONTAINER_VARIABLE
from harness.execution.executor import EXECUTORS, Executor
from harness.execution.sandbox import LAYERS
from harness.generation.backend import BACKENDS
from harness.generation.models import EMBEDDED_DEFAULT
from harness.generation.options import add_option_arguments, options_from_arguments
from harness.generation.random_models import SHAPES
from harness.output_paths import output_folder


def main(argv: list[str] | None = None, extensions=(), report_figures=None) -> int:
    """`extensions`: (command name, function that adds its subparser and returns its handler) pairs;
    `report_figures`: run directories -> extra figures for `report` (harness.report.command.FigureSource).
    The method's commands and plots come in this way, so the harness never imports the method."""
    parser = argparse.ArgumentParser(prog="scoder", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    evaluate = commands.add_parser("eval", help="evaluate a samples file on a benchmark")
    evaluate.add_argument("--benchmark", required=True, help=f"one of {', '.join(BENCHMARKS)} (humaneval, mbpp are aliases)")
    evaluate.add_argument("--samples", help="JSONL of {task_id, solution|completion}, or an eval_results JSON (.gz ok); "
                          "with --model, where the generated samples go")
    evaluate.add_argument("--output", help="results file (default: beside the samples, <name>_<benchmark>_eval_results.json); "
                          "an existing one is replaced only if scoder wrote it for the same samples and benchmark")
    evaluate.add_argument("--parallel", type=positive_int, help="worker processes (default: one per core)")
    evaluate.add_argument("--isolation", default="auto", choices=("auto",) + LAYERS, help="sandbox layer (default: strongest available)")
    evaluate.add_argument("--executor", default="local", choices=EXECUTORS,
                          help="where the sandboxed runs execute: this machine (default) or a Ray cluster (the ray extra), "
                          "--parallel workers per node")
    evaluate.add_argument("--ray-address", help="the Ray cluster to use (default: $RAY_ADDRESS, else a new one on this machine)")
    add_progress_argument(evaluate)
    evaluate.add_argument("--fresh", "--i-just-wanna-run", action="store_true",
                          help="discard this output's journal and results and evaluate every sample again (default: reuse them)")
    evaluate.add_argument("--allow-repeated-samples", action="store_true",
                          help="score a task's samples even where there are more than its generation record's n "
                               "(default: refused, as two runs writing one file would give)")
    add_benchmark_arguments(evaluate, "eval")
    generation = evaluate.add_argument_group("generation (with --model instead of --samples)")
    _add_generation_arguments(generation, required=False)
    evaluate.set_defaults(generation_flags=[action for action in generation._group_actions if action.dest != "model"])
    _add_container_arguments(evaluate, "the sandbox image (scoder-sandbox, scoder-bigcodebench for BigCodeBench)")

    generate = commands.add_parser("generate", help="generate a benchmark's samples with a model")
    generate.add_argument("--benchmark", required=True, help=f"one of {', '.join(BENCHMARKS)}")
    generate.add_argument("--output", required=True, help="samples JSONL; an existing one is resumed (if scoder generate wrote it "
                          "with the same settings; anything else is refused and left as it is)")
    add_progress_argument(generate)
    add_benchmark_arguments(generate, "generate")
    _add_generation_arguments(generate, required=True)
    _add_container_arguments(generate, "the backend's image (" + ", ".join(f"{name}: {entry.image}" for name, entry in BACKENDS.items()) + ")")
    generate.add_argument("--gpus", default="all", type=lambda text: int(text) if text.isdigit() else text,
                          help="with --container: all (default), none, a count, or device=0,1")

    serve = commands.add_parser("serve", help="serve a model over an OpenAI-compatible HTTP API")
    serve.add_argument("--model", default=EMBEDDED_DEFAULT, help=f"default: {EMBEDDED_DEFAULT}")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000, help="0 picks a free port (printed)")
    add_option_arguments(serve, ("hf",), leave_out=("base_prompt",))  # the route says which prompt form a request takes

    random_model = commands.add_parser("random-model", help="a model folder of a named shape with random weights, from its config "
                                       "(no download): memory, disk and speed checks at the paper's sizes")
    random_model.add_argument("shape", choices=tuple(SHAPES))
    random_model.add_argument("--output", required=True, help="a new folder")
    random_model.add_argument("--tokenizer", help=f"a tokenizer folder or model spec (default: {EMBEDDED_DEFAULT}'s)")
    random_model.add_argument("--dtype", default="bfloat16", choices=("bfloat16", "float32"), help="the weights' dtype on disk (default bfloat16)")

    sanitize = commands.add_parser("sanitize", help="the programs in raw model outputs (as evalplus.sanitize): "
                                   "<name>-sanitized.jsonl beside them, for eval")
    sanitize.add_argument("--samples", required=True, help="JSONL of raw outputs, {task_id, solution|raw_solution|completion} per line (.gz ok)")
    sanitize.add_argument("--benchmark", help=f"one of {', '.join(BENCHMARKS)}: its entry points and extraction "
                          "(default: none; every import and definition of the longest code block is kept)")
    add_benchmark_arguments(sanitize, "sanitize")

    data = commands.add_parser("data", help="fetch and verify benchmark files")
    data.add_argument("benchmarks", nargs="*", default=list(BENCHMARKS), help="which (default: all)")
    data.add_argument("--data-dir")

    sandbox = commands.add_parser("sandbox", help="show which isolation layer this machine gives, or build a task environment")
    sandbox_commands = sandbox.add_subparsers(dest="action")
    setup = sandbox_commands.add_parser("setup", help="build the benchmarks' task-library environments (virtualenvs from their lock files)")
    setup.add_argument("environment", nargs="?", choices=tuple(task_environments()), help="only this one (default: every one)")
    setup.add_argument("--python", help="the base interpreter of the one environment named (default: its Python version on PATH, "
                                        "else pyenv's)")
    setup.add_argument("--force", action="store_true", help="rebuild even if it is ready")

    report = commands.add_parser("report", help="comparison table of run directories against published baselines")
    report.add_argument("runs", nargs="*", metavar="RUN_DIR", help="a pipeline run directory, or a folder with scoder eval results")
    report_baselines = report.add_mutually_exclusive_group()
    report_baselines.add_argument("--baselines", nargs="+", metavar="PATH", help="published-score YAML files (default: results/baselines/*.yaml)")
    report_baselines.add_argument("--no-baselines", action="store_true", help="only the runs")
    report.add_argument("--reference", metavar="NAME", help="the row that deltas and paired tests are against (e.g. the full method)")
    report.add_argument("--format", default="md", help="comma-separated: md, csv, html, tex (default: md)")
    report.add_argument("--output", default="scoder_report", help="folder for report.<format> (default: scoder_report)")
    report.add_argument("--all-columns", action="store_true", help="also the columns that only baselines have")
    report.add_argument("--plots", action="store_true", help="also plots/<name>.png and .svg (always with the html format)")
    report.add_argument("--leaderboard", metavar="RESULTS_DIR", nargs="?", const="results",
                        help="instead: leaderboard.html over every run directory under RESULTS_DIR (default: results) and the baselines")

    export = commands.add_parser("export", help="leaderboard submission files from a run directory")
    export.add_argument("leaderboard", choices=tuple(leaderboards()))
    export.add_argument("run_dir", help="a pipeline run directory, or a folder with scoder eval results")
    export.add_argument("--output", required=True, help="folder for the submission files")
    export.add_argument("--model-name", help="the name to submit under (default: the samples' model, if it is a hub id)")
    export.add_argument("--allow-partial", action="store_true", help="also a run of part of a benchmark, labelled partial in the files")
    export.add_argument("--generation", nargs="+", metavar="KEY=VALUE",
                        help="for samples another tool made (no generation record in their lines): how they were made, "
                             "backend=... prompt_format=... temperature=... n=... [top_p=...], with --model-name")
    add_benchmark_arguments(export, "export")

    handlers = {name: add(commands) for name, add in extensions}

    args = parser.parse_args(argv)
    try:
        if args.command in ("eval", "generate") and args.container and not os.environ.get(IN_CONTAINER_VARIABLE):
            return _in_container(args, sys.argv[1:] if argv is None else argv)
        if args.command in handlers:
            return handlers[args.command](args)
        if args.command == "eval":
            return _eval(args)
        if args.command == "generate":
            _generate(args, progress_wanted(args))
            return 0
        if args.command == "sanitize":
            return _sanitize(args)
        if args.command == "data":
            return _data(args)
        if args.command == "random-model":
            return _random_model(args)
        if args.command == "report":
            return _report(args, report_figures)
        if args.command == "export":
            return _export(args)
        if args.command == "serve":
            from harness.generation.backend import load_backend
            from harness.generation.server import serve

            serve(load_backend("hf", args.model, options_from_arguments("hf", args)), args.model, args.host, args.port)
            return 0
        if args.action == "setup":
            _set_up_environments(args.environment, args.python, args.force)
            return 0
        return _sandbox()
    except BrokenPipeError:  # the reader went away (`scoder ... | head`): stop quietly, as other commands do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except USER_ERRORS as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"scoder: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as interruption:
        kept = interruption.args[0] if interruption.args else "nothing of this command was kept"
        print(f"scoder: interrupted; {kept}", file=sys.stderr)
        return 130


def _random_model(args) -> int:
    import torch

    from harness.generation.random_models import write_random_model

    device = "cuda" if torch.cuda.is_available() else "cpu"  # a GPU initialises 7B weights in seconds, a CPU in minutes
    folder = write_random_model(args.shape, args.output, args.tokenizer, args.dtype, device)
    size = sum(path.stat().st_size for path in folder.iterdir())
    print(f"{args.shape} with random weights: {folder} ({size / 1e9:.2f} GB)")
    return 0


def _add_generation_arguments(parser, required: bool) -> None:
    parser.add_argument("--model", required=required,
                        help=f"{EMBEDDED_DEFAULT} (embedded, offline), a local folder or .gguf file, a hub id, or the served model's name (openai)")
    parser.add_argument("--backend", default="hf", choices=tuple(BACKENDS), help="hf (default), vllm (GPU, optional extra), openai (any compatible server)")
    parser.add_argument("--n", type=positive_int, default=1, help="samples per task (default 1)")
    parser.add_argument("--temperature", type=float, default=0.0, help="0 (default) is greedy")
    parser.add_argument("--top-p", type=float, default=0.95, help="nucleus sampling when temperature > 0 (default 0.95, evalplus')")
    parser.add_argument("--max-new-tokens", type=int, help="default: the benchmark's (evalplus 768, bigcodebench 1280, livecodebench 2000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=positive_int, default=8, help="sequences per batch (hf, vllm) or concurrent requests (openai)")
    parser.add_argument("--limit", type=positive_int, help="only the first K tasks (a quick slice)")
    add_option_arguments(parser)


def add_progress_argument(parser) -> None:
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction,
                        help="progress bars (default: only when the output is a terminal and $CI is not set)")


def progress_wanted(args) -> bool:
    """Progress bars on a terminal; never in a redirected log (its carriage returns make a mess there) unless asked."""
    if args.progress is not None:
        return args.progress
    return unwatched.WATCHED


def _add_container_arguments(parser, image: str) -> None:
    parser.add_argument("--container", action="store_true", help=f"run this command in its pinned container: {image}")
    parser.add_argument("--image", help="with --container: another image for it")


def _in_container(args, argv: list[str]) -> int:
    """The same command, in its role's container, with its files mounted at the same paths."""
    from harness import containers

    if args.command == "eval" and args.model:
        raise ValueError("eval --container runs in the sandbox image, which has no model: generate first with "
                         "`scoder generate --container`, then `scoder eval --container --samples ...`")
    if args.command == "generate":
        role, gpus, outputs = containers.generation_role(args.backend), args.gpus, [args.output]
    else:
        role, gpus, outputs = get_benchmark(args.benchmark).execution_role, "none", [args.samples, args.output]
    folders = [os.path.dirname(os.path.abspath(path)) for path in outputs if path]
    for folder in folders:
        os.makedirs(folder, exist_ok=True)
    # Every argument that names an existing file or folder (data, model, adapter, a benchmark's own data option) is read
    # in there; what lies in an output folder comes with that folder, writable (a read-only mount of an existing
    # results file inside it would refuse the rename that replaces it).
    writable = [Path(folder).resolve() for folder in folders]
    inputs = [value for value in vars(args).values() if isinstance(value, str) and os.path.exists(value)
              and not any(Path(value).resolve().is_relative_to(folder) for folder in writable)]
    config = containers.ContainerConfig(enabled=True, images={role: args.image} if args.image else {}, gpus=gpus)
    spec = containers.python_spec("harness.cli", argv, role, config, writable=folders, read_only=inputs)
    return containers.run_in_container(spec)


def _set_up_environments(name: str | None, python: str | None, force: bool) -> None:
    environments = task_environments()
    chosen = [environments[name]] if name else list(environments.values())
    if python and len(chosen) > 1:
        raise ValueError(f"--python is the base interpreter of one environment: name it ({', '.join(environments)})")
    for environment in chosen:
        environment.setup(python, force)


def _generate(args, progress: bool, flag: str = "--output") -> dict:
    """Generate into args.output, which `flag` named (harness.api.generate)."""
    from harness.api import GenerationRequest, generate
    from harness.generation.backend import Decoding

    decoding = Decoding(args.n, args.temperature, args.top_p, args.max_new_tokens, args.seed, args.batch_size)
    request = GenerationRequest(args.benchmark, args.model, args.output, args.backend, options_from_arguments(args.backend, args),
                                decoding, args.limit, args.data_dir, progress)
    return generate(request, args, flag)


def _default_samples_path(args) -> str:
    """Where `scoder eval --model` puts its samples: one file per model, benchmark and settings."""
    model = os.path.basename(os.path.normpath(args.model)) if os.path.exists(args.model) else args.model
    name = f"{model.replace('/', '--')}--{get_benchmark(args.benchmark).samples_name(args)}--{args.backend}-t{args.temperature}-n{args.n}.jsonl"
    return os.path.join("scoder_runs", name)


def _eval(args) -> int:
    from harness.api import EvaluationRequest, evaluate
    from harness.evaluation import Execution, prepared_output

    progress = progress_wanted(args)
    if args.model:  # generate first: into --samples if given (resumed), else into scoder_runs/
        samples_flag = "--samples" if args.samples else "--model (its default samples file, scoder_runs/...; or give --samples)"
        args.samples = args.samples or _default_samples_path(args)
        prepared_output(Path(args.samples), args.output, get_benchmark(args.benchmark).name)  # a bad --output is refused before
        _generate(argparse.Namespace(**{**vars(args), "output": args.samples}), progress, samples_flag)
    else:
        _refuse_generation_flags(args)
        if not args.samples:
            raise ValueError("eval needs --samples FILE (or --model to generate them first)")
    execution = Execution(args.parallel, args.isolation, Executor(args.executor, args.ray_address))
    evaluate(EvaluationRequest(args.benchmark, args.samples, args.output, args.data_dir, progress, execution, args.fresh,
                               args.allow_repeated_samples), args)
    return 0


def _refuse_generation_flags(args) -> None:
    """Generation flags without --model would be ignored: said, rather than scoring other samples than the user meant."""
    given = [action.option_strings[0] for action in args.generation_flags if getattr(args, action.dest) != action.default]
    if given:
        raise ValueError(f"{', '.join(given)} only apply with --model (they say how samples are generated); --samples "
                         f"{args.samples} is scored as it is: drop {'them' if len(given) > 1 else 'it'}, or give --model to generate")


def _report(args, figures) -> int:
    from harness.report.command import leaderboard, report

    baselines = [] if args.no_baselines else args.baselines
    output_folder(args.output, "--output", "the report")
    if args.leaderboard:
        leaderboard(args.leaderboard, baselines, args.output)
        return 0
    if not args.runs:
        raise ValueError("report: give one or more RUN_DIR, or --leaderboard")
    formats = [name.strip() for name in args.format.split(",") if name.strip()]
    report(args.runs, baselines, formats, args.output, args.reference, all_columns=args.all_columns, plots=args.plots,
           figures=figures)
    return 0


def _export(args) -> int:
    import json

    from harness.report.exports import export_run, generation_record

    output_folder(args.output, "--output", "the submission files")
    generation = generation_record(args.generation, args.model_name) if args.generation else None
    files = export_run(args.leaderboard, args.run_dir, args.output, args.model_name, args.allow_partial, generation, args)
    print("\n".join(map(str, files)))
    manifest = json.loads(files[-1].read_text())
    if manifest["partial"]:
        print(f"PARTIAL, labelled so in the files: {'; '.join(manifest['partial'])}")
    if manifest["fill_in"]:
        print(f"fill in before submitting: {'; '.join(manifest['fill_in'])}")
    return 0


def _sanitize(args) -> int:
    from harness.sanitize_samples import sanitize_samples

    benchmark = get_benchmark(args.benchmark) if args.benchmark else None
    summary = sanitize_samples(Path(args.samples), benchmark.prompt_builder(args) if benchmark else None,
                               benchmark.name if benchmark else None)
    print(f"sanitized: {summary['output']} (samples: {summary['samples']}, changed: {summary['changed']}, "
          f"with no program found: {summary['empty']})")
    return 0


def _data(args) -> int:
    for name in args.benchmarks:
        benchmark = get_benchmark(name)
        files = benchmark.data_files()
        if not files:
            print(f"{benchmark.name}: no pinned file; its data is read when it is used (see --help of eval)")
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
    from harness.execution.sandbox import PROTECTS

    landlock = f"on (ABI {info['landlock']}): no change to files outside the run's folder, no TCP" if info["landlock"] else "OFF (Linux 5.13+ has it)"
    print(f"isolation: {info['isolation']}: {PROTECTS[info['isolation']]}\n"
          f"seccomp: {'on: no new processes, signals to others, ptrace, internet sockets or namespaces' if info['seccomp'] else 'OFF'}\n"
          f"landlock: {landlock}\nsandbox python: {info['sandbox_python']}\n"
          f"layers, strongest first: {', '.join(LAYERS)}; every run also gets rlimits and its verdict is decided by the harness")
    return 0


if __name__ == "__main__":
    sys.exit(main())
