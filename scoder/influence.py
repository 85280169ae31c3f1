"""Gradient-influence filter: rank candidate samples by how well their training gradient points where the
reference (proprietary) samples' gradients point, as SCoder (arXiv 2509.07858) does with LESS (Xia et al.,
arXiv 2402.04333, github.com/princeton-nlp/LESS).

For each checkpoint of a LoRA warm-up run on the references:
- a candidate's feature is its Adam update direction (the LoRA gradient folded into the checkpoint's saved
  Adam moments, LESS Sec. 2.2); a reference's feature is its plain gradient (LESS's validation gradients);
- features are projected to `projection_dim` dimensions and normalised;
- a candidate scores the mean of its cosines with the references, which is its dot product with the mean
  of the normalised reference features (LESS's matching.py; this is the cosine with the mean reference
  feature times that mean's norm, a constant per checkpoint).
Checkpoint scores are summed weighted by the mean learning rate of the steps each checkpoint ended (LESS's
eta-bar_i, normalised to sum 1). The loss of a sample is the mean over its completion tokens, tokenised as
TRL's SFTTrainer does for prompt-completion data, so the gradients are those the training would take.

The features (per-sample gradients, Adam directions, the projection) come from scoder/gradients.py. It
and torch are imported inside `influence_scores` only: recipes import InfluenceConfig, and loading a recipe
or planning a run must not need the train extra.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence


@dataclass(frozen=True)
class InfluenceConfig:
    projection_dim: int = 8192  # LESS Sec. 4.1 (d = 8192)
    # Non-zeros per input coordinate of the sparse sign projection (Kane & Nelson's sparse JL; 4 kept
    # cosines within r = 0.989 of the full-dimensional ones in the measurement).
    nonzeros_per_column: int = 4
    seed: int = 0  # LESS seeds its projector with 0
    max_length: int = 2048  # tokens, longer samples are truncated at the end; LESS's get_info default
    batch_size: int = 8  # samples per backward; memory grows with it (logits: batch x length x vocab)
    # How the projection is applied (scoder.gradients.SparseSignProjection): scatter, or sparse-matmul (the same
    # matrix as CSR, for GPUs, where scattering contends on atomic adds; compare them with benchmarks/gpu_paper_shape.py)
    projection: Literal["scatter", "sparse-matmul"] = "scatter"

    def __post_init__(self):
        if min(self.projection_dim, self.nonzeros_per_column, self.max_length, self.batch_size) < 1:
            raise ValueError("projection_dim, nonzeros_per_column, max_length and batch_size must be at least 1")
        if self.projection_dim % self.nonzeros_per_column:
            raise ValueError("projection_dim must be a multiple of nonzeros_per_column (one non-zero per block of rows)")


def tokenize(example: dict, tokenizer, max_length: int) -> tuple[list[int], list[int]]:
    """Token ids and labels (-100 where no loss falls) of a prompt-completion example, prepared as TRL 1.16's
    SFTTrainer prepares them: conversational examples through the chat template (the prompt alone with the
    generation prompt, then prompt + completion; the completion starts where the two diverge), plain
    strings through the tokenizer with EOS appended to the completion; truncation keeps the start."""
    prompt, completion = example["prompt"], example["completion"]
    if isinstance(prompt, str):
        if not completion.endswith(tokenizer.eos_token):
            completion += tokenizer.eos_token
        prompt_ids = tokenizer(text=prompt)["input_ids"]
        ids = tokenizer(text=prompt + completion)["input_ids"]
    else:
        prompt_ids = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"]
        ids = tokenizer.apply_chat_template(prompt + completion, tokenize=True, return_dict=True)["input_ids"]
    start = next((index for index, (a, b) in enumerate(zip(prompt_ids, ids)) if a != b), min(len(prompt_ids), len(ids)))
    labels = [-100] * start + ids[start:]
    return ids[:max_length], labels[:max_length]


def _logged_learning_rates(checkpoint: Path) -> tuple[int, list[tuple[int, float]]] | None:
    """(the checkpoint's step, [(step, learning rate)] logged up to it), or None without a trainer_state.json."""
    path = Path(checkpoint) / "trainer_state.json"
    if not path.is_file():
        return None
    state = json.loads(path.read_text())
    step = int(state["global_step"])
    return step, [(int(entry["step"]), float(entry["learning_rate"])) for entry in state.get("log_history", [])
                  if "learning_rate" in entry and entry.get("step", step + 1) <= step]


def checkpoint_weights(checkpoints: Sequence[Path]) -> list[float]:
    """LESS's checkpoint weights (Sec. 2.2, eta-bar_i: the average learning rate of the epoch a checkpoint
    ends), normalised to sum 1: each checkpoint's mean logged learning rate over the steps since the
    previous checkpoint, or the last one logged before it when none fall in between. Without a logged
    learning rate for some checkpoint, all weigh the same, with a warning."""
    histories = [_logged_learning_rates(checkpoint) for checkpoint in checkpoints]
    rates: list[float | None] = [None] * len(checkpoints)
    previous = 0
    for index in sorted(range(len(checkpoints)), key=lambda index: histories[index][0] if histories[index] else 0):
        if histories[index] is None:
            continue
        step, logged = histories[index]
        window = [rate for at, rate in logged if previous < at] or [rate for _, rate in logged][-1:]
        rates[index] = sum(window) / len(window) if window else None
        previous = step
    if any(rate is None for rate in rates) or not sum(rates):
        missing = [str(checkpoint) for checkpoint, rate in zip(checkpoints, rates) if rate is None]
        why = f"no learning rate logged in the trainer_state.json of {', '.join(missing)}" if missing else "all learning rates are 0"
        warnings.warn(f"{why}: weighing the {len(checkpoints)} checkpoints equally")
        return [1 / len(checkpoints)] * len(checkpoints)
    return [rate / sum(rates) for rate in rates]


def influence_scores(base_model: str, checkpoints: Sequence[Path], candidates: Sequence[dict], references: Sequence[dict],
                     config: InfluenceConfig = InfluenceConfig(), progress: bool = False) -> list[float]:
    """Each candidate's influence score (higher: more like the references), in the order given; NaN for a
    candidate with no completion token within max_length (it would teach nothing; TRL drops such samples).

    `base_model` is a spec as harness.generation.models.resolve takes it; `checkpoints` are `checkpoint-N`
    folders of a LoRA Trainer run on the references over that model, each with its adapter, optimizer.pt
    and trainer_state.json."""
    import torch
    from peft import PeftModel

    from harness.generation.models import best_dtype, load_causal_lm, load_tokenizer, resolve
    from scoder.gradients import AdamState, SparseSignProjection, gradient_features, load_adam_states

    if not checkpoints or not references:
        raise ValueError("influence needs at least one checkpoint and one reference sample")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    source = resolve(base_model)
    tokenizer = load_tokenizer(source)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    reference_samples = [tokenize(example, tokenizer, config.max_length) for example in references]
    if empty := [index for index, (_, labels) in enumerate(reference_samples) if not _has_loss(labels)]:
        raise ValueError(f"references {empty} have no completion token within max_length {config.max_length}")
    candidate_samples = [tokenize(example, tokenizer, config.max_length) for example in candidates]
    scorable = [index for index, (_, labels) in enumerate(candidate_samples) if _has_loss(labels)]
    weights = checkpoint_weights(checkpoints)
    totals = torch.zeros(len(scorable))
    # fp32 on CPU: bf16 backward there ran 9.5x slower than fp32 (measured in scoder.sft)
    model = load_causal_lm(source, best_dtype(device) if device == "cuda" else torch.float32, device)
    projection = None
    for checkpoint, weight in zip(checkpoints, weights):
        adapted = PeftModel.from_pretrained(model, str(checkpoint), is_trainable=True).eval()  # eval: no LoRA dropout
        states = {name: AdamState(state.exp_avg.to(device), state.exp_avg_sq.to(device), state.step, state.betas, state.eps)
                  for name, state in load_adam_states(adapted, checkpoint).items()}
        if projection is None:
            input_dim = sum(state.exp_avg.numel() for state in states.values())
            projection = SparseSignProjection(input_dim, config.projection_dim, config.nonzeros_per_column, config.seed, device,
                                              config.projection == "sparse-matmul")
        label = Path(checkpoint).name
        reference = gradient_features(adapted, reference_samples, projection, None, config.batch_size, pad_id,
                                      f"{label} references" if progress else None).mean(0)
        candidate = gradient_features(adapted, [candidate_samples[index] for index in scorable], projection, states,
                                      config.batch_size, pad_id, f"{label} candidates" if progress else None)
        totals += weight * (candidate @ reference)
        model = adapted.unload()  # the base model again, for the next checkpoint's adapter
    scores = [math.nan] * len(candidates)
    for index, score in zip(scorable, totals.tolist()):
        scores[index] = score
    return scores


def _has_loss(labels: list[int]) -> bool:
    return any(label != -100 for label in labels[1:])  # nothing predicts the first token


def select_top(scores: Sequence[float], keep: int | float) -> list[int]:
    """Indices of the best-scored candidates, best first (ties in input order; NaN never chosen): `keep` of
    them if an int, that fraction of all candidates (rounded) if a float in (0, 1]."""
    if isinstance(keep, float):
        if not 0 < keep <= 1:
            raise ValueError(f"a fraction to keep must be in (0, 1], not {keep}")
        keep = round(keep * len(scores))
    if keep < 0:
        raise ValueError(f"cannot keep {keep} candidates")
    ranked = sorted((index for index, score in enumerate(scores) if not math.isnan(score)), key=lambda index: -scores[index])
    return ranked[:keep]
