"""Per-sample training gradients of a LoRA model, as the gradient-influence filter (scoder/influence.py)
compares them: each sample's gradient, or the Adam update it would cause from a checkpoint's saved optimizer
state (LESS, arXiv 2402.04333, Sec. 2.2), sparsely projected and normalised.

Per-sample gradients come from one backward per batch: LoRA's trainable weights are nn.Linear weights,
whose per-sample gradient is the sum over tokens of output-gradient x input outer products, read from
the activations and output gradients of that one backward (as Opacus does).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
from torch import nn


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
    entries of a column never collide). Never materialised densely.

    Two ways to apply the same matrix, equal up to float rounding order. Scattering (the default): each
    input coordinate's rows and signs (12 bytes per non-zero), O(inputs x nonzeros) per vector. Sparse
    matmul: the matrix built once as CSR (one row per output) and applied by cuSPARSE. On a GPU, scattering
    ~80M LoRA coordinates into 8192 outputs contends on atomic adds to the same addresses, which the CSR form
    avoids; benchmarks/gpu_paper_shape.py times both on the same vectors (not yet on a GPU: until it has,
    scattering stays the default)."""

    def __init__(self, input_dim: int, dimension: int, nonzeros: int, seed: int, device="cpu", sparse_matmul: bool = False):
        generator = torch.Generator().manual_seed(seed)
        block = dimension // nonzeros
        offsets = torch.arange(nonzeros)[:, None] * block
        rows = torch.randint(block, (nonzeros, input_dim), generator=generator) + offsets
        signs = (torch.randint(2, (nonzeros, input_dim), generator=generator) * 2.0 - 1.0) / math.sqrt(nonzeros)
        self.input_dim, self.dimension = input_dim, dimension
        self.sparse_matmul = sparse_matmul
        if self.sparse_matmul:  # built where it is used: sorting ~300M entries takes a CPU a minute, a GPU a second
            rows, signs = rows.to(device).flatten(), signs.to(device).flatten()
            order = torch.argsort(rows, stable=True)  # by output row; within a row, by input coordinate
            columns = torch.arange(input_dim, device=device).repeat(nonzeros)[order]
            starts = torch.cat([torch.zeros(1, dtype=torch.long, device=device), torch.bincount(rows, minlength=dimension).cumsum(0)])
            with warnings.catch_warnings():  # "sparse CSR support is in beta": the one operation used here is cuSPARSE's SpMM
                warnings.simplefilter("ignore", UserWarning)
                self.matrix = torch.sparse_csr_tensor(starts, columns, signs[order], (dimension, input_dim), check_invariants=False)
        else:
            self.rows, self.signs = rows.to(device), signs.to(device)

    def __call__(self, vectors: torch.Tensor) -> torch.Tensor:
        if vectors.shape[-1] != self.input_dim:
            raise ValueError(f"the projection takes {self.input_dim}-dimensional vectors, not {vectors.shape[-1]}")
        vectors = vectors.float()
        if self.sparse_matmul:
            return (self.matrix @ vectors.T).T
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


def gradient_features(model, samples, projection: SparseSignProjection, states: dict[str, AdamState] | None,
                      batch_size: int, pad_id: int, progress: str | None = None) -> torch.Tensor:
    """(len(samples), projection_dim): each sample's projected, normalised gradient, or Adam update direction
    when `states` are given."""
    from tqdm import tqdm

    device = next(model.parameters()).device
    features = torch.empty(len(samples), projection.dimension)
    total = math.ceil(len(samples) / batch_size)
    for positions, *batch in tqdm(batches(samples, batch_size, pad_id), total=total, desc=progress, disable=progress is None):
        gradients = per_sample_gradients(model, *(tensor.to(device) for tensor in batch))
        if states is not None:
            gradients = {name: adam_direction(gradient, states[name]) for name, gradient in gradients.items()}
        flat = torch.cat([gradient.flatten(1) for gradient in gradients.values()], dim=1)
        features[positions] = nn.functional.normalize(projection(flat), dim=1).cpu()
    return features
