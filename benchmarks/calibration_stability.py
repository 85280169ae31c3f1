"""How stable the machine-speed calibration (harness.execution.calibration) is: the measurement of three separate
processes, as three runs would make it, and their spread. Issue 24 asks for three quiet runs within 10%.

    python benchmarks/calibration_stability.py [--runs 3]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MEASURE = "from harness.execution.calibration import measure; found = measure(); print(found.cpu_s, found.speed)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    measured = []
    for run in range(1, args.runs + 1):
        done = subprocess.run([sys.executable, "-c", MEASURE], cwd=REPO, capture_output=True, text=True, check=True)
        cpu_s, speed = map(float, done.stdout.split())
        measured.append(cpu_s)
        print(f"run {run}: workload {cpu_s:.4f} s CPU (best of its repeats), speed {speed:.3f}")
    spread = max(measured) / min(measured) - 1
    print(f"spread over {args.runs} runs: {100 * spread:.1f}% (target: within 10%); median {sorted(measured)[len(measured) // 2]:.4f} s")


if __name__ == "__main__":
    main()
