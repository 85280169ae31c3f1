"""Gradient influence (scoder/influence.py, its features from scoder/gradients.py) on real checkpoints: a
LoRA run of the embedded model (SmolLM2-135M-Instruct, CPU) through scoder.sft, as the pipeline makes them.
Checked against independent references: TRL's own tokenization, the Trainer's own Adam steps between two
saved checkpoints, the HF model's own loss with one backward per sample, and exact full-dimensional cosines."""

from __future__ import annotations

import json
import math
import warnings

import pytest
import torch

from scoder import gradients, influence
from scoder.gradients import SparseSignProjection
from scoder.influence import InfluenceConfig

MODEL = "smollm2-135m-instruct"
TRAINING = [{"prompt": [{"role": "user", "content": f"Write a Python function that returns its argument plus {n}."}],
             "completion": [{"role": "assistant", "content": f"def add_{n}(x):\n    return x + {n}\n"}]} for n in range(8)]
UNRELATED = [
    {"prompt": [{"role": "user", "content": "Who founded Rome, according to legend?"}],
     "completion": [{"role": "assistant", "content": "Romulus and Remus, the twins raised by a she-wolf, in 753 BC."}]},
    {"prompt": [{"role": "system", "content": "You answer in one sentence."}, {"role": "user", "content": "Why is the sky blue?"}],
     "completion": [{"role": "assistant", "content": "Air scatters blue sunlight more than red light."}]},
    {"prompt": "The capital of France is", "completion": " Paris, on the Seine."},  # plain strings, no chat template
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Four checkpoints, one per step (8 examples, batch 4, 2 epochs), so consecutive saved states exist."""
    from scoder.sft import SFTSettings, train

    settings = SFTSettings(batch_size=4, epochs=2, checkpoints=4, learning_rate=1e-3, warmup_ratio=0.0, lora_r=4,
                           lora_alpha=8, lora_dropout=0.0, max_length=128)
    return train(MODEL, TRAINING, tmp_path_factory.mktemp("sft"), settings, progress=False, keep_optimizer=True)  # influence reads them


@pytest.fixture(scope="module")
def tokenizer():
    from harness.generation.models import load_tokenizer, resolve

    return load_tokenizer(resolve(MODEL))


def adapted(checkpoint):
    """The base model in float32 (exact comparisons) with the checkpoint's adapter, as influence_scores loads it."""
    from peft import PeftModel

    from harness.generation.models import load_causal_lm, resolve

    base = load_causal_lm(resolve(MODEL), torch.float32, "cpu")
    return PeftModel.from_pretrained(base, str(checkpoint), is_trainable=True).eval()


@pytest.fixture(scope="module")
def model(run):
    return adapted(run[-1])


def test_tokenize_matches_trl_sft_trainer(tokenizer, tmp_path):
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from harness.generation.models import load_causal_lm, resolve

    base = load_causal_lm(resolve(MODEL), torch.float32, "cpu")
    config = SFTConfig(output_dir=str(tmp_path), max_length=48, report_to=[], use_cpu=True, bf16=False, gradient_checkpointing=False)
    long_prompt = {"prompt": [{"role": "user", "content": "word " * 80}], "completion": [{"role": "assistant", "content": "ok"}]}
    # A system message; a prompt that fills max_length (TRL drops it); plain strings, one ending in "\n"
    # that merges with the completion's indentation into one token.
    for examples in ([TRAINING[0], UNRELATED[1], long_prompt], [UNRELATED[2], {"prompt": "def f(x):\n", "completion": "    return x\n"}]):
        prepared = SFTTrainer(model=base, args=config, train_dataset=Dataset.from_list(examples), processing_class=tokenizer).train_dataset
        ours = [influence.tokenize(example, tokenizer, 48) for example in examples]
        kept = [sample for sample in ours if influence._has_loss(sample[1])]
        assert len(kept) == 2 and [(row["input_ids"], row["labels"]) for row in prepared] == kept


def test_adam_states_reproduce_the_trainers_own_step(run):
    """Checkpoint 3's adapter minus checkpoint 2's is AdamW's step from checkpoint 3's saved moments: true for
    every parameter only if each state is matched to its own parameter (many share a shape)."""
    from safetensors.torch import load_file

    model = adapted(run[2])
    states = gradients.load_adam_states(model, run[2])
    trainable = dict((name, parameter) for name, parameter in model.named_parameters() if parameter.requires_grad)
    assert list(states) == list(trainable) and len(states) == 7 * 2 * 30  # 7 projections x (A, B) x 30 layers
    before, after = (load_file(str(checkpoint / "adapter_model.safetensors")) for checkpoint in run[1:3])
    log = json.loads((run[2] / "trainer_state.json").read_text())["log_history"]
    rate = next(entry["learning_rate"] for entry in log if entry.get("step") == 3)
    moved = 0
    for name, state in states.items():
        assert state.exp_avg.shape == trainable[name].shape and state.step == 3
        beta1, beta2 = state.betas
        update = (state.exp_avg / (1 - beta1 ** 3)) / ((state.exp_avg_sq / (1 - beta2 ** 3)).sqrt() + state.eps)
        saved = name.replace(".default.", ".")
        torch.testing.assert_close(after[saved] - before[saved], -rate * update, rtol=1e-3, atol=1e-6)
        moved += bool(update.abs().max() > 0.5)
    assert moved > len(states) // 2


def test_mismatched_optimizer_states_are_refused(model, run, tmp_path):
    state = torch.load(run[-1] / "optimizer.pt", weights_only=True)
    shifted = {**state, "param_groups": [{**state["param_groups"][0], "params": state["param_groups"][0]["params"][1:]},
                                         state["param_groups"][1]]}
    with pytest.raises(ValueError, match=r"param groups hold \[419, 0\].*\[420, 0\]"):
        gradients.adam_states(model, shifted)
    swapped = {**state, "state": {**state["state"], 0: state["state"][1]}}  # A's slot holds B's (4x576 vs 576x4)
    with pytest.raises(ValueError, match="lora_A.*does not belong to this model"):
        gradients.adam_states(model, swapped)
    (tmp_path / "checkpoint-1").mkdir()
    with pytest.raises(FileNotFoundError, match="no optimizer.pt"):
        gradients.load_adam_states(model, tmp_path / "checkpoint-1")


@pytest.fixture(scope="module")
def batch(tokenizer):
    samples = [influence.tokenize(example, tokenizer, 256) for example in TRAINING[:2] + UNRELATED]
    return samples, next(gradients.batches(samples, len(samples), tokenizer.pad_token_id))


def test_batched_gradients_equal_one_backward_per_sample(model, batch):
    samples, (positions, input_ids, attention_mask, labels) = batch
    assert len({len(ids) for ids, _ in samples}) >= 3  # rows are padded, by different amounts
    per_sample = gradients.per_sample_gradients(model, input_ids, attention_mask, labels)
    parameters = [parameter for parameter in model.parameters() if parameter.requires_grad]
    for row, index in enumerate(positions):
        ids, targets = samples[index]
        loss = model(input_ids=torch.tensor([ids]), labels=torch.tensor([targets])).loss  # HF's own loss, unpadded
        for expected, got in zip(torch.autograd.grad(loss, parameters), per_sample.values()):
            assert (got[row] - expected).norm() <= 1e-4 * expected.norm() and expected.norm() > 0


def test_projection_is_sparse_seeded_and_keeps_cosines_of_real_gradients(model, batch):
    projection = SparseSignProjection(1000, 64, 4, seed=0)
    columns = projection(torch.eye(1000))
    assert ((columns != 0).sum(1) == 4).all() and set(columns.abs().unique().tolist()) == {0.0, 0.5}
    assert ((columns.view(1000, 4, 16) != 0).sum(2) == 1).all()  # one non-zero per block of rows
    torch.testing.assert_close(SparseSignProjection(1000, 64, 4, seed=0)(torch.eye(1000)), columns)
    assert not torch.equal(SparseSignProjection(1000, 64, 4, seed=1)(torch.eye(1000)), columns)

    _, (_, *tensors) = batch
    per_sample = gradients.per_sample_gradients(model, *tensors)
    flat = torch.cat([gradient.flatten(1) for gradient in per_sample.values()], dim=1)
    exact = torch.nn.functional.normalize(flat, dim=1)
    projected = torch.nn.functional.normalize(SparseSignProjection(flat.shape[1], 8192, 4, seed=0)(flat), dim=1)
    exact_cosines, projected_cosines = exact @ exact.T, projected @ projected.T
    assert (exact_cosines - torch.eye(len(flat))).abs().max() > 0.1  # the test has something to preserve
    torch.testing.assert_close(projected_cosines, exact_cosines, rtol=0, atol=0.04)


def test_the_gpus_sparse_matmul_is_the_same_projection_as_scattering():
    """The projection applied as a CSR matrix (meant for GPUs: no atomic adds) equals scattering; here both on the CPU."""
    vectors = torch.randn(5, 3000, generator=torch.Generator().manual_seed(1))
    scattered = SparseSignProjection(3000, 256, 4, seed=0, sparse_matmul=False)
    multiplied = SparseSignProjection(3000, 256, 4, seed=0, sparse_matmul=True)
    assert not scattered.sparse_matmul and multiplied.sparse_matmul
    torch.testing.assert_close(multiplied(vectors), scattered(vectors), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(multiplied(torch.eye(3000)), scattered(torch.eye(3000)), rtol=0, atol=0)


def test_checkpoint_weights_are_mean_learning_rates_since_the_previous(tmp_path):
    def checkpoint(step, rates):
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir()
        log = [{"step": at, "learning_rate": rate, "loss": 1.0} for at, rate in rates] + [{"step": step, "train_loss": 1.0}]
        (folder / "trainer_state.json").write_text(json.dumps({"global_step": step, "log_history": log}))
        return folder

    second = checkpoint(4, [(1, 0.0), (2, 4.0), (3, 3.0), (4, 2.0)])  # steps 3-4 since checkpoint-2: mean 2.5
    first = checkpoint(2, [(1, 0.0), (2, 4.0)])  # mean 2.0
    assert influence.checkpoint_weights([second, first]) == pytest.approx([2.5 / 4.5, 2.0 / 4.5])
    # Without checkpoint-2 among those given, checkpoint-4 stands for steps 1-4 (mean 2.25); nothing is
    # logged in (4, 6], so checkpoint-6 takes the last rate logged before it.
    sparse = checkpoint(6, [(1, 0.0), (5, 1.0)])
    assert influence.checkpoint_weights([second, sparse]) == pytest.approx([2.25 / 3.25, 1.0 / 3.25])
    with pytest.warns(UserWarning, match="checkpoint-9.*equally"):
        assert influence.checkpoint_weights([first, tmp_path / "checkpoint-9"]) == [0.5, 0.5]


def test_influence_ranks_a_reference_copy_first_and_combines_checkpoints_by_rate(run):
    references = TRAINING[:4]
    too_long = {"prompt": "word " * 600, "completion": " done"}
    candidates = [UNRELATED[0], TRAINING[1], UNRELATED[2], too_long, UNRELATED[1]]
    config = InfluenceConfig(batch_size=4, max_length=512)
    chosen = [run[1], run[3]]
    scores = influence.influence_scores(MODEL, chosen, candidates, references, config)
    assert math.isnan(scores[3])
    assert max(range(5), key=lambda index: -math.inf if math.isnan(scores[index]) else scores[index]) == 1
    assert influence.select_top(scores, 2)[0] == 1 and 3 not in influence.select_top(scores, 1.0)

    with warnings.catch_warnings(record=True) as caught:
        weights = influence.checkpoint_weights(chosen)
    assert not caught and weights[0] != pytest.approx(weights[1])  # the real checkpoints log their learning rates
    singles = [influence.influence_scores(MODEL, [checkpoint], candidates, references, config) for checkpoint in chosen]
    combined = [weights[0] * a + weights[1] * b for a, b in zip(*singles)]
    assert scores == pytest.approx(combined, rel=1e-4, nan_ok=True)


def test_select_top():
    scores = [0.1, math.nan, 0.5, 0.3, 0.5]
    assert influence.select_top(scores, 2) == [2, 4]
    assert influence.select_top(scores, 0.5) == [2, 4]  # half of 5, rounded
    assert influence.select_top(scores, 10) == [2, 4, 3, 0]
    with pytest.raises(ValueError):
        influence.select_top(scores, 1.5)


def test_config_is_validated():
    with pytest.raises(ValueError, match="multiple of nonzeros_per_column"):
        InfluenceConfig(projection_dim=8190)
    with pytest.raises(ValueError):
        InfluenceConfig(batch_size=0)
