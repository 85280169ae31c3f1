"""No file the user did not ask us to write is changed, and every refusal is a sentence naming the fix (issue 22).

Each refusal is checked to leave every file in its folder byte for byte as it was. The commands run as a user
runs them (`python -m harness.cli`), on real benchmark data; the samples are programs written here (their
generation records, where they have one, are written by hand as `scoder generate` writes them: LABELLED
hand-made, since the refusals are about the files, not the model).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.evaluation import journal_path, unconfirmed_key

GREEDY = {"model": "org/coder", "adapter": None, "backend": "openai", "dtype": None, "chat_template": True,
          "prompt_format": "evalplus-chat", "decoding": {"n": 1, "temperature": 0.0, "top_p": 0.95, "max_new_tokens": 768,
                                                         "seed": 0, "batch_size": 8}}  # hand-made, as scoder generate writes it
UNREACHABLE = ["--backend", "openai", "--base-url", "http://127.0.0.1:9/v1", "--model", "org/coder"]


def scoder(*args, cwd=None, env=None, **popen):
    return subprocess.run([sys.executable, "-m", "harness.cli", *map(str, args)], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, cwd=cwd, env={**os.environ, **(env or {})}, **popen)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def samples_file(path: Path, programs: dict[str, str], generation: dict | None = GREEDY, repeat: int = 1) -> Path:
    lines = [json.dumps({"task_id": task_id, "solution": code, **({"generation": generation} if generation else {})})
             for task_id, code in programs.items() for _ in range(repeat)]
    path.write_text("\n".join(lines) + "\n")
    return path


def correct(humaneval, count: int = 1) -> dict[str, str]:
    problems = list(humaneval.problems.values())[:count]
    return {problem.task_id: problem.prompt + problem.canonical_solution for problem in problems}


def refused(done, *phrases) -> None:
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    for phrase in phrases:
        assert phrase in done.stderr, done.stderr


# ------------------------------------------------------------------------------------- generate's output file

def test_generate_refuses_a_file_it_did_not_write_and_leaves_it_as_it_was(tmp_path, data_dir, humaneval):
    ours = samples_file(tmp_path / "s.jsonl", correct(humaneval, 2))
    no_final_newline = tmp_path / "nonl.jsonl"
    no_final_newline.write_bytes(ours.read_bytes()[:-1])  # the issue's `head -c -1`: the last sample is whole
    results = tmp_path / "r.json"
    results.write_text(json.dumps({"eval": {}, "pass_at_k": {}}, indent=1))  # a results JSON has no final newline either
    compressed = tmp_path / "c.jsonl"
    compressed.write_bytes(b"\x1f\x8b\x08\x00" + os.urandom(64))
    before = snapshot(tmp_path)
    for path, phrase in ((no_final_newline, "other settings (decoding)"), (results, "not a samples file written by scoder generate"),
                         (compressed, "gzip-compressed")):
        refused(scoder("generate", "--benchmark", "humaneval+", *UNREACHABLE, "--output", path, "--max-new-tokens", 32,
                       "--data-dir", data_dir), str(path), phrase, "left as it is")
    assert snapshot(tmp_path) == before


def test_generate_output_paths_are_checked_before_any_work(tmp_path, data_dir):
    (tmp_path / "two").mkdir()
    (tmp_path / "afile").write_text("x")
    before = snapshot(tmp_path)
    cases = (("two", "is a folder; name the file, e.g. --output two/samples.jsonl"),
             ("newdir/", "is a folder; name the file"),
             ("x.jsonl.gz", "name it x.jsonl (and gzip it when done"),
             ("afile/s.jsonl", "afile is a file, not a folder"))
    for output, phrase in cases:
        refused(scoder("generate", "--benchmark", "humaneval+", *UNREACHABLE, "--output", output, "--data-dir", data_dir,
                       cwd=tmp_path), phrase)
    assert snapshot(tmp_path) == before and sorted(os.listdir(tmp_path)) == ["afile", "two"]


class _RefusingServer:
    """A real HTTP server that answers every request 400, so the openai backend fails at its first request."""

    def __enter__(self):
        import http.server
        import threading

        class Refuse(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.send_response(400)
                self.end_headers()
                self.wfile.write(b"no")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __exit__(self, *exc):
        self.server.shutdown()


def test_a_generation_that_fails_before_its_first_sample_leaves_no_file(tmp_path, data_dir):
    with _RefusingServer() as url:
        done = scoder("generate", "--benchmark", "humaneval+", "--backend", "openai", "--base-url", url, "--model", "org/coder",
                      "--limit", 1, "--output", tmp_path / "deep" / "new.jsonl", "--data-dir", data_dir)
    refused(done, "HTTP 400")
    assert os.listdir(tmp_path) == []  # neither the file nor its folder


def test_two_generations_cannot_write_one_file(tmp_path, data_dir):
    output = tmp_path / "s.jsonl"
    holder = subprocess.Popen([sys.executable, "-c", "import time; from pathlib import Path; from harness.files import exclusive\n"
                               "from harness.generate import lock_path\n"
                               f"with exclusive(lock_path(Path({str(output)!r})), 'x'):\n"
                               "    print('held', flush=True); time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        refused(scoder("generate", "--benchmark", "humaneval+", *UNREACHABLE, "--output", output, "--data-dir", data_dir),
                f"in use by another scoder process (pid {holder.pid})")
    finally:
        holder.kill()
        holder.wait()
    assert not output.exists()


# ------------------------------------------------------------------------------------------- eval's output file

def test_eval_replaces_only_results_it_wrote_for_the_same_samples_and_benchmark(tmp_path, data_dir, humaneval):
    samples = samples_file(tmp_path / "s.jsonl", correct(humaneval))
    other = samples_file(tmp_path / "other.jsonl", correct(humaneval, 2))
    journal_like = tmp_path / "run.journal.jsonl"
    journal_like.write_text('{"stage": "a"}\n')
    data_copy = tmp_path / "HumanEvalPlus.jsonl.gz"
    data_copy.write_bytes((data_dir / "HumanEvalPlus-v0.1.10.jsonl.gz").read_bytes())
    assert scoder("eval", "--benchmark", "humaneval+", "--samples", other, "--output", tmp_path / "theirs.json", "--data-dir", data_dir).returncode == 0
    before = snapshot(tmp_path)
    for output, phrase in ((other, "not a results file written by scoder eval"), (data_copy, "not a results file"),
                           (journal_like, "not a results file"), (tmp_path / "theirs.json", "holds the results of other samples")):
        refused(scoder("eval", "--benchmark", "humaneval+", "--samples", samples, "--output", output, "--data-dir", data_dir),
                f"--output {output} exists and", phrase, "choose another --output")
    refused(scoder("eval", "--benchmark", "humaneval+mini", "--samples", other, "--output", tmp_path / "theirs.json", "--data-dir", data_dir),
            "holds results for humaneval+, not humaneval+mini")
    # A journal's place taken by another file: refused too.
    (tmp_path / "r.json.journal.jsonl").write_text("my notes\n")
    refused(scoder("eval", "--benchmark", "humaneval+", "--samples", samples, "--output", tmp_path / "r.json", "--data-dir", data_dir),
            "is not a journal of scoder eval")
    assert snapshot(tmp_path) == {**before, "r.json.journal.jsonl": b"my notes\n"}
    # Its own results for the same samples, moved elsewhere (the same content), are replaced.
    assert scoder("eval", "--benchmark", "humaneval+", "--samples", other, "--output", tmp_path / "theirs.json", "--data-dir", data_dir).returncode == 0


def test_one_samples_file_on_two_benchmarks_keeps_both_results(tmp_path, data_dir, humaneval):
    samples = samples_file(tmp_path / "s.jsonl", correct(humaneval))
    for benchmark in ("humaneval+", "humaneval+mini"):
        assert scoder("eval", "--benchmark", benchmark, "--samples", samples, "--data-dir", data_dir).returncode == 0
    for benchmark in ("humaneval+", "humaneval+mini"):
        assert json.loads((tmp_path / f"s_{benchmark}_eval_results.json").read_text())["scoder"]["benchmark"] == benchmark
        assert journal_path(tmp_path / f"s_{benchmark}_eval_results.json").is_file()


def test_results_record_the_samples_resolved_and_their_digest(tmp_path, data_dir, humaneval):
    import hashlib

    (tmp_path / "work").mkdir()
    samples = samples_file(tmp_path / "work" / "s.jsonl", correct(humaneval))
    assert scoder("eval", "--benchmark", "humaneval+", "--samples", "s.jsonl", "--output", "../run/r.json", "--data-dir", data_dir,
                  cwd=tmp_path / "work").returncode == 0
    meta = json.loads((tmp_path / "run" / "r.json").read_text())["scoder"]
    assert meta["samples"] == str(samples.resolve())
    assert meta["samples_sha256"] == hashlib.sha256(samples.read_bytes()).hexdigest()
    # From another folder, the report still finds the samples, and with them the decoding.
    done = scoder("report", "run", "--no-baselines", "--output", "rep", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "decoding not recorded" not in (tmp_path / "rep" / "report.md").read_text()


def test_a_fresh_run_discards_and_a_resumed_run_counts_what_it_reused(tmp_path, data_dir, humaneval):
    samples = samples_file(tmp_path / "s.jsonl", correct(humaneval, 2))
    command = ("eval", "--benchmark", "humaneval+", "--samples", samples, "--data-dir", data_dir)
    assert scoder(*command).returncode == 0
    again = scoder(*command)
    assert again.returncode == 0 and "resumed: 2 of 2 samples' verdicts reused from" in again.stdout
    fresh = scoder(*command, "--fresh")
    results = tmp_path / "s_humaneval+_eval_results.json"
    assert fresh.returncode == 0 and f"fresh run: discarded {journal_path(results)} (2 journaled runs) and {results}" in fresh.stdout
    assert "resumed" not in fresh.stdout
    assert scoder(*command, "--i-just-wanna-run").returncode == 0  # evalplus' spelling


def test_repeated_greedy_samples_are_refused_unless_meant(tmp_path, data_dir, humaneval):
    samples = samples_file(tmp_path / "s.jsonl", correct(humaneval), repeat=2)  # what two runs on one file wrote
    before = snapshot(tmp_path)
    refused(scoder("eval", "--benchmark", "humaneval+", "--samples", samples, "--data-dir", data_dir),
            "has 2 samples of HumanEval/0, but they were generated greedily", "--allow-repeated-samples")
    assert snapshot(tmp_path) == before
    done = scoder("eval", "--benchmark", "humaneval+", "--samples", samples, "--data-dir", data_dir, "--allow-repeated-samples")
    assert done.returncode == 0 and json.loads((tmp_path / "s_humaneval+_eval_results.json").read_text())["scoder"]["n_samples"] == 2


def test_generation_flags_without_a_model_are_refused(tmp_path, data_dir, humaneval):
    samples = samples_file(tmp_path / "s.jsonl", correct(humaneval))
    refused(scoder("eval", "--benchmark", "humaneval+", "--samples", samples, "--limit", 3, "--temperature", 0.8, "--backend", "openai",
                   "--data-dir", data_dir), "--backend, --temperature, --limit only apply with --model", "drop them")


def test_a_samples_clash_is_found_before_the_model_loads_and_names_samples(tmp_path, data_dir, humaneval):
    samples = samples_file(tmp_path / "s.jsonl", correct(humaneval))  # made with max_new_tokens 768
    # The model does not exist: had it been loaded first, the error would be about the model.
    refused(scoder("eval", "--benchmark", "humaneval+", "--model", tmp_path / "no-such-model", "--backend", "openai",
                   "--base-url", "http://127.0.0.1:9/v1", "--samples", samples, "--max-new-tokens", 100, "--data-dir", data_dir),
            "other settings (decoding)", "choose another --samples")


@pytest.mark.parametrize("flag, value", [("--min-time-limit", "-1"), ("--gt-time-limit-factor", "0"), ("--min-time-limit", "nan")])
def test_time_limits_are_validated(tmp_path, flag, value):
    done = scoder("eval", "--benchmark", "humaneval+", "--samples", tmp_path / "s.jsonl", flag, value)
    assert done.returncode == 2 and f"argument {flag}: {value} must be a number above 0" in done.stderr


def test_time_policy_refuses_what_is_no_limit():
    from harness.execution.limits import TimePolicy

    for bad in ({"min_time_limit": -1.0}, {"gt_time_limit_factor": 0.0}, {"timeout_per_task": float("nan")}):
        with pytest.raises(ValueError, match="above 0"):
            TimePolicy(**bad)


# -------------------------------------------------------------------------- what an interrupted run keeps

def test_ctrl_c_says_what_is_kept_and_the_rerun_reuses_it(conformance_dir, data_dir, tmp_path):
    output = tmp_path / "results.json"
    command = [sys.executable, "-m", "harness.cli", "eval", "--benchmark", "mbpp+", "--data-dir", str(data_dir), "--output", str(output),
               "--samples", str(conformance_dir / "mbpp_Meta-Llama-3-8B-Instruct.eval_results.json.gz"), "--parallel", "2"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    journal = journal_path(output)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and (not journal.is_file() or len(journal.read_text().splitlines()) < 20):
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    kept = {json.loads(line)["key"] for line in journal.read_text().splitlines()[1:]}
    final = [key for key in kept if not key.endswith(":unconfirmed")]
    assert process.returncode == 130 and f"scoder: interrupted; {len(final)} of 378 samples have final verdicts in {journal}" in stderr, stderr
    assert not output.exists()


def test_samples_waiting_for_the_timeout_recheck_go_straight_to_it(tmp_path, data_dir, humaneval):
    """The journal of a run interrupted while re-checking: the sample's first verdicts are kept (HAND-MADE here,
    saying base passed, which its program cannot do), so the re-run only re-checks the timed-out plus tests."""
    from harness.benchmarks.evalplus.scoring import EvalSettings, plan
    from harness.evaluation import sample_key
    from harness.journal import Journal
    from harness.samples import read_samples

    loop = "def has_close_elements(numbers, threshold):\n    while True:\n        pass\n"
    samples = samples_file(tmp_path / "s.jsonl", {"HumanEval/0": loop})
    output = tmp_path / "r.json"
    fingerprint = plan(humaneval, read_samples(samples), samples).fingerprint
    journal = Journal(journal_path(output), fingerprint)
    journal.append(unconfirmed_key(sample_key("HumanEval/0", loop)),
                   {"base": {"status": "pass", "fail_index": None, "reason": None, "cpu_s": 0.0},
                    "plus": {"status": "timeout", "fail_index": 0, "reason": "TimeoutException", "cpu_s": 1.0}})
    journal.close()
    assert EvalSettings().fingerprint(humaneval) == fingerprint
    done = scoder("eval", "--benchmark", "humaneval+", "--samples", samples, "--output", output, "--data-dir", data_dir)
    assert done.returncode == 0, done.stderr
    results = json.loads(output.read_text())
    [entry] = results["eval"]["HumanEval/0"]
    # base as journaled (a first pass would fail it); plus re-checked alone, failed by its clock as evalplus says it
    assert (entry["base_status"], entry["plus_status"]) == ("pass", "fail") and entry["plus_error"].startswith("TimeoutException")
    assert results["scoder"]["timeouts"] == {"rechecked": 1, "confirmed": 1}


# ------------------------------------------------------------------------------- report and export folders

def test_report_and_export_messages_name_the_fix(tmp_path):
    (tmp_path / "ref.json").write_text("{}")
    refused(scoder("report", tmp_path / "ref.json", "--no-baselines"), "is a file; give the folder that holds it", str(tmp_path))
    refused(scoder("export", "evalplus", tmp_path, "--output", tmp_path / "ref.json"), "is a file; --output names a folder")
    refused(scoder("report", tmp_path, "--no-baselines", "--output", tmp_path / "ref.json"), "is a file; --output names a folder for the report")
    assert (tmp_path / "ref.json").read_text() == "{}"


def test_an_export_inside_a_run_folder_does_not_break_its_report_and_results_are_found_by_content(tmp_path, data_dir, humaneval):
    run = tmp_path / "run"
    run.mkdir()
    samples = samples_file(run / "s.jsonl", correct(humaneval))
    assert scoder("eval", "--benchmark", "humaneval+", "--samples", samples, "--output", run / "scores.out", "--data-dir", data_dir).returncode == 0
    exported = scoder("export", "evalplus", ".", "--output", "sub", "--allow-partial", cwd=run)
    assert exported.returncode == 0, exported.stderr
    for _ in range(2):  # and again: the export's folder is not taken for results
        assert scoder("export", "evalplus", ".", "--output", "sub", "--allow-partial", cwd=run).returncode == 0
    done = scoder("report", ".", "--no-baselines", "--output", tmp_path / "rep", cwd=run)
    assert done.returncode == 0, done.stderr
    assert "HumanEval+ v0.1.10, first 1 of 164 tasks" in (tmp_path / "rep" / "report.md").read_text()


def test_an_export_never_replaces_a_file_it_did_not_write(tmp_path, data_dir, humaneval):
    run = tmp_path / "run"
    run.mkdir()
    samples = samples_file(run / "s.jsonl", correct(humaneval))
    assert scoder("eval", "--benchmark", "humaneval+", "--samples", samples, "--data-dir", data_dir).returncode == 0
    out = tmp_path / "out"
    (out / "humaneval").mkdir(parents=True)
    mine = out / "humaneval" / "org--coder_openai_temp_0.0.jsonl"
    mine.write_text("mine\n")
    refused(scoder("export", "evalplus", run, "--output", out, "--allow-partial"), f"{mine} exists and is not a file of an earlier export")
    assert mine.read_text() == "mine\n" and sorted(path.name for path in out.rglob("*")) == ["humaneval", mine.name]


def test_samples_of_another_tool_export_with_their_generation_given(tmp_path, data_dir, humaneval):
    run = tmp_path / "run"
    run.mkdir()
    samples = samples_file(run / "s.jsonl", correct(humaneval), generation=None)
    assert scoder("eval", "--benchmark", "humaneval+", "--samples", samples, "--data-dir", data_dir).returncode == 0
    refused(scoder("export", "evalplus", run, "--output", tmp_path / "out", "--allow-partial"),
            "no generation record", "--model-name NAME --generation backend=")
    done = scoder("export", "evalplus", run, "--output", tmp_path / "out", "--allow-partial", "--model-name", "org/coder",
                  "--generation", "backend=vllm", "prompt_format=evalplus-chat", "temperature=0", "n=1")
    assert done.returncode == 0, done.stderr
    manifest = json.loads((tmp_path / "out" / "scoder_export.json").read_text())
    assert manifest["generation"]["backend"] == "vllm" and manifest["model_name"] == "org/coder"
    assert (tmp_path / "out" / "humaneval" / "org--coder_vllm_temp_0.0.jsonl").is_file()


# ------------------------------------------------------------------------------------------- progress bars

def test_progress_bars_only_on_a_terminal_unless_asked(tmp_path, data_dir, humaneval):
    samples = samples_file(tmp_path / "s.jsonl", correct(humaneval))
    environment = {key: value for key, value in os.environ.items() if key != "CI"}
    quiet = subprocess.run([sys.executable, "-m", "harness.cli", "eval", "--benchmark", "humaneval+", "--samples", str(samples),
                            "--data-dir", str(data_dir), "--fresh"], capture_output=True, text=True, env=environment)
    asked = subprocess.run([sys.executable, "-m", "harness.cli", "eval", "--benchmark", "humaneval+", "--samples", str(samples),
                            "--data-dir", str(data_dir), "--fresh", "--progress"], capture_output=True, text=True, env=environment)
    assert quiet.returncode == asked.returncode == 0
    assert "humaneval+ samples" not in quiet.stderr and "\r" not in quiet.stderr
    assert "humaneval+ samples" in asked.stderr


def test_nothing_is_written_unasked_beside_samples_in_a_read_only_folder(tmp_path, data_dir, humaneval):
    """As the shared benchmark and conformance folders are: their mode says read-only, which binds root too."""
    folder = tmp_path / "data"
    folder.mkdir()
    samples = samples_file(folder / "s.jsonl", correct(humaneval))
    folder.chmod(0o555)
    try:
        refused(scoder("eval", "--benchmark", "humaneval+", "--samples", samples, "--data-dir", data_dir),
                f"{folder} is not writable; name them with --output")
        refused(scoder("sanitize", "--benchmark", "humaneval+", "--samples", samples, "--data-dir", data_dir), f"{folder} is not writable")
        assert sorted(os.listdir(folder)) == ["s.jsonl"]
        assert scoder("eval", "--benchmark", "humaneval+", "--samples", samples, "--data-dir", data_dir,
                      "--output", tmp_path / "r.json").returncode == 0
    finally:
        folder.chmod(0o755)


def test_libraries_bars_are_off_where_no_terminal_watches():
    """A bar a library makes with tqdm itself (transformers' GGUF loading) in a command without a terminal: tqdm reads
    its settings when imported, which the command line's first import (harness.unwatched) comes before."""
    library_bar = "from tqdm.auto import tqdm\nfor _ in tqdm(range(3), desc='a library bar'): pass\n"
    # Without the variables this test process may have set itself (it imported the command line too).
    clean = {key: value for key, value in os.environ.items() if not key.startswith(("CI", "TQDM", "HF_HUB_DISABLE"))}
    for environment in ({"CI": "true"}, {}):  # stderr is a pipe here: no terminal either way
        done = subprocess.run([sys.executable, "-c", f"import harness.cli\n{library_bar}"], capture_output=True, text=True,
                              env={**clean, **environment})
        assert done.returncode == 0 and "a library bar" not in done.stderr, done.stderr
    shown = subprocess.run([sys.executable, "-c", library_bar], capture_output=True, text=True, env=clean)
    assert "a library bar" in shown.stderr  # the check itself: the same bar without the command line shows
