"""Tokens per second of our HF backend against a plain transformers loop (one prompt per `generate`
call, as evalplus' and bigcodebench's HF providers do), on the same model, prompts and settings, in one
run. Greedy, fixed prompts (short programming instructions in the chat form), no stop strings, so both
sides generate the same amount of text.

CPU, with the embedded model at batch 1 and 8, fp32 and bf16:
    python benchmarks/generation_throughput.py
GPU, with a ~0.5B Qwen2-shaped model built from a config with random weights (no download) and the
embedded model's tokenizer saved to a folder beforehand (`--save-tokenizer DIR` on a machine that has it):
    python benchmarks/generation_throughput.py --random-config qwen2-0.5b --tokenizer DIR --dtypes bfloat16 --batches 1 8 32
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from harness.generation.backend import Decoding  # noqa: E402
from harness.generation.prompts import Prompt  # noqa: E402

TASKS = [f"Write a Python function that {task}." for task in (
    "returns the n-th Fibonacci number", "reverses the words of a sentence", "checks whether a string is a palindrome",
    "merges two sorted lists", "counts the vowels in a string", "returns the prime factors of an integer",
    "flattens a nested list", "computes the median of a list of numbers", "converts a Roman numeral to an integer",
    "finds the longest common prefix of a list of strings", "rotates a matrix by 90 degrees", "removes duplicate items keeping order",
    "parses a CSV line with quoted fields", "returns the k most frequent words", "validates an IPv4 address",
    "computes the edit distance of two strings",
)]
# Qwen2.5-0.5B's shape (config.json of Qwen/Qwen2.5-0.5B), with the tokenizer's vocabulary size.
RANDOM_CONFIGS = {"qwen2-0.5b": dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                                     num_key_value_heads=2, max_position_embeddings=32768, tie_word_embeddings=True)}


def prompts() -> list[Prompt]:
    return [Prompt(f"task/{i}", messages=({"role": "user", "content": text},)) for i, text in enumerate(TASKS)]


def plain_loop(backend, items: list[Prompt], max_new_tokens: int) -> tuple[float, int]:
    """The peer: one prompt at a time, straight through model.generate."""
    import torch

    started, tokens = time.perf_counter(), 0
    for prompt in items:
        inputs = backend.tokenizer(backend.render(prompt), add_special_tokens=False, return_tensors="pt").to(backend.device)
        with torch.inference_mode():
            output = backend.model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                                            pad_token_id=backend.tokenizer.pad_token_id)
        tokens += output.shape[1] - inputs["input_ids"].shape[1]
    return time.perf_counter() - started, tokens


def ours(backend, items: list[Prompt], max_new_tokens: int, batch: int) -> tuple[float, int]:
    started = time.perf_counter()
    tokens = sum(count for _, _, count in backend.generate(items, Decoding(max_new_tokens=max_new_tokens, batch_size=batch)))
    return time.perf_counter() - started, tokens


def random_model_folder(name: str, tokenizer_dir: str, dtype: str) -> str:
    import torch
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    torch.manual_seed(0)
    config = Qwen2Config(vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         **RANDOM_CONFIGS[name])
    model = Qwen2ForCausalLM(config).to(getattr(torch, dtype))
    folder = tempfile.mkdtemp(prefix="random-model-")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    print(f"{name} with random weights: {sum(p.numel() for p in model.parameters()) / 1e9:.2f} B parameters")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--random-config", choices=tuple(RANDOM_CONFIGS), help="build this model with random weights instead")
    parser.add_argument("--tokenizer", help="tokenizer folder for --random-config")
    parser.add_argument("--save-tokenizer", help="write the model's tokenizer to this folder and stop")
    parser.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--prompts", type=int, default=16)
    args = parser.parse_args()
    from harness.generation.hf import HFBackend, HFOptions

    if args.save_tokenizer:
        HFBackend(args.model, HFOptions(dtype="float32")).tokenizer.save_pretrained(args.save_tokenizer)
        return
    items = prompts()[:args.prompts]
    print(f"{len(items)} prompts, greedy, {args.max_new_tokens} new tokens at most, no stop strings")
    for dtype in args.dtypes:
        model = random_model_folder(args.random_config, args.tokenizer, dtype) if args.random_config else args.model
        backend = HFBackend(model, HFOptions(dtype=dtype))
        for batch in args.batches:  # warm-up: kernels for every batch shape are chosen before timing
            ours(backend, items[:batch], 16, batch)
        peer_s, peer_tokens = plain_loop(backend, items, args.max_new_tokens)
        print(f"[{backend.device} {dtype}] plain loop (batch 1): {peer_tokens / peer_s:7.1f} tok/s ({peer_tokens} tokens, {peer_s:.1f} s)")
        for batch in args.batches:
            seconds, tokens = ours(backend, items, args.max_new_tokens, batch)
            print(f"[{backend.device} {dtype}] ours, batch {batch:3d}:     {tokens / seconds:7.1f} tok/s ({tokens} tokens, {seconds:.1f} s)"
                  f"  ratio {(tokens / seconds) / (peer_tokens / peer_s):.2f}x")


if __name__ == "__main__":
    main()
