"""The whole method end to end on the embedded model, at the smallest size that still runs every stage
(one iteration, two snippets, one training step per SFT), then what a re-run does: skip everything,
rerun only what a change reaches, and resume a killed stage without losing or repeating records."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = os.environ.get("SCODER_DATA_DIR", str(ROOT.parent / "shared" / "benchmarks"))
SFT = "{method: lora, epochs: 1, learning_rate: 3.0e-4, batch_size: 4, lora_r: 4, lora_alpha: 8, checkpoints: 1, max_length: 384}"
RECIPE = f"""
name: tiny
iterations: 1
synthesizer:
  seed_data: seed.jsonl
  sft: {SFT}
snippets: {{source: stdlib, max_lines: 8, limit: 3}}
sampling: {{checkpoints: 1, samples_per_checkpoint: 2, snippets_per_iteration: 2, temperature: 0.8, max_new_tokens: 160}}
scoring: {{keep_fraction: 1.0, max_new_tokens: 96}}
selection:
  method: gradient
  reference_sft: {SFT}
  gradients: {{projection_dim: 256, max_length: 384}}
synthesis: {{samples: 1, temperature: 0.8, max_new_tokens: 160, decontamination: {{benchmarks: [humaneval+]}}}}
target:
  instruction_data: [{{source: seed.jsonl, prompt_field: problem, completion_field: solution}}]
  sft: {SFT}
evaluation: {{benchmarks: [humaneval+], limit: 2, max_new_tokens: 64, data_dir: {DATA_DIR}}}
"""


def scoder(*args, cwd):
    return subprocess.run([sys.executable, "-m", "scoder.cli", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "CI": "true"}, timeout=1200)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pipeline")
    seed = (ROOT / "recipes" / "data" / "seed_synthesis.jsonl").read_text().splitlines()[:4]  # the shortest run that trains
    (folder / "seed.jsonl").write_text("\n".join(seed) + "\n")
    (folder / "recipe.yaml").write_text(RECIPE)
    result = scoder("run", "recipe.yaml", "--run-dir", "run", cwd=folder)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return folder, result


def manifest(folder: Path, stage: str) -> dict:
    return json.loads((folder / "run" / stage / "manifest.json").read_text())


def test_every_stage_ran_and_left_a_manifest(run):
    folder, result = run
    stages = ["snippets", "seed", "coldstart", "reference", "iteration-1/sample", "iteration-1/score", "iteration-1/select",
              "iteration-1/train", "synthesize", "target", "evaluate", "results"]
    for stage in stages:
        data = manifest(folder, stage)
        assert data["finished"] and data["key"] and "torch" in data["versions"], stage
    assert manifest(folder, "iteration-1/sample")["summary"]["candidates"] == 4  # 2 snippets x 1 checkpoint x 2 samples
    assert len(list((folder / "run" / "coldstart").glob("checkpoint-*"))) == 1
    scores = json.loads((folder / "run" / "evaluate" / "scores.json").read_text())
    assert set(scores["humaneval+"]) == {"base", "plus"}
    table = (folder / "run" / "results" / "results.md").read_text()
    assert "| tiny |" in table and "humaneval+ plus" in table
    assert all(f"| {stage} |" in table for stage in stages[:-1])  # each stage's time, the evaluation's too


def test_a_rerun_skips_and_a_change_reruns_only_what_it_reaches(run):
    folder, _ = run
    again = scoder("run", "recipe.yaml", "--run-dir", "run", cwd=folder)
    assert again.returncode == 0 and "running" not in again.stdout and again.stdout.count("skipped") == 12
    recipe = folder / "recipe.yaml"
    recipe.write_text(RECIPE.replace("limit: 2, max_new_tokens: 64", "limit: 3, max_new_tokens: 64"))
    plan = scoder("run", "recipe.yaml", "--run-dir", "run", "--dry-run", cwd=folder).stdout
    actions = {line.split()[1]: line.split()[0] for line in plan.splitlines()[1:] if " <- " in line}  # the plan, not the disk estimate
    assert actions.pop("evaluate") == "rerun" and actions.pop("results") == "rerun"
    assert set(actions.values()) == {"skip"}
    recipe.write_text(RECIPE)


def test_a_killed_stage_resumes_without_losing_or_repeating_records(run):
    """Simulate a kill during synthesis: the manifest is unfinished and the journal lost its last record."""
    folder, _ = run
    stage = folder / "run" / "synthesize"
    before = [json.loads(line) for line in (stage / "outputs.jsonl").read_text().splitlines()]
    data = manifest(folder, "synthesize")
    data["finished"] = None
    (stage / "manifest.json").write_text(json.dumps(data))
    journal = stage / "outputs.journal.jsonl"
    lines = journal.read_text().splitlines()
    journal.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][: len(lines[-1]) // 2])  # torn last line
    result = scoder("run", "recipe.yaml", "--run-dir", "run", cwd=folder)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "[synthesize] resuming" in result.stdout
    after = [json.loads(line) for line in (stage / "outputs.jsonl").read_text().splitlines()]
    assert len(after) == len(before) and len({record["id"] for record in after}) == len(after)


def test_a_bad_recipe_stops_before_anything_runs(tmp_path):
    (tmp_path / "recipe.yaml").write_text("name: x\nsynthesizer: {seed_data: missing.jsonl}\nsampling: {checkpoints: -1}\n")
    result = scoder("run", "recipe.yaml", cwd=tmp_path)
    assert result.returncode == 2 and "sampling: checkpoints" in result.stderr and not (tmp_path / "runs").exists()
    (tmp_path / "recipe.yaml").write_text("name: x\nsynthesizer: {seed_data: missing.jsonl}\n")
    result = scoder("run", "recipe.yaml", cwd=tmp_path)
    assert result.returncode == 2 and "synthesizer.seed_data" in result.stderr and "missing.jsonl does not exist" in result.stderr
    assert not (tmp_path / "runs").exists()
    plan = scoder("run", "recipe.yaml", "--dry-run", cwd=tmp_path)  # the plan and the disk estimate, without the file
    assert plan.returncode == 0 and "missing: synthesizer.seed_data" in plan.stdout and "to write:" in plan.stdout


LCB_RECIPE = """
name: lcb
iterations: 0
synthesizer: {seed_data: seed.jsonl}
synthesis: {samples: 0}
target:
  instruction_data: [{source: seed.jsonl, prompt_field: problem, completion_field: solution}]
