"""The evalplus leaderboard entry from a run's HumanEval+ and MBPP+ results. Formats, from evalplus 0.3.1
(codegen.py, evaluate.py): `<root>/<humaneval|mbpp>/<model, "/" as "--">_<backend>_temp_<T>` `.jsonl` ({task_id,
solution}, sanitized), `.raw.jsonl` (the raw outputs) and `_eval_results.json` ({date, hash, eval: {task_id:
[{task_id, solution, base_status, plus_status, base_fail_tests, plus_fail_tests}]}, pass_at_k}; later evalplus names
it `.eval_results.json` but still reads this name). The leaderboard's results.json (evalplus/evalplus.github.io) keys
each model by its display name: {link, open-data ("Full", "Partial" or "NONE"), pass@1: {humaneval, humaneval+, mbpp,
mbpp+} in percent to one decimal, prompted (chat setting), size (billions of parameters, null if unknown)}, ranked by
greedy pass@1 (leaderboard.html) on evalplus 0.3.1's default datasets, HumanEval+ v0.1.10 and MBPP+ v0.2.0. New models
reach it through a request (the repository's model_eval_request issue form)."""

from __future__ import annotations

from pathlib import Path

from harness.benchmarks.evalplus.tasks import HUMANEVAL_PLUS_DATA, MBPP_PLUS_DATA
from harness.report.submission import (Evaluated, ExportError, Writer, gaps, generation_settings, labelled, refuse_partial,
                                       samples_by_task, submission_name)

# The leaderboard's datasets: its name for each, and our benchmark and data file.
LEADERBOARD_DATASETS = {"humaneval": ("humaneval+", HUMANEVAL_PLUS_DATA), "mbpp": ("mbpp+", MBPP_PLUS_DATA)}
ENTRY_KEYS = ("task_id", "solution", "base_status", "plus_status", "base_fail_tests", "plus_fail_tests")


def export_evalplus(run_dir: str | Path, runs: list[Evaluated], out_dir: str | Path, model_name: str | None = None,
                    allow_partial: bool = False) -> list[Path]:
    """The evalplus leaderboard entry (leaderboard_entry.json), and per dataset evalplus' samples, raw outputs and
    results files. Needs greedy HumanEval+ v0.1.10 and MBPP+ v0.2.0 results of one model; returns the files written."""
    chosen: dict[str, Evaluated] = {}
    partial: list[str] = []
    for dataset, (name, data) in LEADERBOARD_DATASETS.items():
        found = [run for run in runs if run.meta["benchmark"] == name]
        if len(found) > 1:
            raise ExportError(f"{run_dir}: several {name} results ({', '.join(str(run.path) for run in found)}); "
                              "export from a folder holding one run")
        if not found:
            partial.append(f"no {name} results")
            continue
        run = found[0]
        if run.results["hash"] != data.md5:
            raise ExportError(f"{run.path}: scored on {run.meta['dataset_file']} (md5 {run.results['hash']}), "
                              f"not the leaderboard's {data.filename}")
        partial += gaps(run)
        chosen[dataset] = run
    if not chosen:
        raise ExportError(f"{run_dir}: no HumanEval+ or MBPP+ results (HumanEval+ Mini is not on the leaderboard)")
    refuse_partial(partial, allow_partial, "evalplus leaderboard entry")
    first = next(iter(chosen.values()))
    if len({generation_settings(run.generation) for run in chosen.values()}) > 1:
        raise ExportError(f"{run_dir}: the HumanEval+ and MBPP+ samples come from different models or decoding settings")
    temperature, n = first.decoding["temperature"], first.decoding["n"]
    if temperature != 0 or n != 1:
        raise ExportError(f"the evalplus leaderboard ranks greedy pass@1 (temperature 0, one sample per task); "
                          f"these samples were made with temperature {temperature}, {n} per task")
    name = submission_name(first.generation, model_name)
    stem = f"{name.strip('./').replace('/', '--')}_{first.generation['backend']}_temp_{float(temperature)}"
    write = Writer(out_dir)
    scores: dict[str, float] = {}
    for dataset, run in chosen.items():
        samples = samples_by_task(run)
        per_task = run.results["eval"]
        write.jsonl(f"{dataset}/{stem}.jsonl", [{"task_id": task_id, "solution": entry["solution"]}
                                                for task_id, entries in per_task.items() for entry in entries])
        write.jsonl(f"{dataset}/{stem}.raw.jsonl", [{"task_id": task_id, "solution": record["raw_solution"]}
                                                    for task_id, records in samples.items() for record in records])
        write.json(f"{dataset}/{stem}_eval_results.json", labelled({
            "date": run.results["date"],
            "hash": run.results["hash"],
            "eval": {task_id: [{key: entry[key] for key in ENTRY_KEYS} for entry in entries] for task_id, entries in per_task.items()},
            "pass_at_k": run.results["pass_at_k"],
        }, partial))
        scores[dataset] = round(100 * run.results["pass_at_k"]["base"]["pass@1"], 1)
        scores[f"{dataset}+"] = round(100 * run.results["pass_at_k"]["plus"]["pass@1"], 1)
    write.json("leaderboard_entry.json", {name: labelled({
        "link": None,
        "open-data": None,
        "pass@1": {key: scores.get(key) for key in ("humaneval", "humaneval+", "mbpp", "mbpp+")},
        "prompted": first.generation["prompt_format"].endswith("-chat"),
        "size": None,
    }, partial)})
    return write.manifest("evalplus", name, list(chosen.values()), partial,
                          ["link (the model's page)", "open-data (Full, Partial or NONE)", "size (billions of parameters)"])
