"""harness.api: a request survives JSON unchanged (so it crosses a container boundary as data), `python -m
harness.api REQUEST.json` runs one on real data, and scores come out named as the evaluator names them."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys

import pytest

from harness import api
from harness.benchmarks.registry import BENCHMARKS, register
from harness.execution.executor import Executor
from harness.generation.backend import Decoding, options_class
from scoder.config_loading import build
from scoder.sampling import GenerationConfig
from tests.conftest import REPO
from tests.fixture_benchmark import ARITHMETIC


def round_trip(request):
    return api.request_from_json(json.loads(json.dumps(api.request_to_json(request))))


@pytest.mark.parametrize("request_", [
    api.GenerationRequest("humaneval+", "m", "s.jsonl"),
    api.GenerationRequest("bigcodebench-hard:instruct", "base", "/run/evaluate/b.samples.jsonl", "vllm",
                          options_class("vllm")(adapter="/run/target/checkpoint-4", tensor_parallel_size=2),
                          Decoding(n=4, temperature=0.8, top_p=0.9, max_new_tokens=384, seed=3, batch_size=16), 10, "/data", True),
    api.EvaluationRequest("livecodebench:release_v5", "s.jsonl"),
    api.EvaluationRequest("humaneval+", "s.jsonl", "r.json", "/data", True, api.Execution(2, "bwrap", Executor("ray", "10.0.0.1:6379")),
                          fresh=True, allow_repeated_samples=True),
], ids=["generation-defaults", "generation", "evaluation-defaults", "evaluation"])
def test_a_request_read_back_from_json_equals_itself(request_, tmp_path):
    assert round_trip(request_) == request_
    api.write_request(request_, tmp_path / "request.json")
    assert api.read_request(tmp_path / "request.json") == request_


@pytest.mark.parametrize("generation", [
    {},
    {"backend": "hf", "dtype": "float32", "batch_size": 2},
    {"backend": "vllm", "batch_size": 256, "tensor_parallel_size": 2, "data_parallel_size": 4, "dtype": "bfloat16"},
    {"backend": "openai", "base_url": "http://localhost:8000/v1", "batch_size": 16},
])
def test_a_recipes_backend_options_reach_the_request_unchanged(generation):
    """What the evaluate stage sends a container gives the backend the options the recipe asks for."""
    config = build(GenerationConfig, generation)
    request = api.GenerationRequest("humaneval+", "m", "s.jsonl", config.backend, config.backend_options(),
                                    Decoding(batch_size=config.batch_size))
    read = round_trip(request)
    assert read.backend_options == config.backend_options() and type(read.backend_options) is options_class(config.backend)


def test_an_option_of_another_backend_is_refused_when_read():
    data = api.request_to_json(api.GenerationRequest("humaneval+", "m", "s.jsonl", "hf", options_class("vllm")(tensor_parallel_size=2)))
    with pytest.raises(ValueError, match=r"the hf backend has no tensor_parallel_size"):
        api.request_from_json(data)


def test_python_m_harness_api_evaluates_a_request_file(conformance_dir, data_dir, tmp_path):
    """Real HumanEval+ samples (an official evaluator's), four tasks: the scores come back by test set, equal
    to what the official verdicts give."""
    official = json.loads(gzip.decompress((conformance_dir / "humaneval_Meta-Llama-3-8B-Instruct.eval_results.json.gz").read_bytes()))
    chosen = ["HumanEval/0", "HumanEval/11", "HumanEval/22", "HumanEval/5"]  # pass/pass twice, pass/fail, fail/fail
    entries = [official["eval"][task_id][0] for task_id in chosen]
    samples = tmp_path / "s.jsonl"
    samples.write_text("".join(json.dumps({"task_id": entry["task_id"], "solution": entry["solution"]}) + "\n" for entry in entries))
    request = api.EvaluationRequest("humaneval+", str(samples), str(tmp_path / "results.json"), str(data_dir),
                                    execution=api.Execution(parallel=2))
    api.write_request(request, tmp_path / "request.json")
    done = subprocess.run([sys.executable, "-m", "harness.api", str(tmp_path / "request.json")], capture_output=True, text=True,
                          cwd=REPO, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    base = sum(entry["base_status"] == "pass" for entry in entries) / len(entries)
    plus = sum(entry["base_status"] == entry["plus_status"] == "pass" for entry in entries) / len(entries)
    assert (base, plus) == (0.75, 0.5)  # the chosen tasks tell base from plus
    assert api.read_scores(request) == {"base": base, "plus": plus}
    assert "HumanEval+ (base + plus tests)" in done.stdout  # the benchmark's summary, as `scoder eval` prints it


def test_a_failed_request_says_why_in_a_line(tmp_path):
    api.write_request(api.EvaluationRequest("humaneval+", str(tmp_path / "missing.jsonl"), str(tmp_path / "r.json")), tmp_path / "r.json.request")
    done = subprocess.run([sys.executable, "-m", "harness.api", str(tmp_path / "r.json.request")], capture_output=True, text=True,
                          cwd=REPO, stdin=subprocess.DEVNULL)
    assert done.returncode == 2 and done.stderr.startswith("scoder: error: ") and "missing.jsonl" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_benchmark_with_one_score_names_it_pass_at_1(tmp_path, capsys):
    register(ARITHMETIC)
    try:
        samples = tmp_path / "s.jsonl"
        samples.write_text("".join(json.dumps({"task_id": task_id, "solution": code}) + "\n" for task_id, code in (
            ("Arithmetic/0", "def add(a, b):\n    return a + b\n"), ("Arithmetic/2", "def negate(x):\n    return x\n"))))
        request = api.EvaluationRequest("arithmetic", str(samples))
        assert api.evaluate(request) == {"pass@1": 0.5} == api.read_scores(request)
        assert api.results_path(request) == tmp_path / "s_arithmetic_eval_results.json"
    finally:
        del BENCHMARKS[ARITHMETIC.name]


def test_the_command_line_takes_a_variant_as_its_options_not_in_the_name(tmp_path, capsys):
    from harness.cli import main

    samples = tmp_path / "s.jsonl"
    samples.write_text(json.dumps({"task_id": "BigCodeBench/13", "solution": "x = 1"}) + "\n")
    assert main(["eval", "--benchmark", "bigcodebench-hard:instruct", "--samples", str(samples), "--no-progress"]) == 2
    assert "give bigcodebench-hard and --split instruct" in capsys.readouterr().err
