"""benchmarks/gpu_paper_shape.py runs on any machine at a tiny shape: every phase (LoRA SFT, full SFT,
influence, generation) goes through the project's code and reports a rate, with no phase failing. The
model is a random-weight tiny Llama (labelled: the numbers are not the point, the script's path is)."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_the_paper_shape_benchmark_runs_every_phase_at_a_tiny_shape(tmp_path):
    output = tmp_path / "results.json"
    command = [sys.executable, str(REPO / "benchmarks" / "gpu_paper_shape.py"), "--shapes", "tiny-llama", "--tiny",
               "--warmup", "1", "--steps", "1", "--new-tokens", "8", "--generation-batches", "1", "2",
               "--influence-batches", "2", "--work", str(tmp_path / "work"), "--output", str(output)]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert finished.returncode == 0, finished.stderr[-3000:]
    rows = json.loads(output.read_text())["rows"]
    assert [row["phase"] for row in rows] == ["LoRA SFT r128", "full SFT", "influence batch 2", "generation batch 1", "generation batch 2"]
    for row in rows:
        assert "error" not in row, row
        assert row["tokens/s"] > 0 and row["of matmul rate"] > 0
    assert rows[2]["candidates/s"] > 0 and rows[2]["projection ms (scatter)"] > 0
