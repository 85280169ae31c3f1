"""Mixed precision on the real training path (scoder.sft.train: TRL, PEFT, the Trainer's autocast): with bf16
arithmetic the weights must move as an fp32 run's do.

The model is a random-weight tiny Llama (harness.generation.random_models, labelled as such: what it
learns does not matter, only how far its weights move). The runs use bf16 arithmetic on this CPU, which
is what `compute_dtype: auto` picks on a GPU; the rule that decides the weights' dtype is the same.
"""

import json
from pathlib import Path

import pytest
import torch
from transformers import TrainerCallback

from harness.generation.random_models import write_random_model
from scoder import sft, synthesis
from scoder.sft import SFTSettings

SEED = Path(__file__).resolve().parent.parent / "recipes" / "data" / "seed_synthesis.jsonl"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return str(write_random_model("tiny-llama", tmp_path_factory.mktemp("model") / "tiny-llama"))


@pytest.fixture(scope="module")
def examples():
    rows = [json.loads(line) for line in SEED.read_text().splitlines()[:6]]
    return [synthesis.synthesizer_example(row["snippet"], row["problem"], row["solution"]) for row in rows]


class TrainableWeights(TrainerCallback):
    """The trainable weights (fp32 copies) when training starts and ends, as the optimizer holds them."""
    def __init__(self):
        self.before, self.after, self.dtypes = {}, {}, set()

    @staticmethod
    def _read(model):
        return {name: parameter.detach().float().clone() for name, parameter in model.named_parameters() if parameter.requires_grad}

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.before = self._read(model)

    def on_train_end(self, args, state, control, model=None, **kwargs):
        self.after = self._read(model)
        self.dtypes = {parameter.dtype for parameter in model.parameters() if parameter.requires_grad}


def movement(model, examples, folder, **settings) -> tuple[float, float, set]:
    """(fraction of trainable weights changed, norm of the update, the trainable weights' dtypes) after 3
    steps at lr 1e-5 (the paper synthesizer's full fine-tuning rate)."""
    weights = TrainableWeights()
    fixed = dict(epochs=1, batch_size=2, learning_rate=1e-5, warmup_ratio=0.0, max_length=256, checkpoints=1)
    sft.train(model, examples, folder, SFTSettings(**fixed, **settings), progress=False, callbacks=[weights])
    changed = sum(int((weights.after[name] != weights.before[name]).sum()) for name in weights.before)
    total = sum(tensor.numel() for tensor in weights.before.values())
    norm = torch.sqrt(sum(((weights.after[name] - weights.before[name]) ** 2).sum() for name in weights.before)).item()
    return changed / total, norm, weights.dtypes


def assert_within(mixed: tuple, reference: tuple, tolerance: float = 0.10):
    for name, ours, theirs in (("fraction changed", mixed[0], reference[0]), ("update norm", mixed[1], reference[1])):
        assert abs(ours - theirs) <= tolerance * theirs, f"{name}: {ours:.4g} with bf16 arithmetic, {theirs:.4g} in fp32"


@pytest.fixture(scope="module")
def full_fp32(tiny_model, examples, tmp_path_factory):
    return movement(tiny_model, examples, tmp_path_factory.mktemp("fp32"), method="full", compute_dtype="float32")


def test_full_fine_tuning_with_bf16_arithmetic_moves_the_weights_as_fp32_does(tiny_model, examples, full_fp32, tmp_path):
    reference = full_fp32
    mixed = movement(tiny_model, examples, tmp_path / "bf16", method="full", compute_dtype="bfloat16")
    assert reference[0] > 0.3  # the fp32 run moves every weight that has a gradient (about half: unused embedding rows have none)
    assert mixed[2] == {torch.float32}  # fp32 master weights under bf16 autocast
    assert_within(mixed, reference)


def test_bf16_weights_would_round_the_updates_away(tiny_model, examples, full_fp32, tmp_path, monkeypatch):
    """What the rule above prevents (and what scoder.sft did before it): weights loaded in the compute dtype."""
    reference = full_fp32
    monkeypatch.setattr(sft, "precision", lambda settings, device, engine=False: (torch.bfloat16, torch.bfloat16))
    rounded = movement(tiny_model, examples, tmp_path / "bf16", method="full", compute_dtype="bfloat16")
    assert rounded[2] == {torch.bfloat16}
    assert rounded[0] < 0.5 * reference[0]


def test_lora_adapters_stay_fp32_and_move_as_in_an_fp32_run(tiny_model, examples, tmp_path):
    lora = dict(method="lora", lora_r=8, lora_alpha=16, lora_dropout=0.0)
    reference = movement(tiny_model, examples, tmp_path / "fp32", compute_dtype="float32", **lora)
    mixed = movement(tiny_model, examples, tmp_path / "bf16", compute_dtype="bfloat16", **lora)
    assert mixed[2] == {torch.float32}  # PEFT's adapters over the bf16 base
    assert_within(mixed, reference)


def test_the_base_of_a_lora_run_loads_in_the_compute_dtype_and_full_runs_keep_fp32_weights():
    assert sft.precision(SFTSettings(method="lora", compute_dtype="bfloat16"), "cpu") == (torch.bfloat16, torch.bfloat16)
    assert sft.precision(SFTSettings(method="full", compute_dtype="bfloat16"), "cpu") == (torch.float32, torch.bfloat16)
    # DeepSpeed and FSDP keep fp32 master weights themselves: the model loads in bf16 (half the host memory)
    assert sft.precision(SFTSettings(method="full", compute_dtype="bfloat16"), "cpu", sharding_engine=True) == (torch.bfloat16, torch.bfloat16)
    assert sft.precision(SFTSettings(method="full"), "cpu") == (torch.float32, torch.float32)
