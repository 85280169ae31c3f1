"""One vLLM engine in its own process, for VLLMBackend: the first stdin line holds vllm.LLM's arguments,
answered by {"vllm": version} once the engine is ready (or {"error": why}); then each request line
{"texts", "params", "adapter"} is answered by one line {"outputs": [[text, ...] per prompt], "tokens"}.
The GPUs are the parent's choice, through CUDA_VISIBLE_DEVICES."""

from __future__ import annotations

import json
import os
import sys


def main() -> None:
    # vLLM and the worker processes it starts log to stdout: the answers get a copy of it to themselves.
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())

    def answer(message: dict) -> None:
        answers.write(json.dumps(message) + "\n")
        answers.flush()

    engine_arguments = json.loads(sys.stdin.readline())
    try:
        import vllm
        from vllm import SamplingParams
        from vllm.lora.request import LoRARequest
    except ImportError:
        answer({"error": "the vllm backend needs vLLM on a GPU machine: pip install 'scoder-harness[vllm]'"})
        return
    engine = vllm.LLM(**engine_arguments)
    answer({"vllm": vllm.__version__})
    for line in sys.stdin:
        request = json.loads(line)
        lora = LoRARequest("adapter", 1, request["adapter"]) if request["adapter"] else None
        results = engine.generate(request["texts"], [SamplingParams(**params) for params in request["params"]], lora_request=lora)
        # Results come back in prompt order (vLLM schedules all prompts at once, continuous batching).
        answer({"outputs": [[output.text for output in result.outputs] for result in results],
                "tokens": [sum(len(output.token_ids) for output in result.outputs) for result in results]})


if __name__ == "__main__":
    main()
