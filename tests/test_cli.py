"""The scoder command: results and table on success, one clear line and exit code 2 on bad input."""

import json
import os
import subprocess
import sys

import pytest


def scoder(*args, env=None):
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, stdin=subprocess.DEVNULL, env=env)


def test_eval_writes_results_and_prints_pass_at_k(tmp_path, data_dir, humaneval):
    samples = tmp_path / "s.jsonl"
    problems = [humaneval.problems[f"HumanEval/{i}"] for i in range(3)]
    samples.write_text("".join(json.dumps({"task_id": p.task_id, "completion": p.canonical_solution}) + "\n" for p in problems)
                       + json.dumps({"task_id": "HumanEval/0", "solution": "def has_close_elements(n, t):\n    return True\n"}) + "\n")
    done = scoder("eval", "--benchmark", "humaneval", "--samples", str(samples), "--data-dir", str(data_dir), "--no-progress")
    assert done.returncode == 0, done.stderr
    results = json.loads((tmp_path / "s_humaneval+_eval_results.json").read_text())
    assert [e["base_status"] for e in results["eval"]["HumanEval/0"]] == ["pass", "fail"]
    assert results["eval"]["HumanEval/0"][1]["base_fail_tests"]  # the failing input is recorded
    assert results["pass_at_k"]["base"] == {"pass@1": (0.5 + 1 + 1) / 3}
    assert "pass@1" in done.stdout and "161 tasks have no samples" in done.stdout
    # a score of 3 tasks is not a HumanEval+ score: marked in the results and on the console
    assert results["scoder"]["partial"] == "3 of 164 tasks" and "on 3 of 164 tasks (PARTIAL" in done.stdout


def test_unknown_task_is_an_error_naming_it(tmp_path, data_dir):
    samples = tmp_path / "s.jsonl"
    samples.write_text(json.dumps({"task_id": "Mbpp/1", "solution": "x = 1"}) + "\n")
    done = scoder("eval", "--benchmark", "humaneval+", "--samples", str(samples), "--data-dir", str(data_dir))
    assert done.returncode == 2 and "'Mbpp/1'" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "s_humaneval+_eval_results.json").exists()


def test_missing_data_offline_is_an_error_naming_the_fix(tmp_path):
    samples = tmp_path / "s.jsonl"
    samples.write_text(json.dumps({"task_id": "Mbpp/2", "solution": "x = 1"}) + "\n")
    env = {"PATH": "/usr/bin:/bin", "SCODER_OFFLINE": "1", "SCODER_CACHE_DIR": str(tmp_path / "cache"), "HOME": str(tmp_path)}
    done = scoder("eval", "--benchmark", "mbpp+", "--samples", str(samples), env=env)
    assert done.returncode == 2 and "MbppPlus-v0.2.0.jsonl.gz" in done.stderr and "SCODER_DATA_DIR" in done.stderr


def test_sandbox_command_reports_the_layer_and_what_each_protects():
    done = scoder("sandbox")
    assert done.returncode == 0 and "isolation:" in done.stdout and "seccomp: on" in done.stdout
    assert "landlock: " in done.stdout and "bwrap, unshare, process" in done.stdout
    layer = done.stdout.split("isolation: ", 1)[1].split(":", 1)[0]
    from harness.execution.sandbox import PROTECTS

    assert PROTECTS[layer] in done.stdout


def test_counts_below_one_are_refused_before_any_work(tmp_path):
    for flag in ("--parallel", "--limit", "--n", "--batch-size"):
        for value in ("0", "-2"):
            done = scoder("eval", "--benchmark", "humaneval+", "--samples", str(tmp_path / "absent.jsonl"), flag, value)
            assert done.returncode == 2 and f"argument {flag}: {value} is not a count" in done.stderr, done.stderr


