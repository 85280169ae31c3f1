"""vLLM backend (GPU; the optional `vllm` extra, imported only by the engine processes). Prompts are
rendered with the model's own chat template exactly as the HF backend renders them; LoRA adapters go in
as LoRA requests.

Parallelism: one engine spans `tensor_parallel_size` GPUs (vLLM splits every layer over them), and
`data_parallel_size` engines each take a contiguous share of the prompts, each in its own process
(vllm_replica.py) on its own group of GPUs. That is how vLLM's offline data-parallel example works
(examples/offline_inference/data_parallel.py: one process per replica, prompts split in contiguous
shares); `LLM(data_parallel_size=k)` itself refuses single-process use (vllm-project/vllm#27282). The
replicas here share no DP group: dense models need no coordination between them, and a group's lockstep
stalls replicas whose shares finish at different times (vllm-project/vllm#23534). Each prompt carries
its own seed, so how the prompts are shared does not change what is sampled.

Not exercised on the project's machines: vLLM cannot be installed on them (see the README). The tests
check the engine arguments, the GPU groups and the replica protocol with a stand-in engine.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from dataclasses import dataclass, field

from harness.generation.backend import Decoding, base_prompt_option, render_chat
from harness.generation.models import ModelError, load_tokenizer, resolve

REPLICA_CLOSE_TIMEOUT_S = 60


@dataclass(frozen=True)
class VLLMOptions:
    """The vllm backend's options: flags of `scoder generate`, and recipe fields unless marked recipe: False
    (harness.generation.options derives both)."""
    dtype: str = field(default="auto", metadata={
        "help": "auto (the model's own dtype; float16 for float32 models, as vLLM chooses), float16, bfloat16, float32"})
    base_prompt: bool = base_prompt_option()
    adapter: str | None = field(default=None, metadata={
        "help": "a LoRA adapter folder, sent with every request as a LoRA request",
        "recipe": False,  # the method gives each checkpoint's
    })
    tensor_parallel_size: int = field(default=1, metadata={"help": "GPUs one engine spans"})
    data_parallel_size: int = field(default=1, metadata={
        "help": "engines, each on its own tensor-parallel-size GPUs with a share of the prompts"})

    def __post_init__(self):
        if self.tensor_parallel_size < 1 or self.data_parallel_size < 1:
            raise ValueError("tensor and data parallel sizes must be at least 1")


def engine_arguments(location: str, options: VLLMOptions) -> dict:
    """Keyword arguments of vllm.LLM for one replica."""
    return {"model": location, "dtype": options.dtype, "enable_lora": options.adapter is not None,
            "tensor_parallel_size": options.tensor_parallel_size, "seed": 0}


def sampling_arguments(prompt, decoding: Decoding) -> dict:
    """Keyword arguments of vllm.SamplingParams for one prompt."""
    return {"n": decoding.n, "temperature": decoding.temperature, "top_p": 1.0 if decoding.greedy else decoding.top_p,
            "max_tokens": decoding.max_new_tokens, "stop": list(prompt.stop), "seed": decoding.seed}


def visible_gpus() -> list[str]:
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [gpu.strip() for gpu in listed.split(",") if gpu.strip()]
    import torch

    return [str(index) for index in range(torch.cuda.device_count())]


def gpu_groups(gpus: list[str], tensor_parallel_size: int, data_parallel_size: int) -> list[list[str]]:
    """`data_parallel_size` disjoint groups of `tensor_parallel_size` GPUs, in the order they are listed."""
    needed = tensor_parallel_size * data_parallel_size
    if needed > len(gpus):
        raise ModelError(f"vLLM with tensor parallel size {tensor_parallel_size} x data parallel size {data_parallel_size} "
                         f"needs {needed} GPUs; {len(gpus)} are visible ({','.join(gpus) or 'none'})")
    return [gpus[rank * tensor_parallel_size:(rank + 1) * tensor_parallel_size] for rank in range(data_parallel_size)]


def shares(count: int, replicas: int) -> list[range]:
    """Contiguous shares of `count` prompts, sizes differing by at most one (vLLM's example splits so)."""
    floor, remainder = divmod(count, replicas)
    starts = [rank * floor + min(rank, remainder) for rank in range(replicas + 1)]
    return [range(starts[rank], starts[rank + 1]) for rank in range(replicas)]


class Replica:
    """One engine in its own process on its own GPUs: a JSON line per request, a JSON line per answer."""

    def __init__(self, engine: dict, gpus: list[str]):
        self.gpus = gpus
        self.process = subprocess.Popen([sys.executable, "-m", "harness.generation.vllm_replica"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, env=dict(os.environ, CUDA_VISIBLE_DEVICES=",".join(gpus)))
        self.send(engine)

    def send(self, message: dict) -> None:
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()

    def receive(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            raise ModelError(f"the vLLM engine on GPUs {','.join(self.gpus)} stopped (exit code {self.process.wait()}; "
                             "its log is above)")
        return json.loads(line)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()  # the replica's request loop ends and its engine shuts down
            try:
                self.process.wait(timeout=REPLICA_CLOSE_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process.stdout.close()


class VLLMBackend:
    name = "vllm"

    def __init__(self, model: str, options: VLLMOptions = VLLMOptions()):
        self.replicas: list[Replica] = []
        self.source = resolve(model)
        if self.source.gguf_file:
            raise ModelError("vLLM loads HF folders here; use --backend hf for a GGUF model")
        self.adapter = options.adapter
        self.parallel = {"tensor": options.tensor_parallel_size, "data": options.data_parallel_size}
        self.tokenizer = load_tokenizer(self.source)  # the engines' own tokenizer: vLLM loads it the same way
        self.chat = not options.base_prompt and getattr(self.tokenizer, "chat_template", None) is not None
        engine = engine_arguments(self.source.location, options)
        try:
            for gpus in gpu_groups(visible_gpus(), options.tensor_parallel_size, options.data_parallel_size):
                self.replicas.append(Replica(engine, gpus))  # all load at once
            hellos = [replica.receive() for replica in self.replicas]
            for hello in hellos:
                if "error" in hello:
                    raise ModelError(hello["error"])
        except BaseException:
            self.close()
            raise
        self.versions = {"vllm": hellos[0]["vllm"]}

    def describe(self) -> dict:
        return {"backend": self.name, "model": self.source.name, "adapter": self.adapter, "chat_template": self.chat,
                "parallel": self.parallel, "versions": self.versions}

    def generate(self, prompts, decoding: Decoding):
        texts = [render_chat(self.tokenizer, prompt) if prompt.is_chat else prompt.text for prompt in prompts]
        params = [sampling_arguments(prompt, decoding) for prompt in prompts]
        waiting = {}
        for replica, share in zip(self.replicas, shares(len(prompts), len(self.replicas))):
            if share:
                replica.send({"texts": texts[share.start:share.stop], "params": params[share.start:share.stop], "adapter": self.adapter})
                waiting[replica.process.stdout] = (replica, share)
        # Each replica answers once, with its whole share (vLLM batches a share continuously): first done, first out.
        while waiting:
            ready, _, _ = select.select(list(waiting), [], [])
            for stream in ready:
                replica, share = waiting.pop(stream)
                answer = replica.receive()
                for index, outputs, tokens in zip(share, answer["outputs"], answer["tokens"], strict=True):
                    yield index, outputs, tokens

    def close(self) -> None:
        for replica in self.replicas:
            replica.close()
        self.replicas = []

    def __del__(self):
        self.close()
