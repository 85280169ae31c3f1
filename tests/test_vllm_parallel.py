"""vLLM tensor and data parallelism, without vLLM (it needs GPUs): the engine and sampling arguments, the GPU
groups, the prompt shares, and the whole backend (one engine process per replica, each on its GPUs)
run against tests/fixtures/stand_in_vllm, a STAND-IN that answers with where and how each output was
made. The real model's tokenizer (the embedded SmolLM2's) renders the prompts."""

import json
import os
import re
from pathlib import Path

import pytest

from harness.cli import main
from harness.generation import vllm_backend
from harness.generation.backend import Decoding, render_chat
from harness.generation.models import EMBEDDED_DEFAULT, ModelError, load_tokenizer, resolve
from harness.generation.prompts import Prompt
from harness.generation.vllm_backend import VLLMOptions
from scoder.recipe import load_recipe
from scoder.sampling import GenerationConfig
from tests.conftest import REPO

STAND_IN = Path(__file__).parent / "fixtures" / "stand_in_vllm"


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory) -> str:
    """An HF folder (vLLM does not load GGUF) with the embedded model's tokenizer and chat template."""
    folder = tmp_path_factory.mktemp("model")
    load_tokenizer(resolve(EMBEDDED_DEFAULT)).save_pretrained(folder)
    return str(folder)


@pytest.fixture
def stand_in(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(STAND_IN), os.environ.get("PYTHONPATH")])))


def test_engine_and_sampling_arguments():
    assert vllm_backend.engine_arguments("/models/ds", VLLMOptions(adapter="/adapters/a", tensor_parallel_size=4)) == {
        "model": "/models/ds", "dtype": "auto", "enable_lora": True, "tensor_parallel_size": 4, "seed": 0}
    prompt = Prompt("t", text="def f():", stop=("\ndef ",))
    assert vllm_backend.sampling_arguments(prompt, Decoding()) == {
        "n": 1, "temperature": 0.0, "top_p": 1.0, "max_tokens": None, "stop": ["\ndef "], "seed": 0}
    assert vllm_backend.sampling_arguments(prompt, Decoding(n=5, temperature=0.8, max_new_tokens=512, seed=3))["top_p"] == 0.95


def test_gpu_groups_are_disjoint_and_in_order():
    assert vllm_backend.gpu_groups([str(i) for i in range(8)], 2, 4) == [["0", "1"], ["2", "3"], ["4", "5"], ["6", "7"]]
    assert vllm_backend.gpu_groups(["3", "5", "6", "7"], 1, 3) == [["3"], ["5"], ["6"]]  # the rest stay free
    with pytest.raises(ModelError, match="needs 8 GPUs; 4 are visible"):
        vllm_backend.gpu_groups(["0", "1", "2", "3"], 4, 2)


@pytest.mark.parametrize("count, replicas", [(10, 3), (3, 4), (0, 2), (8, 8), (1, 1)])
def test_shares_cover_the_prompts_in_order(count, replicas):
    parts = vllm_backend.shares(count, replicas)
    assert len(parts) == replicas and [index for part in parts for index in part] == list(range(count))
    assert max(map(len, parts)) - min(map(len, parts)) <= 1


def test_replicas_on_their_gpu_groups(model_folder, stand_in, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5,6,7")
    backend = vllm_backend.VLLMBackend(model_folder, VLLMOptions(adapter="/adapters/lora", tensor_parallel_size=2, data_parallel_size=2))
    prompts = [Prompt(f"task/{i}", ({"role": "user", "content": f"Write function number {i}."},), "```python\n", stop=("```",))
               for i in range(5)]
    try:
        results = list(backend.generate(prompts, Decoding(n=2, temperature=0.8, seed=7)))
        described = backend.describe()
    finally:
        processes = [replica.process for replica in backend.replicas]
        backend.close()
    assert sorted(index for index, _, _ in results) == list(range(5))
    for index, outputs, tokens in results:
        made = [json.loads(output) for output in outputs]
        assert [entry["draw"] for entry in made] == [0, 1]
        assert tokens == sum(len(output.split()) for output in outputs)
        for entry in made:
            assert entry["prompt"] == render_chat(backend.tokenizer, prompts[index]) and entry["prompt"].endswith("```python\n")
            assert entry["gpus"] == ("4,5" if index < 3 else "6,7")  # shares of 3 and 2 prompts
            assert entry["engine"] == {"model": model_folder, "dtype": "auto", "enable_lora": True, "tensor_parallel_size": 2, "seed": 0}
            assert entry["params"] == {"n": 2, "temperature": 0.8, "top_p": 0.95, "max_tokens": None, "stop": ["```"], "seed": 7}
            assert entry["lora"] == "/adapters/lora"
    assert described["parallel"] == {"tensor": 2, "data": 2} and described["versions"] == {"vllm": "0.0.0-stand-in"}
    assert [process.poll() for process in processes] == [0, 0], "closing ends the engine processes"


def test_too_few_gpus_is_a_clear_error(model_folder, stand_in, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    with pytest.raises(ModelError, match="needs 2 GPUs; 1 are visible"):
        vllm_backend.VLLMBackend(model_folder, VLLMOptions(data_parallel_size=2))


def test_without_vllm_the_engine_says_how_to_get_it(model_folder, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    with pytest.raises(ModelError, match=r"pip install 'scoder-harness\[vllm\]'"):
        vllm_backend.VLLMBackend(model_folder)


def test_scoder_generate_passes_the_sizes(model_folder, data_dir, stand_in, monkeypatch, tmp_path):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    output = tmp_path / "samples.jsonl"
    assert main(["generate", "--benchmark", "humaneval+", "--model", model_folder, "--backend", "vllm", "--data-parallel-size", "2",
                 "--limit", "4", "--output", str(output), "--data-dir", str(data_dir), "--no-progress"]) == 0
    samples = [json.loads(line) for line in output.read_text().splitlines()]
    # The stand-in's answer is cut at the prompt's stop strings (the echoed prompt holds some); what it
    # says about the engine comes before the prompt.
    made = {sample["task_id"]: re.search(r'"gpus": "(\d)", "engine": \{.*"tensor_parallel_size": (\d)', sample["raw_solution"]).groups()
            for sample in samples}
    assert made == {"HumanEval/0": ("0", "1"), "HumanEval/1": ("0", "1"), "HumanEval/2": ("1", "1"), "HumanEval/3": ("1", "1")}
    assert samples[0]["generation"]["parallel"] == {"tensor": 1, "data": 2}
    assert main(["generate", "--benchmark", "humaneval+", "--model", model_folder, "--tensor-parallel-size", "2",
                 "--output", str(tmp_path / "hf.jsonl"), "--data-dir", str(data_dir)]) == 2  # hf has no such option


def test_recipes_set_the_sizes(tmp_path):
    recipe = tmp_path / "vllm.yaml"
    recipe.write_text(f"base: {REPO / 'recipes' / 'smoke.yaml'}\nname: vllm-tp-dp\n"
                      "generation: {backend: vllm, batch_size: 256, tensor_parallel_size: 2, data_parallel_size: 4}\n")
    generation = load_recipe(recipe).generation
    assert generation.backend_options("/a") == VLLMOptions(adapter="/a", tensor_parallel_size=2, data_parallel_size=4)
    with pytest.raises(ValueError, match=r"the hf backend has no data_parallel_size \(an option of vllm\)"):
        GenerationConfig(backend="hf", data_parallel_size=2)
