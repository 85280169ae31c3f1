"""Leaderboard submissions from a run directory: an evalplus leaderboard entry with evalplus' samples and
results files, BigCodeBench's submission files, and a LiveCodeBench submissions folder.

An export refuses what it cannot honestly make rather than write a misleading file: a run that covers part
of a benchmark (tasks without samples, tasks with fewer samples than asked for, a LiveCodeBench date
window), a missing benchmark, another dataset version or protocol than the leaderboard's, samples without
`scoder generate`'s generation record (the model and decoding are then unknown), or a model recorded as a
local path or an adapter without a name to submit it under. `allow_partial` lets a run of part of a
benchmark through, labelled: every JSON object written gets "partial": [the reasons], and so does
scoder_export.json, the manifest every export writes beside its files (sources, generation, what to fill
in by hand).

Formats, read upstream for this module:
- evalplus 0.3.1 (codegen.py, evaluate.py): `<root>/<humaneval|mbpp>/<model, "/" as "--">_<backend>_temp_<T>`
  `.jsonl` ({task_id, solution}, sanitized), `.raw.jsonl` (the raw outputs) and `_eval_results.json`
  ({date, hash, eval: {task_id: [{task_id, solution, base_status, plus_status, base_fail_tests,
  plus_fail_tests}]}, pass_at_k}; later evalplus names it `.eval_results.json` but still reads this name).
  The leaderboard's results.json (evalplus/evalplus.github.io) keys each model by its display name:
  {link, open-data ("Full", "Partial" or "NONE"), pass@1: {humaneval, humaneval+, mbpp, mbpp+} in percent
  to one decimal, prompted (chat setting), size (billions of parameters, null if unknown)}, ranked by greedy
  pass@1 (leaderboard.html) on evalplus 0.3.1's default datasets, HumanEval+ v0.1.10 and MBPP+ v0.2.0.
  New models reach it through a request (the repository's model_eval_request issue form).
- bigcodebench 0.2.5 (generate.py, evaluate.py, README "Result Submission"): samples and execution results
  are mailed as `<model, "/" as "--">--<revision>--bigcodebench[-hard]-<complete|instruct>--<backend>-<T>-<n>`
  `-sanitized_calibrated.jsonl` ({task_id, solution, raw_solution}) and `..._eval_results.json` ({date,
  eval: {task_id: [{task_id, solution, status, details}]}}); evaluate also writes `..._pass_at_k.json`
  (pass@k, model, split, subset, calibrated). T is written 0 for greedy decoding, as generate sets it.
- LiveCodeBench (README "Submit Models to Leaderboard"; lcb_runner runner/main.py, utils/path_utils.py,
  benchmarks/code_generation.py; the LiveCodeBench/submissions repository): a pull request adds the
  model's folder of lcb_runner's output, `Scenario.codegeneration_<n>_<T>.json` (per problem, sorted by
  question_id: the problem's fields, output_list, code_list; lcb_runner's custom evaluator reads the same
  file) and `..._eval_all.json` (those plus graded_list, pass@1, metadata). The leaderboard describes a
  model by lcb_runner's LanguageModel fields: model_name, model_repr, model_style, release_date, link.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from harness import __version__
from harness.benchmarks import livecodebench as lcb
from harness.benchmarks.registry import get_benchmark
from harness.files import numbered_rows, write_atomically
from harness.benchmarks.evalplus import HUMANEVAL_PLUS, MBPP_PLUS
from harness.report.runs import EXPORT_MANIFEST as MANIFEST, missing_samples, read_run, samples_file
from harness.samples import read_samples

EVALPLUS_DATASETS = {"humaneval": HUMANEVAL_PLUS, "mbpp": MBPP_PLUS}
EVALPLUS_ENTRY_KEYS = ("task_id", "solution", "base_status", "plus_status", "base_fail_tests", "plus_fail_tests")
BIGCODEBENCH_VERSION = "v0.1.4"  # bigcodebench 0.2.5's data/bigcodebench.py BIGCODEBENCH_VERSION: the leaderboard's
BIGCODEBENCH_REVISION = "main"  # bigcodebench generate's --revision default; our backends load the hub's default branch
BIGCODEBENCH_ENTRY_KEYS = ("task_id", "solution", "status", "details")
LIVECODEBENCH_SCENARIO = "Scenario.codegeneration"  # lcb_runner's f"{scenario}" in its output file names
# A model name a submission can go under: a hub id ("org/name" or "name"), not a path or a description.
_HUB_ID = re.compile(r"[\w.-]+(/[\w.-]+)?")


class ExportError(ValueError):
    """A submission cannot honestly be made from the run; the message says why."""


@dataclass(frozen=True)
class Evaluated:
    """One `scoder eval` results file and the samples it scored."""

    path: Path
    results: dict
    samples: list[dict]  # the samples file's records in file order, each with its generation record

    @property
    def meta(self) -> dict:
        return self.results["scoder"]

    @property
    def generation(self) -> dict:
        return self.samples[0]["generation"]

    @property
    def decoding(self) -> dict:
        return self.generation["decoding"]

    @property
    def title(self) -> str:
        split = self.results["pass_at_k"].get("split")
        return f"{self.meta['benchmark']} {split}" if split else self.meta["benchmark"]


def evaluated_runs(run_dir: str | Path, generation: dict | None = None) -> list[Evaluated]:
    """The results files of a run directory, as harness.report.runs finds and checks them, with their samples.
    `generation`: the record of how samples were made, for samples another tool made (generation_record)."""
    sources = dict.fromkeys(score.source for score in read_run(run_dir).scores)
    return [_evaluated(path, generation) for path in sources]


def _exported_by(leaderboard: str, run_dir: str | Path, generation: dict | None) -> list[Evaluated]:
    """The results of a run directory whose benchmark goes to this leaderboard."""
    return [run for run in evaluated_runs(run_dir, generation) if get_benchmark(run.meta["benchmark"]).leaderboard == leaderboard]


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
    settings = {_settings(record.get("generation")) for record in samples}
    if None in settings:
        raise ExportError(_how_to_say_generation(samples_path))
    if len(settings) > 1:
        raise ExportError(f"{samples_path}: samples of different models or decoding settings; a submission is one model's")
    return Evaluated(path, results, samples)


def _settings(generation) -> tuple | None:
    """What makes samples one model's under one protocol (None without a generation record)."""
    if not isinstance(generation, dict) or not isinstance(generation.get("decoding"), dict):
        return None
    decoding = generation["decoding"]
    return (generation.get("model"), generation.get("adapter"), generation.get("backend"), generation.get("prompt_format"),
            decoding.get("temperature"), decoding.get("n"))


