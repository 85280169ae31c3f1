"""Reading our runs: the `scoder eval` results files of a run directory, as scores with per-task results.

A run directory is a pipeline run (RUN/evaluate/*.eval_results.json; its name is the recipe in
RUN/results/results.json) or any folder holding results files of `scoder eval`, searched recursively and
recognised by their content, whatever --output named them (its name is the folder's). Each file says what it measured: benchmark, dataset version,
LiveCodeBench release and date window, how many of the benchmark's tasks had samples, and, through its
samples file's generation record, the decoding protocol.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from harness.benchmarks.registry import BENCHMARKS
from harness.evaluation import decided
from harness.execution.calibration import REFERENCE
from harness.files import file_sha256
from harness.report.model import GREEDY, Column
from harness.report.submission import MANIFEST as EXPORT_MANIFEST




class RunError(ValueError):
    """A run directory or results file cannot be read as a scored run; the message says which and why."""


class NoResults(RunError):
    """A folder holds no results file at all."""


@dataclass(frozen=True)
class Score:
    column: Column
    value: float  # percent: pass@1, the mean over tasks of the fraction of samples that pass
    per_task: dict[str, float]  # task id -> fraction of its samples that pass (bootstrap over tasks)
    verdicts: dict[str, bool] | None  # task id -> passed, when each task has one sample (paired tests)
    source: Path  # the results file
    machine_speed: float | None = None  # its calibration (harness.execution.calibration), where it has one


@dataclass
class ScoredRun:
    name: str
    directory: Path
    scores: list[Score]
    notes: list[str] = field(default_factory=list)  # what could not be determined, for the table's notes


def read_run(directory: str | Path) -> ScoredRun:
    directory = Path(directory)
    if directory.is_file():
        raise RunError(f"{directory} is a file; give the folder that holds it (a run directory, or a folder with results "
                       f"of scoder eval): {directory.parent}")
    if not directory.is_dir():
        raise RunError(f"{directory}: no such run directory")
    evaluate = directory / "evaluate"
    where = evaluate if evaluate.is_dir() else directory
    files = [path for path in results_candidates(where) if _is_results(path)]
    if not files:
        raise NoResults(f"{where}: no results of `scoder eval` (or of a pipeline's evaluate stage) in it")
    run = ScoredRun(_run_name(directory), directory, [])
    for path in files:
        for score in read_results(path, run.notes):
            earlier = [other.source for other in run.scores if other.column == score.column]
            if earlier:
                raise RunError(f"{directory}: two results for {score.column.title!r}: {earlier[0]} and {path}; "
                               "give each run its own directory")
            run.scores.append(score)
    speeds = list(dict.fromkeys(score.machine_speed for score in run.scores if score.machine_speed is not None))
    if speeds:  # beside every run's scores: how fast the machine that decided its time limits was
        run.notes.append(f"{run.name}: machine speed {', '.join(f'{speed:.2f}' for speed in speeds)} "
                         f"(harness.execution.calibration; 1.00 = {REFERENCE})")
    return run


def results_candidates(folder: Path) -> list[Path]:
    """The files under `folder` that may be results, whatever --output named them; not the folders an export wrote
    (their manifest says so: they hold the leaderboards' formats, not ours), nor hidden files (locks, temporaries)."""
    found = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).parts
        exported = any((folder.joinpath(*relative[:depth]) / EXPORT_MANIFEST).is_file() for depth in range(len(relative)))
        if path.is_file() and not exported and not any(part.startswith(".") for part in relative):
            found.append(path)
    return found


def _is_results(path: Path) -> bool:
    """A results file `scoder eval` wrote, whatever its name (--output): recognised by its content. One named
    *eval_results.json is taken as one even when it cannot be read, so that a damaged file is reported, not skipped."""
    if path.name.endswith("eval_results.json"):
        return True
    with open(path, "rb") as handle:
        if handle.read(2) != b"{\n":  # how scoder eval starts a results file; JSON Lines and other files are not read
            return False
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return False
    return (isinstance(data, dict) and isinstance(data.get("eval"), dict) and isinstance(data.get("scoder"), dict)
            and "harness_version" in data["scoder"])


