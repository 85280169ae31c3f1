"""How much disk a recipe's run takes: each stage's checkpoints and records, estimated before it runs
(`scoder run --dry-run` prints it; `scoder run` refuses to start where the run directory's filesystem
has less free space than the run still has to write, unless --skip-disk-check).

Where the numbers come from:
- A model's parameter count and layer shapes, from the first of: a local folder's config.json; the GGUF
  file (the embedded model, or a .gguf path: its header, read here without loading the weights); the
  Hugging Face cache's config.json (huggingface_hub.try_to_load_from_cache, no network); the hub's
  config.json (one request, 5 s, only when not offline); the count the recipe states
  (`synthesizer.parameters`, `target.parameters`); a config transcribed from the hub for the paper's
  models (harness/generation/random_models.py SHAPES). A count from a config is the decoder-only
  llama/qwen2/mistral formula of `parameter_count`, checked against transformers (tests/test_disk.py).
- A checkpoint of an SFT stage (scoder.sft keeps it sized for its use):
  - full fine-tuning: the weights in the compute dtype, 2 bytes a parameter on CUDA (bf16), 4 on a CPU
    (scoder.sft trains in fp32 there);
  - LoRA: the adapter in fp32, 4 bytes per adapter parameter, r x (in + out) for each targeted linear
    layer (PEFT's "all-linear": q, k, v, o, gate, up, down of every layer, not lm_head);
  - the reference LoRA (gradient influence reads every checkpoint's Adam state): also optimizer.pt,
    Adam's two fp32 moments, 8 bytes per trainable parameter;
  - the tokenizer (tokenizer.json: its size in the model's folder or cache, else 72 bytes per
    vocabulary entry, the embedded model's 3,522,871 bytes for 49,152) and the Trainer's small files.
  While a stage trains, its newest checkpoint also holds the resume state (optimizer.pt, 8 bytes per
  trainable parameter; for full fine-tuning on CUDA fp32 weights, 2 bytes more a parameter), and the
  next checkpoint is written before the previous one is slimmed: the peak of a stage is its finished
  size plus twice that resume state (once when it has one checkpoint). With `resumable: false` a
  checkpoint is the weights alone from the start (no optimizer state, even for the reference).
- Records (JSONL): counts from the recipe (snippets; candidates = snippets_per_iteration x checkpoints x
  samples_per_checkpoint; ...) times bytes per record, with the constants below calibrated on the smoke
  recipe's run (their comments give the measurement). Model outputs count max_new_tokens x OUTPUT_FILL
  tokens of OUTPUT_BYTES_PER_TOKEN bytes.
- The embedded model's de-quantized copy, made once in the harness cache outside the run folder: 4 bytes a
  parameter and the tokenizer, a note until it is made, not in the run's totals (where it does not fit, a
  stage loads the GGUF file instead).
Every file is rounded up to whole 4 KiB blocks, as `du` counts them. Nothing here imports torch.
"""

from __future__ import annotations

import json
import math
import mmap
import os
import shutil
import struct
from dataclasses import dataclass, field
from pathlib import Path

from harness.benchmarks.registry import resolve

BLOCK = 4096  # ext4's and xfs' allocation unit: what `du` counts per file

# --- models ---------------------------------------------------------------------------------------

LORA_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")  # PEFT's all-linear here
SUPPORTED = ("llama", "mistral", "qwen2", "qwen3")  # decoder-only, RMSNorm, gated MLP
TOKENIZER_BYTES_PER_ENTRY = 72  # tokenizer.json per vocabulary entry (with its merges): the embedded model's 3,522,871 / 49,152
# The paper's models: their hub configs as harness/generation/random_models.py transcribes them.
TRANSCRIBED = {"qwen/qwen2.5-coder-7b-instruct": "qwen2.5-coder-7b", "qwen/qwen2.5-coder-7b": "qwen2.5-coder-7b",
               "deepseek-ai/deepseek-coder-6.7b-base": "deepseek-coder-6.7b",
               "deepseek-ai/deepseek-coder-6.7b-instruct": "deepseek-coder-6.7b"}


@dataclass(frozen=True)
class ModelSize:
    spec: str  # the recipe's model
    parameters: int | None  # None: nothing known
    config: dict | None  # the shape fields of its config (for LoRA sizes), when known
    source: str  # where the count came from, for the printout
    tokenizer_bytes: int  # what tokenizer.save_pretrained writes into each checkpoint
    note: str = ""  # e.g. a stated count that disagrees with the config


