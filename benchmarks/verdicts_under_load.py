"""Verdict stability under load: ours and the official evalplus, each run N times on the same samples
while two busy-loop processes keep both cores busy. Prints, per tool, the tasks whose verdicts changed
between runs or differ from the official results file.

    python benchmarks/verdicts_under_load.py --evalplus-python <evalplus venv>/bin/python
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from executor_vs_evalplus import DATASETS, SHARED, run_evalplus, run_ours, samples_from_results, verdicts


def unstable(runs: list[dict]) -> list[str]:
    return sorted(task for task in runs[0] if len({json.dumps(run.get(task)) for run in runs}) > 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--evalplus-python", required=True)
    parser.add_argument("--samples", type=Path, default=SHARED / "conformance" / "evalplus" / "mbpp_Meta-Llama-3-8B-Instruct.eval_results.json.gz")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--data-dir", type=Path, default=SHARED / "benchmarks")
    args = parser.parse_args()
    name = args.samples.name.removesuffix(".eval_results.json.gz")
    dataset = name.split("_")[0]
    official = verdicts(json.loads(gzip.decompress(args.samples.read_bytes())))
    work = Path(tempfile.mkdtemp(prefix="verdicts-under-load-"))
    hogs = []
    try:
        samples = work / f"{name}.jsonl"
        samples_from_results(args.samples, samples)
        data = work / DATASETS[dataset][0].removesuffix(".gz")
        data.write_bytes(gzip.decompress((args.data_dir / DATASETS[dataset][0]).read_bytes()))
        cache = work / "evalplus-cache"
        run_evalplus(args.evalplus_python, dataset, samples, data, cache, args.parallel)  # warm caches, unloaded
        run_ours(dataset, samples, args.data_dir, args.parallel)
        hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
        results = {"evalplus 0.3.1": [], "ours": []}
        for attempt in range(args.runs):
            seconds, theirs = run_evalplus(args.evalplus_python, dataset, samples, data, cache, args.parallel)
            results["evalplus 0.3.1"].append(verdicts(theirs))
            print(f"run {attempt + 1}: evalplus {seconds:.1f} s", end=", ", flush=True)
            seconds, ours = run_ours(dataset, samples, args.data_dir, args.parallel)
            results["ours"].append(verdicts(ours))
            print(f"ours {seconds:.1f} s", flush=True)
    finally:
        for hog in hogs:
            hog.kill()
        shutil.rmtree(work, ignore_errors=True)
    for tool, runs in results.items():
        off = sorted({task for run in runs for task, verdict in run.items() if official.get(task) != verdict})
        print(f"{tool}: verdicts changed between runs on {unstable(runs) or 'no task'}; "
              f"differ from the official file on {off or 'no task'}")


if __name__ == "__main__":
    main()
