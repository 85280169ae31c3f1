"""Our executor against the official `evalplus.evaluate` (0.3.1) on the same samples, in one run.

Both run at the same parallelism with warm ground-truth caches (each tool's cache is filled first,
untimed); our verdict journal is deleted before each timed run so nothing is reused. Prints each
wall time, the ratio, and whether the per-task verdicts are equal.

evalplus needs its own virtualenv (its API-client dependencies clash); see
../shared/conformance/README.md. Example:
    python benchmarks/executor_vs_evalplus.py --evalplus-python /work/peers/evalplus-venv/bin/python
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
DATASETS = {"humaneval": ("HumanEvalPlus-v0.1.10.jsonl.gz", "HUMANEVAL_OVERRIDE_PATH", "humaneval+"),
            "mbpp": ("MbppPlus-v0.2.0.jsonl.gz", "MBPP_OVERRIDE_PATH", "mbpp+")}


def samples_from_results(results_gz: Path, target: Path) -> None:
    results = json.loads(gzip.decompress(results_gz.read_bytes()))
    with open(target, "w") as handle:
        for task_id, entries in results["eval"].items():
            for entry in entries:
                handle.write(json.dumps({"task_id": task_id, "solution": entry["solution"]}) + "\n")


def run_evalplus(python: str, dataset: str, samples: Path, data: Path, cache: Path, parallel: int) -> tuple[float, dict]:
    _, override, _ = DATASETS[dataset]
    results = samples.with_name(samples.stem + "_eval_results.json")
    results.unlink(missing_ok=True)  # evalplus would reuse it
    env = dict(os.environ, XDG_CACHE_HOME=str(cache), **{override: str(data)})
    env.pop("EVALPLUS_TIMEOUT_PER_TASK", None)  # crashes 0.3.1
    started = time.perf_counter()
    subprocess.run([python, "-m", "evalplus.evaluate", "--dataset", dataset, "--samples", str(samples), "--parallel", str(parallel)],
                   env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started, json.loads(results.read_text())


def programs_cpu_seconds(results: dict) -> float:
    """CPU our sandboxed children used (the programs plus our per-run cost), from the journal."""
    journal = Path(results["scoder"]["output"] + ".journal.jsonl")
    records = [json.loads(line)["record"] for line in journal.read_text().splitlines()[1:] if line.strip()]
    return sum(record["base_cpu_s"] + record["plus_cpu_s"] for record in records)


def run_ours(dataset: str, samples: Path, data_dir: Path, parallel: int) -> tuple[float, dict]:
    output = samples.with_name(samples.stem + "_scoder.json")
    for stale in (output, output.with_name(output.name + ".journal.jsonl")):
        stale.unlink(missing_ok=True)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "harness.cli", "eval", "--benchmark", DATASETS[dataset][2], "--samples", str(samples),
                    "--data-dir", str(data_dir), "--output", str(output), "--parallel", str(parallel), "--no-progress"],
                   check=True, stdout=subprocess.DEVNULL, cwd=REPO)
    results = json.loads(output.read_text())
    results["scoder"]["output"] = str(output)
    return time.perf_counter() - started, results


def verdicts(results: dict) -> dict:
    return {task: [(e["base_status"], e["plus_status"]) for e in entries] for task, entries in results["eval"].items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--evalplus-python", required=True, help="python of a virtualenv with evalplus==0.3.1")
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--data-dir", type=Path, default=SHARED / "benchmarks")
    parser.add_argument("--samples", nargs="*", type=Path,
                        default=sorted((SHARED / "conformance" / "evalplus").glob("*.eval_results.json.gz")))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="executor-vs-evalplus-"))
    rows = []
    try:
        for results_gz in args.samples:
            name = results_gz.name.removesuffix(".eval_results.json.gz")
            dataset = name.split("_")[0]
            samples = work / f"{name}.jsonl"
            samples_from_results(results_gz, samples)
            data = work / DATASETS[dataset][0].removesuffix(".gz")
            data.write_bytes(gzip.decompress((args.data_dir / DATASETS[dataset][0]).read_bytes()))
            cache = work / "evalplus-cache"
            run_evalplus(args.evalplus_python, dataset, samples, data, cache, args.parallel)  # warm its ground truth
            run_ours(dataset, samples, args.data_dir, args.parallel)  # warm ours
            theirs_s, theirs = run_evalplus(args.evalplus_python, dataset, samples, data, cache, args.parallel)
            ours_s, ours = run_ours(dataset, samples, args.data_dir, args.parallel)
            mismatched = [t for t, v in verdicts(theirs).items() if verdicts(ours).get(t) != v]
            floor_s = programs_cpu_seconds(ours) / args.parallel
            rows.append((name, theirs_s, ours_s, floor_s, mismatched))
            print(f"{name}: evalplus {theirs_s:.1f} s, ours {ours_s:.1f} s, ratio {theirs_s / ours_s:.2f}x, "
                  f"verdicts differ on {mismatched or 'no task'}; our children used {floor_s:.1f} CPU-s per worker "
                  f"(the ratio if nothing else took time: {theirs_s / floor_s:.1f}x)", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n| samples | evalplus 0.3.1 (s) | ours (s) | speed-up | children's CPU / parallel (s) | ratio at that floor | verdicts |")
    print("|---|---|---|---|---|---|---|")
    for name, theirs_s, ours_s, floor_s, mismatched in rows:
        verdict = "equal" if not mismatched else "differ: " + ", ".join(mismatched)
        print(f"| {name} | {theirs_s:.1f} | {ours_s:.1f} | {theirs_s / ours_s:.2f}x | {floor_s:.1f} | {theirs_s / floor_s:.1f}x | {verdict} |")


if __name__ == "__main__":
    main()
