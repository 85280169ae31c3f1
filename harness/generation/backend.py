"""What every generation backend offers: prompts in, n outputs per prompt out.

A backend is any object with
    name: str
    chat: bool                      whether prompts should take the chat form (the model has a template)
    describe() -> dict              model, backend and versions, recorded in the samples
    generate(prompts, decoding) -> iterator of (prompt index, outputs, generated tokens), in any order
made as Backend(model, options), where options is the backend's own frozen dataclass of options, declared
beside it (HFOptions in hf.py, ...). Flags and recipe fields are derived from
those declarations (options.py). BACKENDS below registers each backend: a new one is a new file and a line.
"""

from __future__ import annotations

import importlib
from dataclasses import asdict, dataclass, field


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


def base_prompt_option():
    """The base_prompt option, the same for every local backend that renders prompts itself (hf, vllm); a fresh
    field for each, as a dataclass takes ownership of its fields."""
    return field(default=False, metadata={
        "help": "the base (direct completion) prompt even if the model has a chat template",
        "recipe": False,  # the method's prompts are chat messages (synthesis requests, judging)
    })


def render_chat(tokenizer, prompt) -> str:
    """The text a local model continues for a chat prompt: its chat template with the generation prompt,
    then the prefilled response prefix (evalplus renders the reply with a marker and cuts there; for
    templates that end the generation prompt where the reply starts, this is the same text)."""
    text = tokenizer.apply_chat_template(list(prompt.messages), tokenize=False, add_generation_prompt=True)
    return text + prompt.response_prefix


@dataclass(frozen=True)
class Registered:
    """Where a backend is declared. Its module is imported only when its options are read or it is loaded, and
    imports torch or vLLM only inside functions: listing the options (for flags and recipes) stays cheap."""
    module: str
    options: str  # its frozen dataclass of options
    backend: str  # its class
    image: str  # the container role it generates in (harness.containers.roles())


BACKENDS = {
    "hf": Registered("harness.generation.hf", "HFOptions", "HFBackend", image="train"),
    "vllm": Registered("harness.generation.vllm_backend", "VLLMOptions", "VLLMBackend", image="vllm"),
    "openai": Registered("harness.generation.openai_compatible", "OpenAIOptions", "OpenAICompatibleBackend", image="train"),
}


def _registered(name: str) -> Registered:
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    return BACKENDS[name]


def options_class(name: str) -> type:
    """The backend's dataclass of options."""
    registered = _registered(name)
    return getattr(importlib.import_module(registered.module), registered.options)


def load_backend(name: str, model: str, options=None):
    """The backend `name` on `model`, with `options` (an instance of its options_class; None: the defaults)."""
    declared = options_class(name)
    options = declared() if options is None else options
    if not isinstance(options, declared):
        raise TypeError(f"the {name} backend takes {declared.__name__}, not {type(options).__name__}")
    registered = BACKENDS[name]
    return getattr(importlib.import_module(registered.module), registered.backend)(model, options)
