"""CI-like ablation runs: a recipe's ablation set as independent jobs, then one comparison report.

The recipes come as a folder (its *.yaml) or a list; the main recipe is the one they are all based on
(`base:`), or --main. Every recipe, the main one included, runs as its own `scoder run` process with
its own run directory and log file (OUT/<name>/, OUT/logs/<name>.log), up to `jobs` at once, on the
host or with each stage in its container. A job that fails (or a recipe that does not load) is
reported with the end of its log and stops nothing else. The finished runs are then compared in
`scoder report` with the main recipe's row as the reference (OUT/report/), and OUT/ablations.json
lists every job's outcome.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

LOG_TAIL_LINES = 15


@dataclass
class Job:
    recipe: str  # path of the recipe file
    name: str  # the recipe's name ("" when it did not load)
    run_dir: str
    log: str
    status: str = "pending"  # then passed or failed
    exit_code: int | None = None
    seconds: float = 0.0
    error: str | None = None


def scoder_run(recipe: str, run_dir: str, container: bool | None) -> list[str]:
    """The job's command: `scoder run` in a fresh process of this interpreter (this environment)."""
    flag = [] if container is None else ["--container" if container else "--no-container"]
    return [sys.executable, "-m", "scoder.cli", "run", recipe, "--run-dir", run_dir, "--no-progress", *flag]


def recipe_files(paths: list[str], main: str | None) -> tuple[list[Path], Path]:
    """The recipes to run (the main one first) and the main one: --main, else the listed recipe that all the
    others are based on, else the base they all share."""
    from scoder.config_loading import RecipeError

    files = []
    for path in map(Path, paths):
        files += sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    if not files:
        raise RecipeError(f"no recipes in {', '.join(paths)}")
    if main is None:
        bases = {path.resolve(): _base_of(path) for path in files}
        # One of them that all the others are based on, else the one base they all have.
        listed = [path for path in bases if len(bases) > 1 and all(base == path for other, base in bases.items() if other != path)]
        common = set(bases.values())
        if len(listed) == 1:
            main = listed[0]
        elif len(common) == 1 and None not in common:
            main = common.pop()
        elif len(bases) == 1:  # one recipe without a base: it is its own reference
            main = next(iter(bases))
        else:
            raise RecipeError("the recipes are not all based on one main recipe (`base:`): name it with --main")
    main_path = Path(main).resolve()
    return [main_path] + [path for path in files if path.resolve() != main_path], main_path


def _base_of(path: Path) -> Path | None:
    """The recipe `path` names as its base; None for a recipe without one (or that does not read: its job
    says why)."""
    import yaml

    try:
        base = (yaml.safe_load(path.read_text()) or {}).get("base")
    except (OSError, yaml.YAMLError, AttributeError):
        return None
    return (path.parent / base).resolve() if isinstance(base, str) else None


def run_ablations(paths: list[str], output_dir: str | Path, jobs: int = 1, container: bool | None = None,
                  main: str | None = None, command: Callable[[str, str, bool | None], list[str]] = scoder_run,
                  log=print) -> int:
    """Run every recipe, report the finished ones; 0 if all passed, 1 if any failed."""
    from harness.report.command import report
    from scoder.recipe import load_recipe

    if jobs < 1:
        raise ValueError("--jobs must be at least 1")
    output_dir = Path(output_dir)
    (output_dir / "logs").mkdir(parents=True, exist_ok=True)
    files, main_path = recipe_files(paths, main)
    planned = []
    for path in files:
        try:
            name = load_recipe(path).name
        except (ValueError, OSError) as error:  # RecipeError is a ValueError
            job = Job(str(path), "", "", "", status="failed", error=str(error))
            log(f"FAILED {path}: the recipe does not load: {error}")
        else:
            job = Job(str(path), name, str(output_dir / name), str(output_dir / "logs" / f"{name}.log"))
        planned.append(job)
    names = [job.name for job in planned if job.name]
    if len(set(names)) != len(names):
        raise ValueError(f"two recipes share a name, hence a run directory: {sorted(n for n in names if names.count(n) > 1)}")

    def execute(job: Job) -> None:
        log(f"start  {job.name} -> {job.run_dir} (log: {job.log})")
        started = time.monotonic()
        with open(job.log, "w") as handle:
            job.exit_code = subprocess.run(command(job.recipe, job.run_dir, container), stdout=handle, stderr=subprocess.STDOUT,
                                           stdin=subprocess.DEVNULL).returncode
        job.seconds = round(time.monotonic() - started, 1)
        finished = job.exit_code == 0 and (Path(job.run_dir) / "results" / "results.json").is_file()
        job.status = "passed" if finished else "failed"
        if finished:
            log(f"passed {job.name} in {job.seconds} s")
        else:
            job.error = f"exit code {job.exit_code}" + ("" if job.exit_code else ", but no results/results.json")
            tail = "\n".join("    " + line for line in Path(job.log).read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:])
            log(f"FAILED {job.name} ({job.error}) in {job.seconds} s; the end of {job.log}:\n{tail}")

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(execute, [job for job in planned if job.status == "pending"]))

    passed = [job for job in planned if job.status == "passed"]
    main_job = planned[0]
    reference = main_job.name if main_job.status == "passed" else None
    if passed:
        if reference is None:
            log(f"the main recipe {main_path} did not finish: the report has no reference row")
        report([job.run_dir for job in passed], [], ("md",), output_dir / "report", reference)
    (output_dir / "ablations.json").write_text(json.dumps({"main": str(main_path), "reference": reference,
                                                           "jobs": [asdict(job) for job in planned]}, indent=1))
    failed = [job for job in planned if job.status != "passed"]
    log(f"{len(passed)} of {len(planned)} jobs passed" + (f"; failed: {', '.join(job.name or job.recipe for job in failed)}" if failed else "")
        + (f"; report: {output_dir / 'report' / 'report.md'}" if passed else ""))
    return 1 if failed else 0
