"""Run directories made of real verdicts, for the report's tests: the official evalplus verdicts of two
real models (../shared/conformance/evalplus), laid out as `scoder eval` writes its results (the "scoder"
record, pass@k) with a samples file whose generation records say greedy decoding, which is how the
conformance README says those samples were made. Only the layout is ours; every verdict is evalplus'."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from harness.benchmarks.evalplus import HUMANEVAL_PLUS, MBPP_PLUS
from harness.execution.function_calls import PASS
from harness.metrics import mean_pass_at_k

MODELS = ("Meta-Llama-3-8B-Instruct", "Mistral-7B-Instruct-v0.2")
_BENCHMARKS = {"humaneval": HUMANEVAL_PLUS, "mbpp": MBPP_PLUS}


def evalplus_run(conformance_dir: Path, run_dir: Path, model: str, families=("humaneval", "mbpp")) -> Path:
    """run_dir/evaluate/<family>.eval_results.json (+ .samples.jsonl) for each family, and the run's name
    (results/results.json) set to `model`."""
    evaluate = run_dir / "evaluate"
    evaluate.mkdir(parents=True, exist_ok=True)
    for family in families:
        benchmark = _BENCHMARKS[family]
        official = json.loads(gzip.decompress((conformance_dir / f"{family}_{model}.eval_results.json.gz").read_bytes()))
        samples = evaluate / f"{family}.samples.jsonl"
        generation = {"model": model, "backend": "vllm", "decoding": {"n": 1, "temperature": 0.0}}
        samples.write_text("".join(json.dumps({"task_id": entry["task_id"], "solution": entry["solution"], "generation": generation}) + "\n"
                                   for entries in official["eval"].values() for entry in entries))
        base = [(len(entries), sum(entry["base_status"] == PASS for entry in entries)) for entries in official["eval"].values()]
        plus = [(len(entries), sum(entry["base_status"] == PASS and entry["plus_status"] == PASS for entry in entries))
                for entries in official["eval"].values()]
        results = {**official, "pass_at_k": {"base": mean_pass_at_k(base), "plus": mean_pass_at_k(plus)},
                   "scoder": {"benchmark": benchmark.name, "dataset_file": benchmark.data.filename, "samples": str(samples),
                              "n_samples": sum(n for n, _ in base), "n_tasks": len(base), "missing_tasks": []}}
        (evaluate / f"{family}.eval_results.json").write_text(json.dumps(results))
    (run_dir / "results").mkdir(exist_ok=True)
    (run_dir / "results" / "results.json").write_text(json.dumps({"recipe": model}))
    return run_dir
