"""Our program extraction (harness/generation/sanitize.py, Python's ast) against the official ones
(evalplus 0.3.1 and bigcodebench 0.2.5 `sanitize`, tree-sitter), on the same model outputs, in one run:
prints how many outputs give the identical program and both tools' time.

Outputs: every solution of the conformance files (real model programs: Llama-3-8B and Mistral-7B on
HumanEval+/MBPP+, Qwen2.5-Coder-1.5B on BigCodeBench), each wrapped the ways chat models answer (prose
around a fenced block, tests and prints after the code, a draft block before the final one, a decorated
helper, a __main__ block, no fence at all); plus any raw outputs given with --raw (JSONL with task_id and
raw_solution, e.g. from `scoder generate`).

The official tools need a Python with `pip install --no-deps evalplus==0.3.1 bigcodebench==0.2.5` and
tree_sitter, tree_sitter_python, tqdm, wget, appdirs, pqdm importable, for example the bigcodebench peer
virtualenv of benchmarks/README.md:
    python benchmarks/sanitize_vs_official.py --official-python /work/peers/bigcodebench-venv/bin/python
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
sys.path.insert(0, str(REPO))
from harness.generation.sanitize import BIGCODEBENCH, EVALPLUS, sanitize  # noqa: E402

WRAPPINGS = (
    "{code}",
    "Here is the solution:\n```python\n{code}\n```\nThe function {entry} works by iterating over the input.",
    "```python\n{code}\n\n# Example usage\nprint({entry}(1))\nassert {entry}(2) is not None\n```",
    "A first attempt:\n```python\ndef {entry}(*args):\n    pass\n```\nA better one:\n```python\n{code}\n```\n",
    "```python\nfrom functools import lru_cache\n\n@lru_cache(maxsize=None)\ndef _cached(n):\n    return n\n\n{code}\n```",
    "{code}\n\nif __name__ == \"__main__\":\n    print({entry}())\n",
    "{code}\nThis code defines {entry}. It runs in linear time.\n\nresult = {entry}\n",
)
OFFICIAL = r'''
import json, sys, time
from evalplus.sanitize import sanitize as evalplus_sanitize
from bigcodebench.sanitize import sanitize as bigcodebench_sanitize
jobs = [json.loads(line) for line in sys.stdin]
started = time.perf_counter()
out = [(evalplus_sanitize if job["flavor"] == "evalplus" else bigcodebench_sanitize)(job["text"], job["entry"]) for job in jobs]
print(json.dumps({"seconds": time.perf_counter() - started, "programs": out}))
'''


def conformance_programs() -> list[tuple[str, str, str]]:
    """(flavor, entry point, program) for every conformance solution."""
    programs = []
    for path in sorted((SHARED / "conformance" / "evalplus").glob("*.eval_results.json.gz")):
        data = json.loads(gzip.open(path, "rt").read())
        entries = _evalplus_entry_points("mbpp" if path.name.startswith("mbpp") else "humaneval")
        for task_id, samples in data["eval"].items():
            programs += [(EVALPLUS, entries[task_id], sample["solution"]) for sample in samples]
    with gzip.open(SHARED / "conformance" / "bigcodebench" / "qwen2.5-coder-1.5b-base.full.complete.samples.jsonl.gz", "rt") as handle:
        programs += [(BIGCODEBENCH, "task_func", json.loads(line)["solution"]) for line in handle if line.strip()]
    return programs


def _evalplus_entry_points(family: str) -> dict[str, str]:
    name = "MbppPlus-v0.2.0.jsonl.gz" if family == "mbpp" else "HumanEvalPlus-v0.1.10.jsonl.gz"
    with gzip.open(SHARED / "benchmarks" / name, "rt") as handle:
        return {row["task_id"]: row["entry_point"] for row in map(json.loads, handle) if row}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--official-python", required=True, help="an interpreter with evalplus 0.3.1 and bigcodebench 0.2.5")
    parser.add_argument("--raw", nargs="*", default=[], help="JSONL files with raw_solution (scoder generate output), evalplus flavour")
    parser.add_argument("--show", type=int, default=3, help="differences to print")
    args = parser.parse_args()
    jobs = [{"flavor": flavor, "entry": entry, "text": wrapping.format(code=code, entry=entry)}
            for number, (flavor, entry, code) in enumerate(conformance_programs())
            for wrapping in (WRAPPINGS[number % len(WRAPPINGS)], WRAPPINGS[(number + 3) % len(WRAPPINGS)])]
    for path in args.raw:
        for line in Path(path).read_text().splitlines():
            record = json.loads(line)
            flavor = BIGCODEBENCH if record["generation"]["prompt_format"].startswith("bigcodebench") else EVALPLUS
            jobs.append({"flavor": flavor, "entry": record.get("entry_point") or "task_func" if flavor == BIGCODEBENCH else None,
                         "text": record["raw_solution"]})
    started = time.perf_counter()
    ours = [sanitize(job["text"], job["entry"], job["flavor"]) for job in jobs]
    ours_s = time.perf_counter() - started
    reply = subprocess.run([args.official_python, "-c", OFFICIAL], input="\n".join(json.dumps(job) for job in jobs),
                           capture_output=True, text=True, check=True)
    theirs = json.loads(reply.stdout.strip().splitlines()[-1])
    differ = [index for index, (a, b) in enumerate(zip(ours, theirs["programs"])) if a != b]
    print(f"{len(jobs)} outputs: identical programs for {len(jobs) - len(differ)} ({100 * (1 - len(differ) / len(jobs)):.2f}%)")
    print(f"official (evalplus 0.3.1 / bigcodebench 0.2.5 sanitize): {theirs['seconds']:.2f} s; ours: {ours_s:.2f} s; "
          f"speed-up {theirs['seconds'] / ours_s:.1f}x")
    for index in differ[:args.show]:
        print(f"--- output {index} ({jobs[index]['flavor']}):\n{jobs[index]['text']}\n--- official:\n{theirs['programs'][index]}\n--- ours:\n{ours[index]}")


if __name__ == "__main__":
    main()
