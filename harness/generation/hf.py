"""HF transformers backend: batched generation on CPU or GPU, left padding, stop strings, LoRA adapters."""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.generation.backend import Decoding, base_prompt_option, render_chat
from harness.generation.models import ModelError, best_dtype, load_causal_lm, load_tokenizer, resolve

DTYPES = ("auto", "float32", "bfloat16", "float16")


@dataclass(frozen=True)
class HFOptions:
    """The hf backend's options: flags of `scoder generate`, and recipe fields unless marked recipe: False
    (harness.generation.options derives both)."""
    dtype: str = field(default="auto", metadata={
        "help": "auto (bfloat16 where the hardware computes in it, else float32; float16 on CUDA without bf16), "
                "float32, bfloat16, float16"})
    base_prompt: bool = base_prompt_option()
    compile: bool = field(default=False, metadata={
        "help": "CUDA only: a static KV cache and torch.compile of the decoding step (CUDA graphs); each new batch "
                "shape compiles first (tens of seconds at 7B), then every token costs less Python and fewer launches",
        "recipe": False,  # not a recipe field until measured there (benchmarks/gpu_paper_shape.py --compile-batches)
    })
    adapter: str | None = field(default=None, metadata={
        "help": "a LoRA adapter folder (PEFT), merged into the weights",
        "recipe": False,  # the method gives each checkpoint's
    })

    def __post_init__(self):
        if self.dtype not in DTYPES:
            raise ValueError(f"unknown dtype {self.dtype!r}; choose one of {', '.join(DTYPES)}")


class HFBackend:
    name = "hf"

    def __init__(self, model: str, options: HFOptions = HFOptions()):
        import torch

        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.dtype = best_dtype(self.device) if options.dtype == "auto" else getattr(torch, options.dtype)
        self.source = resolve(model)
        self.tokenizer = load_tokenizer(self.source)
        self.tokenizer.padding_side = "left"  # decoder-only: every row's prompt ends where generation starts
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = load_causal_lm(self.source, self.dtype, self.device)
        self.adapter = options.adapter
        if self.adapter:
            try:
                from peft import PeftModel
            except ImportError:
                raise ModelError("LoRA adapters need PEFT: pip install 'scoder-harness[train]' (or peft)") from None
            # Merged into the weights: the same model, 20% faster to generate from than with LoRA beside them
            # (measured on the embedded model, CPU).
            self.model = PeftModel.from_pretrained(self.model, self.adapter).merge_and_unload().eval()
        self.chat = not options.base_prompt and self.tokenizer.chat_template is not None
        self.compile = options.compile and self.device == "cuda"

    def describe(self) -> dict:
        import torch
        import transformers

        return {"backend": self.name, "model": self.source.name, "adapter": self.adapter, "device": self.device,
                "dtype": str(self.dtype).removeprefix("torch."), "chat_template": self.chat,
                "versions": {"torch": torch.__version__, "transformers": transformers.__version__}}

    def render(self, prompt) -> str:
        return render_chat(self.tokenizer, prompt) if prompt.is_chat else prompt.text

    def generate(self, prompts, decoding: Decoding):
        """Yields (prompt index, outputs, generated tokens) as each prompt's n outputs are complete.
        Rows (prompt x sample) are batched longest first, so padding stays small. Sampling is seeded per
        batch (seed + batch number): the same prompts in the same batches give the same outputs."""
        import torch
        from transformers import GenerationConfig

        encoded = [self.tokenizer(self.render(prompt), add_special_tokens=not prompt.is_chat)["input_ids"] for prompt in prompts]
        rows = sorted(((index, sample) for index in range(len(prompts)) for sample in range(decoding.n)),
                      key=lambda row: -len(encoded[row[0]]))
        outputs: dict[int, list[str]] = {}
        tokens: dict[int, int] = {}
        for number, start in enumerate(range(0, len(rows), decoding.batch_size)):
            batch = rows[start:start + decoding.batch_size]
            stops = sorted({stop for index, _ in batch for stop in prompts[index].stop})
            config = GenerationConfig(
                max_new_tokens=decoding.max_new_tokens, do_sample=not decoding.greedy,
                pad_token_id=self.tokenizer.pad_token_id, eos_token_id=self.model.generation_config.eos_token_id,
                stop_strings=stops or None,
                **({"cache_implementation": "static"} if self.compile else {}),
                **({"temperature": decoding.temperature, "top_p": decoding.top_p} if not decoding.greedy else {}),
            )
            inputs = self.tokenizer.pad({"input_ids": [encoded[index] for index, _ in batch]}, return_tensors="pt").to(self.device)
            torch.manual_seed(decoding.seed + number)
            with torch.inference_mode():
                generated = self.model.generate(**inputs, generation_config=config, tokenizer=self.tokenizer)
            new = generated[:, inputs["input_ids"].shape[1]:]
            texts = self.tokenizer.batch_decode(new, skip_special_tokens=True)
            counts = (new != self.tokenizer.pad_token_id).sum(dim=1).tolist()
            for (index, _), text, count in zip(batch, texts, counts):
                outputs.setdefault(index, []).append(text)
                tokens[index] = tokens.get(index, 0) + count
                if len(outputs[index]) == decoding.n:
                    yield index, outputs.pop(index), tokens.pop(index)