def _run_name(directory: Path) -> str:
    results = directory / "results" / "results.json"
    if results.is_file():
        recipe = _load_json(results).get("recipe")
        if isinstance(recipe, str) and recipe:
            return recipe
    return directory.resolve().name


def _load_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise RunError(f"{path}: cannot be read ({error})")
    except json.JSONDecodeError as error:
        raise RunError(f"{path}: corrupt JSON ({error.msg} at line {error.lineno}, column {error.colno})")
    if not isinstance(data, dict):
        raise RunError(f"{path}: expected a JSON object")
    return data


def read_results(path: str | Path, notes: list[str] | None = None) -> list[Score]:
    """The scores of one results file (two for HumanEval+/MBPP+: base tests, and base + plus tests).
    What cannot be determined (a samples file that is gone) is appended to `notes`."""
    path = Path(path)
    results = _load_json(path)
    meta, per_task = results.get("scoder"), results.get("eval")
    if not isinstance(meta, dict) or not isinstance(per_task, dict):
        raise RunError(f"{path}: not written by `scoder eval` (needs its 'eval' and 'scoder' records)")
    benchmark = BENCHMARKS.get(meta.get("benchmark"))
    if benchmark is None:
        raise RunError(f"{path}: unknown benchmark {meta.get('benchmark')!r} (known: {', '.join(BENCHMARKS)})")
    try:
        protocol = _protocol(path, meta, per_task, notes if notes is not None else [])
        tasks = _tasks(per_task, meta)
        judged = decided(per_task)  # samples the harness could not judge are not in the evaluator's pass@k either
        speed = (meta.get("calibration") or {}).get("speed")
        scores = [replace(_score(path, Column(found.key, found.version, protocol, found.window, tasks), judged, found.passed,
                                 found.reported), machine_speed=speed)
                  for found in benchmark.score_columns(results)]
        if notes is not None and (meta.get("margins") or {}).get("near"):  # none near a limit: the scores as they are
            notes.extend(_speed_range(benchmark, results, scores))
        return scores
    except RunError:
        raise
    except (KeyError, TypeError) as error:
        raise RunError(f"{path}: incomplete scoder eval results (missing {error})")
    except ValueError as error:  # a bad date or an empty version
        raise RunError(f"{path}: {error}")


def _speed_range(benchmark, results: dict, scores: list[Score]) -> list[str]:
    """What each score could be on a machine the margin factor times slower or faster (harness.evaluation.score_range):
    the benchmark's own columns, read from the re-decided pass@k."""
    margins = results["scoder"]["margins"]
    factor = f"{margins['factor']:g}"
    sides = [benchmark.score_columns({**results, "pass_at_k": margins[side]}) for side in ("slower", "faster")]
    notes = []
    for score, slower, faster in zip(scores, *sides):
        if "pass@1" in slower.reported:
            notes.append(f"{score.column.title}: {margins['near']} verdicts within a factor {factor} of a time limit; "
                         f"between {100 * slower.reported['pass@1']:.1f} and {100 * faster.reported['pass@1']:.1f} "
                         f"on a machine {factor}x slower or faster")
    return notes


def _score(path: Path, column: Column, per_task: dict, passed, reported: dict) -> Score:
    fractions = {task_id: sum(map(passed, entries)) / len(entries) for task_id, entries in per_task.items() if entries}
    if not fractions:
        raise RunError(f"{path}: no evaluated samples")
    value = 100 * sum(fractions.values()) / len(fractions)
    # pass@1 as the evaluator computed it: a different number means the file was not read as it was written.
    if "pass@1" in reported and abs(100 * reported["pass@1"] - value) > 1e-6:
        raise RunError(f"{path}: {column.title}: per-task verdicts give {value:.4f}, the file says {100 * reported['pass@1']:.4f}")
    single = all(len(entries) == 1 for entries in per_task.values())
    verdicts = {task_id: fraction == 1.0 for task_id, fraction in fractions.items()} if single else None
    return Score(column, value, fractions, verdicts, path)