def parameter_count(config: dict) -> int | None:
    """Parameters of a llama/qwen2/mistral-like decoder: embeddings, lm_head unless tied, per layer the
    q/k/v/o projections (qwen2: q/k/v biases; llama: all four when attention_bias), the gated MLP and
    two RMSNorms (qwen3: q/k norms too), and the final norm. None for another architecture."""
    if config.get("model_type") not in SUPPORTED:
        return None
    hidden, layers, inner = config["hidden_size"], config["num_hidden_layers"], config["intermediate_size"]
    heads = config["num_attention_heads"]
    kv_heads = config.get("num_key_value_heads") or heads
    head_dim = config.get("head_dim") or hidden // heads
    vocab = config["vocab_size"]
    q, kv = heads * head_dim, kv_heads * head_dim
    attention = hidden * q + 2 * hidden * kv + q * hidden
    if config["model_type"] == "qwen2":
        attention += q + 2 * kv
    elif config.get("attention_bias"):
        attention += q + 2 * kv + hidden
    if config["model_type"] == "qwen3":
        attention += 2 * head_dim
    mlp = 3 * hidden * inner + (2 * inner + hidden if config.get("mlp_bias") else 0)
    tied = config.get("tie_word_embeddings", False)  # transformers' default for these four
    return vocab * hidden * (1 if tied else 2) + layers * (attention + mlp + 2 * hidden) + hidden


def linear_shapes(config: dict) -> dict[str, tuple[int, int]]:
    """(in, out) of each linear layer of one decoder layer, and of the embedding and lm_head."""
    hidden, heads = config["hidden_size"], config["num_attention_heads"]
    head_dim = config.get("head_dim") or hidden // heads
    q, kv, inner = heads * head_dim, (config.get("num_key_value_heads") or heads) * head_dim, config["intermediate_size"]
    return {"q_proj": (hidden, q), "k_proj": (hidden, kv), "v_proj": (hidden, kv), "o_proj": (q, hidden),
            "gate_proj": (hidden, inner), "up_proj": (hidden, inner), "down_proj": (inner, hidden),
            "lm_head": (hidden, config["vocab_size"]), "embed_tokens": (config["vocab_size"], hidden)}


def lora_parameters(config: dict, rank: int, target: str) -> tuple[int, int]:
    """(adapter parameters, adapter tensors) of a LoRA of `rank` on `target` ("all-linear" or module names):
    r x (in + out) for each targeted layer, A and B tensors each."""
    names = LORA_MODULES if target == "all-linear" else tuple(name.strip() for name in target.split(","))
    shapes = linear_shapes(config)
    unknown = [name for name in names if name not in shapes]
    if unknown:
        raise ValueError(f"lora_target: {', '.join(unknown)} is not a layer of a {config.get('model_type')} model")
    per_layer = [name for name in names if name in LORA_MODULES]
    whole = [name for name in names if name not in LORA_MODULES]
    layers = config["num_hidden_layers"]
    count = layers * sum(rank * sum(shapes[name]) for name in per_layer) + sum(rank * sum(shapes[name]) for name in whole)
    return count, 2 * (layers * len(per_layer) + len(whole))


def model_size(spec: str, stated: float | None = None, field_name: str = "model", offline: bool | None = None) -> ModelSize:
    """What can be known of a recipe's model without loading it (sources in the module's docstring)."""
    from harness.generation.models import ModelError, _offline, resolve

    offline = _offline() if offline is None else offline
    stated_count = int(stated) if stated else None
    try:
        source = resolve(spec)
    except ModelError as error:
        return ModelSize(spec, stated_count, None, f"the recipe: {field_name}.parameters" if stated_count else f"unknown ({error})", 0)
    try:
        if source.gguf_file:
            found = _from_gguf(Path(source.location) / source.gguf_file)
        elif Path(source.location).is_dir():
            found = _from_folder(Path(source.location))
        else:
            found = _from_hub_cache(source.location) or (None if offline else _from_hub(source.location))
    except (OSError, ValueError, KeyError, TypeError, struct.error) as error:  # a config or header that does not read
        found = None
        unreadable = f"{source.location} does not read ({type(error).__name__}: {error})"
    else:
        unreadable = ""
    if found is not None:
        size = ModelSize(spec, *found)
        if stated_count and size.parameters and abs(stated_count - size.parameters) > 0.01 * size.parameters:
            size = ModelSize(**{**size.__dict__, "note": f"{field_name}.parameters states {stated_count:,}; the config's count is used"})
        return size
    transcribed = _transcribed(source.location)
    if stated_count:
        config = transcribed[1] if transcribed else None
        why = f"the recipe: {field_name}.parameters" + (f"; layer shapes: {transcribed[2]}" if transcribed else "")
        return ModelSize(spec, stated_count, config, why, _tokenizer_guess(config))
    if transcribed:
        return ModelSize(spec, *transcribed[:3], _tokenizer_guess(transcribed[1]))
    why = unreadable or ("offline: no local config, nothing in the Hugging Face cache" if offline else
                         "no config found on the hub or in the cache")
    return ModelSize(spec, None, None, f"unknown ({why}): state {field_name}.parameters", 0)