def test_a_weaker_layer_asked_for_is_run_with_a_warning(tmp_path, data_dir):
    from harness.execution.sandbox import works

    if not works("bwrap"):
        pytest.skip("bubblewrap does not work here, so the process layer is not weaker than what works")
    samples = tmp_path / "s.jsonl"
    samples.write_text(json.dumps({"task_id": "HumanEval/0", "solution": "x = 1"}) + "\n")
    done = scoder("eval", "--benchmark", "humaneval+", "--samples", str(samples), "--isolation", "process", "--data-dir", str(data_dir),
                  "--no-progress")
    assert done.returncode == 0 and "isolation 'process' as asked, though 'bwrap' works here" in done.stderr, done.stderr


def test_an_output_that_would_overwrite_the_samples_or_is_a_folder_is_refused(tmp_path, data_dir):
    samples = tmp_path / "s.jsonl"
    samples.write_text(json.dumps({"task_id": "HumanEval/0", "solution": "x = 1"}) + "\n")
    before = samples.read_bytes()
    for output, message in ((samples, "is the samples file"), (tmp_path / "." / "s.jsonl", "is the samples file"), (tmp_path, "is a folder")):
        done = scoder("eval", "--benchmark", "humaneval+", "--samples", str(samples), "--output", str(output), "--data-dir", str(data_dir))
        assert done.returncode == 2 and message in done.stderr, done.stderr
    assert samples.read_bytes() == before and sorted(path.name for path in tmp_path.iterdir()) == ["s.jsonl"]


def test_a_results_file_another_process_writes_is_refused_at_once(tmp_path, data_dir):
    samples, output = tmp_path / "s.jsonl", tmp_path / "out.json"
    samples.write_text(json.dumps({"task_id": "HumanEval/0", "solution": "x = 1"}) + "\n")
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from pathlib import Path; from harness.files import exclusive\n"
                               f"with exclusive(Path({str(tmp_path / '.out.json.lock')!r}), 'out.json'):\n"
                               "    print('held', flush=True); time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        done = scoder("eval", "--benchmark", "humaneval+", "--samples", str(samples), "--output", str(output), "--data-dir", str(data_dir))
        assert done.returncode == 2 and f"in use by another scoder process (pid {holder.pid})" in done.stderr, done.stderr
        assert not output.exists()
    finally:
        holder.kill()
        holder.wait()
    done = scoder("eval", "--benchmark", "humaneval+", "--samples", str(samples), "--output", str(output), "--data-dir", str(data_dir))
    assert done.returncode == 0, done.stderr  # the holder is gone: its lock with it


def test_report_finds_results_whatever_their_name(tmp_path, data_dir, humaneval):
    samples, folder = tmp_path / "s.jsonl", tmp_path / "run"
    problem = humaneval.problems["HumanEval/0"]
    samples.write_text(json.dumps({"task_id": problem.task_id, "completion": problem.canonical_solution}) + "\n")
    done = scoder("eval", "--benchmark", "humaneval+", "--samples", str(samples), "--output", str(folder / "mine.json"), "--no-progress")
    assert done.returncode == 0, done.stderr
    (folder / "notes.json").write_text(json.dumps({"eval": "not a results file"}))  # other JSON is left alone
    report = scoder("report", str(folder), "--no-baselines", "--output", str(tmp_path / "report"))
    assert report.returncode == 0, report.stderr
    table = (tmp_path / "report" / "report.md").read_text()
    assert "HumanEval+ v0.1.10, first 1 of 164 tasks" in table and "100.0" in table


def test_the_command_s_numpy_starts_no_blas_thread_and_its_children_keep_the_default():
    """OpenBLAS started a thread per core as the command imported numpy, which spun 0.07 s of a core at every command's
    start. The command's own process has one thread after its imports; the variable is gone again, so the processes it
    starts get the machine's default, and a value the user set is kept."""
    code = "import os, harness.cli; print(open('/proc/self/status').read().split('Threads:')[1].split()[0], os.environ.get('OPENBLAS_NUM_THREADS'))"
    env = {key: value for key, value in os.environ.items() if key != "OPENBLAS_NUM_THREADS"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.split() == ["1", "None"]
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(env, OPENBLAS_NUM_THREADS="3"), check=True)
    assert done.stdout.split()[1] == "3"
