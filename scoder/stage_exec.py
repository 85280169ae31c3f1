"""A recipe's stages in their pinned containers (`scoder run --container`, or `containers: {enabled: true}`).

The host plans the run and writes each stage's manifest as always; a stage's body runs in its role's
container as `python -m scoder.stage_exec RUN_DIR STAGE`, which rebuilds the stage graph from the
recipe (saved in the stage's folder as data) and runs that one body. The run directory is mounted at
its own path, so records, journals and checkpoints are written exactly where a host run writes them,
and a run resumes across host and container alike (stage keys do not depend on where a stage runs).

The evaluate stage is the exception: its generation needs the model (vllm or train image, GPUs) and
its execution needs the sandbox (no network, no GPU), which one container cannot be. Its body stays
on the host, a loop that sends each harness.api request, a generation or an evaluation, to its own
container: written as JSON beside the file it makes, and run there by `python -m harness.api REQUEST.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

from harness.api import write_request
from harness.benchmarks.registry import resolve
from harness.containers import ensure_startable, generation_role, python_spec, run_in_container
from scoder.config_loading import as_dict, build
from scoder.recipe import Recipe
from scoder.runner import Stage, git_revision, versions, write_json

RECIPE_FILE = "container.recipe.json"
RESULT_FILE = "container.result.json"
GENERATION_STAGES = ("sample", "score", "synthesize")  # what the synthesizer or the judge generates


def role_of(stage_name: str, recipe: Recipe) -> str:
    """The image a stage runs in: generation in vllm's when that is the backend, all else in train's
    (training, gradients, and the small data stages, which need the package's full dependencies)."""
    if stage_name.rsplit("/", 1)[-1] in GENERATION_STAGES:
        return generation_role(recipe.generation.backend)
    return "train"


def images_of(stage_name: str, recipe: Recipe) -> str:
    """Where a stage runs, for the dry run."""
    image = recipe.containers.image
    if stage_name == "evaluate":
        executions = dict.fromkeys(image(resolve(name)[0].execution_role) for name in recipe.evaluation.benchmarks)
        return f"{image(generation_role(recipe.generation.backend))}, then {', '.join(executions)}"
    return image(role_of(stage_name, recipe))


def containerized_stages(recipe: Recipe, run_dir: str | os.PathLike, progress: bool, client=None,
                         missing: dict[str, str] | None = None) -> list[Stage]:
    """The recipe's stage graph with every body sent to its container (`client`: a docker-py client,
    default docker.from_env() when a stage runs; `missing`: as scoder.pipeline.stages takes it)."""
    from scoder.pipeline import stages

    config = recipe.containers
    for name in recipe.evaluation.benchmarks:  # refused now, not after the training
        ensure_startable(resolve(name)[0].execution_role)
    run_dir = Path(run_dir).resolve()
    inputs = _local_paths(as_dict(recipe))

    def run_request(request, role: str) -> None:
        from scoder.pipeline import PipelineError

        output = Path(request.output)
        sent = output.with_name(output.name + ".request.json")
        write_request(request, sent)
        # The evaluate step sees its own folder writable, the rest of the run (the checkpoints) read-only.
        spec = python_spec("harness.api", [sent], role, config, [run_dir / "evaluate"], [run_dir, *inputs])
        code = run_in_container(spec, client)
        if code != 0:
            raise PipelineError(f"evaluate: {request.benchmark}: the {spec.image} container exited with code {code} "
                                f"running {sent} (its error is printed above)")

    graph = stages(recipe, progress, run_request, missing)
    return [stage if stage.name == "evaluate" else replace(stage, body=_body_in_container(stage.name, recipe, run_dir, progress, inputs, client))
            for stage in graph]


def _body_in_container(name: str, recipe: Recipe, run_dir: Path, progress: bool, inputs: list[str], client):
    def body(_config: dict, folder: Path, _inputs: dict[str, Path], _context) -> dict:
        from scoder.pipeline import PipelineError

        write_json(folder / RECIPE_FILE, as_dict(recipe))
        (folder / RESULT_FILE).unlink(missing_ok=True)  # a result left by an earlier try is not this one's
        args = [str(run_dir), name] + ([] if progress else ["--no-progress"])
        spec = python_spec("scoder.stage_exec", args, role_of(name, recipe), recipe.containers, [run_dir], inputs)
        code = run_in_container(spec, client)
        if code != 0:
            raise PipelineError(f"{name}: the {spec.image} container exited with code {code} (its output is above)")
        result = json.loads((folder / RESULT_FILE).read_text())
        return {**result["summary"], "container": {"image": spec.image, "role": spec.role, "versions": result["versions"],
                                                   "git": result["git"]}}
    return body


def _local_paths(data) -> list[str]:
    """Every string in the recipe that names an existing file or folder (seed data, snippets, data
    directories, local models): what its stages read, mounted read-only."""
    if isinstance(data, dict):
        return [path for value in data.values() for path in _local_paths(value)]
    if isinstance(data, (list, tuple)):
        return [path for value in data for path in _local_paths(value)]
    return [os.path.abspath(data)] if isinstance(data, str) and data and os.path.exists(data) else []


def main(argv: list[str] | None = None) -> int:
    """Inside the container: run one stage's body; the host writes its manifest."""
    from scoder.pipeline import stages

    parser = argparse.ArgumentParser(prog="python -m scoder.stage_exec", description=main.__doc__)
    parser.add_argument("run_dir")
    parser.add_argument("stage")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    run_dir, folder = Path(args.run_dir), Path(args.run_dir) / args.stage
    recipe = build(Recipe, json.loads((folder / RECIPE_FILE).read_text()))
    stage = {stage.name: stage for stage in stages(recipe, not args.no_progress)}[args.stage]
    summary = stage.body(stage.config, folder, {name: run_dir / name for name in stage.inputs}, stage.context)
    write_json(folder / RESULT_FILE, {"summary": summary, "versions": versions(), "git": git_revision()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
