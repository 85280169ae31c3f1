"""Multi-checkpoint sampling: every kept checkpoint of the synthesizer writes N outputs per snippet.

SCoder samples 3 outputs from each of 5 training checkpoints, so the candidates cover what the model
said at several points of its training, not only at the end. A checkpoint is either a LoRA adapter
(the base model plus the adapter: a PEFT model on HF, a LoRA request on vLLM) or a whole model folder.
Outputs are journaled as they finish, so a killed run resumes without repeating or losing any.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tqdm import tqdm

from harness.generation.backend import BACKENDS, Decoding, load_backend
from harness.generation.options import options_from_fields, with_recipe_options
from harness.generation.prompts import Prompt
from harness.journal import Journal
from scoder import synthesis


@dataclass(frozen=True)
@with_recipe_options
class GenerationConfig:
    """How the method's models generate (synthesizer, judge): a backend of harness.generation and its options.
    The options are fields here as each backend's options dataclass declares them (all but those marked
    recipe: False; harness.generation.options). One of another backend, set to other than its default, is refused."""
    backend: Literal[tuple(BACKENDS)] = "hf"
    batch_size: int = 8

    def __post_init__(self):
        self.backend_options()

    def backend_options(self, adapter: str | None = None):
        """The backend's options dataclass; `adapter`: a checkpoint's LoRA adapter, for the backends that take one."""
        return options_from_fields(self.backend, self, **({"adapter": adapter} if adapter else {}))


@dataclass(frozen=True)
class SamplingConfig:
    """SCoder: 3 outputs from each of 5 checkpoints per snippet. temperature/top_p: Magicoder's
    OSS-Instruct data generation sampled at temperature 1.0 (arXiv 2312.02120, Sec. 2.1); top_p 0.95 as
    in evalplus' sampling."""
    checkpoints: int = 5
    samples_per_checkpoint: int = 3
    snippets_per_iteration: int = 1000
    temperature: float = 1.0
    top_p: float = 0.95
    max_new_tokens: int = 1024
    seed: int = 0

    def __post_init__(self):
        if min(self.checkpoints, self.samples_per_checkpoint, self.snippets_per_iteration, self.max_new_tokens) < 1:
            raise ValueError("checkpoints, samples_per_checkpoint, snippets_per_iteration and max_new_tokens must be at least 1")


def is_adapter(checkpoint: Path) -> bool:
    return (Path(checkpoint) / "adapter_config.json").is_file()


def load_synthesizer(base_model: str, checkpoint: Path | None, generation: GenerationConfig):
    """The generation backend for one checkpoint (None: the base model itself)."""
    if checkpoint is None:
        return load_backend(generation.backend, base_model, generation.backend_options())
    if is_adapter(checkpoint):
        return load_backend(generation.backend, base_model, generation.backend_options(str(checkpoint)))
    return load_backend(generation.backend, str(checkpoint), generation.backend_options())


def spread(checkpoints: list[Path], count: int) -> list[Path]:
    """`count` checkpoints evenly spaced over the run, always including the last."""
    if count >= len(checkpoints):
        return list(checkpoints)
    step = len(checkpoints) / count
    return [checkpoints[len(checkpoints) - 1 - round(index * step)] for index in reversed(range(count))]


def sample(base_model: str, checkpoints: list[Path | None], snippets: list[dict], template: synthesis.SynthesisTemplate,
           decoding: Decoding, generation: GenerationConfig, journal_path: Path, progress: bool = True) -> list[dict]:
    """Candidates from every checkpoint for every snippet: records with the snippet, the checkpoint, the
    raw output and its parsed problem and solution (None when the output does not parse)."""
    fingerprint = hashlib.sha256(json.dumps([base_model, [str(path) for path in checkpoints], decoding.record(),
                                             template.__dict__], sort_keys=True).encode()).hexdigest()
    journal = Journal(journal_path, fingerprint)
    try:
        for number, checkpoint in enumerate(checkpoints):
            todo = [snippet for snippet in snippets
                    if any(_key(number, snippet["id"], draw) not in journal.records for draw in range(decoding.n))]
            if not todo:
                continue
            backend = load_synthesizer(base_model, checkpoint, generation)
            # The reply is prefilled with the problem header, as evalplus prefills code answers: the
            # layout is then fixed from the first token, which a small or briefly trained model needs.
            prefix = template.problem_header + "\n"
            prompts = [Prompt(snippet["id"], tuple(synthesis.request_messages(snippet["code"], template)), prefix)
                       for snippet in todo]
            label = checkpoint.name if checkpoint else "base"
            bar = tqdm(total=len(todo), desc=f"sample {label}", unit="snippet", disable=not progress)
            for index, outputs, _ in backend.generate(prompts, decoding):
                snippet = todo[index]
                for draw, output in enumerate(outputs):
                    text = prefix + output
                    parsed = synthesis.parse_response(text, template)
                    journal.append(_key(number, snippet["id"], draw), {
                        "id": hashlib.sha256(f"{snippet['id']}|{label}|{draw}|{text}".encode()).hexdigest()[:16],
                        "snippet_id": snippet["id"], "snippet": snippet["code"], "checkpoint": label, "draw": draw,
                        "raw": text, "problem": parsed.problem if parsed else None, "solution": parsed.solution if parsed else None})
                bar.update()
            bar.close()
            del backend
    finally:
        journal.close()
    order = {_key(number, snippet["id"], draw): None for number in range(len(checkpoints)) for snippet in snippets
             for draw in range(decoding.n)}
    return [journal.records[key] for key in order if key in journal.records]


def _key(checkpoint_number: int, snippet_id: str, draw: int) -> str:
    return f"{checkpoint_number}:{snippet_id}:{draw}"
