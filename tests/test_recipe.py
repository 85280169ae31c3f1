"""Recipes: the shipped ones load, and a bad one gets an error naming the field and the problem."""

from pathlib import Path

import pytest

from scoder.recipe import load_recipe
from scoder.config_loading import RecipeError

RECIPES = Path(__file__).resolve().parent.parent / "recipes"


def write(folder: Path, text: str, name: str = "recipe.yaml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_every_shipped_recipe_loads():
    paths = sorted(path for path in RECIPES.rglob("*.yaml") if path.parent.name != "accelerate")  # accelerate's configs
    assert {path.parent.name for path in paths} >= {"recipes", "paper", "ablations", "baselines"}
    names = [load_recipe(path).name for path in paths]
    assert len(set(names)) == len(names), "two recipes share a name (and so a default run folder)"


def test_ablations_change_only_what_they_name():
    paper = load_recipe(RECIPES / "paper" / "scoder-ds6.7b-qwen7b.yaml")
    random_selection = load_recipe(RECIPES / "ablations" / "random-selection.yaml")
    assert random_selection.selection.method == "random" and paper.selection.method == "gradient"
    assert random_selection.sampling == paper.sampling and random_selection.target == paper.target
    assert load_recipe(RECIPES / "ablations" / "one-checkpoint.yaml").sampling.checkpoints == 1
    assert load_recipe(RECIPES / "ablations" / "no-scorer.yaml").scoring.enabled is False
    assert [load_recipe(RECIPES / "ablations" / f"iterations-{n}.yaml").iterations for n in (0, 1, 3)] == [0, 1, 3]
    baseline = load_recipe(RECIPES / "baselines" / "evol-codealpaca-only.yaml")
    assert baseline.synthesis.samples == 0 and baseline.target.instruction_data == paper.target.instruction_data


def test_paths_are_relative_to_the_recipe(tmp_path):
    (tmp_path / "sub").mkdir()
    path = write(tmp_path / "sub", "name: x\nsynthesizer: {seed_data: seed.jsonl}\n")
    assert load_recipe(path).synthesizer.seed_data == str((tmp_path / "sub" / "seed.jsonl").resolve())


@pytest.mark.parametrize("text, message", [
    ("name: x\nsynthesizer: {seed_data: s.jsonl}\nsampling: {checkponts: 5}\n", "sampling.checkponts: unknown field (did you mean 'checkpoints'?)"),
    ("name: x\nsynthesizer: {seed_data: s.jsonl}\nsampling: {checkpoints: five}\n", "sampling.checkpoints: expected an integer, got str 'five'"),
    ("name: x\nsynthesizer: {seed_data: s.jsonl}\nsampling: {checkpoints: 0}\n", "sampling: checkpoints, samples_per_checkpoint"),
    ("name: x\nsynthesizer: {seed_data: s.jsonl}\nselection: {method: best}\n", "selection.method: str 'best' is not one of 'gradient', 'random', 'none'"),
    ("name: x\nsynthesizer: {seed_data: s.jsonl}\nscoring: {weights: {beauty: 2}}\n", "weights name unknown aspects ['beauty']"),
    ("name: x\nsynthesizer: {seed_data: s.jsonl}\nsynthesizer: {sft: {learning_rate: fast}}\n", "synthesizer.sft.learning_rate: expected a number"),
    ("name: x\n", "synthesizer: required field is missing"),
    ("name: x\nsynthesizer: {seed_data: s.jsonl}\nsnippets: {limit: 3}\nsampling: {snippets_per_iteration: 2}\nsynthesis: {samples: 4}\n",
     "snippets.limit: 3 snippets, but the recipe uses 8"),
    ("name: x\nsynthesizer: {seed_data: s.jsonl}\niterations: 1\nsynthesis: {samples: 0}\n", "iterations must be 0 when synthesis.samples is 0"),
    ("name: x\nsynthesizer: {seed_data: s.jsonl}\nevaluation: {benchmarks: [humaneval+, mbpp_plus]}\n",
     "evaluation: unknown benchmark 'mbpp_plus'"),
    ("name: x\nsynthesizer: {seed_data: s.jsonl}\nevaluation: {benchmarks: ['bigcodebench-hard:instrct']}\n",
     "evaluation: bigcodebench-hard:instrct: the variant is a split, one of complete, instruct"),
    ("name: x\nsynthesizer: {seed_data: s.jsonl}\nevaluation: {benchmarks: []}\n",
     "evaluation: benchmarks is empty: list at least one, e.g. benchmarks: [humaneval+, mbpp+]"),
    ("name: x\nsynthesizer: {seed_data: s.jsonl}\nsynthesis: {decontamination: {benchmarks: [humaneval+, livecodebnch]}}\n",
     "unknown benchmark 'livecodebnch'"),
    ("name: x\nsynthesizer: {seed_data: s.jsonl}\ngeneration: {backend: openai}\n",
     "generation.backend openai cannot generate from the LoRA checkpoints of synthesizer.sft and target.sft"),
    ("name: [x\n", "not valid YAML"),
    ("- a list\n", "a recipe is a mapping of fields"),
])
def test_a_bad_recipe_names_the_field(tmp_path, text, message):
    with pytest.raises(RecipeError) as error:
        load_recipe(write(tmp_path, text))
    assert message in str(error.value)


def test_base_recipes_merge_and_cycles_are_refused(tmp_path):
    write(tmp_path, "name: parent\nsynthesizer: {seed_data: s.jsonl, model: m}\nsampling: {checkpoints: 4, temperature: 0.5}\n", "parent.yaml")
    child = load_recipe(write(tmp_path, "base: parent.yaml\nname: child\nsampling: {checkpoints: 2}\n", "child.yaml"))
    assert (child.name, child.synthesizer.model, child.sampling.checkpoints, child.sampling.temperature) == ("child", "m", 2, 0.5)
    write(tmp_path, "base: b.yaml\nname: a\n", "a.yaml")
    write(tmp_path, "base: a.yaml\nname: b\n", "b.yaml")
    with pytest.raises(RecipeError, match="cycle"):
        load_recipe(tmp_path / "a.yaml")
    with pytest.raises(RecipeError, match="cannot read the recipe"):
        load_recipe(tmp_path / "missing.yaml")
