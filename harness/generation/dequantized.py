"""The embedded model's GGUF file, de-quantized once into the user cache and loaded from there.

transformers reads a GGUF file in Python. On this project's 2-core machine the embedded model took 15.4 s to load
and its tokenizer 4.3 s, in every process that loads them: each stage of a run, each evaluation with a model.
Under the profiler (the model's load 23 s there), 14 s was the gguf package parsing the file's metadata (the
tokenizer's 49,152 tokens, once for the config and once for the weights) and transformers mapping tensor names;
de-quantizing was 2.7 s. The
copy holds what that load gives, written by save_pretrained: the float32 weights as de-quantized (540 MB), the
config and the tokenizer. It is kept per file digest, and made again when transformers or gguf, whose code made
it, change version.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import json
import os
import sys
import warnings
from pathlib import Path

from harness.files import ScratchFolder, cache_dir, file_sha256

MADE_BY = "dequantized-from.json"  # written last: a folder holding it is complete


def dequantized_copy(gguf_path: Path) -> Path | None:
    """The folder holding `gguf_path` de-quantized (made now if missing or made by other versions), or None
    when the cache cannot be written: the caller then loads the GGUF file itself, as before."""
    copy, made_by = _copy_and_maker(gguf_path)
    if _made_by(copy) == made_by:
        return copy
    try:
        _make(gguf_path, copy, made_by)
    except OSError as error:
        warnings.warn(f"cannot keep a de-quantized copy of {gguf_path.name} under {copy.parent} ({error}); "
                      "loading the GGUF file itself, about 20 s each time", stacklevel=3)
        return None
    return copy


def copy_to_make(gguf_path: Path) -> Path | None:
    """Where the copy of `gguf_path` goes, if these versions have not made it yet; else None. Nothing is made (for
    the disk estimate of a run, scoder/disk.py)."""
    copy, made_by = _copy_and_maker(gguf_path)
    return None if _made_by(copy) == made_by else copy


def _copy_and_maker(gguf_path: Path) -> tuple[Path, dict]:
    stat = gguf_path.stat()
    made_by = {"gguf_sha256": _digest(str(gguf_path), stat.st_size, stat.st_mtime_ns),
               **{package: importlib.metadata.version(package) for package in ("transformers", "gguf")}}
    return cache_dir() / "models" / f"{gguf_path.stem}-{made_by['gguf_sha256'][:16]}", made_by


def forget_gguf_origin(model) -> None:
    """The de-quantized model keeps a marker of its GGUF origin that makes save_pretrained refuse to write it
    (checkpoints, merged adapters, this copy): its weights are plain tensors now."""
    model.hf_quantizer = None
    model.is_quantized = False  # else the Trainer refuses to fine-tune it
    model.quantization_method = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config


@functools.cache
def _digest(path: str, size: int, mtime_ns: int) -> str:
    """Once per process and file version: a stage loads the tokenizer and then the model (0.07-0.17 s a hash here)."""
    return file_sha256(Path(path))


def _made_by(copy: Path) -> dict | None:
    try:
        return json.loads((copy / MADE_BY).read_text())
    except (OSError, ValueError):
        return None


def _make(gguf_path: Path, copy: Path, made_by: dict) -> None:
    """Written beside the copy, then renamed into its place: a killed process or two processes making it at
    once leave either no copy or a whole one. The folders beside it are held by this process while it works
    (harness.files.ScratchFolder): what processes killed meanwhile left there (540 MB each) goes as the next one
    begins, and a folder in use is never touched, from this host or from a container sharing the cache."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    copy.parent.mkdir(parents=True, exist_ok=True)
    print(f"scoder: de-quantizing {gguf_path.name} once into {copy} (about 20 s and 540 MB here; later loads take 2.5 s)",
          file=sys.stderr, flush=True)
    folders = [ScratchFolder(f".{copy.name}.", copy.parent)]
    making = folders[0].path
    try:
        model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name, dtype="float32")
        forget_gguf_origin(model)
        model.save_pretrained(making)
        AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name).save_pretrained(making)
        (making / MADE_BY).write_text(json.dumps(made_by, indent=1) + "\n")
        if copy.exists() and _made_by(copy) != made_by:  # by other versions: set aside, a folder is not renamed over
            folders.append(ScratchFolder(f".{copy.name}.", copy.parent))
            with contextlib.suppress(FileNotFoundError):  # another process set it aside meanwhile
                os.rename(copy, folders[-1].path / "copy")
        try:
            os.rename(making, copy)
        except OSError:
            if _made_by(copy) != made_by:  # another process made it meanwhile: theirs is used, this one goes
                raise
    finally:
        for folder in folders:
            folder.remove()
