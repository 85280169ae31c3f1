"""Our executor against the official `evalplus.evaluate` (0.3.1) on the same samples, in one run.

Both run at the same parallelism with warm ground-truth caches (each tool's cache is filled first,
untimed); our verdict journal is deleted before each timed run so nothing is reused. Prints each
wall time, the ratio, whether the per-task verdicts are equal, and our time over its floor: the least
wall time any schedule of our runs could take (the longest single run, or all our children's CPU, re-checks
included, over the parallel workers, whichever is larger). The targets: never slower than evalplus, and
within 10% of that floor. What the floor leaves out is printed beside it, from the whole machine's CPU over our run
(/proc/stat; so run it on a quiet machine): the CPU besides the children's (the harness, its zygotes, the
calibration, the sandbox's start) and the core-seconds idle (while the interpreter starts, and at the end, where one
worker finishes its last run alone).

A heavy file is added (the issue's held-out one is not available here): the first MBPP+ file with Mbpp/599's sample
replaced by three programs written for this benchmark, labelled as such: a Python loop to n (its plus inputs go to
1e8: 2.2-2.4x the reference's C-level sum, alone on a quiet core, over 88 inputs: near the 60 s task budget, as the
issue's heavy sample was), a while loop (4.0-4.2x: at each input's limit, four times the reference's time, so its
verdict is the clock's, and may differ from evalplus' on any run), and a correct program that spends 0.8 s of CPU on
every call (under each input's 1 s floor, 70 s over the 88 inputs: a budget kill 1.14x over the task budget, by CPU
time, so that no drift in this machine's speed turns it into a pass or a per-input timeout). Where verdicts differ,
each differing one is printed with our margins: how near its clock it was.

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


# Written for this benchmark (labelled, not model outputs): two loops a weaker model writes for Mbpp/599 (sum_average),
# and a right answer that spends 0.8 s of CPU on every call first.
HEAVY_TASK = "Mbpp/599"
HEAVY_PROGRAMS = (
    "def sum_average(number):\n    total = 0\n    for i in range(1, number + 1):\n        total += i\n"
    "    return total, total / number\n",
    "def sum_average(number):\n    total, i = 0, 1\n    while i <= number:\n        total += i\n        i += 1\n"
    "    return total, total / number\n",
    "import time\ndef sum_average(number):\n    started = time.process_time()\n"
    "    while time.process_time() - started < 0.8:\n        pass\n    total = number * (number + 1) // 2\n"
    "    return total, total / number\n",
)


def heavy_variant(samples: Path) -> Path:
    """The samples with HEAVY_TASK's replaced by HEAVY_PROGRAMS."""
    heavy = samples.with_name(samples.stem + "+heavy.jsonl")
    lines = [line for line in samples.read_text().splitlines() if json.loads(line)["task_id"] != HEAVY_TASK]
    lines += [json.dumps({"task_id": HEAVY_TASK, "solution": program}) for program in HEAVY_PROGRAMS]
    heavy.write_text("\n".join(lines) + "\n")
    return heavy


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


def programs_cpu_seconds(results: dict) -> tuple[float, float]:
    """From the journal: the CPU our sandboxed children used in all (the programs, their re-checks, our per-run cost),
    and the longest first run's, which ran under the official limits (the longest wait the official semantics
    impose). A re-checked sample's first outcomes are its "unconfirmed" record; its final record holds the re-checks'."""
    journal = Path(results["scoder"]["output"] + ".journal.jsonl")
    first: dict[str, list[float]] = {}
    total = 0.0
    for line in journal.read_text().splitlines()[1:]:
        if not line.strip():
            continue
        entry = json.loads(line)
        record, key = entry["record"], entry["key"].removesuffix(":unconfirmed")
        if entry["key"].endswith(":unconfirmed"):
            first[key] = [outcome["cpu_s"] for outcome in record.values()]
            total += sum(first[key])
        elif "no_verdict" not in record:
            final = [record["base_cpu_s"], record["plus_cpu_s"]]
            # After a re-check, the parts not re-checked kept their first run's CPU, counted already.
            total += sum(cpu for cpu, was in zip(final, first.get(key, [None, None])) if cpu != was)
            first.setdefault(key, final)
    return total, max(max(cpus) for cpus in first.values())


def run_ours(dataset: str, samples: Path, data_dir: Path, parallel: int) -> tuple[float, dict, float, float]:
    """Our wall time, results, and the whole machine's busy and idle CPU seconds over the run."""
    output = samples.with_name(samples.stem + "_scoder.json")
    for stale in (output, output.with_name(output.name + ".journal.jsonl")):
        stale.unlink(missing_ok=True)
    busy, idle = machine_cpu_seconds()
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "harness.cli", "eval", "--benchmark", DATASETS[dataset][2], "--samples", str(samples),
                    "--data-dir", str(data_dir), "--output", str(output), "--parallel", str(parallel), "--no-progress"],
                   check=True, stdout=subprocess.DEVNULL, cwd=REPO)
    elapsed = time.perf_counter() - started
    busy_after, idle_after = machine_cpu_seconds()
    results = json.loads(output.read_text())
    results["scoder"]["output"] = str(output)
    return elapsed, results, busy_after - busy, idle_after - idle


