"""Models of a named shape with random weights, built from the config alone (no download): the paper's
models at their real size for measuring memory, disk and GPU arithmetic, and tiny ones of the same
architecture for tests. The weights are random, so what such a model writes is noise; everything else
(parameter count, tensor shapes, FLOPs, checkpoint bytes) is the real model's.

The tokenizer is the embedded model's (or one given): it only has to map text to ids below the shape's
vocabulary size, and the paper models' tokenizers are on the hub, which this project cannot assume.
"""

from __future__ import annotations

from pathlib import Path

# Transcribed from each model's published config.json on the Hugging Face hub (the fields that decide
# shape and arithmetic; the rest take transformers' defaults for the architecture).
SHAPES: dict[str, dict] = {
    "qwen2.5-coder-7b": {  # Qwen/Qwen2.5-Coder-7B-Instruct: the paper's synthesizer
        "model_type": "qwen2", "hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28,
        "num_attention_heads": 28, "num_key_value_heads": 4, "vocab_size": 152064, "max_position_embeddings": 32768,
        "rope_theta": 1000000.0, "rms_norm_eps": 1e-6, "tie_word_embeddings": False, "hidden_act": "silu",
    },
    "deepseek-coder-6.7b": {  # deepseek-ai/deepseek-coder-6.7b-base: the paper's target
        "model_type": "llama", "hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32,
        "num_attention_heads": 32, "num_key_value_heads": 32, "vocab_size": 32256, "max_position_embeddings": 16384,
        "rope_theta": 100000.0, "rope_scaling": {"rope_type": "linear", "factor": 4.0}, "rms_norm_eps": 1e-6,
        "tie_word_embeddings": False, "hidden_act": "silu",
    },
    # The same architectures, small enough for a CPU test (a vocabulary that holds the embedded tokenizer's ids).
    "tiny-qwen2": {
        "model_type": "qwen2", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 49152, "max_position_embeddings": 4096,
        "rope_theta": 1000000.0, "rms_norm_eps": 1e-6, "tie_word_embeddings": False, "hidden_act": "silu",
    },
    "tiny-llama": {
        "model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 4, "vocab_size": 49152, "max_position_embeddings": 4096,
        "rope_theta": 100000.0, "rms_norm_eps": 1e-6, "tie_word_embeddings": False, "hidden_act": "silu",
    },
}


def shape_config(shape: str, tokenizer=None):
    """The transformers config of a named shape; with a tokenizer, its special tokens."""
    from transformers import AutoConfig

    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}: one of {', '.join(SHAPES)}")
    fields = dict(SHAPES[shape])
    config = AutoConfig.for_model(fields.pop("model_type"), **fields)
    if tokenizer is not None:
        if len(tokenizer) > config.vocab_size:
            raise ValueError(f"the tokenizer has {len(tokenizer)} tokens, more than shape {shape}'s vocabulary ({config.vocab_size})")
        config.bos_token_id, config.eos_token_id = tokenizer.bos_token_id, tokenizer.eos_token_id
        config.pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    return config


def random_model(shape: str, tokenizer=None, dtype="bfloat16", device: str = "cpu", seed: int = 0):
    """A causal LM of the named shape with random weights (transformers' own initialisation), built on
    `device` directly: at 7B the CPU would take minutes to initialise what a GPU does in seconds."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    dtype = getattr(torch, dtype) if isinstance(dtype, str) else dtype
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(shape_config(shape, tokenizer), dtype=dtype)
    return model.eval()


def write_random_model(shape: str, output: str | Path, tokenizer_spec: str | None = None, dtype: str = "bfloat16",
                       device: str = "cpu", seed: int = 0) -> Path:
    """A model folder (config, safetensors, tokenizer) that every loader of this project takes as a model."""
    from harness.generation.models import EMBEDDED_DEFAULT, load_tokenizer, resolve

    output = Path(output)
    if output.exists() and any(output.iterdir()):
        raise FileExistsError(f"{output} exists and is not empty: choose a new folder")
    tokenizer = load_tokenizer(resolve(tokenizer_spec or EMBEDDED_DEFAULT))
    model = random_model(shape, tokenizer, dtype, device, seed)
    output.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(output)
    tokenizer.save_pretrained(output)
    return output