evaluation: {benchmarks: [humaneval+, "livecodebench:release_v1"]}
"""


def test_benchmark_data_that_cannot_be_had_stops_the_run_before_its_first_stage(tmp_path, monkeypatch):
    (tmp_path / "seed.jsonl").write_text((ROOT / "recipes" / "data" / "seed_synthesis.jsonl").read_text().splitlines()[0] + "\n")
    (tmp_path / "recipe.yaml").write_text(LCB_RECIPE)
    monkeypatch.setenv("SCODER_OFFLINE", "1")
    monkeypatch.setenv("SCODER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("SCODER_LCB_DIR", raising=False)
    result = scoder("run", "recipe.yaml", cwd=tmp_path)
    assert result.returncode == 2 and not (tmp_path / "runs").exists(), result.stderr[-2000:]
    assert "evaluation.benchmarks: livecodebench:release_v1: LiveCodeBench release_v1's test.jsonl not found" in result.stderr
    assert "downloads are off (SCODER_OFFLINE is set). Set SCODER_LCB_DIR to a folder of LiveCodeBench shards" in result.stderr
    plan = scoder("run", "recipe.yaml", "--dry-run", cwd=tmp_path)
    assert plan.returncode == 0 and f"data: humaneval+: found {DATA_DIR}" in plan.stdout
    assert "missing: evaluation.benchmarks: livecodebench:release_v1: " in plan.stdout and "the run refuses to start without it" in plan.stdout
    # a file of another release is refused as early
    monkeypatch.setenv("SCODER_LCB_DIR", str(ROOT.parent / "shared" / "conformance" / "livecodebench" / "release_v5-partial-tests.jsonl.gz"))
    result = scoder("run", "recipe.yaml", cwd=tmp_path)
    assert result.returncode == 2 and "Pass --release release_v5 (in a recipe: livecodebench:release_v5)" in result.stderr
    assert not (tmp_path / "runs").exists()