def _tokenizer_guess(config: dict | None) -> int:
    return TOKENIZER_BYTES_PER_ENTRY * config["vocab_size"] if config else 0


def _sized(config: dict, where: str, tokenizer_bytes: int | None):
    count = parameter_count(config)
    if count is None:
        return None
    return count, config, where, tokenizer_bytes if tokenizer_bytes is not None else _tokenizer_guess(config)


def _from_folder(folder: Path):
    config_path = folder / "config.json"
    if not config_path.is_file():
        return None
    config = json.loads(config_path.read_text())
    tokenizer = sum(path.stat().st_size for path in map(folder.joinpath, _TOKENIZER_FILES) if path.is_file()) or None
    found = _sized(config, str(config_path), tokenizer)
    if found is None:  # another architecture: the weights' own headers
        count = _safetensors_parameters(folder)
        if count:
            found = count, None, f"the safetensors headers in {folder} ({config.get('model_type')}: no formula here)", tokenizer or 0
    return found


_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "special_tokens_map.json")


def _safetensors_parameters(folder: Path) -> int:
    total = 0
    for path in folder.glob("*.safetensors"):
        with open(path, "rb") as handle:
            length = struct.unpack("<Q", handle.read(8))[0]
            header = json.loads(handle.read(length))
        total += sum(math.prod(entry["shape"]) for name, entry in header.items() if name != "__metadata__")
    return total


def _from_hub_cache(repo: str):
    from huggingface_hub import try_to_load_from_cache

    try:
        path = try_to_load_from_cache(repo, "config.json")
        tokenizer = try_to_load_from_cache(repo, "tokenizer.json")
    except Exception:  # not a valid repo id, or an unreadable cache: nothing known from there
        return None
    if not isinstance(path, str):
        return None
    config = json.loads(Path(path).read_text())
    return _sized(config, f"the Hugging Face cache: config.json of {repo}",
                  os.path.getsize(tokenizer) if isinstance(tokenizer, str) else None)


def _from_hub(repo: str):
    """One GET of the hub's config.json (5 s, no retries: hf_hub_download retries for ~23 s where there is
    no network, too long for a dry run)."""
    from huggingface_hub import hf_hub_url
    from huggingface_hub.utils import build_hf_headers, get_session

    try:
        response = get_session().get(hf_hub_url(repo, "config.json"), headers=build_hf_headers(), timeout=5, follow_redirects=True)
        response.raise_for_status()
        config = response.json()
    except Exception:  # no network, a private or gated model, not JSON: fall back
        return None
    return _sized(config, f"the hub: config.json of {repo}", None)


def _transcribed(location: str):
    from harness.generation.random_models import SHAPES

    shape = TRANSCRIBED.get(location.lower())
    if shape is None:
        return None
    config = dict(SHAPES[shape])
    return parameter_count(config), config, f"its hub config as transcribed in harness/generation/random_models.py ({shape})"


# GGUF (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md): the header names every tensor with its
# shape, so the count needs no weights. Read here directly: gguf.GGUFReader maps every field as numpy
# arrays and took 3-7 s on the embedded model's file, too slow for a dry run.
_GGUF_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_GGUF_STRING, _GGUF_ARRAY = 8, 9


