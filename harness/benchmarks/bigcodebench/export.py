"""BigCodeBench's submission files from a run's results. Formats, from bigcodebench 0.2.5 (generate.py, evaluate.py,
README "Result Submission"): samples and execution results are mailed as `<model, "/" as "--">--<revision>--bigcodebench[-hard]-<complete|instruct>--<backend>-<T>-<n>`
`-sanitized_calibrated.jsonl` ({task_id, solution, raw_solution}) and `..._eval_results.json` ({date, eval: {task_id:
[{task_id, solution, status, details}]}}); evaluate also writes `..._pass_at_k.json` (pass@k, model, split, subset,
calibrated). T is written 0 for greedy decoding, as generate sets it."""

from __future__ import annotations

from pathlib import Path

from harness.report.submission import Evaluated, ExportError, Writer, gaps, labelled, refuse_partial, samples_by_task, submission_name

LEADERBOARD_VERSION = "v0.1.4"  # bigcodebench 0.2.5's data/bigcodebench.py BIGCODEBENCH_VERSION: the leaderboard's
REVISION = "main"  # bigcodebench generate's --revision default; our backends load the hub's default branch
ENTRY_KEYS = ("task_id", "solution", "status", "details")


def export_bigcodebench(run_dir: str | Path, runs: list[Evaluated], out_dir: str | Path, model_name: str | None = None,
                        allow_partial: bool = False) -> list[Path]:
    """BigCodeBench's submission files (samples, eval results, pass@k) for each subset and split the run has,
    all of one model on the leaderboard's dataset version, calibrated; returns the files written."""
    if not runs:
        raise ExportError(f"{run_dir}: no BigCodeBench results")
    titles = [run.title for run in runs]
    if len(set(titles)) < len(titles):
        raise ExportError(f"{run_dir}: several results for one subset and split ({', '.join(str(run.path) for run in runs)}); "
                          "export from a folder holding one run")
    if len({(run.generation.get("model"), run.generation.get("adapter")) for run in runs}) > 1:
        raise ExportError(f"{run_dir}: BigCodeBench samples of different models; a submission is one model's")
    partial: list[str] = []
    for run in runs:
        if run.meta["version"] != LEADERBOARD_VERSION:
            raise ExportError(f"{run.path}: scored on BigCodeBench {run.meta['version']}, not the leaderboard's {LEADERBOARD_VERSION}")
        if not run.results["pass_at_k"]["calibrated"]:
            raise ExportError(f"{run.path}: scored without calibration (--no-calibrate); the submission files are the calibrated ones")
        partial += gaps(run)
    refuse_partial(partial, allow_partial, "BigCodeBench submission")
    name = submission_name(runs[0].generation, model_name)
    write = Writer(out_dir)
    for run in runs:
        reported, decoding = run.results["pass_at_k"], run.decoding
        greedy = decoding["temperature"] == 0 and decoding["n"] == 1
        subset = "-hard" if reported["subset"] == "hard" else ""
        stem = (f"{name.replace('/', '--')}--{REVISION}--bigcodebench{subset}-{reported['split']}"
                f"--{run.generation['backend']}-{0 if greedy else float(decoding['temperature'])}-{decoding['n']}-sanitized_calibrated")
        samples = samples_by_task(run)
        write.jsonl(f"{stem}.jsonl", [{key: record[key] for key in ("task_id", "solution", "raw_solution")}
                                      for records in samples.values() for record in records])
        write.json(f"{stem}_eval_results.json", labelled({
            "date": run.results["date"],
            "eval": {task_id: [{key: entry[key] for key in ENTRY_KEYS} for entry in entries]
                     for task_id, entries in run.results["eval"].items()},
        }, partial))
        pass_at_k = {key: value for key, value in reported.items() if key.startswith("pass@")}
        # evaluate.py names the model by the samples file name up to "--bigcodebench-", which keeps the revision.
        pass_at_k.update({"model": stem.split("--bigcodebench-")[0], "split": reported["split"], "subset": reported["subset"],
                          "calibrated": True})
        pass_at_k.update({key: reported[key] for key in ("gt_pass_rate", "failed_tasks") if key in reported})
        write.json(f"{stem}_pass_at_k.json", labelled(pass_at_k, partial))
    return write.manifest("bigcodebench", name, runs, partial, [])
