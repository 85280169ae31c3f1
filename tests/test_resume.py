"""A killed run loses nothing and resumes; a finished run is reused, not re-executed."""

import json
import os
import signal
import stat
import subprocess
import sys
import time

import pytest

import harness.evaluation
from harness.benchmarks.evalplus import MBPP_PLUS
from harness.benchmarks.evalplus.scoring import EvalSettings, evaluate
from harness.evaluation import journal_path, unconfirmed_key

SAMPLES = "mbpp_Mistral-7B-Instruct-v0.2.eval_results.json.gz"


def journal_keys(path):
    """The samples with a final verdict (not the first verdicts of those still waiting for their timeout re-check)."""
    lines = path.read_text().splitlines()[1:]
    keys = [json.loads(line)["key"] for line in lines if line.strip()]
    return [key for key in keys if unconfirmed_key(key.split(":")[0]) != key]


def test_killed_run_resumes_without_loss_or_duplicates(conformance_dir, data_dir, tmp_path):
    samples, output = conformance_dir / SAMPLES, tmp_path / "results.json"
    command = [sys.executable, "-m", "harness.cli", "eval", "--benchmark", "mbpp+", "--samples", str(samples),
               "--data-dir", str(data_dir), "--output", str(output), "--no-progress"]
    harness_process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    journal = journal_path(output)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and (not journal.is_file() or len(journal_keys(journal)) < 40):
        time.sleep(0.1)
    harness_process.send_signal(signal.SIGKILL)
    harness_process.wait()
    done_before = journal_keys(journal)
    assert 40 <= len(done_before) < 378 and not output.exists()
    time.sleep(1)  # the sandbox dies with the harness
    leftovers = [p for p in os.listdir("/proc") if p.isdigit() and b"harness/execution/worker.py" in _cmdline(p)]
    assert not leftovers

    resumed = evaluate(MBPP_PLUS, samples, output, data_dir, EvalSettings(), progress=False)
    keys = journal_keys(journal)
    assert len(keys) == len(set(keys)) == len({sample_key(e) for entries in resumed["eval"].values() for e in entries})
    assert set(done_before) <= set(keys)
    fresh = evaluate(MBPP_PLUS, samples, tmp_path / "fresh.json", data_dir, EvalSettings(), progress=False)
    assert _verdicts(resumed) == _verdicts(fresh)


def test_finished_run_is_reused(conformance_dir, data_dir, tmp_path, monkeypatch):
    samples, output = conformance_dir / "humaneval_Mistral-7B-Instruct-v0.2.eval_results.json.gz", tmp_path / "r.json"
    from harness.benchmarks.evalplus import HUMANEVAL_PLUS

    first = evaluate(HUMANEVAL_PLUS, samples, output, data_dir, EvalSettings(), progress=False)
    monkeypatch.setattr(harness.evaluation, "execute", lambda *a, **k: pytest.fail("finished samples were executed again"))
    second = evaluate(HUMANEVAL_PLUS, samples, output, data_dir, EvalSettings(), progress=False)
    assert _verdicts(first) == _verdicts(second)


def sample_key(entry):
    return harness.evaluation.sample_key(entry["task_id"], entry["solution"])


def _verdicts(results):
    return {t: [(e["base_status"], e["plus_status"]) for e in entries] for t, entries in results["eval"].items()}


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read()
    except OSError:
        return b""


def test_files_written_atomically_get_the_usual_permissions(tmp_path):
    from harness.files import write_atomically

    previous = os.umask(0o022)
    try:
        write_atomically(tmp_path / "results.json", b"{}")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "results.json").stat().st_mode) == 0o644  # mkstemp alone gives 0o600