def read_gguf_header(path: Path) -> tuple[dict, dict[str, tuple[int, ...]]]:
    """(metadata with arrays as their lengths, tensor name -> shape) of a GGUF file."""
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        magic, _version, tensors, pairs = struct.unpack_from("<4sIQQ", data, 0)
        if magic != b"GGUF":
            raise ValueError(f"{path} is not a GGUF file")
        offset = 24

        def string(at):
            length = struct.unpack_from("<Q", data, at)[0]
            return bytes(data[at + 8:at + 8 + length]).decode("utf-8", "replace"), at + 8 + length

        def value(kind, at):
            if kind == _GGUF_STRING:
                return string(at)
            if kind == _GGUF_ARRAY:
                item_kind, count = struct.unpack_from("<IQ", data, at)
                at += 12
                if item_kind in _GGUF_SCALARS:
                    return count, at + count * struct.calcsize("<" + _GGUF_SCALARS[item_kind])
                for _ in range(count):
                    _, at = value(item_kind, at)
                return count, at
            code = "<" + _GGUF_SCALARS[kind]
            return struct.unpack_from(code, data, at)[0], at + struct.calcsize(code)

        metadata = {}
        for _ in range(pairs):
            key, offset = string(offset)
            kind = struct.unpack_from("<I", data, offset)[0]
            metadata[key], offset = value(kind, offset + 4)
        shapes = {}
        for _ in range(tensors):
            name, offset = string(offset)
            dims = struct.unpack_from("<I", data, offset)[0]
            shapes[name] = struct.unpack_from(f"<{dims}Q", data, offset + 4)
            offset += 4 + 8 * dims + 4 + 8  # the dims, then the tensor's type and data offset
    return metadata, shapes


def _from_gguf(path: Path):
    metadata, shapes = read_gguf_header(path)
    arch = metadata["general.architecture"]
    vocab = metadata.get(f"{arch}.vocab_size") or metadata.get("tokenizer.ggml.tokens") or shapes["token_embd.weight"][-1]
    config = {"model_type": arch, "hidden_size": metadata[f"{arch}.embedding_length"],
              "num_hidden_layers": metadata[f"{arch}.block_count"], "intermediate_size": metadata[f"{arch}.feed_forward_length"],
              "num_attention_heads": metadata[f"{arch}.attention.head_count"],
              "num_key_value_heads": metadata.get(f"{arch}.attention.head_count_kv"), "vocab_size": vocab,
              "tie_word_embeddings": "output.weight" not in shapes}
    if f"{arch}.attention.key_length" in metadata:
        config["head_dim"] = metadata[f"{arch}.attention.key_length"]
    count = sum(math.prod(shape) for shape in shapes.values())
    return count, config, f"the header of {path.name}", TOKENIZER_BYTES_PER_ENTRY * vocab


# --- stages ---------------------------------------------------------------------------------------

# Calibration on the smoke recipe's run (recipes/smoke.yaml: SmolLM2-135M, CPU, sampling max_new_tokens 320,
# judging 200; its 48 synthesizer outputs, 22 judgements and 10 HumanEval+ solutions measured). Bytes are of
# the JSON text as the stages write it. A larger model writes other lengths: records are a small part of a
# run next to its checkpoints.
SNIPPET_BYTES_PER_LINE = 37  # a snippet's code as JSON, per line: 36.4-37.1 over the standard library's pool
SNIPPET_LINES_SPREAD = 0.35  # mean lines = min + this x (max - min): 8.6 for 5-15 lines, 12.0 for 5-30 (stdlib pool)
SNIPPET_RECORD_OVERHEAD = 95  # its id (a content hash) and source
OUTPUT_BYTES_PER_TOKEN = 4.0  # generated text as JSON: 3.9 per token (SmolLM2's tokenizer) in outputs, 4.4 in judgements
OUTPUT_FILL = 0.68  # synthesizer outputs stop at 68% of max_new_tokens on average (218 of 320 tokens)
JUDGE_FILL = 1.0  # the judge's replies run to max_new_tokens (all 22 of them)
PARSED = 0.75  # fraction of synthesizer outputs with a problem and a solution (36 of 48)
PARSED_TEXT = 0.62  # a parsed output's problem + solution, as a fraction of its raw text
CANDIDATE_OVERHEAD = 155  # a candidate's ids, checkpoint, draw and field names
JOURNAL_OVERHEAD = 40  # a journal line's key around its record
SEED_ID_BYTES = 22  # the seed stage adds "id": "seed-N" to each line of the seed file
SEED_RECORD_GUESS = 3000  # bytes of a seed sample when the seed file is missing
JUDGE_OVERHEAD = 120  # a judged record's aspects, signals and score besides the judge's text
EVAL_FILL = 0.15  # greedy solutions to benchmark tasks are short: 52 of 384 tokens on average (10 HumanEval+ tasks)
EVAL_SAMPLE_OVERHEAD = 740  # a solution's record besides its text (twice: solution and raw_solution): the generation settings
EVAL_RESULT_BYTES = 950  # a task's verdicts in a results file
EVAL_JOURNAL_BYTES = 475  # and in the evaluator's journal
# A checkpoint's small files, measured on the smoke run's checkpoints: kept, chat_template.jinja,
# tokenizer_config.json, training_args.bin (5.8 KB: 2 blocks), and for LoRA README.md (PEFT's card, 5.3 KB)
# and adapter_config.json, for full config.json and generation_config.json; resume state only,
# rng_state.pth (14 KB) and scheduler.pt. trainer_state.json: 0.8 KB and a 290-byte log line per step.
SMALL_FILES = {"lora": 7 * BLOCK, "full": 6 * BLOCK}
RESUME_FILES = 5 * BLOCK
TRAINER_STATE = (800, 330)
OPTIMIZER_PER_TENSOR = 820  # optimizer.pt's pickled state per parameter tensor (341 KB for the smoke LoRA's 420)
SAFETENSORS_PER_TENSOR = 130  # the header's entry per tensor (54 KB for the smoke LoRA's 420)


