"""recipes/paper/shape-check.yaml: the paper's settings with counts cut, for random-weight models of the paper's
shapes on one GPU. Here it runs end to end on the CPU with tiny shapes of the same two architectures (random
weights, labelled: they write noise), its generation lengths cut for the CPU; the recipe file itself is
checked to keep the paper recipe's settings."""

import json
import os
import subprocess
import sys
from pathlib import Path

from harness.generation.random_models import write_random_model
from scoder.recipe import load_recipe

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = os.environ.get("SCODER_DATA_DIR", str(ROOT.parent / "shared" / "benchmarks"))
SHAPE_CHECK = ROOT / "recipes" / "paper" / "shape-check.yaml"


def test_the_shape_check_keeps_every_paper_setting_but_counts():
    paper, check = load_recipe(ROOT / "recipes" / "paper" / "scoder-ds6.7b-qwen7b.yaml"), load_recipe(SHAPE_CHECK)
    for ours, theirs in ((check.synthesizer.sft, paper.synthesizer.sft), (check.target.sft, paper.target.sft)):
        assert (ours.method, ours.learning_rate, ours.batch_size, ours.max_length, ours.gradient_checkpointing) == \
               (theirs.method, theirs.learning_rate, theirs.batch_size, theirs.max_length, theirs.gradient_checkpointing) == \
               (theirs.method, theirs.learning_rate, theirs.batch_size, theirs.max_length, True)
    assert check.selection.reference_sft.lora_r == paper.selection.reference_sft.lora_r == 128
    assert check.selection.method == "gradient" and check.selection.gradients == paper.selection.gradients
    assert (check.sampling.max_new_tokens, check.synthesis.max_new_tokens) == (paper.sampling.max_new_tokens, paper.synthesis.max_new_tokens)
    assert check.generation.backend == "hf" and check.iterations >= 1 and check.scoring.enabled


def test_the_shape_check_runs_every_stage_with_tiny_shapes(tmp_path):
    synthesizer = write_random_model("tiny-qwen2", tmp_path / "qwen")
    target = write_random_model("tiny-llama", tmp_path / "llama")
    (tmp_path / "recipe.yaml").write_text(f"""
base: {SHAPE_CHECK}
synthesizer: {{model: {synthesizer}, parameters: null}}
scoring: {{judge: {synthesizer}, max_new_tokens: 16}}
target: {{model: {target}, parameters: null}}
sampling: {{max_new_tokens: 48}}
synthesis: {{max_new_tokens: 48}}
evaluation: {{max_new_tokens: 16, data_dir: {DATA_DIR}}}
""")
    finished = subprocess.run([sys.executable, "-m", "scoder.cli", "run", "recipe.yaml", "--run-dir", "run", "--no-progress"],
                              cwd=tmp_path, capture_output=True, text=True, env={**os.environ, "CI": "true"}, timeout=1200)
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    run = tmp_path / "run"
    results = json.loads((run / "results" / "results.json").read_text())
    assert set(results["stages"]) == {"snippets", "seed", "coldstart", "reference", "iteration-1/sample", "iteration-1/score",
                                      "iteration-1/select", "iteration-1/train", "synthesize", "target", "evaluate"}
    for stage in ("coldstart", "iteration-1/train", "target"):  # resumable: false, finished: weights only
        [checkpoint] = [path for path in (run / stage).iterdir() if path.name.startswith("checkpoint-")]
        names = {path.name for path in checkpoint.iterdir()}
        assert "model.safetensors" in names and "optimizer.pt" not in names
    [reference] = [path for path in (run / "reference").iterdir() if path.name.startswith("checkpoint-")]
    assert "optimizer.pt" in {path.name for path in reference.iterdir()}  # influence reads it
