"""Backend options are declared once, in each backend's dataclass: the flags of `scoder generate` and `serve`, the
recipe's generation fields and the refusal of another backend's option all come from those declarations (what the
evaluate stage sends a container carries the options dataclass itself: tests/test_api.py)."""

import dataclasses
import json
import subprocess
import sys

import pytest

from harness import cli as harness_cli
from harness.generation.backend import BACKENDS, load_backend, options_class
from scoder.config_loading import RecipeError, build
from scoder.recipe import load_recipe
from scoder.sampling import GenerationConfig
from tests.conftest import REPO


def declared(backend: str) -> list[dataclasses.Field]:
    return list(dataclasses.fields(options_class(backend)))


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def help_of(command: str, capsys, monkeypatch) -> str:
    monkeypatch.setenv("COLUMNS", "10000")  # one line per flag: argparse would wrap the help text anywhere
    with pytest.raises(SystemExit):
        harness_cli.main([command, "--help"])
    return capsys.readouterr().out


@pytest.mark.parametrize("backend", BACKENDS)
def test_each_declared_option_is_a_flag_with_its_help_and_a_recipe_field(backend, capsys, monkeypatch):
    generate_help = help_of("generate", capsys, monkeypatch)
    recipe_fields = {field.name: field for field in dataclasses.fields(GenerationConfig)}
    for field in declared(backend):
        assert flag(field.name) in generate_help
        assert field.metadata["help"] in generate_help
        if field.metadata.get("recipe", True):
            assert recipe_fields[field.name].default == field.default
        else:
            assert field.name not in recipe_fields
    assert set(recipe_fields) - {"backend", "batch_size"} <= {field.name for name in BACKENDS for field in declared(name)}


def test_serve_takes_the_hf_options_that_mean_something_to_a_server(capsys, monkeypatch):
    serve_help = help_of("serve", capsys, monkeypatch)
    assert "--dtype" in serve_help and "--adapter" in serve_help
    assert "--base-prompt" not in serve_help and "--tensor-parallel-size" not in serve_help and "--base-url" not in serve_help


def test_the_recipe_fields_are_those_recipes_always_had():
    """The generation block is hashed into stage keys: a field added or dropped would change every key."""
    assert {field.name: field.default for field in dataclasses.fields(GenerationConfig)} == {
        "backend": "hf", "batch_size": 8, "dtype": "auto", "base_url": None, "tensor_parallel_size": 1, "data_parallel_size": 1}


@pytest.mark.parametrize("argv, message", [
    (["--tensor-parallel-size", "2"], "the hf backend has no --tensor-parallel-size (an option of vllm); its options: --dtype, --base-prompt, --compile, --adapter"),
    (["--backend", "openai", "--dtype", "float16"], "the openai backend has no --dtype (an option of hf, vllm)"),
    (["--backend", "openai", "--base-prompt", "--adapter", "/a"], "the openai backend has no --base-prompt (an option of hf, vllm), --adapter"),
    (["--backend", "vllm", "--base-url", "http://localhost:8000/v1"], "the vllm backend has no --base-url (an option of openai)"),
    (["--api", "completions"], "the hf backend has no --api (an option of openai)"),
])
def test_an_option_of_another_backend_is_refused_on_the_command_line(argv, message, capsys, tmp_path):
    argv = ["generate", "--benchmark", "humaneval+", "--model", "m", "--output", str(tmp_path / "s.jsonl"), *argv]
    assert harness_cli.main(argv) == 2
    assert f"scoder: error: {message}" in capsys.readouterr().err
    assert not (tmp_path / "s.jsonl").exists()


@pytest.mark.parametrize("generation, message", [
    ("{backend: hf, tensor_parallel_size: 2}", "generation: the hf backend has no tensor_parallel_size (an option of vllm)"),
    ("{backend: openai, dtype: float16}", "generation: the openai backend has no dtype (an option of hf, vllm)"),
    ("{backend: vllm, base_url: 'http://localhost:8000/v1'}", "generation: the vllm backend has no base_url (an option of openai)"),
    ("{backend: vllm, data_parallel_size: 0}", "generation: tensor and data parallel sizes must be at least 1"),
    ("{backend: hf, dtype: half}", "generation: unknown dtype 'half'"),
    ("{backend: hf, adapter: /a}", "generation.adapter: unknown field"),  # each checkpoint's, set by the method
])
def test_an_option_of_another_backend_is_refused_in_a_recipe(generation, message, tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"base: {REPO / 'recipes' / 'smoke.yaml'}\nname: r\ngeneration: {generation}\n")
    with pytest.raises(RecipeError) as refused:
        load_recipe(recipe)
    assert message in str(refused.value)


def test_a_backend_takes_only_its_own_options_dataclass():
    with pytest.raises(TypeError, match="the openai backend takes OpenAIOptions, not HFOptions"):
        load_backend("openai", "m", options_class("hf")())


def test_an_adapter_goes_to_the_backends_that_take_one():
    assert build(GenerationConfig, {"backend": "vllm"}).backend_options("/ckpt").adapter == "/ckpt"
    assert build(GenerationConfig, {"backend": "hf"}).backend_options().adapter is None
    with pytest.raises(ValueError, match=r"the openai backend has no adapter \(an option of hf, vllm\)"):
        build(GenerationConfig, {"backend": "openai"}).backend_options("/ckpt")


def test_reading_the_options_imports_neither_torch_nor_vllm():
    code = ("import sys, json, harness.cli, scoder.sampling\n"
            "from harness.generation.options import all_options\n"
            "all_options()\n"
            "print(json.dumps(sorted(name for name in ('torch', 'vllm', 'transformers') if name in sys.modules)))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []
