"""The recipe: one YAML file is one experiment of the SCoder method, validated against the config
dataclasses the stages run with (each beside the code it configures).

A recipe may start from another with `base: other.yaml` (a path relative to it) and change only what
differs: mappings merge key by key, anything else replaces. Paths inside a recipe are relative to the
recipe's own folder. Errors name the field as a dotted path, e.g. `sampling.checkpoints: expected an
integer, got str 'five'`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Literal

from harness.benchmarks.registry import resolve
from harness.containers import ContainerConfig
from harness.generation.backend import options_class
from harness.generation.models import EMBEDDED_DEFAULT
from scoder.config_loading import RecipeError, build
from scoder.influence import InfluenceConfig
from scoder.sampling import GenerationConfig, SamplingConfig
from scoder.scoring import ScoringConfig
from scoder.sft import SFTSettings
from scoder.snippets import SnippetConfig
from scoder.synthesis import DecontaminationConfig, DedupConfig, SynthesisTemplate


@dataclass(frozen=True)
class SynthesizerConfig:
    """The small model turned into a data synthesizer (SCoder: Qwen2.5-Coder-7B/14B-Instruct), cold-started
    on the proprietary synthesis samples in `seed_data` (SCoder: ~10K distilled from GPT-4o)."""
    seed_data: str  # JSONL of {"snippet", "problem", "solution"}
    model: str = EMBEDDED_DEFAULT
    sft: SFTSettings = SFTSettings(checkpoints=5)
    template: SynthesisTemplate = SynthesisTemplate()
    # The model's parameter count (e.g. 7.6e+9), for the disk estimate where its config cannot be read
    # (offline, a private hub model); the config's own count wins where it can (scoder/disk.py).
    parameters: float | None = None

    def __post_init__(self):
        _check_parameters(self.parameters)


@dataclass(frozen=True)
class SelectionConfig:
    """The influence filter after scoring. gradient: LESS-style gradient influence on a reference model
    LoRA-trained on the seed data (LESS warm-up: 4 epochs, a checkpoint per epoch, arXiv 2402.04333
    Sec. 4); random: the same number kept at random (ablation); none: keep everything scored."""
    method: Literal["gradient", "random", "none"] = "gradient"
    keep_fraction: float = 0.5
    reference_sft: SFTSettings = SFTSettings(method="lora", epochs=4, learning_rate=2e-5, checkpoints=4)
    gradients: InfluenceConfig = InfluenceConfig()
    seed: int = 0

    def __post_init__(self):
        if not 0 < self.keep_fraction <= 1:
            raise ValueError("keep_fraction must be in (0, 1]")
        if self.reference_sft.method != "lora":
            raise ValueError("reference_sft.method must be lora: influence uses LoRA gradients")


@dataclass(frozen=True)
class FinalSynthesisConfig:
    """The final synthesizer's data: one output per snippet (SCoder: 60K samples), then near-duplicate
    removal and decontamination against the evaluation benchmarks."""
    samples: int = 60000  # snippets given to the final synthesizer; 0: no synthetic data (baselines)
    temperature: float = 1.0
    top_p: float = 0.95
    max_new_tokens: int = 1024
    dedup: DedupConfig = DedupConfig()
    decontamination: DecontaminationConfig = field(default_factory=DecontaminationConfig)  # made per recipe: the benchmarks registered by then


@dataclass(frozen=True)
class InstructionSource:
    """Extra instruction data for the target (SCoder: evol-codealpaca-v1). `source` is `hf:NAME` or a
    local .jsonl/.json file or dataset folder."""
    source: str
    prompt_field: str = "instruction"
    completion_field: str = "output"
    split: str = "train"
    limit: int | None = None


@dataclass(frozen=True)
class TargetConfig:
    """The code model fine-tuned on the synthesized data (SCoder: DeepSeek-Coder-6.7B-Base)."""
    model: str = EMBEDDED_DEFAULT
    instruction_data: list[InstructionSource] = field(default_factory=list)
    sft: SFTSettings = SFTSettings()
    parameters: float | None = None  # its parameter count, for the disk estimate (as SynthesizerConfig's)

    def __post_init__(self):
        _check_parameters(self.parameters)


def _check_parameters(count: float | None) -> None:
    if count is not None and count < 1:
        raise ValueError(f"parameters: a count of the model's parameters (e.g. 7.6e+9), got {count}")


@dataclass(frozen=True)
class EvaluationConfig:
    """Benchmarks as `scoder eval` names them, with a variant where the benchmark has them (harness.benchmarks.registry.resolve):
    bigcodebench-hard:instruct (a split), livecodebench:release_v5 (a release)."""
    benchmarks: list[str] = field(default_factory=lambda: ["humaneval+", "mbpp+"])
    limit: int | None = None  # first K tasks only (smoke runs)
    max_new_tokens: int | None = None  # None: each benchmark's default
    data_dir: str | None = None  # None: $SCODER_DATA_DIR, the cache, then download

    def __post_init__(self):
        if not self.benchmarks:  # a run whose model is never scored has no result to show for its training
            raise ValueError("benchmarks is empty: list at least one, e.g. benchmarks: [humaneval+, mbpp+], "
                             "or leave the field out for that default")
        for name in self.benchmarks:  # a misspelled name is refused now, not after the training
            resolve(name)


@dataclass(frozen=True)
class Recipe:
    name: str
    synthesizer: SynthesizerConfig
    description: str = ""
    run_dir: str | None = None  # None: runs/<name> under the current folder
    iterations: int = 2  # SCoder: 2 rounds of self-distillation
    snippets: SnippetConfig = SnippetConfig()
    generation: GenerationConfig = GenerationConfig()
    sampling: SamplingConfig = SamplingConfig()
    scoring: ScoringConfig = ScoringConfig()
    selection: SelectionConfig = SelectionConfig()
    synthesis: FinalSynthesisConfig = FinalSynthesisConfig()
    target: TargetConfig = TargetConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    containers: ContainerConfig = ContainerConfig()  # run each stage in its role's pinned image

    def __post_init__(self):
        if self.iterations < 0:
            raise ValueError("iterations must be >= 0")
        if self.synthesis.samples < 0:
            raise ValueError("synthesis.samples must be >= 0")
        if self.synthesis.samples == 0 and self.iterations:
            raise ValueError("iterations must be 0 when synthesis.samples is 0 (no synthesizer is used)")
        if self.synthesis.samples == 0 and not self.target.instruction_data:
            raise ValueError("the target needs data: synthesis.samples > 0 or target.instruction_data")
        # LoRA checkpoints are generated from as adapters: the backend must load one (found now, not at that stage).
        adapters = [name for name, sft, used in (("synthesizer.sft", self.synthesizer.sft, self.synthesis.samples > 0),
                                                  ("target.sft", self.target.sft, True)) if used and sft.method == "lora"]
        if adapters and "adapter" not in {field.name for field in fields(options_class(self.generation.backend))}:
            raise ValueError(f"generation.backend {self.generation.backend} cannot generate from the LoRA checkpoints of "
                             f"{' and '.join(adapters)} (it takes no adapter): use hf or vllm, or method: full")

    def snippets_needed(self) -> int:
        return self.iterations * self.sampling.snippets_per_iteration + self.synthesis.samples


def load_recipe(path: str | Path) -> Recipe:
    data = _read_with_bases(Path(path), [])
    recipe = build(Recipe, data)
    available = recipe.snippets.limit
    if available is not None and available < recipe.snippets_needed():
        raise RecipeError(f"snippets.limit: {available} snippets, but the recipe uses {recipe.snippets_needed()} "
                          f"({recipe.iterations} x sampling.snippets_per_iteration + synthesis.samples)")
    return recipe


def _read_with_bases(path: Path, seen: list[Path]) -> dict:
    import yaml

    path = path.resolve()
    if path in seen:
        raise RecipeError(f"{path}: base recipes form a cycle ({' -> '.join(map(str, seen + [path]))})")
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as error:
        raise RecipeError(f"{path}: cannot read the recipe ({error.strerror})") from None
    except yaml.YAMLError as error:
        raise RecipeError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise RecipeError(f"{path}: a recipe is a mapping of fields, got {type(data).__name__}")
    data = _resolve_paths(data, path.parent)
    base = data.pop("base", None)
    if base is None:
        return data
    if not isinstance(base, str):
        raise RecipeError(f"{path}: base: expected a recipe path, got {base!r}")
    return _merge(_read_with_bases(Path(base), seen + [path]), data)


# Fields holding file paths, resolved against the recipe's folder so a recipe runs from anywhere.
_PATH_FIELDS = {("base",), ("synthesizer", "seed_data"), ("snippets", "source"), ("evaluation", "data_dir"),
                ("synthesizer", "sft", "accelerate_config"), ("selection", "reference_sft", "accelerate_config"),
                ("target", "sft", "accelerate_config")}


def _resolve_paths(data: dict, folder: Path) -> dict:
    data = dict(data)
    for keys in _PATH_FIELDS:
        holder = data
        for key in keys[:-1]:
            holder = holder.get(key) if isinstance(holder, dict) else None
        if isinstance(holder, dict) and isinstance(holder.get(keys[-1]), str) and _is_relative_path(holder[keys[-1]]):
            holder[keys[-1]] = str((folder / holder[keys[-1]]).resolve())
    target = data.get("target")
    if isinstance(target, dict) and isinstance(target.get("instruction_data"), list):
        for source in target["instruction_data"]:
            if isinstance(source, dict) and isinstance(source.get("source"), str) and _is_relative_path(source["source"]):
                source["source"] = str((folder / source["source"]).resolve())
    return data


def _is_relative_path(value: str) -> bool:
    """Named sources (stdlib, hf:NAME) and absolute paths stay as they are."""
    return (value not in ("stdlib",) and not value.startswith(("hf:", "/", "~")) and ("/" in value or "." in value))


def _merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
    return merged
