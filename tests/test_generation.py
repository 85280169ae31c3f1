"""Generation end to end with the embedded model (SmolLM2-135M-Instruct, real weights, CPU): samples are
produced, sanitized, executed and scored; greedy decoding repeats; runs resume; the OpenAI-compatible
backend talks to a real `scoder serve` process. Assertions are on the pipeline, never on a score.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from harness.benchmarks.evalplus import HUMANEVAL_PLUS
from harness.benchmarks.evalplus.scoring import evaluate
from harness.generate import generate_samples
from harness.generation.backend import Decoding
from harness.generation.models import EMBEDDED_DEFAULT, ModelError, load_tokenizer, resolve
from harness.generation.openai_compatible import OpenAICompatibleBackend, OpenAIOptions
from harness.benchmarks.bigcodebench.prompts import bigcodebench_prompts
from harness.benchmarks.evalplus.prompts import evalplus_prompts
from harness.benchmarks.livecodebench.prompts import livecodebench_prompts
from harness.generation.prompts import RESPONSE_PREFIX, cut_at_stops
from harness.samples import SamplesError
from tests.conftest import REPO

SHORT = Decoding(max_new_tokens=96, batch_size=4)


@pytest.fixture(scope="module")
def backend():
    from harness.generation.hf import HFBackend

    return HFBackend(EMBEDDED_DEFAULT)


@pytest.fixture(scope="module")
def humaneval_dataset(data_dir):
    return HUMANEVAL_PLUS.load(data_dir)


def lines(path) -> list[dict]:
    return [json.loads(line) for line in open(path)]


def test_samples_are_generated_sanitized_executed_and_scored(backend, humaneval_dataset, data_dir, tmp_path):
    prompts = evalplus_prompts(humaneval_dataset, backend.chat)
    summary = generate_samples(backend, prompts, SHORT, tmp_path / "s.jsonl", limit=3, progress=False)
    samples = lines(tmp_path / "s.jsonl")
    assert sorted(s["task_id"] for s in samples) == list(humaneval_dataset.problems)[:3]
    assert summary["generated_tasks"] == 3 and summary["tokens"] > 0
    for sample in samples:
        assert sample["raw_solution"] and isinstance(sample["solution"], str)
        generation = sample["generation"]
        assert generation["prompt_format"] == "evalplus-chat" and generation["backend"] == "hf"
        assert generation["decoding"]["max_new_tokens"] == 96 and "transformers" in generation["versions"]
    results = evaluate(HUMANEVAL_PLUS, tmp_path / "s.jsonl", tmp_path / "r.json", str(data_dir), progress=False)
    assert results["scoder"]["n_samples"] == 3 and len(results["eval"]) == 3
    for entries in results["eval"].values():
        assert entries[0]["base_status"] in ("pass", "fail", "timeout")
    assert 0.0 <= results["pass_at_k"]["plus"]["pass@1"] <= 1.0


def test_greedy_output_repeats_at_the_same_batch_size(backend, humaneval_dataset, tmp_path):
    prompts = evalplus_prompts(humaneval_dataset, backend.chat)
    for name in ("a.jsonl", "b.jsonl"):
        generate_samples(backend, prompts, SHORT, tmp_path / name, limit=4, progress=False)
    first, second = lines(tmp_path / "a.jsonl"), lines(tmp_path / "b.jsonl")
    assert [s["raw_solution"] for s in first] == [s["raw_solution"] for s in second]


def test_a_run_resumes_and_refuses_other_settings(backend, humaneval_dataset, tmp_path):
    prompts = evalplus_prompts(humaneval_dataset, backend.chat)
    path = tmp_path / "s.jsonl"
    generate_samples(backend, prompts, SHORT, path, limit=2, progress=False)
    with open(path, "a") as handle:
        handle.write('{"task_id": "HumanEval/2", "solu')  # a run killed mid-line
    summary = generate_samples(backend, prompts, SHORT, path, limit=3, progress=False)
    assert (summary["kept_tasks"], summary["generated_tasks"]) == (2, 1)
    assert [s["task_id"] for s in lines(path)] == ["HumanEval/0", "HumanEval/1", "HumanEval/2"]
    with pytest.raises(SamplesError, match="other settings"):
        generate_samples(backend, prompts, Decoding(max_new_tokens=32), path, limit=3, progress=False)


def test_sampling_gives_n_outputs_per_task(backend, humaneval_dataset, tmp_path):
    prompts = evalplus_prompts(humaneval_dataset, backend.chat)
    decoding = Decoding(n=3, temperature=0.8, max_new_tokens=48, batch_size=6)
    generate_samples(backend, prompts, decoding, tmp_path / "s.jsonl", limit=2, progress=False)
    assert sorted(s["task_id"] for s in lines(tmp_path / "s.jsonl")) == ["HumanEval/0"] * 3 + ["HumanEval/1"] * 3


def test_chat_rendering_equals_evalplus_construction(backend, humaneval_dataset):
    """evalplus renders the user turn and an assistant turn holding a marker, and cuts at the marker; we
    render the generation prompt and append the prefix. Both must give the same text."""
    marker = "-[[]]-marker-[[]]-"
    prompt = evalplus_prompts(humaneval_dataset, chat=True).prompts[0]
    reference = backend.tokenizer.apply_chat_template(
        [*prompt.messages, {"role": "assistant", "content": f"{RESPONSE_PREFIX}\n```python\n{marker}\n```\n"}],
        tokenize=False).split(marker)[0]
    assert backend.render(prompt) == reference


def test_base_prompts_and_the_instruct_split_rule(humaneval_dataset, data_dir):
    base = evalplus_prompts(humaneval_dataset, chat=False).prompts[0]
    assert base.text == humaneval_dataset.problems["HumanEval/0"].prompt.strip() + "\n" and "\ndef " in base.stop
    from harness.benchmarks.bigcodebench import BIGCODEBENCH_HARD

    hard = BIGCODEBENCH_HARD.load(str(data_dir))
    assert len(bigcodebench_prompts(hard, "instruct", chat=True).prompts) == 148
    with pytest.raises(ValueError, match="instruct split needs a chat prompt"):
        bigcodebench_prompts(hard, "instruct", chat=False)


def test_livecodebench_prompts_from_the_fixture_shards():
    from harness.benchmarks.livecodebench import tasks as livecodebench

    problems = livecodebench.load_problems("release_v2", data_dir=REPO / "tests" / "fixtures" / "livecodebench")
    chat = livecodebench_prompts(problems, chat=True)
    assert chat.format == "livecodebench-chat" and chat.prompts[0].messages[0]["role"] == "system"
    assert problems[0].question_content in chat.prompts[0].messages[1]["content"]
    assert livecodebench_prompts(problems, chat=False).format == "livecodebench-base-zero-shot"


@pytest.mark.parametrize("variable", ["HF_HUB_OFFLINE", "SCODER_OFFLINE"])
def test_an_unreachable_hub_model_gives_a_clear_error(monkeypatch, variable):
    # set after the hub library was imported: the harness reads it at each load
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv(variable, "1")
    with pytest.raises(ModelError, match="cannot load 'no-such-org/no-such-model'.*offline"):
        load_tokenizer(resolve("no-such-org/no-such-model"))
    with pytest.raises(ModelError, match="no such model folder"):
        resolve("./missing/model/folder")


@pytest.fixture(scope="module")
def server():
    """`scoder serve` with the embedded model, in its own process, on a free port."""
    process = subprocess.Popen([sys.executable, "-m", "harness.cli", "serve", "--port", "0", "--dtype", "float32"],
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = process.stdout.readline()
        match = re.search(r"http://[\d.]+:\d+/v1", line)
        assert match, f"server did not start: {line!r}"
        yield match.group(0)
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_openai_backend_against_a_real_server(server, backend, humaneval_dataset, tmp_path):
    chat = OpenAICompatibleBackend(EMBEDDED_DEFAULT, OpenAIOptions(base_url=server))
    summary = generate_samples(chat, evalplus_prompts(humaneval_dataset, chat=True), SHORT, tmp_path / "chat.jsonl",
                               limit=2, progress=False)
    samples = lines(tmp_path / "chat.jsonl")
    # Requests run concurrently: lines come in the order they finish.
    assert summary["tokens"] > 0 and sorted(s["task_id"] for s in samples) == ["HumanEval/0", "HumanEval/1"]
    assert all(s["raw_solution"] for s in samples) and samples[0]["generation"]["backend"] == "openai"

    # Through the completions endpoint the server (fp32, batch 1) continues the same text as the model
    # here does at fp32 and batch 1: greedy outputs must be equal.
    completions = OpenAICompatibleBackend(EMBEDDED_DEFAULT, OpenAIOptions(base_url=server, api="completions"))
    prompts = evalplus_prompts(humaneval_dataset, chat=False).prompts[:1]
    one = Decoding(max_new_tokens=40, batch_size=1)
    [(_, served, _)] = list(completions.generate(prompts, one))
    from harness.generation.hf import HFBackend, HFOptions

    local = HFBackend(EMBEDDED_DEFAULT, HFOptions(dtype="float32", base_prompt=True))
    [(_, direct, _)] = list(local.generate(prompts, one))
    assert served[0] == cut_at_stops(direct[0], prompts[0].stop)


def test_eval_with_a_model_runs_end_to_end_from_the_command_line(data_dir, tmp_path):
    env = dict(os.environ, SCODER_DATA_DIR=str(data_dir))
    run = subprocess.run([sys.executable, "-m", "harness.cli", "eval", "--model", EMBEDDED_DEFAULT, "--benchmark", "humaneval",
                          "--limit", "2", "--max-new-tokens", "64", "--no-progress", "--output", str(tmp_path / "r.json")],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "samples:" in run.stdout and "HumanEval+ (base + plus tests)" in run.stdout
    results = json.loads((tmp_path / "r.json").read_text())
    assert sorted(results["eval"]) == ["HumanEval/0", "HumanEval/1"]


def test_served_answers_say_when_max_tokens_cut_them(server):
    import urllib.request

    def complete(**body):
        request = urllib.request.Request(f"{server}/completions", json.dumps({"model": EMBEDDED_DEFAULT, "prompt": "def fib(n):", **body}).encode(),
                                         {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.loads(response.read())["choices"][0]

    cut = complete(max_tokens=5)
    assert cut["finish_reason"] == "length" and cut["text"]
    stopped = complete(max_tokens=64, stop=["\n"])  # the body's first line ends long before 64 tokens
    assert stopped["finish_reason"] == "stop" and "\n" not in stopped["text"]
