import gzip
import json

import pytest

from harness.evaluate import plan, solution_of
from harness.evaluation import assemble_results, sample_key
from harness.samples import SamplesError, read_samples


def write(path, lines):
    path.write_text("\n".join(lines) + "\n")
    return path


def test_solution_and_completion_formats(tmp_path, humaneval):
    path = write(tmp_path / "s.jsonl", [
        json.dumps({"task_id": "HumanEval/0", "solution": "def has_close_elements(a, b): return True"}),
        "",
        json.dumps({"task_id": "HumanEval/0", "completion": "    return False\n"}),
    ])
    samples = read_samples(path)
    assert len(samples) == 2
    problem = humaneval.problems["HumanEval/0"]
    assert solution_of(samples[1], problem) == problem.prompt + "    return False\n"


def test_gzipped_eval_results_are_read_as_samples(tmp_path):
    results = {"eval": {"Mbpp/2": [{"task_id": "Mbpp/2", "solution": "x = 1", "base_status": "fail"}]}}
    path = tmp_path / "r.json.gz"
    path.write_bytes(gzip.compress(json.dumps(results).encode()))
    [sample] = read_samples(path)
    assert sample.task_id == "Mbpp/2" and sample.solution == "x = 1"


@pytest.mark.parametrize("line, message", [
    ("{not json", "line 1: not valid JSON"),
    ('["a list"]', "line 1: expected a JSON object"),
    ('{"solution": "x"}', "line 1: missing task_id"),
    ('{"task_id": "HumanEval/0"}', "needs a 'solution' or a 'completion'"),
    ('{"task_id": "HumanEval/0", "solution": ["a", "b"]}', "must be a string"),
])
def test_malformed_lines_say_where_and_why(tmp_path, line, message):
    with pytest.raises(SamplesError, match=message):
        read_samples(write(tmp_path / "s.jsonl", [line]))


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(SamplesError, match="no such samples file"):
        read_samples(tmp_path / "absent.jsonl")


def test_unknown_tasks_are_an_error_and_missing_ones_are_listed(tmp_path, humaneval):
    path = write(tmp_path / "s.jsonl", [json.dumps({"task_id": "HumanEval/0", "solution": ""})])
    record = {"isolation": "none (nothing ran)", **{f"{kind}_{part}": value for kind in ("base", "plus")
                                                   for part, value in (("status", "fail"), ("fail_tests", []), ("error", None))}}
    results = assemble_results(plan(humaneval, read_samples(path)), {sample_key("HumanEval/0", ""): record}, path)
    assert len(results["scoder"]["missing_tasks"]) == 163 and results["scoder"]["n_tasks"] == 1
    path = write(tmp_path / "t.jsonl", [json.dumps({"task_id": "HumanEval/999", "solution": ""})])
    with pytest.raises(SamplesError, match="'HumanEval/999' \\(t.jsonl line 1\\)"):
        plan(humaneval, read_samples(path))


def test_a_raw_line_separator_inside_a_string_is_not_a_line_break(tmp_path):
    # Valid JSON may hold U+2028, U+2029 and U+0085 unescaped; JSON Lines break lines at \n only.
    solution = "def f():\n    return '\u2028\u2029\u0085'\n"
    path = tmp_path / "s.jsonl"
    path.write_text(json.dumps({"task_id": "HumanEval/0", "solution": solution}, ensure_ascii=False) + "\n", encoding="utf-8")
    [sample] = read_samples(path)
    assert sample.solution == solution and sample.origin == "s.jsonl line 1"


def test_a_file_that_is_not_utf8_is_refused_by_line(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_bytes(b'{"task_id": "HumanEval/0", "solution": "x = 1"}\n{"task_id": "HumanEval/1", "solution": "x = \'\xe9\'"}\n')
    with pytest.raises(SamplesError, match=r"s.jsonl line 2: not UTF-8"):
        read_samples(path)
