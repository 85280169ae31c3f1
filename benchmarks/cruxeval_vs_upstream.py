"""Our `scoder eval --benchmark cruxeval-i` on all 800 tasks of upstream's scored CodeLlama-7B input predictions
(../shared/conformance/cruxeval, 8000 answers), against the verdicts and pass@k in that file and, given a checkout of
github.com/facebookresearch/cruxeval at 190faf1 (--upstream), against upstream's own evaluate_generations.py on the
same answers, timed on the same machine. Our journal is deleted before the run so nothing is reused.

Upstream's evaluator runs the answers unsandboxed, in processes of the interpreter it is started with (--upstream-python,
which needs numpy), as many as the machine has cores (its ProcessPoolExecutor takes no size).
    python benchmarks/cruxeval_vs_upstream.py [--upstream /tmp/cruxeval] [--parallel 2]
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
SCORED = SHARED / "conformance" / "cruxeval" / "codellama-7b_temp0.2_input.scored.json.gz"


def run_ours(samples: Path, data_dir: Path, parallel: int) -> tuple[float, dict]:
    output = samples.with_name("scoder_results.json")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "harness.cli", "eval", "--benchmark", "cruxeval-i", "--samples", str(samples),
                    "--data-dir", str(data_dir), "--output", str(output), "--parallel", str(parallel), "--no-progress"],
                   check=True, cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)), stdout=subprocess.DEVNULL)
    return time.perf_counter() - started, json.loads(output.read_text())


def run_upstream(checkout: Path, python: str, generations: Path) -> tuple[float, dict]:
    scored = generations.with_name("upstream_scored.json")
    started = time.perf_counter()
    # It takes the mode from the file name ("input" in it) and reads ../data/cruxeval.jsonl from its own folder.
    subprocess.run([python, "evaluate_generations.py", "--generations_path", str(generations), "--scored_results_path", str(scored),
                    "--mode", "input"], check=True, cwd=checkout / "evaluation", stdout=subprocess.DEVNULL)
    return time.perf_counter() - started, json.loads(scored.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--data-dir", type=Path, default=SHARED / "benchmarks")
    parser.add_argument("--upstream", type=Path, help="a checkout of facebookresearch/cruxeval at 190faf1 (default: not run)")
    parser.add_argument("--upstream-python", default=sys.executable, help="the interpreter upstream's evaluator runs in")
    args = parser.parse_args()
    official = json.loads(gzip.decompress(SCORED.read_bytes()))
    work = Path(tempfile.mkdtemp(prefix="cruxeval-vs-upstream-"))
    try:
        samples = work / "codellama-7b_temp0.2_input.jsonl"
        samples.write_text("".join(json.dumps({"task_id": task_id, "solution": answer}) + "\n"
                                   for task_id, answers in official["raw_generations"].items() for answer in answers))
        ours_s, ours = run_ours(samples, args.data_dir, args.parallel)
        verdicts = {task_id: [entry["passed"] for entry in entries] for task_id, entries in ours["eval"].items()}
        equal = sum(mine == theirs for task_id, answers in official["raw_scored_generations"].items()
                    for mine, theirs in zip(verdicts[task_id], answers, strict=True))
        print(f"ours: {ours_s:.1f} s at parallel {args.parallel}; verdicts equal to the file's: {equal} of 8000; "
              f"pass@1 {100 * ours['pass_at_k']['pass@1']:.2f} (file {official['pass_at_1']:.2f}), "
              f"pass@5 {100 * ours['pass_at_k']['pass@5']:.2f} (file {official['pass_at_5']:.2f}); "
              f"timeouts {ours['scoder']['timeouts']}")
        if args.upstream:
            generations = work / "generations_input.json"
            generations.write_text(json.dumps(official["raw_generations"]))
            theirs_s, theirs = run_upstream(args.upstream, args.upstream_python, generations)
            same = sum(theirs["raw_scored_generations"][task_id] == answers for task_id, answers in verdicts.items())
            print(f"upstream: {theirs_s:.1f} s on {os.cpu_count()} processes; tasks whose verdicts equal ours: {same} of 800; "
                  f"pass@1 {theirs['pass_at_1']:.2f}, pass@5 {theirs['pass_at_5']:.2f}; ratio {theirs_s / ours_s:.2f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
