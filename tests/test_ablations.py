"""`scoder ablations`: every recipe of an ablation set runs as its own job (its own process, run directory
and log), up to --jobs at once; failed jobs are reported and hide nothing; the finished runs are
compared in one report against the main recipe. The jobs here are tests/fixtures/fake_scoder_run.py, a
FAKE `scoder run` that writes run directories of real evalplus verdicts (a real run of even the smoke
recipe takes 20 minutes); the real job command is checked with `scoder run --dry-run`."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from scoder.ablations import recipe_files, run_ablations, scoder_run
from scoder.cli import main
from tests.conftest import REPO

FAKE_RUN = Path(__file__).parent / "fixtures" / "fake_scoder_run.py"


def fake_command(recipe: str, run_dir: str, container) -> list[str]:
    return [sys.executable, str(FAKE_RUN), recipe, run_dir]


@pytest.fixture
def recipes(tmp_path) -> Path:
    """main.yaml (the smoke recipe renamed) and ablations/ based on it: one that runs, one whose job
    fails, one that does not load."""
    (tmp_path / "main.yaml").write_text(f"base: {REPO / 'recipes' / 'smoke.yaml'}\nname: main-recipe\n")
    folder = tmp_path / "ablations"
    folder.mkdir()
    (folder / "one-round.yaml").write_text("base: ../main.yaml\nname: ablation-one-round\niterations: 1\n")
    (folder / "broken.yaml").write_text("base: ../main.yaml\nname: ablation-fails\n")
    (folder / "typo.yaml").write_text("base: ../main.yaml\nname: ablation-typo\niterations: many\n")
    return tmp_path


def times(output: Path) -> dict[str, tuple[float, float]]:
    return {path.name.removesuffix(".times"): tuple(map(float, path.read_text().split())) for path in output.glob("*.times")}


def test_failed_jobs_are_reported_and_the_rest_compared(recipes, tmp_path, capsys):
    output = tmp_path / "out"
    assert run_ablations([str(recipes / "ablations")], output, jobs=2, command=fake_command) == 1
    summary = json.loads((output / "ablations.json").read_text())
    assert summary["main"] == str(recipes / "main.yaml") and summary["reference"] == "main-recipe"
    outcome = {Path(job["recipe"]).name: (job["name"], job["status"]) for job in summary["jobs"]}
    assert outcome == {"main.yaml": ("main-recipe", "passed"), "one-round.yaml": ("ablation-one-round", "passed"),
                       "broken.yaml": ("ablation-fails", "failed"), "typo.yaml": ("", "failed")}
    jobs = {Path(job["recipe"]).name: job for job in summary["jobs"]}
    assert jobs["broken.yaml"]["exit_code"] == 2 and "training failed (fake)" in Path(jobs["broken.yaml"]["log"]).read_text()
    assert "iterations: expected an integer" in jobs["typo.yaml"]["error"]
    assert (output / "main-recipe" / "evaluate").is_dir() and (output / "logs" / "ablation-one-round.log").is_file()
    printed = capsys.readouterr().out
    assert "FAILED ablation-fails (exit code 2)" in printed and "training failed (fake)" in printed  # the log's tail
    # The report: both finished runs, real verdicts, deltas against the main recipe.
    table = (output / "report" / "report.md").read_text()
    rows = {line.split("|")[1].strip(): line for line in table.splitlines() if line.startswith("| ")}
    assert "main-recipe" in rows and "ablation-one-round" in rows and "ablation-fails" not in table
    # HumanEval+ pass@1 of each model (../shared/conformance/README.md), the ablation's as a delta against the main one.
    assert "run (reference)" in rows["main-recipe"] and "57.3" in rows["main-recipe"]
    assert "39.0" in rows["ablation-one-round"] and f"{39.0 - 57.3:.1f}" in rows["ablation-one-round"]
    spans = sorted(times(output).values())
    assert any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:])), "with --jobs 2 two jobs ran at once"


def test_jobs_one_at_a_time_and_all_passing(recipes, tmp_path):
    output = tmp_path / "out"
    listed = [str(recipes / "main.yaml"), str(recipes / "ablations" / "one-round.yaml")]
    assert run_ablations(listed, output, jobs=1, command=fake_command) == 0
    spans = sorted(times(output).values())
    assert len(spans) == 2 and spans[0][1] <= spans[1][0], "--jobs 1 runs one job at a time"


def test_the_main_recipe_is_the_common_base(recipes):
    files, main_path = recipe_files([str(REPO / "recipes" / "ablations")], None)
    assert main_path == REPO / "recipes" / "paper" / "scoder-ds6.7b-qwen7b.yaml" and files[0] == main_path
    assert len(files) == 1 + len(list((REPO / "recipes" / "ablations").glob("*.yaml")))
    with pytest.raises(ValueError, match="name it with --main"):
        recipe_files([str(REPO / "recipes" / "smoke.yaml"), str(REPO / "recipes" / "ablations" / "no-scorer.yaml")], None)
    files, main_path = recipe_files([str(recipes / "ablations")], str(recipes / "ablations" / "one-round.yaml"))
    assert main_path == recipes / "ablations" / "one-round.yaml" and len(files) == 3
    single = recipes / "single"
    single.mkdir()
    (single / "one.yaml").write_text("base: ../main.yaml\nname: only-one\n")
    assert recipe_files([str(single)], None) == ([recipes / "main.yaml", single / "one.yaml"], recipes / "main.yaml")


def test_the_real_job_command_is_scoder_run(recipes, tmp_path):
    command = scoder_run(str(recipes / "main.yaml"), str(tmp_path / "run"), None)
    assert scoder_run("r", "d", True)[-1] == "--container" and scoder_run("r", "d", False)[-1] == "--no-container"
    planned = subprocess.run(command + ["--dry-run"], capture_output=True, text=True, timeout=120)
    assert planned.returncode == 0, planned.stderr
    assert "recipe main-recipe:" in planned.stdout and str(tmp_path / "run") in planned.stdout


def test_command_line_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:  # refused while the arguments are parsed
        main(["ablations", str(REPO / "recipes" / "smoke.yaml"), "--jobs", "0", "--output", str(tmp_path)])
    assert exit_.value.code == 2 and "argument --jobs: 0 is not a count" in capsys.readouterr().err