def _gaps(run: Evaluated) -> list[str]:
    """Why a results file is not a whole-benchmark run with the asked-for samples on every task (none if it is)."""
    meta, per_task, n = run.meta, run.results["eval"], run.decoding["n"]
    gaps = []
    if meta["missing_tasks"]:
        total = len(per_task) + len(meta["missing_tasks"])
        gaps.append(f"{run.title}: {len(meta['missing_tasks'])} of {total} tasks have no samples")
    short = [task_id for task_id, entries in per_task.items() if len(entries) < n]
    if short:
        gaps.append(f"{run.title}: {len(short)} tasks have fewer than the {n} samples per task the generation asked for")
    if meta.get("start_date") or meta.get("end_date"):
        gaps.append(f"{run.title}: scored on the contest dates {meta['start_date'] or '...'} to {meta['end_date'] or '...'}, "
                    f"not the whole {meta['release']}")
    return gaps


def _refuse_partial(gaps: list[str], allow_partial: bool, what: str) -> None:
    if gaps and not allow_partial:
        raise ExportError(f"no {what} from a partial run: {'; '.join(gaps)} (allow_partial, --allow-partial, "
                          "exports it labelled as partial)")


def _model_name(generation: dict, model_name: str | None) -> str:
    if model_name:
        return model_name
    model, adapter = generation.get("model") or "", generation.get("adapter")
    if adapter or not _HUB_ID.fullmatch(model):
        made_by = f"{model!r} with the adapter {adapter!r}" if adapter else repr(model)
        raise ExportError(f"the samples were made by {made_by}, which is no name to submit a model under; give one (--model-name)")
    return model


