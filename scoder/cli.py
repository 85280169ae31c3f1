"""The `scoder` command: the harness's commands plus `run RECIPE` and `ablations RECIPES` for the method."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path

from harness.arguments import positive_int
from harness.cli import add_progress_argument, main as harness_main, progress_wanted


def add_run_command(commands):
    run = commands.add_parser("run", help="run a recipe of the SCoder method (stages resume; unchanged ones are skipped)")
    run.add_argument("recipe", help="a recipe YAML, e.g. recipes/smoke.yaml")
    run.add_argument("--run-dir", help="default: the recipe's run_dir, else runs/<name>")
    run.add_argument("--dry-run", action="store_true", help="print the plan (which stages run, resume or are skipped) and stop")
    add_progress_argument(run)
    run.add_argument("--container", action=argparse.BooleanOptionalAction,
                     help="run each stage in its pinned container (Docker); default: the recipe's containers.enabled")
    run.add_argument("--skip-disk-check", action="store_true",
                     help="start even where the run directory's filesystem has less free space than the estimate (--dry-run prints it)")
    run.add_argument("--assume-device", choices=["cuda", "cpu"],
                     help="the device the disk estimate assumes full checkpoints are trained on (default: cuda where nvidia-smi exists)")
    return lambda args: run_recipe(args.recipe, args.run_dir, args.dry_run, progress_wanted(args), args.container,
                                   args.skip_disk_check, args.assume_device)


def run_recipe(path: str, run_dir: str | None, dry_run: bool, progress: bool, container: bool | None = None,
               skip_disk_check: bool = False, device: str | None = None) -> int:
    from harness.container_engine import ContainerError, engine_client
    from harness.files import Busy
    from scoder import disk
    from scoder.pipeline import PipelineError, benchmark_data, stages
    from scoder.recipe import load_recipe
    from scoder.runner import ForeignFiles, StageRunner, refuse_foreign
    from scoder.snippets import SnippetError
    from scoder.stage_exec import containerized_stages, images_of

    recipe = load_recipe(path)
    folder = run_dir or recipe.run_dir or os.path.join("runs", recipe.name)
    in_containers = recipe.containers.enabled if container is None else container
    missing: dict[str, str] | None = {} if dry_run else None  # the dry run shows the plan without an input file
    engine = contextlib.ExitStack()  # holds podman's service where one is started for the run
    try:
        if in_containers:  # the engine is asked for before any stage starts
            client = None if dry_run else engine.enter_context(engine_client())
            graph = containerized_stages(recipe, folder, progress, client, missing)
        else:
            graph = stages(recipe, progress, missing=missing)
        runner = StageRunner(folder, log=lambda line: print(line, flush=True))
        planned = runner.plan(graph)
        evaluates = any(stage.name == "evaluate" and action != "skip" for stage, _, action in planned)
        if dry_run:
            print(f"recipe {recipe.name}: {len(graph)} stages in {folder}" + (", in containers" if in_containers else ""))
            for stage, key, action in planned:
                where = f"  [{images_of(stage.name, recipe)}]" if in_containers else ""
                shown = "(no file)   " if stage.name in missing else key[:12]
                print(f"  {action:7} {stage.name:28} {shown}  <- {', '.join(stage.inputs) or '-'}{where}")
            for problem in missing.values():
                print(f"missing: {problem} (the run refuses to start without it)")
            try:
                refuse_foreign(Path(folder), planned)
            except ForeignFiles as error:
                print(f"refused: {error}")
            try:
                for line in benchmark_data(recipe) if evaluates else ():
                    print(f"data: {line}")
            except PipelineError as error:
                print(f"missing: {error} (the run refuses to start without it)")
            print("\n".join(disk.describe(disk.estimate(recipe, planned, folder, device, missing=tuple(missing)), folder)))
            return 0
        refuse_foreign(Path(folder), planned)  # before anything is checked at length
        for line in benchmark_data(recipe) if evaluates else ():  # the data of the last stage, before the first
            print(f"data: {line}", flush=True)
        if not skip_disk_check:
            estimate = disk.estimate(recipe, planned, folder, device)
            written, peak, _ = estimate.to_write()
            print(f"disk: the run writes {disk.human(written)}, {disk.human(peak)} at the peak "
                  f"({disk.human(disk.free_bytes(folder)[0])} free; --dry-run shows the estimate per stage)", flush=True)
            refused = disk.refusal(estimate, folder)
            if refused:
                raise PipelineError(refused)
        summaries = runner.run(graph)
    except (PipelineError, SnippetError, ContainerError, Busy, ForeignFiles) as error:
        print(f"scoder: error: {error}", file=sys.stderr)
        return 2
    finally:
        engine.close()
    print(f"results: {summaries['results']['table']}")
    return 0


def add_ablations_command(commands):
    ablations = commands.add_parser("ablations", help="run a recipe's ablation set as independent jobs, then compare them in one report")
    ablations.add_argument("recipes", nargs="+", metavar="RECIPES", help="a folder of recipes (e.g. recipes/ablations) or recipe files")
    ablations.add_argument("--main", help="the reference recipe (default: the one the recipes are all based on); it runs too")
    ablations.add_argument("--jobs", type=positive_int, default=1, help="recipes run at once (default 1)")
    ablations.add_argument("--output", default=os.path.join("runs", "ablations"),
                           help="run directories, logs/, report/ and ablations.json go here (default: runs/ablations)")
    ablations.add_argument("--container", action=argparse.BooleanOptionalAction,
                           help="run every stage in its pinned container (default: each recipe's containers.enabled)")

    def handle(args) -> int:
        from harness.output_paths import output_folder
        from scoder.ablations import run_ablations

        output_folder(args.output, "--output", "the ablations' run directories, logs and report")
        return run_ablations(args.recipes, args.output, args.jobs, args.container, args.main)

    return handle


def report_figures(run_dirs):
    """The method's plots for `scoder report` (imported only when a report is made)."""
    from scoder.iterations import figures

    return figures(run_dirs)


def main(argv: list[str] | None = None) -> int:
    return harness_main(argv, extensions=[("run", add_run_command), ("ablations", add_ablations_command)], report_figures=report_figures)


if __name__ == "__main__":
    sys.exit(main())
