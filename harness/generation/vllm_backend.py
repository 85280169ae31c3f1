"""vLLM backend (GPU; the optional `vllm` extra, imported only here). Prompts are rendered with the
model's own chat template exactly as the HF backend renders them; LoRA adapters go in as LoRA requests;
tensor parallelism over the visible GPUs with $SCODER_VLLM_TP (default 1).

Not exercised on the project's machines: vLLM cannot be installed on them (see the README).
"""

from __future__ import annotations

import os

from harness.generation.backend import Decoding, render_chat
from harness.generation.models import ModelError, resolve


class VLLMBackend:
    name = "vllm"

    def __init__(self, model: str, dtype: str = "auto", base_prompt: bool = False, adapter: str | None = None):
        try:
            import vllm
        except ImportError:
            raise ModelError("the vllm backend needs vLLM on a GPU machine: pip install 'scoder-harness[vllm]'") from None
        self.source = resolve(model)
        if self.source.gguf_file:
            raise ModelError("vLLM loads HF folders here; use --backend hf for a GGUF model")
        self.adapter = adapter
        self.llm = vllm.LLM(self.source.location, dtype=dtype, enable_lora=adapter is not None,
                            tensor_parallel_size=int(os.environ.get("SCODER_VLLM_TP", "1")), seed=0)
        self.tokenizer = self.llm.get_tokenizer()
        self.chat = not base_prompt and getattr(self.tokenizer, "chat_template", None) is not None
        self.versions = {"vllm": vllm.__version__}

    def describe(self) -> dict:
        return {"backend": self.name, "model": self.source.name, "adapter": self.adapter, "chat_template": self.chat,
                "versions": self.versions}

    def generate(self, prompts, decoding: Decoding):
        from vllm import SamplingParams
        from vllm.lora.request import LoRARequest

        lora = LoRARequest("adapter", 1, self.adapter) if self.adapter else None
        texts = [render_chat(self.tokenizer, prompt) if prompt.is_chat else prompt.text for prompt in prompts]
        params = [SamplingParams(n=decoding.n, temperature=decoding.temperature, top_p=decoding.top_p if not decoding.greedy else 1.0,
                                 max_tokens=decoding.max_new_tokens, stop=list(prompt.stop), seed=decoding.seed)
                  for prompt in prompts]
        # vLLM schedules all prompts at once (continuous batching); results come back in prompt order.
        for index, result in enumerate(self.llm.generate(texts, params, lora_request=lora)):
            yield index, [output.text for output in result.outputs], sum(len(output.token_ids) for output in result.outputs)
