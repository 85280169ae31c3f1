"""Oversize samples are refused while the file is read, before anything parses them: a line past the limit (gzipped
or not: the decompressed size counts), a program past it in a JSON samples file, a JSON samples file past its own
limit. How the time scales (32, 96, 300 MB) was measured by hand, not here: tests assert no times."""

import gzip
import json
import os
import subprocess
import sys
import threading

import pytest

import harness.samples
from harness.execution.worker import ControlReader
from harness.samples import MAX_LINE_BYTES, SamplesError, read_samples

MIB = 1 << 20


def sample_line(size: int) -> bytes:
    """A valid sample line of exactly `size` bytes, newline not counted."""
    start, end = b'{"task_id": "HumanEval/0", "solution": "x = \'', b'\'"}'
    return start + b"y" * (size - len(start) - len(end)) + end


def test_a_line_one_byte_over_the_limit_is_refused_naming_file_line_size_and_limit(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_bytes(sample_line(100) + b"\n" + sample_line(MAX_LINE_BYTES + 1) + b"\n")
    with pytest.raises(SamplesError) as refused:
        read_samples(path)
    message = str(refused.value)
    assert f"{path} line 2: 16,777,217 bytes, more than the 16 MiB a samples line may hold" in message
    assert "remove that sample" in message


def test_a_line_at_the_limit_is_read(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_bytes(sample_line(MAX_LINE_BYTES) + b"\n" + sample_line(100))  # the last line without a newline
    samples = read_samples(path)
    assert [len(json.dumps({"task_id": sample.task_id, "solution": sample.solution})) for sample in samples] == [MAX_LINE_BYTES, 100]


def test_a_gzipped_line_is_limited_by_its_decompressed_size(tmp_path, monkeypatch):
    path = tmp_path / "s.jsonl.gz"
    with gzip.open(path, "wb") as handle:  # 40 MiB that compress to about 40 KB
        handle.write(sample_line(100) + b"\n" + sample_line(40 * MIB) + b"\n")
    with pytest.raises(SamplesError, match=r"s.jsonl.gz line 2: 40 MiB, more than the 16 MiB"):
        read_samples(path)
    # A bomb is read on only so far to say its size.
    monkeypatch.setattr(harness.samples, "_MEASURED_UP_TO", 32 * MIB)
    with pytest.raises(SamplesError, match=r"line 2: over 32 MiB, more than the 16 MiB"):
        read_samples(path)


def test_a_program_over_the_limit_in_a_json_samples_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(harness.samples, "MAX_LINE_BYTES", 1000)
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"eval": {"HumanEval/0": [{"solution": "x = 1"}, {"solution": "#" * 1001}]}}))
    with pytest.raises(SamplesError, match=r"r.json eval\['HumanEval/0'\]\[1\]: its solution is 1,001 bytes, more than the 1,000 bytes a program may hold"):
        read_samples(path)
    path = tmp_path / "lcb.json"
    path.write_text(json.dumps([{"question_id": "1873_A", "code_list": ["é" * 501]}]))  # 1002 bytes in UTF-8
    with pytest.raises(SamplesError, match=r"lcb.json \[0\] code_list\[0\]: its solution is"):
        read_samples(path)


def test_a_json_samples_file_over_its_limit_is_refused_before_parsing(tmp_path, monkeypatch):
    monkeypatch.setattr(harness.samples, "MAX_DOCUMENT_BYTES", 4 * MIB)
    path = tmp_path / "r.json.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(b'{"eval": {"HumanEval/0": [{"solution": "' + b"x" * (5 * MIB) + b'"}]}}')
    with pytest.raises(SamplesError, match=r"r.json.gz: more than the 4 MiB a JSON samples file may hold \(decompressed\); "
                                           r"give its samples as JSON Lines instead"):
        read_samples(path)


def test_eval_refuses_an_oversize_line_before_any_work(tmp_path, data_dir):
    samples = tmp_path / "s.jsonl"
    samples.write_bytes(sample_line(MAX_LINE_BYTES + 1) + b"\n")
    done = subprocess.run([sys.executable, "-m", "harness.cli", "eval", "--benchmark", "humaneval+", "--samples", str(samples),
                           "--data-dir", str(data_dir)], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"scoder: error: {samples} line 1: 16,777,217 bytes, more than the 16 MiB a samples line may hold" in done.stderr
    assert [path.name for path in tmp_path.iterdir()] == ["s.jsonl"]  # no results, no journal


def test_the_sandbox_control_pipe_reassembles_long_lines_and_drops_aborts():
    """A program of many MB reaches the sandbox worker in pipe-sized pieces (joined once, not re-copied per piece);
    an "abort" that arrives between jobs is not taken for the next job."""
    read_end, write_end = os.pipe()
    long_line = b"z" * (3 * MIB + 12345)
    message = b"abort\n" + b'{"job": 1}\n' + long_line + b"\nabort\nabort\n" + b"short\n"

    def write():
        for start in range(0, len(message), 65536):
            os.write(write_end, message[start:start + 65536])
        os.close(write_end)

    writer = threading.Thread(target=write)
    writer.start()
    reader = ControlReader(read_end)
    assert reader.read_line() == b'{"job": 1}'
    assert reader.read_line() == long_line
    assert reader.read_line() == b"short"
    assert reader.read_line() is None
    writer.join()
    os.close(read_end)