def blocks(size: float) -> int:
    """What a file of `size` bytes takes on disk, in whole blocks."""
    return int(math.ceil(size / BLOCK)) * BLOCK


@dataclass
class StageDisk:
    name: str
    action: str  # skip | resume | run | rerun
    final: int | None  # bytes the stage's folder holds when it has finished; None: unknown
    peak: int | None  # the most it holds while running (>= final)
    detail: str = ""  # how it was reckoned
    existing: int = 0  # what its folder holds now (a rerun deletes it first; a resume keeps it)


@dataclass
class Estimate:
    stages: list[StageDisk]
    models: dict[str, ModelSize]  # role -> its size
    device: str  # cuda | cpu: the dtype of full checkpoints
    device_reason: str
    notes: list[str] = field(default_factory=list)

    def to_write(self) -> tuple[int, int, str | None]:
        """(bytes the run adds when it has finished, the most it adds at any moment, the stage where that
        is) over the stages it runs; unknown stages count 0."""
        written, peak, where = 0, 0, None
        for stage in self.stages:
            if stage.action == "skip" or stage.final is None:
                continue
            if written + stage.peak - stage.existing > peak:
                peak, where = written + stage.peak - stage.existing, stage.name
            written += stage.final - stage.existing
        return max(written, 0), max(peak, 0), where

    def unknown(self) -> list[str]:
        return [stage.name for stage in self.stages if stage.final is None and stage.action != "skip"]


def assumed_device() -> tuple[str, str]:
    """The training device, guessed without importing torch: CUDA where nvidia-smi or a GPU device file
    exists, unless CUDA_VISIBLE_DEVICES hides them all."""
    hidden = os.environ.get("CUDA_VISIBLE_DEVICES")
    if hidden is not None and hidden.strip() in ("", "-1"):
        return "cpu", f"CUDA_VISIBLE_DEVICES={hidden!r} hides the GPUs"
    if shutil.which("nvidia-smi"):
        return "cuda", "nvidia-smi is installed"
    if Path("/dev/nvidia0").exists():
        return "cuda", "/dev/nvidia0 exists"
    return "cpu", "no nvidia-smi and no /dev/nvidia0"


def folder_bytes(folder: Path) -> int:
    """What `du` counts for a folder: the blocks of its files and subfolders."""
    if not folder.exists():
        return 0
    total = 0
    for root, _, files in os.walk(folder):
        for path in [root, *(os.path.join(root, name) for name in files)]:
            try:
                total += os.lstat(path).st_blocks * 512
            except OSError:  # removed meanwhile
                continue
    return total


def free_bytes(run_dir: str | os.PathLike) -> tuple[int, Path]:
    """Free space for an unprivileged writer on the filesystem that holds (or will hold) `run_dir`."""
    path = Path(run_dir).resolve()
    while not path.exists():
        path = path.parent
    return shutil.disk_usage(path).free, path


def human(size: float | None) -> str:
    if size is None:
        return "unknown"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(size) < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return ""


