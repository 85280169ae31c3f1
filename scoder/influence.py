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

Per-sample gradients come from one backward per batch: LoRA's trainable weights are nn.Linear weights,
whose per-sample gradient is the sum over tokens of output-gradient x input outer products, read from
the activations and output gradients of that one backward (as Opacus does).
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
from torch import nn


@dataclass(frozen=True)
class InfluenceConfig:
    projection_dim: int = 8192  # LESS Sec. 4.1 (d = 8192)
    # Non-zeros per input coordinate of the sparse sign projection (Kane & Nelson's sparse JL; 4 kept
    # cosines within r = 0.989 of the full-dimensional ones in the measurement).
    nonzeros_per_column: int = 4
    seed: int = 0  # LESS seeds its projector with 0
    max_length: int = 2048  # tokens, longer samples are truncated at the end; LESS's get_info default
    batch_size: int = 8  # samples per backward; memory grows with it (logits: batch x length x vocab)

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


def batches(samples: Sequence[tuple[list[int], list[int]]], batch_size: int, pad_id: int):
    """(positions in `samples`, input_ids, attention_mask, labels), right-padded; samples of similar length
    share a batch so little of it is padding."""
    order = sorted(range(len(samples)), key=lambda index: len(samples[index][0]))
    for first in range(0, len(order), batch_size):
        chosen = order[first:first + batch_size]
        width = max(len(samples[index][0]) for index in chosen)
        input_ids = torch.full((len(chosen), width), pad_id)
        labels = torch.full((len(chosen), width), -100)
        attention_mask = torch.zeros((len(chosen), width), dtype=torch.long)
        for row, index in enumerate(chosen):
            ids, targets = samples[index]
            input_ids[row, :len(ids)] = torch.tensor(ids)
            labels[row, :len(ids)] = torch.tensor(targets)
            attention_mask[row, :len(ids)] = 1
        yield chosen, input_ids, attention_mask, labels


def per_sample_losses(model, input_ids, attention_mask, labels) -> torch.Tensor:
    """Each sample's loss: the mean next-token cross-entropy over its labelled (completion) tokens. Logits
    are computed from the batch's earliest labelled token on: the prompts' vocabulary projections would be
    discarded, and they are a fifth of a small model's compute."""
    first = max(1, int((labels != -100).int().argmax(1).min()))  # nothing predicts the first token
    logits = model(input_ids=input_ids, attention_mask=attention_mask, logits_to_keep=input_ids.shape[1] - first + 1,
                   use_cache=False).logits  # eval mode would otherwise keep every layer's keys and values
    # logits[:, j] predicts token first + j; the last position predicts nothing
    targets = torch.cat([labels[:, first:], torch.full_like(labels[:, :1], -100)], dim=1)
    token_losses = nn.functional.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                               ignore_index=-100, reduction="none").view(targets.shape)
    return token_losses.sum(1) / (targets != -100).sum(1)


def trainable_linears(model) -> dict[str, nn.Linear]:
    """Parameter name -> the nn.Linear it is the weight of, for every trainable parameter (LoRA's A and B)."""
    trainable = [name for name, parameter in model.named_parameters() if parameter.requires_grad]
    owners = {f"{name}.weight": module for name, module in model.named_modules()
              if isinstance(module, nn.Linear) and module.weight.requires_grad}
    if unsupported := [name for name in trainable if name not in owners]:
        raise ValueError(f"per-sample gradients are computed for trainable nn.Linear weights (LoRA's A and B) only; "
                         f"also trainable: {', '.join(unsupported[:5])}")
    if not trainable:
        raise ValueError("the model has no trainable parameters: load the adapter with is_trainable=True")
    return {name: owners[name] for name in trainable}


