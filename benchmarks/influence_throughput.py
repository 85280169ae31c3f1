"""Gradient features per second of our influence scores (scoder/influence.py with scoder/gradients.py:
per-sample LoRA gradients of a batch from one backward, sparse sign projection) against a plain LESS-style
loop, on the same model, checkpoints, references and candidates, in one run; with the Spearman rank
correlation of the two methods' scores, the overlap of their top quarter, and each one's Spearman against
the exact scores (the same cosines on the unprojected vectors, which the loop has at hand).

The LESS-style loop is LESS's collect_grads (github.com/princeton-nlp/LESS, less/data_selection/
collect_grad_reps.py) on CPU: one forward and backward per sample through the HF model's own loss, the
full gradient vector, and TRAK's BasicProjector, which CPUs get (the CUDA one needs fast_jl): the dense
Rademacher matrix (gradient dim x 8192, 80 GB in float32 here) never fits, so it is generated in blocks
of 128 columns (LESS's block_size), each from its own seed, on every projection call, and LESS calls it
every 16 gradients. One concession to the loop: its entries are the signs of uniform draws, which this
CPU makes 4-8x faster than TRAK's bernoulli_. Both sides compute the same quantity otherwise (the Adam
direction, checkpoint weights, tokenization and dtype are shared), so the scores differ only by the
projection and by float rounding.

Data: real code instruction samples: standard-library functions of 5 to 12 lines (scoder.snippets) as
solutions, each with its docstring's first paragraph as the instruction (scoder.synthesis's instruction
format). The first `--references` samples stand for the proprietary references; the reference model is
a LoRA run on them through scoder.sft (LoRA r 8, so the dense projection stays within minutes), in a
temporary folder.

    python benchmarks/influence_throughput.py [--candidates 40] [--references 8] [--checkpoints 2]
"""

from __future__ import annotations

import argparse
import ast
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
import numpy as np  # noqa: E402
import torch  # noqa: E402

from harness.generation.models import load_causal_lm, load_tokenizer, resolve  # noqa: E402
from scoder import influence  # noqa: E402
from scoder.gradients import adam_direction, load_adam_states  # noqa: E402

MODEL = "smollm2-135m-instruct"
LESS_PROJECT_INTERVAL = 16  # gradients per projection call (collect_grads' project_interval)
TRAK_BLOCK = 128  # projection columns per generated block (LESS passes block_size=128)


def code_samples(count: int) -> list[dict]:
    """Instruction -> solution pairs from documented standard-library functions, in a seeded order."""
    from scoder.snippets import SnippetConfig, load_snippets
    from scoder.synthesis import instruction_example

    examples = []
    for snippet in load_snippets(SnippetConfig(min_lines=5, max_lines=12)):
        function = ast.parse(snippet["code"]).body[0]
        docstring = ast.get_docstring(function) if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)) else None
        if docstring:
            summary = " ".join(docstring.split("\n\n")[0].split())
            examples.append(instruction_example(f"Write a Python function `{function.name}`. {summary}", snippet["code"]))
        if len(examples) == count:
            return examples
    raise SystemExit(f"only {len(examples)} documented standard-library functions found")


class BlockRademacher:
    """A dense Rademacher projection generated block by block on every call, as TRAK's BasicProjector does."""

    def __init__(self, input_dim: int, dimension: int, seed: int = 0):
        self.block = torch.empty(input_dim, TRAK_BLOCK)
        self.dimension, self.seed = dimension, seed

    def __call__(self, vectors: torch.Tensor) -> torch.Tensor:
        projected = torch.empty(len(vectors), self.dimension)
        for index, start in enumerate(range(0, self.dimension, TRAK_BLOCK)):
            generator = torch.Generator().manual_seed(self.seed + 1000 * index)  # TRAK's per-block seeds
            self.block.uniform_(-1, 1, generator=generator).sign_()
            width = min(TRAK_BLOCK, self.dimension - start)
            projected[:, start:start + width] = vectors @ self.block[:, :width]
        return projected


