"""A run's CRUXEval results in upstream's own files. CRUXEval takes no submissions (its README says how to score
generations, not how to send them; its leaderboard lists the authors' runs), so the export is what upstream's
scripts read and write (github.com/facebookresearch/cruxeval at commit 190faf1):
- model_generations/<run>/generations.json: {sample_i: [answer, ...]}, what evaluation/evaluate_generations.py reads
  (README "Scoring Your Own Generations");
- evaluation_results/<run>.json: what it writes (evaluate_generations.py lines 34-37): raw_generations,
  raw_scored_generations (a verdict per answer, in step with them: see harness.benchmarks.cruxeval.scoring on where
  upstream's lists are not), pass_at_1 and pass_at_5 in percent (pass_at_5 null where a task has fewer than 5);
where <run> is upstream's name for a run, <model>[+cot]_temp<T>_<input|output> (inference/scripts, openai_run.py
get_save_dir), the model with "/" as "--".
"""

from __future__ import annotations

from pathlib import Path

from harness.benchmarks.cruxeval.prompts import is_chain_of_thought
from harness.report.submission import Evaluated, ExportError, Writer, gaps, labelled, refuse_partial, submission_name

LEADERBOARD = "cruxeval"


def export_cruxeval(run_dir: str | Path, runs: list[Evaluated], out_dir: str | Path, model_name: str | None = None,
                    allow_partial: bool = False) -> list[Path]:
    """Upstream's generations and scored files for each CRUXEval results file of a run directory (output and input
    prediction, both of one model); returns the files written."""
    if not runs:
        raise ExportError(f"{run_dir}: no CRUXEval results")
    modes = [run.meta["mode"] for run in runs]
    if len(set(modes)) < len(modes):
        raise ExportError(f"{run_dir}: several results for one CRUXEval task ({', '.join(str(run.path) for run in runs)}); "
                          "export from a folder holding one run")
    if len({(run.generation.get("model"), run.generation.get("adapter")) for run in runs}) > 1:
        raise ExportError(f"{run_dir}: CRUXEval samples of different models; an export is one model's")
    partial = [gap for run in runs for gap in gaps(run)]
    refuse_partial(partial, allow_partial, "CRUXEval export")
    name = submission_name(runs[0].generation, model_name)
    write = Writer(out_dir)
    for run in runs:
        cot = "+cot" if is_chain_of_thought(run.generation.get("prompt_format") or "") else ""
        run_name = f"{name.replace('/', '--')}{cot}_temp{float(run.decoding['temperature'])}_{run.meta['mode']}"
        per_task, scores = run.results["eval"], run.results["pass_at_k"]
        answers = {task_id: [entry["solution"] for entry in entries] for task_id, entries in per_task.items()}
        write.json(f"model_generations/{run_name}/generations.json", answers)
        write.json(f"evaluation_results/{run_name}.json", labelled({
            "raw_generations": answers,
            "raw_scored_generations": {task_id: [entry["passed"] for entry in entries] for task_id, entries in per_task.items()},
            "pass_at_1": 100 * scores["pass@1"],
            "pass_at_5": 100 * scores["pass@5"] if "pass@5" in scores else None,
        }, partial))
    return write.manifest(LEADERBOARD, name, runs, partial, [])
