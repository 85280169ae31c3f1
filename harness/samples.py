"""Reading samples files: evalplus' JSONL formats, or an evalplus eval_results file to re-verify."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path


class SamplesError(ValueError):
    """The samples file cannot be evaluated as it is; the message says where and why."""


@dataclass(frozen=True)
class Sample:
    task_id: str
    solution: str | None  # a whole program, or None when only a completion was given
    completion: str | None
    origin: str  # where it came from, for error messages


def read_samples(path: str | Path) -> list[Sample]:
    """Samples in file order. Accepts (optionally gzipped):
    - JSONL, one {"task_id", "solution"} or {"task_id", "completion"} per line (several lines per task give pass@k);
    - an eval_results JSON ({"eval": {task_id: [{"solution": ...}, ...]}}), to re-verify its programs;
    - lcb_runner's custom-evaluation JSON, a list of {"question_id", "code_list": [program, ...]}.
    """
    path = Path(path)
    if not path.is_file():
        raise SamplesError(f"{path}: no such samples file")
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as handle:
            content = handle.read()
    except (OSError, EOFError) as error:
        raise SamplesError(f"{path}: cannot be read ({error})")
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:  # said by line, as every other error in a samples file is
        line = content.count(b"\n", 0, error.start) + 1
        column = error.start - content.rfind(b"\n", 0, error.start)
        raise SamplesError(f"{path} line {line}: not UTF-8 (byte {column} of the line: {content[error.start:error.end]!r})") from None
    # JSON Lines end lines at \n only: a raw U+2028 or U+0085 inside a string (valid JSON) is not a line break.
    if path.name.endswith((".json", ".json.gz")):
        return _from_eval_results(path, text)
    return [sample for number, line in enumerate(text.split("\n"), 1) if line.strip()
            for sample in [_from_line(path, number, line)]]


def _from_line(path: Path, number: int, line: str) -> Sample:
    origin = f"{path.name} line {number}"
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise SamplesError(f"{origin}: not valid JSON ({error.msg} at column {error.colno})")
    if not isinstance(record, dict):
        raise SamplesError(f"{origin}: expected a JSON object with task_id and solution or completion")
    return _sample(record, origin)


def _sample(record: dict, origin: str) -> Sample:
    task_id = record.get("task_id")
    if not isinstance(task_id, str):
        raise SamplesError(f"{origin}: missing task_id (a string)")
    solution, completion = record.get("solution"), record.get("completion")
    if solution is None and completion is None:
        raise SamplesError(f"{origin}: needs a 'solution' or a 'completion'")
    for name, value in (("solution", solution), ("completion", completion)):
        if value is not None and not isinstance(value, str):
            raise SamplesError(f"{origin}: '{name}' must be a string; for several samples, repeat the task_id on several lines")
    return Sample(task_id, solution, None if solution is not None else completion, origin)


def _from_eval_results(path: Path, text: str) -> list[Sample]:
    try:
        results = json.loads(text)
        if isinstance(results, list):
            return _from_code_lists(path, results)
        per_task = results["eval"]
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise SamplesError(f"{path.name}: not an evalplus eval_results file ({error})")
    samples = []
    for task_id, entries in per_task.items():
        for index, entry in enumerate(entries):
            samples.append(_sample(dict(entry, task_id=task_id), f"{path.name} eval[{task_id!r}][{index}]"))
    return samples


def _from_code_lists(path: Path, entries: list) -> list[Sample]:
    samples = []
    for index, entry in enumerate(entries):
        origin = f"{path.name} [{index}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("code_list"), list):
            raise SamplesError(f"{origin}: expected {{\"question_id\", \"code_list\": [...]}}")
        for number, code in enumerate(entry["code_list"]):
            samples.append(_sample({"task_id": entry.get("question_id"), "solution": code}, f"{origin} code_list[{number}]"))
    return samples
