"""The benchmark registry: a new benchmark is one file plus one registry line (tests/fixture_benchmark.py, a
labelled fixture), and the command line, the report and the exports find it with no other change."""

from __future__ import annotations

import json

import pytest

from harness import benchmarks
from harness.benchmarks.registry import BENCHMARKS, benchmark_options, get_benchmark, parse_options, register, resolve
from harness.cli import main
from tests.fixture_benchmark import ARITHMETIC

GOOD = {"Arithmetic/0": "def add(a, b):\n    return a + b\n", "Arithmetic/1": "def double(x):\n    return x + x\n"}
WRONG = {"Arithmetic/2": "def negate(x):\n    return x\n"}


@pytest.fixture
def arithmetic():
    register(ARITHMETIC)  # the one registry line
    yield ARITHMETIC
    del BENCHMARKS[ARITHMETIC.name]  # the registration ends with the test


def test_a_new_benchmark_runs_through_eval_report_and_export(arithmetic, tmp_path, capsys):
    samples = tmp_path / "run" / "arithmetic.samples.jsonl"
    samples.parent.mkdir()
    samples.write_text("".join(json.dumps({"task_id": task_id, "solution": code}) + "\n" for task_id, code in {**GOOD, **WRONG}.items()))
    results_file = tmp_path / "run" / "arithmetic.eval_results.json"
    assert main(["eval", "--benchmark", "arithmetic", "--samples", str(samples), "--output", str(results_file), "--no-progress"]) == 0
    results = json.loads(results_file.read_text())
    assert {task: [entry["status"] for entry in entries] for task, entries in results["eval"].items()} == {
        "Arithmetic/0": ["pass"], "Arithmetic/1": ["pass"], "Arithmetic/2": ["fail"]}
    assert results["scoder"]["benchmark"] == "arithmetic" and abs(results["pass_at_k"]["pass@1"] - 2 / 3) < 1e-9
    assert "arithmetic" in capsys.readouterr().out

    assert main(["report", str(tmp_path / "run"), "--no-baselines", "--output", str(tmp_path / "report")]) == 0
    table = (tmp_path / "report" / "report.md").read_text()
    assert "Arithmetic (test fixture) v1" in table and "66.7" in table

    assert main(["export", "arithmetic-board", str(tmp_path / "run"), "--output", str(tmp_path / "export"), "--model-name", "m",
                 "--generation", "backend=hf", "prompt_format=arithmetic", "temperature=0", "n=1"]) == 0
    exported = json.loads((tmp_path / "export" / "arithmetic_scores.json").read_text())
    [(column, value)] = exported["scores"].items()
    assert exported["model"] == "m" and column.startswith("Arithmetic (test fixture) v1") and value == pytest.approx(200 / 3)


def test_samples_for_tasks_it_lacks_are_refused(arithmetic, tmp_path, capsys):
    samples = tmp_path / "s.jsonl"
    samples.write_text(json.dumps({"task_id": "HumanEval/0", "solution": "x = 1"}) + "\n")
    assert main(["eval", "--benchmark", "arithmetic", "--samples", str(samples), "--no-progress"]) == 2
    assert "tasks that arithmetic does not have" in capsys.readouterr().err


def test_a_name_is_registered_once(arithmetic):
    with pytest.raises(ValueError, match="already registered"):
        register(ARITHMETIC)


def test_recipe_names_resolve_to_a_benchmark_and_its_arguments():
    assert resolve("bigcodebench-hard:instruct") == (get_benchmark("bigcodebench-hard"), {"split": "instruct"})
    assert resolve("livecodebench:release_v5") == (get_benchmark("livecodebench"), {"release": "release_v5"})
    assert resolve("HumanEval") == (get_benchmark("humaneval+"), {})
    for bad, message in (("humanevl+", "unknown benchmark"), ("bigcodebench:hard", "a split"),
                         ("livecodebench:release_v99", "unknown LiveCodeBench release"), ("mbpp+:plus", "no variants")):
        with pytest.raises(ValueError, match=message):
            resolve(bad)


def test_options_outside_the_command_line_have_the_command_lines_defaults():
    options = parse_options(["--split", "instruct"])
    assert (options.split, options.version, options.release, options.data_dir, options.no_calibrate) == (
        "instruct", "v0.1.4", "release_latest", None, False)
    with pytest.raises(ValueError, match="--split"):
        parse_options(["--split", "both"])
    # Code that is not the command line gives a recipe's spec and values by name; it gets the same options.
    benchmark, typed = benchmark_options("bigcodebench-hard:instruct", data_dir="/data")
    assert benchmark is get_benchmark("bigcodebench-hard") and typed == parse_options(["--split", "instruct", "--data-dir", "/data"])
    assert benchmark_options("cruxeval-i:cot", "generate")[1] == parse_options(["--cot"], "generate")
    with pytest.raises(ValueError, match="no benchmark option lcb_data for eval"):
        benchmark_options("livecodebench", lcb_data="/x")


def test_every_registered_benchmark_offers_the_whole_interface():
    interface = [name for name in vars(benchmarks.benchmark.Benchmark) if not name.startswith("_")]
    interface += list(benchmarks.benchmark.Benchmark.__annotations__)
    for benchmark in BENCHMARKS.values():
        missing = [name for name in interface if not hasattr(benchmark, name)]
        assert not missing, f"{benchmark.name} lacks {missing}"


def _declaring(*flags: str, dest: str | None = None):
    """A fixture benchmark (labelled: ARITHMETIC under another name) whose options are `flags`."""
    def add_arguments(parser, command):
        parser.add_argument_group("Clashing (test fixture)").add_argument(*flags, **({"dest": dest} if dest else {}))
    return ClashingBenchmark(), add_arguments


class ClashingBenchmark(type(ARITHMETIC)):
    name = "clashing"


@pytest.mark.parametrize("flags, dest, refusal", [
    (("--split",), None, r"clashing: argument --split: conflicting option string: --split; a benchmark's options need names of their own"),
    (("--clashing-split",), "split", r"clashing: its option --clashing-split would share the value 'split' with bigcodebench's"),
])
def test_a_benchmark_whose_options_take_another_familys_names_is_refused(monkeypatch, flags, dest, refusal):
    benchmark, add_arguments = _declaring(*flags, dest=dest)
    monkeypatch.setattr(ClashingBenchmark, "add_arguments", staticmethod(add_arguments))
    monkeypatch.setitem(BENCHMARKS, benchmark.name, benchmark)
    with pytest.raises(ValueError, match=refusal):
        parse_options([])