def per_sample_gradients(model, input_ids, attention_mask, labels) -> dict[str, torch.Tensor]:
    """Parameter name -> (batch, *shape) gradients of each sample's loss, from one forward and backward.

    A linear layer's weight gradient is the sum over tokens of (output gradient) x (input) outer products;
    samples do not interact in the network, so the rows of one backward are each sample's own."""
    layers = trainable_linears(model)
    gradients: dict[str, torch.Tensor] = {}

    def capture(name):
        def on_forward(module, inputs, output):
            activations = inputs[0].detach()

            def on_backward(output_gradient):
                gradient = torch.bmm(output_gradient.transpose(1, 2), activations.to(output_gradient.dtype))
                gradients[name] = gradients[name] + gradient if name in gradients else gradient
            output.register_hook(on_backward)
        return on_forward

    handles = [layer.register_forward_hook(capture(name)) for name, layer in layers.items()]
    try:
        loss = per_sample_losses(model, input_ids, attention_mask, labels).sum()
        torch.autograd.grad(loss, [layer.weight for layer in layers.values()])
    finally:
        for handle in handles:
            handle.remove()
    return {name: gradients[name] for name in layers}


@dataclass(frozen=True)
class AdamState:
    exp_avg: torch.Tensor
    exp_avg_sq: torch.Tensor
    step: float
    betas: tuple[float, float]
    eps: float


def adam_states(model, optimizer_state: dict) -> dict[str, AdamState]:
    """Parameter name -> its saved Adam state, from a torch optimizer state_dict that numbers parameters.

    The HF Trainer (`Trainer.create_optimizer`) builds two param groups, the parameters that take weight
    decay (`Trainer.get_decay_parameter_names`) and then the rest, each in model order; torch numbers them
    across the groups in that order. Group sizes and every moment's shape are checked against the model."""
    from transformers import Trainer

    trainable = [(name, parameter) for name, parameter in model.named_parameters() if parameter.requires_grad]
    # The method reads nothing from the Trainer itself; calling it keeps transformers' rule in one place.
    decay = set(Trainer.get_decay_parameter_names(None, model))
    grouped = [[item for item in trainable if item[0] in decay], [item for item in trainable if item[0] not in decay]]
    saved = optimizer_state["param_groups"]
    if [len(group["params"]) for group in saved] != [len(items) for items in grouped]:
        raise ValueError(f"the optimizer state's param groups hold {[len(group['params']) for group in saved]} parameters, "
                         f"the model's trainable ones group as {[len(items) for items in grouped]} (decay, no decay): "
                         f"not the optimizer of this model's Trainer run")
    states = {}
    for group, items in zip(saved, grouped):
        for index, (name, parameter) in zip(group["params"], items):
            state = optimizer_state["state"].get(index)
            if state is None or "exp_avg" not in state or "exp_avg_sq" not in state:
                raise ValueError(f"the optimizer state has no Adam moments for parameter {index} ({name}): "
                                 f"influence needs an Adam(W) optimizer that has taken a step")
            if state["exp_avg"].shape != parameter.shape or state["exp_avg_sq"].shape != parameter.shape:
                raise ValueError(f"optimizer state {index} has shape {tuple(state['exp_avg'].shape)}, parameter {name} "
                                 f"{tuple(parameter.shape)}: the state does not belong to this model")
            states[name] = AdamState(state["exp_avg"], state["exp_avg_sq"], float(state["step"]),
                                     tuple(group["betas"]), float(group["eps"]))
    return states


def adam_direction(gradients: torch.Tensor, state: AdamState) -> torch.Tensor:
    """The update Adam would take next if these (batch, *shape) gradients were its next gradients: bias-corrected
    m / (sqrt(v) + eps), as LESS's Gamma (Sec. 2.2). LESS's code drops the bias correction and puts eps under
    the square root; the paper's form is AdamW's own update."""
    beta1, beta2 = state.betas
    step = state.step + 1
    exp_avg = state.exp_avg.to(gradients) * beta1 + gradients * (1 - beta1)
    exp_avg_sq = state.exp_avg_sq.to(gradients) * beta2 + gradients.square() * (1 - beta2)
    return (exp_avg / (1 - beta1 ** step)) / ((exp_avg_sq / (1 - beta2 ** step)).sqrt() + state.eps)


class SparseSignProjection:
    """A seeded random projection to `dimension` coordinates with `nonzeros` entries of +-1/sqrt(nonzeros) per
    input coordinate, one in each of `nonzeros` blocks of rows (Kane & Nelson's block construction, so the
    entries of a column never collide). Never materialised densely: it keeps each input coordinate's rows
    and signs (12 bytes per non-zero) and projects by scattering, O(inputs x nonzeros) per vector."""

    def __init__(self, input_dim: int, dimension: int, nonzeros: int, seed: int, device="cpu"):
        generator = torch.Generator().manual_seed(seed)
        block = dimension // nonzeros
        offsets = torch.arange(nonzeros)[:, None] * block
        self.rows = (torch.randint(block, (nonzeros, input_dim), generator=generator) + offsets).to(device)
        signs = torch.randint(2, (nonzeros, input_dim), generator=generator) * 2.0 - 1.0
        self.signs = (signs / math.sqrt(nonzeros)).to(device)
        self.input_dim, self.dimension = input_dim, dimension

    def __call__(self, vectors: torch.Tensor) -> torch.Tensor:
        if vectors.shape[-1] != self.input_dim:
            raise ValueError(f"the projection takes {self.input_dim}-dimensional vectors, not {vectors.shape[-1]}")
        vectors = vectors.float()
        projected = vectors.new_zeros(vectors.shape[0], self.dimension)
        for rows, signs in zip(self.rows, self.signs):
            projected.index_add_(1, rows, vectors * signs)
        return projected


def load_adam_states(model, checkpoint: Path) -> dict[str, AdamState]:
    path = Path(checkpoint) / "optimizer.pt"
    if not path.is_file():
        raise FileNotFoundError(f"{checkpoint} has no optimizer.pt: influence needs the Adam state the Trainer saves with "
                                f"each checkpoint (save_only_model off; DeepSpeed and FSDP runs save it elsewhere)")
    return adam_states(model, torch.load(path, map_location="cpu", weights_only=True))


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


def gradient_features(model, samples, projection: SparseSignProjection, states: dict[str, AdamState] | None,
                      config: InfluenceConfig, pad_id: int, progress: str | None = None) -> torch.Tensor:
    """(len(samples), projection_dim): each sample's projected, normalised gradient, or Adam update direction
    when `states` are given."""
    from tqdm import tqdm

    device = next(model.parameters()).device
    features = torch.empty(len(samples), projection.dimension)
    total = math.ceil(len(samples) / config.batch_size)
    for positions, *batch in tqdm(batches(samples, config.batch_size, pad_id), total=total, desc=progress, disable=progress is None):
        gradients = per_sample_gradients(model, *(tensor.to(device) for tensor in batch))
        if states is not None:
            gradients = {name: adam_direction(gradient, states[name]) for name, gradient in gradients.items()}
        flat = torch.cat([gradient.flatten(1) for gradient in gradients.values()], dim=1)
        features[positions] = nn.functional.normalize(projection(flat), dim=1).cpu()
    return features


def influence_scores(base_model: str, checkpoints: Sequence[Path], candidates: Sequence[dict], references: Sequence[dict],
                     config: InfluenceConfig = InfluenceConfig(), progress: bool = False) -> list[float]:
    """Each candidate's influence score (higher: more like the references), in the order given; NaN for a
    candidate with no completion token within max_length (it would teach nothing; TRL drops such samples).

    `base_model` is a spec as harness.generation.models.resolve takes it; `checkpoints` are `checkpoint-N`
    folders of a LoRA Trainer run on the references over that model, each with its adapter, optimizer.pt
    and trainer_state.json."""
    from peft import PeftModel

    from harness.generation.models import best_dtype, load_causal_lm, load_tokenizer, resolve

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
            projection = SparseSignProjection(input_dim, config.projection_dim, config.nonzeros_per_column, config.seed, device)
        label = Path(checkpoint).name
        reference = gradient_features(adapted, reference_samples, projection, None, config, pad_id,
                                      f"{label} references" if progress else None).mean(0)
        candidate = gradient_features(adapted, [candidate_samples[index] for index in scorable], projection, states, config,
                                      pad_id, f"{label} candidates" if progress else None)
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
