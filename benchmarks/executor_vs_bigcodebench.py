"""Our executor against the official `bigcodebench.evaluate --execution local` (0.2.5), in one run, on the
BigCodeBench conformance samples restricted to the Hard task ids (148 tasks), in the same task-library
environment, at the same parallelism.

Neither side checks reference solutions (`--no_gt` upstream; ours only checks them when asked), and our
verdict journal is deleted before the run so nothing is reused. Prints both wall times, the ratio, and
the tasks whose verdicts differ.

The official evaluator needs a Python 3.10 virtualenv that sees the task libraries, for example one with
`pip install --no-deps bigcodebench==0.2.5` plus `pqdm gradio_client e2b tree_sitter tree-sitter-python
appdirs fire termcolor tempdir wget multipledispatch rich datasets transformers`, and a .pth file naming the
site-packages of `scoder sandbox setup bigcodebench`'s environment (see benchmarks/README.md). Example:
    python benchmarks/executor_vs_bigcodebench.py --bigcodebench-python /work/peers/bigcodebench-venv/bin/python
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
sys.path.insert(0, str(REPO))
from harness.benchmarks.bigcodebench.tasks import HARD_TASK_NUMBERS  # noqa: E402

CONFORMANCE = SHARED / "conformance" / "bigcodebench" / "qwen2.5-coder-1.5b-base.full.complete.samples.jsonl.gz"
DATA = "BigCodeBench-v0.1.0_hf.jsonl.gz"  # the samples' version


def is_hard(task_id: str) -> bool:
    return int(task_id.split("/")[1]) in HARD_TASK_NUMBERS


def hard_lines(path: Path) -> list[str]:
    with gzip.open(path, "rt") as handle:
        return [line for line in handle if line.strip() and is_hard(json.loads(line)["task_id"])]


def run_official(python: str, samples: Path, data: Path, parallel: int, cache: Path) -> tuple[float, dict]:
    results = samples.with_name(samples.stem + "_eval_results.json")
    results.unlink(missing_ok=True)  # upstream would reuse it
    env = dict(os.environ, BIGCODEBENCH_OVERRIDE_PATH=str(data), XDG_CACHE_HOME=str(cache))
    started = time.perf_counter()
    subprocess.run([python, "-m", "bigcodebench.evaluate", "--split", "complete", "--subset", "hard", "--samples", str(samples),
                    "--execution", "local", "--parallel", str(parallel), "--pass_k", "1,5", "--no_gt"],
                   env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started, json.loads(results.read_text())


def run_ours(samples: Path, data_dir: Path, parallel: int) -> tuple[float, dict]:
    output = samples.with_name(samples.stem + "_scoder.json")
    for stale in (output, output.with_name(output.name + ".journal.jsonl")):
        stale.unlink(missing_ok=True)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "harness.cli", "eval", "--benchmark", "bigcodebench-hard", "--version", "v0.1.0_hf",
                    "--samples", str(samples), "--data-dir", str(data_dir), "--output", str(output), "--parallel", str(parallel),
                    "--no-progress"], check=True, stdout=subprocess.DEVNULL, cwd=REPO)
    return time.perf_counter() - started, json.loads(output.read_text())


def statuses(results: dict) -> dict[str, str]:
    return {task_id: entries[0]["status"] for task_id, entries in results["eval"].items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bigcodebench-python", required=True, help="python of a virtualenv with bigcodebench==0.2.5 and the task libraries")
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--data-dir", type=Path, default=SHARED / "benchmarks")
    parser.add_argument("--samples", type=Path, default=CONFORMANCE)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="executor-vs-bigcodebench-"))
    try:
        samples = work / "qwen-hard.jsonl"
        samples.write_text("".join(hard_lines(args.samples)))
        data = work / DATA.removesuffix(".gz")
        data.write_text("".join(hard_lines(args.data_dir / DATA)))
        ours_s, ours = run_ours(samples, args.data_dir, args.parallel)
        theirs_s, theirs = run_official(args.bigcodebench_python, samples, data, args.parallel, work / "cache")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ours_v, theirs_v = statuses(ours), statuses(theirs)
    differ = sorted((task for task in theirs_v if ours_v.get(task) != theirs_v[task]), key=lambda task: int(task.split("/")[1]))
    print(f"BigCodeBench-Hard ({len(theirs_v)} tasks, Qwen2.5-Coder-1.5B samples, parallel {args.parallel})")
    print(f"official bigcodebench 0.2.5: {theirs_s:.1f} s, pass@1 {100 * sum(v == 'pass' for v in theirs_v.values()) / len(theirs_v):.1f}")
    print(f"ours:                        {ours_s:.1f} s, pass@1 {100 * sum(v == 'pass' for v in ours_v.values()) / len(ours_v):.1f}")
    print(f"speed-up: {theirs_s / ours_s:.2f}x; verdicts agree on {len(theirs_v) - len(differ)} of {len(theirs_v)} tasks")
    for task in differ:
        print(f"  {task}: official {theirs_v[task]}, ours {ours_v.get(task)}")


if __name__ == "__main__":
    main()
