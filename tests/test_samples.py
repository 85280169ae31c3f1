import gzip
import json

import pytest

from harness.benchmarks.evalplus.scoring import plan, solution_of
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
    ('["a list"]', "line 1: a JSON list, where JSON Lines hold one"),
    ('"a string"', "line 1: not a JSON object"),
    ('{"solution": "x"}', "line 1: no task_id; give each sample its task's id"),
    ('{"task_id": "HumanEval/0"}', "no program; give it as \"solution\""),
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


def test_a_utf8_bom_at_the_start_is_dropped(tmp_path):
    # Windows editors save UTF-8 with a BOM; json.loads alone refuses it ("decode using utf-8-sig").
    path = tmp_path / "s.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"task_id": "HumanEval/0", "solution": "x = 1"}).encode() + b"\n")
    [sample] = read_samples(path)
    assert sample.task_id == "HumanEval/0"
    results = tmp_path / "r.json"
    results.write_bytes(b"\xef\xbb\xbf" + json.dumps({"eval": {"Mbpp/2": [{"solution": "x = 2"}]}}).encode())
    assert read_samples(results)[0].solution == "x = 2"


def test_json_messages_ending_in_at_are_completed_once(tmp_path):
    path = write(tmp_path / "s.jsonl", ['{"task_id": "HumanEval/0", "solution": "x = 1'])
    with pytest.raises(SamplesError) as refused:
        read_samples(path)
    assert "s.jsonl line 1: not valid JSON (Unterminated string starting at column 40); a samples file holds one" in str(refused.value)
    assert "at at" not in str(refused.value)


def test_a_json_list_of_samples_is_told_to_be_json_lines_not_livecodebench_entries(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps([{"task_id": "HumanEval/0", "solution": "x = 1"}]))
    with pytest.raises(SamplesError) as refused:
        read_samples(path)
    message = str(refused.value)
    assert message.startswith('s.json: a JSON list of samples; every benchmark takes them as JSON Lines, one {"task_id", "solution"}')
    assert "write them so, in s.jsonl" in message and '"code_list"' not in message


@pytest.mark.parametrize("content, message", [
    ('{"task_id": "HumanEval/0", "solution": "x"}\n{"task_id": "HumanEval/0", "solution": "y"}\n',
     r"s.json: more than one JSON value \(the second on line 2\); if it holds one sample per line, name it s.jsonl"),
    ('{"task_id": "HumanEval/0", "solution": "x"}', "s.json: not an eval_results file .*; if it is one sample, name the file s.jsonl"),
    ('{"eval": {"HumanEval/0": {"solution": "x"}}}', r"s.json eval\['HumanEval/0'\]: not a list; an eval_results file lists"),
    ('[{"code_list": ["x = 1"]}]', r's.json \[0\]: no "question_id"; give each entry its problem'),
])
def test_json_samples_files_say_what_to_change(tmp_path, content, message):
    path = tmp_path / "s.json"
    path.write_text(content)
    with pytest.raises(SamplesError, match=message):
        read_samples(path)


def test_raw_model_outputs_are_counted_in_one_warning_line(tmp_path):
    from harness.samples import warn_of_raw_outputs

    raw = "Here it is:\n```python\ndef f():\n    return 1\n```\n"
    path = write(tmp_path / "my samples.jsonl", [json.dumps({"task_id": "HumanEval/0", "solution": raw}),
                                                json.dumps({"task_id": "HumanEval/0", "completion": "  ```\n"}),
                                                json.dumps({"task_id": "HumanEval/1", "solution": "s = '```'\n"})])
    said = []
    warn_of_raw_outputs(read_samples(path), path, "humaneval+", said.append)
    assert said == [f"warning: 2 of 3 samples look like raw model output (markdown fences): sanitize them first with "
                    f"`scoder sanitize --benchmark humaneval+ --samples '{path}'`"]