def _tasks(per_task: dict, meta: dict) -> str:
    """"" for the whole benchmark (or date window), else which of its tasks the run covered."""
    missing = list(meta["missing_tasks"])
    if not missing:
        return ""
    total = len(per_task) + len(missing)
    # Both lists are in the dataset's order, which is by task number (evalplus, BigCodeBench) or by id
    # (LiveCodeBench): the run covered the first K tasks (a --limit) if all it has come before all it lacks.
    if max(map(_order, per_task)) < min(map(_order, missing)):
        return f"first {len(per_task)} of {total} tasks"
    digest = hashlib.sha256("\n".join(sorted(per_task)).encode()).hexdigest()[:8]
    return f"{len(per_task)} of {total} tasks (set {digest})"


def _order(task_id: str) -> tuple:
    number = re.search(r"[/_](\d+)$", task_id)  # HumanEval/12, BigCodeBench/12, sample_12 (CRUXEval)
    return (0, int(number.group(1)), "") if number else (1, 0, task_id)


def _protocol(path: Path, meta: dict, per_task: dict, notes: list[str]) -> str:
    """How the score was measured: the decoding protocol, and any setting that is not the official one."""
    not_official = meta.get("not_official") or []
    decoding = _decoding_of(path, meta, per_task, notes)
    return f"{decoding}, {', '.join(not_official)} (not the official setting)" if not_official else decoding


def _decoding_of(path: Path, meta: dict, per_task: dict, notes: list[str]) -> str:
    """The decoding protocol from the samples' generation records: greedy pass@1, or sampled pass@1."""
    samples = samples_file(path, meta)
    protocols = _protocols(samples) if samples else set()
    if not protocols:
        why = missing_samples(path, meta) if samples is None else f"{samples} has no generation record"
        notes.append(f"{path}: decoding unknown ({why}); its columns say 'decoding not recorded'")
        counts = sorted({len(entries) for entries in per_task.values()})
        return f"pass@1, n={'/'.join(map(str, counts))}, decoding not recorded"
    if len(protocols) > 1:
        raise RunError(f"{path}: its samples ({samples}) were made with different decoding settings "
                       f"({'; '.join(sorted(protocols))}), so their score has no single protocol; evaluate each separately")
    return protocols.pop()


def samples_file(results_path: Path, meta: dict) -> Path | None:
    """The samples file a results file scored (its scoder record `meta`): the path recorded (absolute; older
    results: as given, from where eval ran), else the same name beside the results, as a run directory
    copied elsewhere has it. Where the record has the samples' sha256, only a file of that content counts."""
    found = _samples_candidates(results_path, meta)
    matching = [path for path in found if not meta.get("samples_sha256") or file_sha256(path) == meta["samples_sha256"]]
    return matching[0] if matching else None


def missing_samples(results_path: Path, meta: dict) -> str:
    """Why samples_file found nothing, as a sentence's end: gone, or changed since they were scored."""
    found = _samples_candidates(results_path, meta)
    if found:
        return f"its samples file {found[0]} changed since it was scored (not the sha256 recorded); re-run `scoder eval`"
    return f"its samples file {meta.get('samples')!r} is gone"


def _samples_candidates(results_path: Path, meta: dict) -> list[Path]:
    named = meta.get("samples") or ""
    if not named:
        return []
    named_path = Path(named)
    candidates = (named_path, results_path.parent / named_path, results_path.parent / named_path.name)
    return [path for path in dict.fromkeys(candidates) if path.is_file()]


def _protocols(samples: Path) -> set[str]:
    """The protocols of a samples file's generation records; none if a line has no record."""
    if not samples.name.endswith((".jsonl", ".jsonl.gz")):  # an eval_results or lcb_runner JSON: no generation record
        return set()
    found = set()
    try:
        with (gzip.open if samples.suffix == ".gz" else open)(samples, "rt", encoding="utf-8") as handle:
            for line in handle:
                if not line.strip():
                    continue
                generation = json.loads(line).get("generation")
                if not isinstance(generation, dict) or not isinstance(generation.get("decoding"), dict):
                    return set()
                found.add(_decoding_protocol(generation["decoding"]))
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError, AttributeError) as error:
        raise RunError(f"{samples}: cannot read its generation records ({error})")
    return found


def _decoding_protocol(decoding: dict) -> str:
    if not decoding.get("temperature"):
        return GREEDY
    top_p = f", top-p {decoding['top_p']:g}" if "top_p" in decoding else ""
    return f"pass@1, n={decoding.get('n')}, T={decoding['temperature']:g}{top_p}"
