"""What every generation backend offers: prompts in, n outputs per prompt out.

A backend is any object with
    name: str
    chat: bool                      whether prompts should take the chat form (the model has a template)
    describe() -> dict              model, backend and versions, recorded in the samples
    generate(prompts, decoding) -> iterator of (prompt index, outputs, generated tokens), in any order
Backends live in hf.py, vllm_backend.py and openai_compatible.py; BACKENDS below names them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Decoding:
    """Decoding settings. Defaults are the leaderboards' greedy protocol (evalplus --greedy, bigcodebench
    --greedy); top_p 0.95 is evalplus' and bigcodebench's sampling value, used when temperature > 0."""
    n: int = 1
    temperature: float = 0.0  # 0: greedy
    top_p: float = 0.95
    max_new_tokens: int | None = None  # None: the benchmark's default (evalplus 768, bigcodebench 1280, lcb 2000)
    seed: int = 0
    batch_size: int = 8  # sequences per forward pass (HF), concurrent requests (OpenAI-compatible)

    def __post_init__(self):
        if self.n < 1:
            raise ValueError("n must be at least 1")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise ValueError("temperature must be >= 0 and top_p in (0, 1]")
        if self.temperature == 0 and self.n > 1:
            raise ValueError("greedy decoding (temperature 0) gives one output per prompt: set --temperature for n > 1")
        if self.batch_size < 1 or (self.max_new_tokens is not None and self.max_new_tokens < 1):
            raise ValueError("batch size and max new tokens must be positive")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def record(self) -> dict:
        return asdict(self)


def render_chat(tokenizer, prompt) -> str:
    """The text a local model continues for a chat prompt: its chat template with the generation prompt,
    then the prefilled response prefix (evalplus renders the reply with a marker and cuts there; for
    templates that end the generation prompt where the reply starts, this is the same text)."""
    text = tokenizer.apply_chat_template(list(prompt.messages), tokenize=False, add_generation_prompt=True)
    return text + prompt.response_prefix


def load_backend(name: str, model: str, **options):
    """Backends are imported on demand: vLLM and torch are heavy, and optional."""
    if name == "hf":
        from harness.generation.hf import HFBackend

        return HFBackend(model, **options)
    if name == "vllm":
        from harness.generation.vllm_backend import VLLMBackend

        return VLLMBackend(model, **options)
    if name == "openai":
        from harness.generation.openai_compatible import OpenAICompatibleBackend

        return OpenAICompatibleBackend(model, **options)
    raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")


BACKENDS = ("hf", "vllm", "openai")