def machine_cpu_seconds() -> tuple[float, float]:
    """The whole machine's busy and idle CPU seconds since boot (/proc/stat's first line). Around our run on a quiet
    machine, busy less the children's CPU is what the floor leaves out: the harness, its zygotes, the calibration. Time
    the hypervisor gave to other guests (steal) is neither: no process here used it."""
    user, nice, system, idle, iowait, irq, softirq = map(int, Path("/proc/stat").read_text().split(None, 8)[1:8])
    tick = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / tick, (idle + iowait) / tick


def verdicts(results: dict) -> dict:
    return {task: [(e["base_status"], e["plus_status"]) for e in entries] for task, entries in results["eval"].items()}


def differences(theirs: dict, ours: dict, mismatched: list[str]) -> str:
    """Each differing task's verdicts, evalplus' then ours, with our margins (how near a clock each was): a verdict a
    clock decided at its limit is timing, on any machine, not a rule applied differently."""
    lines = []
    for task in mismatched:
        for their, our in zip(theirs["eval"][task], ours["eval"][task]):
            if (their["base_status"], their["plus_status"]) != (our["base_status"], our["plus_status"]):
                margins = {kind: our[f"{kind}_margin"] for kind in ("base", "plus") if our.get(f"{kind}_margin")}
                lines.append(f"  {task}: evalplus {their['base_status']}/{their['plus_status']}, ours "
                             f"{our['base_status']}/{our['plus_status']} ({our.get('plus_error') or our.get('base_error')}); "
                             f"our margins {margins}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--evalplus-python", required=True, help="python of a virtualenv with evalplus==0.3.1")
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--data-dir", type=Path, default=SHARED / "benchmarks")
    parser.add_argument("--samples", nargs="*", type=Path,
                        default=sorted((SHARED / "conformance" / "evalplus").glob("*.eval_results.json.gz")))
    parser.add_argument("--no-heavy", dest="heavy", action="store_false", help="leave out the heavy file (see above)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="executor-vs-evalplus-"))
    rows = []
    try:
        files = []
        for results_gz in args.samples:
            name = results_gz.name.removesuffix(".eval_results.json.gz")
            samples = work / f"{name}.jsonl"
            samples_from_results(results_gz, samples)
            files.append((name, name.split("_")[0], samples))
        mbpp = [(name, samples) for name, dataset, samples in files if dataset == "mbpp"]
        if args.heavy and mbpp:
            name, samples = mbpp[0]
            files.append((f"{name} + heavy {HEAVY_TASK}", "mbpp", heavy_variant(samples)))
        for name, dataset, samples in files:
            data = work / DATASETS[dataset][0].removesuffix(".gz")
            data.write_bytes(gzip.decompress((args.data_dir / DATASETS[dataset][0]).read_bytes()))
            cache = work / "evalplus-cache"
            run_evalplus(args.evalplus_python, dataset, samples, data, cache, args.parallel)  # warm its ground truth
            run_ours(dataset, samples, args.data_dir, args.parallel)  # warm ours
            theirs_s, theirs = run_evalplus(args.evalplus_python, dataset, samples, data, cache, args.parallel)
            ours_s, ours, busy_s, idle_s = run_ours(dataset, samples, args.data_dir, args.parallel)
            mismatched = [t for t, v in verdicts(theirs).items() if verdicts(ours).get(t) != v]
            total_s, longest_s = programs_cpu_seconds(ours)
            # The least wall time any scheduler of these runs could take: the longest single run, or the CPU over the cores.
            floor_s = max(longest_s, total_s / args.parallel)
            rows.append((name, theirs_s, ours_s, floor_s, busy_s - total_s, idle_s, mismatched))
            print(f"{name}: evalplus {theirs_s:.1f} s, ours {ours_s:.1f} s, speed-up {theirs_s / ours_s:.2f}x, "
                  f"verdicts differ on {mismatched or 'no task'}; floor {floor_s:.1f} s (longest run {longest_s:.1f} s, "
                  f"children's CPU {total_s:.1f} s over {args.parallel}): ours at {ours_s / floor_s:.2f}x of it; "
                  f"the machine's CPU besides the children's {busy_s - total_s:.1f} s, idle {idle_s:.1f} core-seconds; "
                  f"timeouts {ours['scoder']['timeouts']}", flush=True)
            if mismatched:
                print(differences(theirs, ours, mismatched), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n| samples | evalplus 0.3.1 (s) | ours (s) | speed-up | floor (s) | ours / floor | CPU besides the children (s) "
          "| idle (core-s) | verdicts |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, theirs_s, ours_s, floor_s, other_s, idle_s, mismatched in rows:
        verdict = "equal" if not mismatched else "differ: " + ", ".join(mismatched)
        print(f"| {name} | {theirs_s:.1f} | {ours_s:.1f} | {theirs_s / ours_s:.2f}x | {floor_s:.1f} | {ours_s / floor_s:.2f}x "
              f"| {other_s:.1f} | {idle_s:.1f} | {verdict} |")


if __name__ == "__main__":
    main()
