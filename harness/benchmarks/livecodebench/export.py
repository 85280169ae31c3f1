"""A LiveCodeBench submissions folder from a run's results. Formats, from LiveCodeBench (README "Submit Models to
Leaderboard"; lcb_runner runner/main.py, utils/path_utils.py, benchmarks/code_generation.py; the
LiveCodeBench/submissions repository): a pull request adds the model's folder of lcb_runner's output,
`Scenario.codegeneration_<n>_<T>.json` (per problem, sorted by question_id: the problem's fields, output_list,
code_list; lcb_runner's custom evaluator reads the same file) and `..._eval_all.json` (those plus graded_list, pass@1,
metadata). The leaderboard describes a model by lcb_runner's LanguageModel fields: model_name, model_repr,
model_style, release_date, link."""

from __future__ import annotations

import json
from pathlib import Path

from harness.benchmarks.livecodebench.tasks import load_problems
from harness.report.submission import Evaluated, ExportError, Writer, gaps, labelled, refuse_partial, samples_by_task, submission_name

SCENARIO = "Scenario.codegeneration"  # lcb_runner's f"{scenario}" in its output file names


def export_livecodebench(run_dir: str | Path, runs: list[Evaluated], out_dir: str | Path, model_name: str | None = None,
                         allow_partial: bool = False, lcb_dir: str | Path | None = None) -> list[Path]:
    """A LiveCodeBench submissions folder, <out_dir>/<model>/: lcb_runner's generations and eval_all files and the
    model's leaderboard description (model.json). The problems' texts come from the release's shards (lcb_dir,
    else $SCODER_LCB_DIR, the cache, the hub). Returns the files written."""
    if not runs:
        raise ExportError(f"{run_dir}: no LiveCodeBench results")
    if len(runs) > 1:
        raise ExportError(f"{run_dir}: several LiveCodeBench results ({', '.join(str(run.path) for run in runs)}); "
                          "export from a folder holding one run")
    [run] = runs
    meta, per_task = run.meta, run.results["eval"]
    partial = gaps(run)
    refuse_partial(partial, allow_partial, "LiveCodeBench submission")
    problems = {problem.question_id: problem for problem in
                load_problems(meta["release"], meta["start_date"], meta["end_date"], lcb_dir, meta["revision"])}
    if set(problems) != set(per_task) | set(meta["missing_tasks"]):
        raise ExportError(f"{run.path}: the problems of {meta['release']} are not the ones evaluated; is the data the same?")
    name = submission_name(run.generation, model_name)
    samples = samples_by_task(run)
    generations, evaluations = [], []
    for question_id in sorted(per_task):  # lcb_runner sorts by question_id
        problem, entries = problems[question_id], per_task[question_id]
        generation = {
            "question_title": problem.question_title,
            "question_content": problem.question_content,
            "platform": problem.platform,
            "question_id": question_id,
            "contest_id": problem.contest_id,
            "contest_date": problem.contest_date.isoformat(),
            "starter_code": problem.starter_code,
            "difficulty": problem.difficulty,
            "output_list": [record["raw_solution"] for record in samples[question_id]],
            "code_list": [entry["solution"] for entry in entries],
        }
        graded = [entry["passed"] for entry in entries]
        generations.append(generation)
        evaluations.append({**generation, "graded_list": graded, "pass@1": graded.count(True) / len(graded),
                            "metadata": [json.dumps(_metadata(entry)) for entry in entries]})
    folder, stem = name.replace("/", "--"), f"{SCENARIO}_{run.decoding['n']}_{float(run.decoding['temperature'])}"
    write = Writer(out_dir)
    write.json(f"{folder}/{stem}.json", generations)
    write.json(f"{folder}/{stem}_eval_all.json", evaluations)
    write.json(f"{folder}/model.json", labelled({
        "model_name": run.generation["model"], "model_repr": name, "model_style": None, "release_date": None, "link": None,
    }, partial))
    return write.manifest("livecodebench", name, runs, partial,
                          ["model.json: model_style (lcb_runner's LMStyle), release_date, link"])


def _metadata(entry: dict) -> dict:
    """lcb_runner's per-sample metadata, as far as we record it: the error code and message of a failure."""
    return {} if entry["passed"] else {"error_code": entry["error_code"], "error_message": entry["error_message"]}