def _samples_by_task(run: Evaluated) -> dict[str, list[dict]]:
    """Each scored task's samples, in the order of its results; a samples file changed since is refused."""
    grouped: dict[str, list[dict]] = {}
    for record in run.samples:
        if record["task_id"] in run.results["eval"]:
            grouped.setdefault(record["task_id"], []).append(record)
    for task_id, entries in run.results["eval"].items():
        found = grouped.get(task_id, [])
        # The results hold the program as run: the sample's solution, after BigCodeBench's calibration prefix.
        if len(found) != len(entries) or not all(entry["solution"].endswith(record["solution"]) for entry, record in zip(entries, found)):
            raise ExportError(f"{run.path}: the samples of {task_id} in the samples file are not the ones scored; re-run `scoder eval`")
    return grouped


def _labelled(data: dict, partial: list[str]) -> dict:
    return {**data, "partial": partial} if partial else data


class _Writer:
    """Writes an export's files (each atomically) and its manifest, remembering what it wrote."""

    def __init__(self, out_dir: str | Path):
        self.out_dir = Path(out_dir)
        self.pending: dict[Path, bytes] = {}  # written together once every file is known not to replace another's

    def json(self, name: str, data) -> None:
        self._write(name, json.dumps(data, indent=1) + "\n")

    def jsonl(self, name: str, records: list[dict]) -> None:
        self._write(name, "".join(json.dumps(record) + "\n" for record in records))

    def _write(self, name: str, text: str) -> None:
        self.pending[self.out_dir / name] = text.encode()

    def manifest(self, leaderboard: str, model_name: str, runs: list[Evaluated], partial: list[str], fill_in: list[str]) -> list[Path]:
        generation = runs[0].generation
        self.json(MANIFEST, {
            "leaderboard": leaderboard,
            "model_name": model_name,
            "generation": {key: generation.get(key) for key in ("model", "adapter", "backend", "prompt_format", "decoding")},
            "sources": [{"results": str(run.path), "benchmark": run.title,
                         "dataset": run.meta.get("dataset_file") or run.meta.get("version") or run.meta.get("release")} for run in runs],
            "harness_version": __version__,
            "partial": partial,
            "fill_in": fill_in,
            "files": [str(path.relative_to(self.out_dir)) for path in self.pending],  # all but the manifest itself
        })
        ours = _exported_before(self.out_dir)
        for path in self.pending:
            if path.exists() and path.resolve() not in ours:
                raise ExportError(f"{path} exists and is not a file of an earlier export into {self.out_dir}; "
                                  "it is left as it is: choose another --output")
        for path, content in self.pending.items():
            write_atomically(path, content)
        return list(self.pending)


def _exported_before(out_dir: Path) -> set[Path]:
    """The files an earlier export wrote into `out_dir` (its manifest lists them): an export may replace these."""
    manifest = out_dir / MANIFEST
    try:
        written = json.loads(manifest.read_text())
        listed = written["files"] if {"leaderboard", "harness_version"} <= set(written) else None
    except (OSError, ValueError, KeyError, TypeError):
        listed = None
    if not isinstance(listed, list):
        return set()
    return {manifest.resolve(), *((out_dir / name).resolve() for name in listed if isinstance(name, str))}