def estimate(recipe, planned, run_dir: str | os.PathLike, device: str | None = None, offline: bool | None = None,
             missing: tuple[str, ...] = ()) -> Estimate:
    """The disk each planned stage takes. `planned`: StageRunner.plan's (stage, key, action) list;
    `device`: cuda or cpu (default: assumed_device()); `missing`: stages whose input file is missing."""
    device, reason = (device, "as asked (--assume-device)") if device else assumed_device()
    models = {}
    if recipe.synthesis.samples:
        models["synthesizer"] = model_size(recipe.synthesizer.model, recipe.synthesizer.parameters, "synthesizer", offline)
    models["target"] = model_size(recipe.target.model, recipe.target.parameters, "target", offline)
    counts = _Counts(recipe, models, device)
    result = Estimate([], models, device, reason)
    for stage, _key, action in planned:
        final, peak, detail = counts.stage(stage.name, stage.name in missing)
        existing = folder_bytes(Path(run_dir) / stage.name) if action in ("resume", "rerun") else 0
        result.stages.append(StageDisk(stage.name, action, final, peak, detail, existing))
    if counts.pool_unknown:
        result.notes.append(f"snippets: no limit, so the pool is all of {recipe.snippets.source}; counted as the "
                            f"{recipe.snippets_needed()} the recipe uses")
    result.notes += filter(None, map(_dequantized_copy_note, {model.spec: model for model in models.values()}.values()))
    return result


def _dequantized_copy_note(model: ModelSize) -> str | None:
    """The embedded model is de-quantized once into the harness cache (harness.generation.dequantized), outside the
    run folder: its fp32 weights (4 bytes a parameter) and tokenizer, said where this machine has not made it yet.
    Where it does not fit, each stage loads the GGUF file instead: slower, nothing lost, so it never refuses a run."""
    from harness.generation.dequantized import copy_to_make
    from harness.generation.models import ModelError, resolve

    try:
        source = resolve(model.spec)
    except ModelError:
        return None
    folder = copy_to_make(Path(source.location) / source.gguf_file) if source.embedded and model.parameters else None
    if folder is None:
        return None
    size, (free, where) = blocks(4 * model.parameters) + model.tokenizer_bytes, free_bytes(folder)
    return (f"once, outside the run: {model.spec} de-quantized into {folder}, {human(size)} ({human(free)} free on "
            f"{where}); where that does not fit, every stage loads the GGUF file instead, about 20 s more each")


