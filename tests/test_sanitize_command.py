"""`scoder sanitize`: raw model outputs in, programs out (as evalplus.sanitize / bigcodebench.sanitize), on real
outputs: o1-mini's raw LiveCodeBench replies, whose programs lcb_runner extracted (its code_list), and the Meta-Llama-3
HumanEval+ programs of the evalplus conformance file wrapped in a chat reply. Also what `scoder eval` says of raw
outputs, and the files sanitize refuses to write over."""

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

LCB = Path(__file__).resolve().parents[2] / "shared" / "conformance" / "livecodebench"
LCB_ARGUMENTS = ("--benchmark", "livecodebench", "--release", "release_v5", "--lcb-data", str(LCB / "release_v5-partial-tests.jsonl.gz"))


def scoder(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, stdin=subprocess.DEVNULL, cwd=cwd)


def write_jsonl(path: Path, records) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def o1_mini():
    """lcb_runner's official evaluation of o1-mini on release_v5: per problem the raw reply and the program extracted."""
    return json.loads(gzip.decompress((LCB / "o1-mini-2024-09-12.codegeneration_1_0.2_eval_all.json.gz").read_bytes()))


@pytest.fixture(scope="module")
def llama_programs(conformance_dir):
    results = json.loads(gzip.decompress((conformance_dir / "humaneval_Meta-Llama-3-8B-Instruct.eval_results.json.gz").read_bytes()))
    return {task_id: entries[0]["solution"] for task_id, entries in results["eval"].items()}


def test_livecodebench_outputs_give_the_programs_lcb_runner_extracted(tmp_path, o1_mini, data_dir):
    raw = write_jsonl(tmp_path / "o1.jsonl", ({"task_id": entry["question_id"], "solution": entry["output_list"][0]} for entry in o1_mini))
    done = scoder("sanitize", "--samples", str(raw), *LCB_ARGUMENTS)
    assert done.returncode == 0, done.stderr
    output = tmp_path / "o1-sanitized.jsonl"
    assert done.stdout == f"sanitized: {output} (samples: 880, changed: 879, with no program found: 6)\n"
    sanitized = read_jsonl(output)
    assert [record["solution"] for record in sanitized] == [entry["code_list"][0] for entry in o1_mini]
    assert sanitized[0]["raw_solution"] == o1_mini[0]["output_list"][0]
    assert sanitized[0]["sanitized"]["benchmark"] == "livecodebench" and sanitized[0]["sanitized"]["extraction"] == "fenced"


def test_humaneval_chat_replies_give_back_their_programs(tmp_path, llama_programs, data_dir):
    replies = [{"task_id": task_id, "solution": f"Here is the solution:\n```python\n{program}\n```\nIt checks every pair.",
                "generation": {"model": "Meta-Llama-3-8B-Instruct"}} for task_id, program in llama_programs.items()]
    raw = tmp_path / "llama.jsonl.gz"
    raw.write_bytes(gzip.compress("".join(json.dumps(reply) + "\n" for reply in replies).encode()))
    done = scoder("sanitize", "--benchmark", "humaneval", "--samples", str(raw), "--data-dir", str(data_dir))
    assert done.returncode == 0, done.stderr
    sanitized = read_jsonl(tmp_path / "llama-sanitized.jsonl")
    assert {record["task_id"]: record["solution"] for record in sanitized} == llama_programs
    assert sanitized[0]["generation"] == {"model": "Meta-Llama-3-8B-Instruct"}  # the line's other fields travel with it
    assert sanitized[0]["sanitized"]["benchmark"] == "humaneval+"


def test_completions_get_their_prompt_and_outputs_without_a_benchmark_keep_every_definition(tmp_path, humaneval, data_dir):
    problem = humaneval.problems["HumanEval/0"]
    raw = write_jsonl(tmp_path / "c.jsonl", [{"task_id": "HumanEval/0", "completion": problem.canonical_solution + "\nprint('done')\n"}])
    done = scoder("sanitize", "--benchmark", "humaneval+", "--samples", str(raw), "--data-dir", str(data_dir))
    assert done.returncode == 0, done.stderr
    [record] = read_jsonl(tmp_path / "c-sanitized.jsonl")
    assert "def has_close_elements" in record["solution"] and "print(" not in record["solution"]
    assert record["raw_solution"].startswith(problem.prompt.strip())
    done = scoder("sanitize", "--samples", str(raw))
    assert done.returncode == 2 and "c.jsonl line 1: a completion is sanitized with its prompt in front: give --benchmark" in done.stderr

    reply = "Two helpers:\n```python\nimport math\n\ndef area(r):\n    return math.pi * r * r\n\ndef helper():\n    return 2\n```"
    write_jsonl(raw, [{"task_id": "anything", "solution": reply}])
    assert scoder("sanitize", "--samples", str(raw)).returncode == 0
    [record] = read_jsonl(tmp_path / "c-sanitized.jsonl")  # a previous sanitize output is replaced
    assert record["solution"] == "import math\ndef area(r):\n    return math.pi * r * r\ndef helper():\n    return 2"
    assert record["sanitized"]["benchmark"] is None


def test_files_sanitize_must_not_write_over_are_left_as_they_are(tmp_path, data_dir):
    raw = write_jsonl(tmp_path / "s.jsonl", [{"task_id": "HumanEval/0", "solution": "```python\nx = 1\n```"}])
    theirs = tmp_path / "s-sanitized.jsonl"
    theirs.write_text('{"task_id": "HumanEval/0", "solution": "mine"}\n')
    done = scoder("sanitize", "--samples", str(raw))
    assert done.returncode == 2 and theirs.read_text() == '{"task_id": "HumanEval/0", "solution": "mine"}\n'
    assert f"{theirs} exists and is not an output of scoder sanitize; it is left as it is: move or rename it" in done.stderr
    theirs.unlink()

    results = tmp_path / "r.json"
    results.write_text('{"eval": {}}')
    done = scoder("sanitize", "--samples", str(results))
    assert done.returncode == 2 and "sanitize reads JSON Lines of raw outputs" in done.stderr
    done = scoder("sanitize", "--benchmark", "mbpp+", "--samples", str(raw), "--data-dir", str(data_dir))
    assert done.returncode == 2 and "s.jsonl line 1: 'HumanEval/0' is not a task of mbpp+" in done.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["r.json", "s.jsonl"]


def test_eval_warns_of_raw_outputs_and_not_once_they_are_sanitized(tmp_path, o1_mini):
    solved = [entry for entry in o1_mini if entry["graded_list"] == [True] and entry["contest_date"] >= "2024-08"][:2]
    raw = write_jsonl(tmp_path / "raw.jsonl", ({"task_id": entry["question_id"], "solution": entry["output_list"][0]} for entry in solved))
    done = scoder("eval", "--samples", "raw.jsonl", "--parallel", "2", *LCB_ARGUMENTS, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("warning: 2 of 2 samples look like raw model output (markdown fences): sanitize them first with "
                                  "`scoder sanitize --benchmark livecodebench --samples raw.jsonl`\n")
    assert scoder("sanitize", "--samples", str(raw), *LCB_ARGUMENTS).returncode == 0
    done = scoder("eval", "--samples", str(tmp_path / "raw-sanitized.jsonl"), "--parallel", "2", *LCB_ARGUMENTS)
    assert done.returncode == 0 and "raw model output" not in done.stdout
    results = json.loads(next(tmp_path.glob("raw-sanitized_*eval_results.json")).read_text())
    assert [entry["passed"] for entries in results["eval"].values() for entry in entries] == [True, True]  # as lcb_runner graded