def export_evalplus(run_dir: str | Path, out_dir: str | Path, model_name: str | None = None, allow_partial: bool = False,
                    generation: dict | None = None) -> list[Path]:
    """The evalplus leaderboard entry (leaderboard_entry.json), and per dataset evalplus' samples, raw outputs and
    results files. Needs greedy HumanEval+ v0.1.10 and MBPP+ v0.2.0 results of one model; returns the files written."""
    runs = evaluated_runs(run_dir, generation)
    chosen: dict[str, Evaluated] = {}
    partial: list[str] = []
    for dataset, benchmark in EVALPLUS_DATASETS.items():
        found = [run for run in runs if run.meta["benchmark"] == benchmark.name]
        if len(found) > 1:
            raise ExportError(f"{run_dir}: several {benchmark.name} results ({', '.join(str(run.path) for run in found)}); "
                              "export from a folder holding one run")
        if not found:
            partial.append(f"no {benchmark.name} results")
            continue
        run = found[0]
        if run.results["hash"] != benchmark.data.md5:
            raise ExportError(f"{run.path}: scored on {run.meta['dataset_file']} (md5 {run.results['hash']}), "
                              f"not the leaderboard's {benchmark.data.filename}")
        partial += _gaps(run)
        chosen[dataset] = run
    if not chosen:
        raise ExportError(f"{run_dir}: no HumanEval+ or MBPP+ results (HumanEval+ Mini is not on the leaderboard)")
    _refuse_partial(partial, allow_partial, "evalplus leaderboard entry")
    first = next(iter(chosen.values()))
    if len({_settings(run.generation) for run in chosen.values()}) > 1:
        raise ExportError(f"{run_dir}: the HumanEval+ and MBPP+ samples come from different models or decoding settings")
    temperature, n = first.decoding["temperature"], first.decoding["n"]
    if temperature != 0 or n != 1:
        raise ExportError(f"the evalplus leaderboard ranks greedy pass@1 (temperature 0, one sample per task); "
                          f"these samples were made with temperature {temperature}, {n} per task")
    name = _model_name(first.generation, model_name)
    stem = f"{name.strip('./').replace('/', '--')}_{first.generation['backend']}_temp_{float(temperature)}"
    write = _Writer(out_dir)
    scores: dict[str, float] = {}
    for dataset, run in chosen.items():
        samples = _samples_by_task(run)
        per_task = run.results["eval"]
        write.jsonl(f"{dataset}/{stem}.jsonl", [{"task_id": task_id, "solution": entry["solution"]}
                                                for task_id, entries in per_task.items() for entry in entries])
        write.jsonl(f"{dataset}/{stem}.raw.jsonl", [{"task_id": task_id, "solution": record["raw_solution"]}
                                                    for task_id, records in samples.items() for record in records])
        write.json(f"{dataset}/{stem}_eval_results.json", _labelled({
            "date": run.results["date"],
            "hash": run.results["hash"],
            "eval": {task_id: [{key: entry[key] for key in EVALPLUS_ENTRY_KEYS} for entry in entries] for task_id, entries in per_task.items()},
            "pass_at_k": run.results["pass_at_k"],
        }, partial))
        scores[dataset] = round(100 * run.results["pass_at_k"]["base"]["pass@1"], 1)
        scores[f"{dataset}+"] = round(100 * run.results["pass_at_k"]["plus"]["pass@1"], 1)
    write.json("leaderboard_entry.json", {name: _labelled({
        "link": None,
        "open-data": None,
        "pass@1": {key: scores.get(key) for key in ("humaneval", "humaneval+", "mbpp", "mbpp+")},
        "prompted": first.generation["prompt_format"].endswith("-chat"),
        "size": None,
    }, partial)})
    return write.manifest("evalplus", name, list(chosen.values()), partial,
                          ["link (the model's page)", "open-data (Full, Partial or NONE)", "size (billions of parameters)"])