def less_loop(checkpoints, candidates, references, config: influence.InfluenceConfig):
    """(projected scores, exact scores, seconds in gradients, seconds in projection) of the LESS-style loop."""
    from peft import PeftModel

    source = resolve(MODEL)
    tokenizer = load_tokenizer(source)
    model = load_causal_lm(source, torch.float32, "cpu")  # as influence_scores loads it on CPU
    reference_samples, candidate_samples = ([influence.tokenize(example, tokenizer, config.max_length) for example in examples]
                                            for examples in (references, candidates))
    projected_scores, exact_scores = torch.zeros(len(candidates)), torch.zeros(len(candidates))
    seconds = {"gradients": 0.0, "projection": 0.0}
    for checkpoint, weight in zip(checkpoints, influence.checkpoint_weights(checkpoints)):
        adapted = PeftModel.from_pretrained(model, str(checkpoint), is_trainable=True).eval()
        states = load_adam_states(adapted, checkpoint)
        names, parameters = zip(*[(name, parameter) for name, parameter in adapted.named_parameters() if parameter.requires_grad])
        projector = BlockRademacher(sum(parameter.numel() for parameter in parameters), config.projection_dim, config.seed)

        def features(samples, adam: bool):
            full, projected = [], []
            for ids, labels in samples:
                started = time.perf_counter()
                loss = adapted(input_ids=torch.tensor([ids]), labels=torch.tensor([labels])).loss
                gradients = torch.autograd.grad(loss, parameters)
                if adam:
                    gradients = [adam_direction(gradient[None], states[name])[0] for name, gradient in zip(names, gradients)]
                full.append(torch.cat([gradient.flatten() for gradient in gradients]).float())
                seconds["gradients"] += time.perf_counter() - started
                if len(full) % LESS_PROJECT_INTERVAL == 0 or len(full) == len(samples):
                    started = time.perf_counter()
                    projected.append(projector(torch.stack(full[len(projected) * LESS_PROJECT_INTERVAL:])))
                    seconds["projection"] += time.perf_counter() - started
            normalize = torch.nn.functional.normalize
            return normalize(torch.stack(full), dim=1), normalize(torch.cat(projected), dim=1)

        reference_full, reference_projected = features(reference_samples, adam=False)
        candidate_full, candidate_projected = features(candidate_samples, adam=True)
        projected_scores += weight * (candidate_projected @ reference_projected.mean(0))
        exact_scores += weight * (candidate_full @ reference_full.mean(0))
        model = adapted.unload()
    return projected_scores.tolist(), exact_scores.tolist(), seconds["gradients"], seconds["projection"]


def spearman(a, b) -> float:
    ranks = [np.argsort(np.argsort(values)) for values in (a, b)]
    return float(np.corrcoef(*ranks)[0, 1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--candidates", type=int, default=40)
    parser.add_argument("--references", type=int, default=8)
    parser.add_argument("--checkpoints", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=influence.InfluenceConfig.batch_size)
    args = parser.parse_args()
    print("$", shlex.join([Path(sys.executable).name, *sys.argv]))
    from scoder.sft import SFTSettings, train

    samples = code_samples(args.references + args.candidates)
    references, candidates = samples[:args.references], samples[args.references:]
    config = influence.InfluenceConfig(batch_size=args.batch_size)
    with tempfile.TemporaryDirectory() as folder:
        settings = SFTSettings(batch_size=4, epochs=2, checkpoints=args.checkpoints, lora_r=8, lora_alpha=16)
        checkpoints = train(MODEL, references, folder, settings, progress=False, keep_optimizer=True)  # influence reads them
        started = time.perf_counter()
        ours = influence.influence_scores(MODEL, checkpoints, candidates, references, config)
        ours_seconds = time.perf_counter() - started
        started = time.perf_counter()
        loop, exact, gradient_seconds, projection_seconds = less_loop(checkpoints, candidates, references, config)
        loop_seconds = time.perf_counter() - started

    tokenizer = load_tokenizer(resolve(MODEL))
    lengths = [len(influence.tokenize(example, tokenizer, config.max_length)[0]) for example in samples]
    features = (args.candidates + args.references) * len(checkpoints)
    keep = args.candidates // 4
    overlap = len(set(influence.select_top(ours, keep)) & set(influence.select_top(loop, keep))) / keep
    print(f"machine: {os.cpu_count()} cores, torch {torch.__version__} with {torch.get_num_threads()} threads, float32")
    print(f"{args.candidates} candidates, {args.references} references ({min(lengths)}-{max(lengths)} tokens, "
          f"median {sorted(lengths)[len(lengths) // 2]}), {len(checkpoints)} checkpoints (LoRA r 8), "
          f"{config.projection_dim} dimensions: {features} gradient features each")
    print(f"LESS-style loop: {loop_seconds:.1f} s ({gradient_seconds:.1f} s gradients, {projection_seconds:.1f} s projection), "
          f"{features / loop_seconds:.3f} features/s")
    print(f"ours (batch {config.batch_size}): {ours_seconds:.1f} s, {features / ours_seconds:.3f} features/s")
    print(f"speed-up: {loop_seconds / ours_seconds:.1f}x (over the loop's gradients alone: {gradient_seconds / ours_seconds:.2f}x)")
    print(f"Spearman ours vs loop: {spearman(ours, loop):.3f}; top {keep} overlap {overlap:.0%}")
    print(f"Spearman vs exact cosines: ours {spearman(ours, exact):.3f}, loop {spearman(loop, exact):.3f}")
    # Why the two can disagree: each projection adds noise of about 1/sqrt(dimensions) to a cosine, so rankings
    # agree only as far as the candidates' exact scores are spread wider than that.
    print(f"exact scores: spread (std) {np.std(exact):.4f}; projection noise scale 1/sqrt({config.projection_dim}) = "
          f"{config.projection_dim ** -0.5:.4f}")


if __name__ == "__main__":
    main()
