"""`scoder export`: a run directory's results, found and checked as `scoder report` finds them, handed to the
benchmark whose leaderboard was asked for (Benchmark.export, in harness.benchmarks.<family>.export), which writes
that leaderboard's files with harness.report.submission.

An export refuses what it cannot honestly make rather than write a misleading file: a run that covers part
of a benchmark (tasks without samples, tasks with fewer samples than asked for, a LiveCodeBench date
window), a missing benchmark, another dataset version or protocol than the leaderboard's, samples without
`scoder generate`'s generation record (the model and decoding are then unknown), or a model recorded as a
local path or an adapter without a name to submit it under. `allow_partial` lets a run of part of a
benchmark through, labelled: every JSON object written gets "partial": [the reasons], and so does
scoder_export.json, the manifest every export writes beside its files (sources, generation, what to fill
in by hand).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from harness.benchmarks.registry import get_benchmark, leaderboards, parse_options
from harness.files import numbered_rows
from harness.report.runs import missing_samples, read_run, samples_file
from harness.report.submission import Evaluated, ExportError, generation_settings
from harness.samples import read_samples


def export_run(leaderboard: str, run_dir: str | Path, out_dir: str | Path, model_name: str | None = None,
               allow_partial: bool = False, generation: dict | None = None, options: argparse.Namespace | None = None) -> list[Path]:
    """The submission files of `leaderboard` (a `scoder export` format) from the results of a run directory; returns
    the files written. `generation`: how the samples were made, for samples another tool made (generation_record);
    `options`: the benchmarks' export options (harness.benchmarks.registry.parse_options(..., "export"))."""
    if leaderboard not in leaderboards():
        raise ExportError(f"unknown leaderboard {leaderboard!r}; choose one of {', '.join(leaderboards())}")
    runs = [run for run in evaluated_runs(run_dir, generation) if get_benchmark(run.meta["benchmark"]).leaderboard == leaderboard]
    for run in runs:
        unjudged = (run.meta.get("no_verdict") or {}).get("samples")
        if unjudged:  # a submission says how every sample did; these have no status to say
            raise ExportError(f"{run.path}: {unjudged} samples have no verdict (the harness could not judge them: "
                              f"{run.meta['no_verdict']['reasons'][0]}); no submission without them: re-run `scoder eval` "
                              "once the cause is fixed (it judges them again)")
    options = options or parse_options([], "export")  # the export options' defaults
    return leaderboards()[leaderboard].export(run_dir, runs, out_dir, model_name, allow_partial, options)


def evaluated_runs(run_dir: str | Path, generation: dict | None = None) -> list[Evaluated]:
    """The results files of a run directory, as harness.report.runs finds and checks them, with their samples.
    `generation`: the record of how samples were made, for samples another tool made (generation_record)."""
    sources = dict.fromkeys(score.source for score in read_run(run_dir).scores)
    return [_evaluated(path, generation) for path in sources]


# What a generation record given on the command line must say (export --generation KEY=VALUE ...).
GENERATION_KEYS = {"backend": "hf, vllm, openai or the other tool's, e.g. vllm",
                   "prompt_format": "e.g. evalplus-chat, evalplus-base, bigcodebench-instruct",
                   "temperature": "0 for greedy", "n": "samples per task"}


def generation_record(pairs: list[str], model_name: str | None) -> dict:
    """A generation record from `KEY=VALUE` words, for samples made by another tool (their lines have none)."""
    given = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or key not in (*GENERATION_KEYS, "top_p"):
            raise ExportError(f"--generation {pair!r}: expected KEY=VALUE with KEY one of {', '.join([*GENERATION_KEYS, 'top_p'])}")
        given[key] = value
    missing = [key for key in GENERATION_KEYS if key not in given]
    if missing or not model_name:
        raise ExportError(f"--generation needs {', '.join(missing + ([] if model_name else ['--model-name']))} too")
    try:
        decoding = {"temperature": float(given["temperature"]), "n": int(given["n"]),
                    **({"top_p": float(given["top_p"])} if "top_p" in given else {})}
    except ValueError as error:
        raise ExportError(f"--generation: temperature, top_p and n are numbers ({error})") from None
    return {"model": model_name, "adapter": None, "backend": given["backend"], "prompt_format": given["prompt_format"],
            "decoding": decoding, "given_on_the_command_line": True}


def _how_to_say_generation(samples_path: Path) -> str:
    keys = " ".join(f"{key}=<{meaning}>" for key, meaning in GENERATION_KEYS.items())
    return (f"{samples_path}: its samples have no generation record (not written by `scoder generate`), so the model and "
            f"decoding are unknown; say how they were made: --model-name NAME --generation {keys}")


def _evaluated(path: Path, generation: dict | None = None) -> Evaluated:
    results = json.loads(path.read_text(encoding="utf-8"))
    samples_path = samples_file(path, results["scoder"])
    if samples_path is None:
        raise ExportError(f"{path}: {missing_samples(path, results['scoder'])}; a submission is made of the samples")
    if samples_path.name.endswith((".jsonl", ".jsonl.gz")):
        samples = [row for _, row in numbered_rows(samples_path, ExportError)]
    else:  # an eval_results or lcb_runner JSON scored as samples: another tool's
        samples = [{"task_id": sample.task_id, "solution": sample.solution} for sample in read_samples(samples_path)]
    # Another tool's lines hold the program only: it stands for the raw output too.
    samples = [{**row, "raw_solution": row.get("raw_solution", row.get("solution"))} for row in samples]
    recorded = [sample for sample in samples if isinstance(sample.get("generation"), dict)]
    if generation is not None:
        if recorded:
            raise ExportError(f"{samples_path}: its samples have their own generation record; drop --generation")
        samples = [{**sample, "generation": generation} for sample in samples]
    elif len(recorded) < len(samples) or not samples:
        raise ExportError(_how_to_say_generation(samples_path))
    settings = {generation_settings(record.get("generation")) for record in samples}
    if None in settings:
        raise ExportError(_how_to_say_generation(samples_path))
    if len(settings) > 1:
        raise ExportError(f"{samples_path}: samples of different models or decoding settings; a submission is one model's")
    return Evaluated(path, results, samples)