def export_bigcodebench(run_dir: str | Path, out_dir: str | Path, model_name: str | None = None, allow_partial: bool = False,
                        generation: dict | None = None) -> list[Path]:
    """BigCodeBench's submission files (samples, eval results, pass@k) for each subset and split the run has,
    all of one model on the leaderboard's dataset version, calibrated; returns the files written."""
    runs = _exported_by("bigcodebench", run_dir, generation)
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
        if run.meta["version"] != BIGCODEBENCH_VERSION:
            raise ExportError(f"{run.path}: scored on BigCodeBench {run.meta['version']}, not the leaderboard's {BIGCODEBENCH_VERSION}")
        if not run.results["pass_at_k"]["calibrated"]:
            raise ExportError(f"{run.path}: scored without calibration (--no-calibrate); the submission files are the calibrated ones")
        partial += _gaps(run)
    _refuse_partial(partial, allow_partial, "BigCodeBench submission")
    name = _model_name(runs[0].generation, model_name)
    write = _Writer(out_dir)
    for run in runs:
        reported, decoding = run.results["pass_at_k"], run.decoding
        greedy = decoding["temperature"] == 0 and decoding["n"] == 1
        subset = "-hard" if reported["subset"] == "hard" else ""
        stem = (f"{name.replace('/', '--')}--{BIGCODEBENCH_REVISION}--bigcodebench{subset}-{reported['split']}"
                f"--{run.generation['backend']}-{0 if greedy else float(decoding['temperature'])}-{decoding['n']}-sanitized_calibrated")
        samples = _samples_by_task(run)
        write.jsonl(f"{stem}.jsonl", [{key: record[key] for key in ("task_id", "solution", "raw_solution")}
                                      for records in samples.values() for record in records])
        write.json(f"{stem}_eval_results.json", _labelled({
            "date": run.results["date"],
            "eval": {task_id: [{key: entry[key] for key in BIGCODEBENCH_ENTRY_KEYS} for entry in entries]
                     for task_id, entries in run.results["eval"].items()},
        }, partial))
        pass_at_k = {key: value for key, value in reported.items() if key.startswith("pass@")}
        # evaluate.py names the model by the samples file name up to "--bigcodebench-", which keeps the revision.
        pass_at_k.update({"model": stem.split("--bigcodebench-")[0], "split": reported["split"], "subset": reported["subset"],
                          "calibrated": True})
        pass_at_k.update({key: reported[key] for key in ("gt_pass_rate", "failed_tasks") if key in reported})
        write.json(f"{stem}_pass_at_k.json", _labelled(pass_at_k, partial))
    return write.manifest("bigcodebench", name, runs, partial, [])


def export_livecodebench(run_dir: str | Path, out_dir: str | Path, model_name: str | None = None, allow_partial: bool = False,
                         lcb_dir: str | Path | None = None, generation: dict | None = None) -> list[Path]:
    """A LiveCodeBench submissions folder, <out_dir>/<model>/: lcb_runner's generations and eval_all files and the
    model's leaderboard description (model.json). The problems' texts come from the release's shards (lcb_dir,
    else $SCODER_LCB_DIR, the cache, the hub). Returns the files written."""
    runs = _exported_by("livecodebench", run_dir, generation)
    if not runs:
        raise ExportError(f"{run_dir}: no LiveCodeBench results")
    if len(runs) > 1:
        raise ExportError(f"{run_dir}: several LiveCodeBench results ({', '.join(str(run.path) for run in runs)}); "
                          "export from a folder holding one run")
    [run] = runs
    meta, per_task = run.meta, run.results["eval"]
    partial = _gaps(run)
    _refuse_partial(partial, allow_partial, "LiveCodeBench submission")
    problems = {problem.question_id: problem for problem in
                lcb.load_problems(meta["release"], meta["start_date"], meta["end_date"], lcb_dir, meta["revision"])}
    if set(problems) != set(per_task) | set(meta["missing_tasks"]):
        raise ExportError(f"{run.path}: the problems of {meta['release']} are not the ones evaluated; is the data the same?")
    name = _model_name(run.generation, model_name)
    samples = _samples_by_task(run)
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
                            "metadata": [json.dumps(_lcb_metadata(entry)) for entry in entries]})
    folder, stem = name.replace("/", "--"), f"{LIVECODEBENCH_SCENARIO}_{run.decoding['n']}_{float(run.decoding['temperature'])}"
    write = _Writer(out_dir)
    write.json(f"{folder}/{stem}.json", generations)
    write.json(f"{folder}/{stem}_eval_all.json", evaluations)
    write.json(f"{folder}/model.json", _labelled({
        "model_name": run.generation["model"], "model_repr": name, "model_style": None, "release_date": None, "link": None,
    }, partial))
    return write.manifest("livecodebench", name, runs, partial,
                          ["model.json: model_style (lcb_runner's LMStyle), release_date, link"])


def _lcb_metadata(entry: dict) -> dict:
    """lcb_runner's per-sample metadata, as far as we record it: the error code and message of a failure."""
    return {} if entry["passed"] else {"error_code": entry["error_code"], "error_message": entry["error_message"]}