class _Counts:
    """Expected record counts and bytes, stage by stage, from the recipe."""

    def __init__(self, recipe, models: dict[str, ModelSize], device: str):
        from scoder import sft

        self.recipe, self.models, self.device, self.sft = recipe, models, device, sft
        snippets = recipe.snippets
        self.snippet_code = SNIPPET_BYTES_PER_LINE * (snippets.min_lines + SNIPPET_LINES_SPREAD * (snippets.max_lines - snippets.min_lines))
        self.pool_unknown = snippets.limit is None
        self.snippets = snippets.limit or recipe.snippets_needed()
        seed = Path(recipe.synthesizer.seed_data)
        if seed.is_file():
            lines = [line for line in seed.read_text(errors="replace").split("\n") if line.strip()]
            self.seed, self.seed_bytes = len(lines), seed.stat().st_size + SEED_ID_BYTES * len(lines)
        else:
            self.seed, self.seed_bytes = None, None
        self.checkpoints: dict[str, int] = {}  # SFT stage -> its checkpoint count
        self.selected: list[float] = []  # each round's selected samples
        self.candidate = self._candidate(recipe.sampling.max_new_tokens)
        self.judged = self._candidate(recipe.sampling.max_new_tokens, 1) + JUDGE_OVERHEAD + self._output(recipe.scoring.max_new_tokens, JUDGE_FILL)

    def _output(self, max_new_tokens: int, fill: float = OUTPUT_FILL) -> float:
        return max_new_tokens * fill * OUTPUT_BYTES_PER_TOKEN

    def _candidate(self, max_new_tokens: int, parsed: float = PARSED) -> float:
        """A candidate record: the snippet, the raw output, and its problem and solution when it parses
        (`parsed`: the chance it does)."""
        output = self._output(max_new_tokens)
        return CANDIDATE_OVERHEAD + self.snippet_code + output + parsed * PARSED_TEXT * output

    def stage(self, name: str, file_missing: bool) -> tuple[int | None, int | None, str]:
        recipe = self.recipe
        base = 2 * BLOCK  # the folder and its manifest.json
        round_name, _, step = name.partition("/")
        if name == "snippets":
            size = base + blocks(self.snippets * (SNIPPET_RECORD_OVERHEAD + self.snippet_code))
            return size, size, f"{self.snippets} snippets"
        if name == "seed":
            if self.seed_bytes is None:
                return None, None, "unknown: the seed file is missing"
            return base + blocks(self.seed_bytes), base + blocks(self.seed_bytes), f"{self.seed} samples"
        if name in ("coldstart", "reference"):
            settings = recipe.synthesizer.sft if name == "coldstart" else recipe.selection.reference_sft
            return self._sft(name, "synthesizer", settings, self.seed, keeps_optimizer=name == "reference")
        if step == "train":
            examples = None if self.seed is None else self.seed + sum(self.selected)
            return self._sft(name, "synthesizer", recipe.synthesizer.sft, examples and round(examples), keeps_optimizer=False)
        if step == "sample":
            number = int(round_name.split("-")[1])
            trained = self.checkpoints.get("coldstart" if number == 1 else f"iteration-{number - 1}/train",
                                           recipe.synthesizer.sft.checkpoints)
            self.candidates = recipe.sampling.snippets_per_iteration * min(recipe.sampling.checkpoints, trained) \
                * recipe.sampling.samples_per_checkpoint
            size = base + blocks(self.candidates * self.candidate) + blocks(self.candidates * (self.candidate + JOURNAL_OVERHEAD) + 100)
            return size, size, f"{self.candidates} candidates"
        if step == "score":
            parsed = round(self.candidates * PARSED)
            if not recipe.scoring.enabled:
                self.scored = parsed
                size = base + blocks(parsed * self._candidate(recipe.sampling.max_new_tokens, 1))
                return size, size, f"{parsed} parsed"
            self.scored = max(1, round(parsed * recipe.scoring.keep_fraction)) if parsed else 0
            judgement = JUDGE_OVERHEAD + self._output(recipe.scoring.max_new_tokens, JUDGE_FILL)
            journal = parsed * (judgement + 2 * JOURNAL_OVERHEAD) + 100  # the judgement and the execution signals
            size = base + blocks(journal) + blocks(parsed * self.judged) + blocks(self.scored * self.judged)
            return size, size, f"{parsed} judged, {self.scored} kept"
        if step == "select":
            method = recipe.selection.method
            selected = self.scored if method == "none" or not self.scored else max(1, round(self.scored * recipe.selection.keep_fraction))
            self.selected.append(selected)
            size = base + blocks(selected * (self.judged + 25)) + (blocks(self.scored * (self.judged + 25)) if method == "gradient" else 0)
            return size, size, f"{selected} selected"
        if name == "synthesize":
            outputs = recipe.synthesis.samples
            record, parsed = self._candidate(recipe.synthesis.max_new_tokens), self._candidate(recipe.synthesis.max_new_tokens, 1)
            self.synthesized = round(outputs * PARSED)  # near-duplicates and contamination: none assumed
            size = base + blocks(outputs * (record + JOURNAL_OVERHEAD) + 100) + blocks(outputs * record) + blocks(self.synthesized * parsed)
            return size, size, f"{outputs} output{'s' * (outputs != 1)}"
        if name == "target":
            examples = getattr(self, "synthesized", 0)
            for source in recipe.target.instruction_data:
                path = Path(source.source)
                rows = sum(1 for line in path.read_text(errors="replace").split("\n") if line.strip()) \
                    if path.is_file() and path.suffix == ".jsonl" else None
                if rows is None:
                    examples = None
                    break
                examples += min(rows, source.limit) if source.limit else rows
            return self._sft(name, "target", recipe.target.sft, examples, keeps_optimizer=False)
        if name == "evaluate":
            size, tasks = base + BLOCK, 0  # scores.json
            for spec in recipe.evaluation.benchmarks:
                benchmark = resolve(spec)[0]  # its task count and token budget, as planned before any data is read
                count = min(benchmark.task_count, recipe.evaluation.limit or 10 ** 9)
                tokens = recipe.evaluation.max_new_tokens or benchmark.max_new_tokens
                size += blocks(count * (EVAL_SAMPLE_OVERHEAD + 2 * self._output(tokens, EVAL_FILL))) + blocks(count * EVAL_RESULT_BYTES) \
                    + blocks(100 + count * EVAL_JOURNAL_BYTES)
                tasks += count
            return size, size, f"{tasks} task{'s' * (tasks != 1)}"
        if name == "results":
            return base + 2 * BLOCK, base + 2 * BLOCK, "results.md, results.json"
        return None, None, "unknown stage"

    def _sft(self, name: str, role: str, settings, examples: int | None, keeps_optimizer: bool):
        """A training stage: its checkpoints when finished, and the most it holds while training."""
        sft, model = self.sft, self.models[role]
        steps = sft.total_steps(examples, settings, settings.processes) if examples else None
        count = len(sft.checkpoint_steps(steps, settings.checkpoints)) if steps else settings.checkpoints
        self.checkpoints[name] = count
        plural = "s" * (count != 1)
        if model.parameters is None:
            return None, None, f"{count} checkpoint{plural} of a model of unknown size ({role})"
        state = blocks(TRAINER_STATE[0] + TRAINER_STATE[1] * (steps or 100))  # trainer_state.json grows a line a step
        small = SMALL_FILES[settings.method] + state + blocks(model.tokenizer_bytes)
        if settings.method == "full":
            trainable = model.parameters
            width = 2 if self.device == "cuda" else 4
            tensors = 12 * (model.config or {}).get("num_hidden_layers", 32)
            weights = blocks(width * model.parameters + SAFETENSORS_PER_TENSOR * tensors)
            fp32_copy = 2 * model.parameters if self.device == "cuda" else 0  # the newest keeps fp32 weights to resume from
            kind = f"full, {width}-byte weights"
        else:
            if model.config is None:
                return None, None, f"{count} LoRA checkpoint{plural}: unknown size (the adapter's size needs the {role}'s config)"
            try:
                trainable, tensors = lora_parameters(model.config, settings.lora_r, settings.lora_target)
            except ValueError as error:
                return None, None, f"{count} LoRA checkpoint{plural}: unknown size ({error})"
            weights = blocks(4 * trainable + SAFETENSORS_PER_TENSOR * tensors)
            fp32_copy = 0
            kind = f"LoRA r{settings.lora_r}, {trainable:,} trainable"
        optimizer = blocks(8 * trainable + OPTIMIZER_PER_TENSOR * tensors)  # Adam's two fp32 moments
        if not getattr(settings, "resumable", True):  # weights only, written in the compute dtype: nothing to slim
            optimizer = resume = 0
            keeps_optimizer = False
        else:
            resume = optimizer + RESUME_FILES + fp32_copy
        one = BLOCK + weights + small + (optimizer if keeps_optimizer else 0)
        launched = settings.processes > 1 or settings.accelerate_config
        data = blocks((examples or 0) * (self.seed_bytes / self.seed if self.seed else SEED_RECORD_GUESS)) if launched else 0
        final = 2 * BLOCK + BLOCK + count * one + data  # folder, manifest, the Trainer's README.md
        # The newest checkpoint holds the resume state; the next one is written before it is slimmed.
        peak = final + min(count, 2) * (resume - (optimizer if keeps_optimizer else 0))
        kept = " with optimizer states" if keeps_optimizer else ""
        return final, peak, f"{count} checkpoint{plural} x {human(one)}{kept} ({kind})"


