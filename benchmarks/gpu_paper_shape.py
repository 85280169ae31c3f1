"""The GPU's arithmetic at the paper's model shapes, through the project's own code: LoRA SFT and full SFT
(scoder.sft.train: TRL, PEFT, the Trainer), gradient influence (scoder.gradients.gradient_features, the
per-candidate work of scoder.influence) and HF generation (harness.generation.hf.HFBackend), each at steady
state, beside the measured rate of one large bf16 matmul in the same run.

Models: Qwen2.5-Coder-7B-Instruct (the synthesizer) and DeepSeek-Coder-6.7B-Base (the target), built from
their configs with random weights (harness.generation.random_models; no download) and the embedded
model's tokenizer. Random weights change no arithmetic; what they generate is noise and never ends early.
Data: synthesizer examples (snippet -> problem + solution, the chat form the method trains on) made from
the 12 seed samples of recipes/data/seed_synthesis.jsonl, their solutions repeated so that the lengths
spread evenly over 25-95% of the paper recipe's max_length (labelled: real text, synthetic lengths).
Settings are the paper recipe's (recipes/paper/scoder-ds6.7b-qwen7b.yaml) except gradient accumulation,
1 here, so every measured step includes an optimizer step (the recipe's 16 would make it rarer).

What is printed per phase: tokens/s (real tokens, no padding; generation: new tokens), peak GPU memory,
and the fraction of the matmul rate the model's FLOPs reach (model FLOPs, PaLM's convention: forward 2N
per token, backward 4N for full SFT and 2N for LoRA and influence, whose frozen weights need no gradient,
N the parameters outside the embedding; attention's 2 x 2 x layers x hidden x context per token forward,
twice that backward; recomputation under gradient checkpointing is not counted). Steady state: the first
`--warmup` steps (or batches) of each phase are run and not timed.

    python benchmarks/gpu_paper_shape.py                       # one GPU, both paper shapes (not yet timed on one)
    python benchmarks/gpu_paper_shape.py --shapes tiny-qwen2 --tiny   # any machine, a tiny shape (the suite runs this)
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
import torch  # noqa: E402
from transformers import TrainerCallback  # noqa: E402

from harness.generation.backend import Decoding  # noqa: E402
from harness.generation.hf import HFBackend, HFOptions  # noqa: E402
from harness.generation.prompts import Prompt  # noqa: E402
from harness.generation.random_models import SHAPES, write_random_model  # noqa: E402
from scoder import sft, synthesis  # noqa: E402
from scoder.gradients import SparseSignProjection, gradient_features, load_adam_states  # noqa: E402
from scoder.influence import tokenize  # noqa: E402
from scoder.disk import parameter_count  # noqa: E402
from scoder.recipe import load_recipe  # noqa: E402

PAPER = load_recipe(REPO / "recipes" / "paper" / "scoder-ds6.7b-qwen7b.yaml")
SEED = REPO / "recipes" / "data" / "seed_synthesis.jsonl"
PHASES = ("lora", "full", "influence", "generation")


# ------------------------------------------------------------------------------------------------ data

def seed_rows() -> list[dict]:
    return [json.loads(line) for line in SEED.read_text().splitlines() if line.strip()]


def examples_of_paper_length(tokenizer, count: int, max_length: int) -> list[dict]:
    """`count` synthesizer examples whose token lengths spread evenly over 25-95% of max_length."""
    rows = seed_rows()
    examples = []
    for index in range(count):
        row = rows[index % len(rows)]
        target = int(max_length * (0.25 + 0.70 * index / max(1, count - 1)))
        solution = row["solution"]
        while True:
            example = synthesis.synthesizer_example(row["snippet"], row["problem"], solution)
            if len(tokenize(example, tokenizer, 10 ** 9)[0]) >= target:
                break
            solution += "\n\n" + rows[(index + len(solution)) % len(rows)]["solution"]
        examples.append(example)
    return examples


def generation_prompts(count: int) -> list[Prompt]:
    rows = seed_rows()
    return [Prompt(f"task/{index}", messages=({"role": "user", "content": rows[index % len(rows)]["problem"]
                                                + f"\n(variant {index})"},)) for index in range(count)]


# ------------------------------------------------------------------------------------------ arithmetic

def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def matmul_rate(size: int, device: str) -> float:
    """FLOP/s of a size^3 bf16 matmul, the best of 10 timed after 3 untimed."""
    a = torch.randn(size, size, device=device, dtype=torch.bfloat16)
    b = torch.randn(size, size, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    best = math.inf
    for _ in range(10):
        sync()
        started = time.perf_counter()
        a @ b
        sync()
        best = min(best, time.perf_counter() - started)
    return 2 * size ** 3 / best


def dense_parameters(shape: str) -> int:
    """Parameters outside the input embedding (the ones every token multiplies by)."""
    config = SHAPES[shape]
    return parameter_count(config) - config["vocab_size"] * config["hidden_size"]


def flops_per_token(shape: str, context: float, backward: str) -> float:
    """Model FLOPs per token at a mean attention context; backward: 'full', 'inputs' (frozen weights) or 'none'."""
    s = SHAPES[shape]
    dense = 2 * dense_parameters(shape)
    attention = 4 * s["num_hidden_layers"] * s["hidden_size"] * context
    factor = {"full": 3, "inputs": 2, "none": 1}[backward]
    return factor * dense + (1 if backward == "none" else 3) * attention


def peak_memory() -> float:
    return torch.cuda.max_memory_allocated() / 2 ** 30 if torch.cuda.is_available() else float("nan")


def fresh_memory():
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


# ---------------------------------------------------------------------------------------------- phases

class StepTimer(TrainerCallback):
    """Times the Trainer's steps after `warmup` of them, reads the real tokens TRL counts (num_tokens), and
    stops the run after warmup + measured steps."""
    def __init__(self, warmup: int, measured: int):
        self.warmup, self.measured = warmup, measured
        self.started = self.tokens_at_start = None
        self.seconds = self.tokens = 0.0

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.warmup:
            sync()
            self.started = time.perf_counter()
        if state.global_step == self.warmup + self.measured:
            sync()
            self.seconds = time.perf_counter() - self.started
            control.should_training_stop = True
        return control

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "num_tokens" in logs:
            if state.global_step == self.warmup:
                self.tokens_at_start = logs["num_tokens"]
            if state.global_step == self.warmup + self.measured:
                self.tokens = logs["num_tokens"] - self.tokens_at_start


def run_sft(model_dir: str, shape: str, examples: list[dict], settings: sft.SFTSettings, folder: Path, args, keep: bool) -> dict:
    """One SFT phase; with `keep`, it runs to its end and leaves a checkpoint (influence reads it)."""
    steps = args.warmup + args.steps
    count = settings.batch_size * steps + (0 if keep else settings.batch_size)  # one more batch: stopped before the save
    timer = StepTimer(args.warmup, args.steps)
    fresh_memory()
    sft.train(model_dir, examples[:count], folder, settings, progress=False, keep_optimizer=keep, callbacks=[timer])
    mean_length = timer.tokens / (settings.batch_size * args.steps)
    backward = "full" if settings.method == "full" else "inputs"
    return {"tokens/s": timer.tokens / timer.seconds, "peak GiB": peak_memory(),
            "FLOP/s": timer.tokens / timer.seconds * flops_per_token(shape, mean_length / 2, backward)}


def run_influence(model_dir: str, shape: str, checkpoint: Path, examples: list[dict], batch: int, args) -> dict:
    """Candidate features of one reference checkpoint (Adam directions, projected), as influence_scores makes them."""
    from peft import PeftModel

    from harness.generation.models import load_causal_lm, load_tokenizer, resolve

    fresh_memory()
    config = PAPER.selection.gradients
    source = resolve(model_dir)
    tokenizer = load_tokenizer(source)
    samples = [tokenize(example, tokenizer, config.max_length) for example in examples]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = load_causal_lm(source, torch.bfloat16 if device == "cuda" else torch.float32, device)
    adapted = PeftModel.from_pretrained(model, str(checkpoint), is_trainable=True).eval()
    states = load_adam_states(adapted, checkpoint)
    states = {name: type(state)(state.exp_avg.to(device), state.exp_avg_sq.to(device), state.step, state.betas, state.eps)
              for name, state in states.items()}
    projection = SparseSignProjection(sum(state.exp_avg.numel() for state in states.values()), config.projection_dim,
                                      config.nonzeros_per_column, config.seed, device, config.projection == "sparse-matmul")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    warm, measured = samples[:args.warmup * batch], samples[args.warmup * batch:(args.warmup + args.steps) * batch]
    gradient_features(adapted, warm, projection, states, batch, pad)
    sync()
    started = time.perf_counter()
    gradient_features(adapted, measured, projection, states, batch, pad)
    sync()
    seconds = time.perf_counter() - started
    tokens = sum(len(ids) for ids, _ in measured)
    flops = sum(len(ids) * flops_per_token(shape, len(ids) / 2, "inputs") for ids, _ in measured)
    result = {"candidates/s": len(measured) / seconds, "tokens/s": tokens / seconds, "peak GiB": peak_memory(), "FLOP/s": flops / seconds}
    del adapted, model, states
    # Where a batch's projection time goes: the same vectors through both ways of applying the matrix.
    vectors = torch.randn(batch, projection.input_dim, device=device)
    for way in (False, True):
        applied = SparseSignProjection(projection.input_dim, config.projection_dim, config.nonzeros_per_column, config.seed, device, way)
        applied(vectors)
        sync()
        started = time.perf_counter()
        applied(vectors)
        sync()
        result[f"projection ms ({'sparse matmul' if way else 'scatter'})"] = 1000 * (time.perf_counter() - started)
        del applied
    return result


def run_generation(model_dir: str, shape: str, batch: int, args, compile: bool = False) -> dict:
    """New tokens per second of one batch; the warm-up batches are the same prompts (a compiled decoding
    step is compiled for their shapes there)."""
    fresh_memory()
    backend = HFBackend(model_dir, HFOptions(dtype="bfloat16" if torch.cuda.is_available() else "float32", compile=compile))
    prompts = generation_prompts(batch)
    started = time.perf_counter()
    for _ in range(args.warmup):
        list(backend.generate(prompts, Decoding(max_new_tokens=args.new_tokens if compile else 8, batch_size=batch)))
    warmup_seconds = time.perf_counter() - started
    sync()
    started = time.perf_counter()
    tokens = sum(count for _, _, count in backend.generate(prompts, Decoding(max_new_tokens=args.new_tokens, batch_size=batch)))
    sync()
    seconds = time.perf_counter() - started
    context = 200 + args.new_tokens / 2  # ~prompt + half the answer
    result = {"tokens/s": tokens / seconds, "peak GiB": peak_memory(), "FLOP/s": tokens / seconds * flops_per_token(shape, context, "none")}
    if compile:
        result["warm-up s (compiling)"] = warmup_seconds
    del backend
    return result


# ------------------------------------------------------------------------------------------------ main

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shapes", nargs="+", default=["qwen2.5-coder-7b", "deepseek-coder-6.7b"], choices=tuple(SHAPES))
    parser.add_argument("--phases", nargs="+", default=list(PHASES), choices=PHASES)
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps or batches first (default 3)")
    parser.add_argument("--steps", type=int, default=5, help="timed steps or batches (default 5)")
    parser.add_argument("--new-tokens", type=int, default=128, help="tokens generated per prompt (default 128)")
    parser.add_argument("--generation-batches", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--influence-batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--compile-batches", type=int, nargs="*", default=[],
                        help="after everything else, generation with the hf backend's --compile at these batch sizes (first shape only)")
    parser.add_argument("--tiny", action="store_true", help="small lengths and counts: checks the script on any machine")
    parser.add_argument("--tokenizer", help="a tokenizer folder or model spec (default: the embedded model's)")
    parser.add_argument("--work", help="folder for the random models and checkpoints (default: a temporary one)")
    parser.add_argument("--output", help="also write the results as JSON here (rewritten after every phase)")
    args = parser.parse_args()

    device = "cuda" if torch.cuda.is_available() else "cpu"
    work = Path(args.work or tempfile.mkdtemp(prefix="gpu-paper-shape-"))
    rate = matmul_rate(512 if args.tiny else 8192, device)
    name = torch.cuda.get_device_name() if device == "cuda" else "CPU"
    print(f"{name}: bf16 matmul {'512' if args.tiny else '8192'}^3 at {rate / 1e12:.1f} TFLOP/s", flush=True)
    results = {"device": name, "matmul TFLOP/s": rate / 1e12, "versions": {"torch": torch.__version__}, "rows": []}
    scale = dict(max_length=256, batch_size=2) if args.tiny else {}

    def report(shape: str, phase: str, measure):
        """Runs one phase; a failure (out of memory, say) is recorded and the next phase runs."""
        held = torch.cuda.memory_allocated() / 2 ** 30 if device == "cuda" else 0.0
        try:
            measured = measure()
            measured["of matmul rate"] = measured["FLOP/s"] / rate
        except Exception as error:
            measured = {"error": f"{type(error).__name__}: {str(error)[:300]}"}
        fresh_memory()
        measured["GiB held before"] = held
        results["rows"].append({"shape": shape, "phase": phase, **measured})
        shown = ", ".join(f"{key} {value:.3g}" if isinstance(value, float) else f"{key} {value}"
                          for key, value in measured.items() if key != "FLOP/s")
        print(f"{shape:20} {phase:22} {shown}", flush=True)
        if args.output:
            Path(args.output).write_text(json.dumps(results, indent=2))

    for shape in args.shapes:
        started = time.perf_counter()
        model_dir = str(write_random_model(shape, work / shape, args.tokenizer, device=device))
        print(f"{shape}: random weights written in {time.perf_counter() - started:.0f} s", flush=True)
        from harness.generation.models import load_tokenizer, resolve

        tokenizer = load_tokenizer(resolve(model_dir))
        full = replace(PAPER.synthesizer.sft, epochs=1, gradient_accumulation=1, **scale)
        lora = replace(PAPER.selection.reference_sft, epochs=1, gradient_accumulation=1, checkpoints=1, **scale)
        batch = max(full.batch_size, lora.batch_size, *args.influence_batches)
        examples = examples_of_paper_length(tokenizer, batch * (args.warmup + args.steps + 1), full.max_length)
        reference = None
        if "lora" in args.phases or "influence" in args.phases:
            report(shape, f"LoRA SFT r{lora.lora_r}", lambda: run_sft(model_dir, shape, examples, lora, work / f"{shape}-lora", args, keep=True))
            reference = (sft.checkpoints_in(work / f"{shape}-lora") or [None])[-1]
        if "full" in args.phases:
            report(shape, "full SFT", lambda: run_sft(model_dir, shape, examples, full, work / f"{shape}-full", args, keep=False))
        if "influence" in args.phases and reference is not None:
            for size in args.influence_batches:
                report(shape, f"influence batch {size}", lambda: run_influence(model_dir, shape, reference, examples, size, args))
        if "generation" in args.phases:
            for size in args.generation_batches:
                report(shape, f"generation batch {size}", lambda: run_generation(model_dir, shape, size, args))
    if args.compile_batches and torch.cuda.is_available():
        shape = args.shapes[0]
        for size in args.compile_batches:
            report(shape, f"generation batch {size}, compiled", lambda: run_generation(str(work / shape), shape, size, args, compile=True))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