def describe(estimate: Estimate, run_dir: str | os.PathLike) -> list[str]:
    """The dry run's printout: each model's size and its source, each stage's disk, the totals and the free space."""
    device = {"cuda": "cuda (bf16 weights)", "cpu": "cpu (fp32 weights)"}[estimate.device]
    lines = [f"disk estimate (scoder/disk.py): full checkpoints as trained on {device}, {estimate.device_reason}"]
    for role, model in estimate.models.items():
        lines.append(f"  {role:11} {model.spec}: {model.parameters:,} parameters, from {model.source}" if model.parameters else
                     f"  {role:11} {model.spec}: {model.source}")
        if model.note:
            lines.append(f"  {'':11} note: {model.note}")
    lines.append(f"  {'stage':28} {'when done':>10} {'peak':>10}  how (the peak: while it trains)")
    for stage in estimate.stages:
        peak = human(stage.peak) if stage.peak != stage.final else ""
        held = "; skipped: on disk already" if stage.action == "skip" else ""
        lines.append(f"  {stage.name:28} {human(stage.final):>10} {peak:>10}  {stage.detail}{held}")
    written, peak, where = estimate.to_write()
    free, path = free_bytes(run_dir)
    lines.append(f"  to write: {human(written)} when done, {human(peak)} at the peak"
                 + (f" (during {where})" if peak > written else "") + f"; {human(free)} free on {path}")
    if estimate.unknown():
        lines.append(f"  not counted (unknown): {', '.join(estimate.unknown())}")
    lines += [f"  note: {note}" for note in estimate.notes]
    return lines


def refusal(estimate: Estimate, run_dir: str | os.PathLike) -> str | None:
    """Why the run must not start (its filesystem has less free space than the run's peak), or None."""
    written, peak, where = estimate.to_write()
    free, path = free_bytes(run_dir)
    if peak <= free:
        return None
    during = f"during {where}; " if peak > written else ""
    return (f"not enough disk: the run writes up to {human(peak)} ({during}{human(written)} when done), and {path} "
            f"has {human(free)} free. Free some space or choose another --run-dir; `scoder run --dry-run` shows the estimate "
            f"per stage; --skip-disk-check starts anyway")
