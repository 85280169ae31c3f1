"""Reading samples files: evalplus' JSONL formats, or an evalplus eval_results file to re-verify. Sizes are checked
while reading, before anything parses or runs a sample; every refusal is a sentence that names the fix."""

from __future__ import annotations

import gzip
import itertools
import json
import re
import shlex
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

# The most one line of a samples file (or one program in a JSON samples file) may hold, checked while reading,
# before anything parses it. Real programs are kilobytes: at most 8 KB in ../shared/conformance (o1-mini's
# LiveCodeBench replies, BigCodeBench and evalplus outputs), 4.4 KB among the benchmarks' reference solutions; a
# reasoning model's whole output at 64k tokens is about a quarter of a MB. A line beyond this is a runaway
# generation or a broken file, and every later step (hashing, journaling, running it, writing the results) pays
# for its size.
MAX_LINE_BYTES = 16 << 20
# The most a whole JSON samples file (an eval_results file, lcb_runner's list) may hold once decompressed: many
# samples, but parsed in one piece, so a gzip bomb must not be inflated into memory.
MAX_DOCUMENT_BYTES = 1 << 30
# How far an oversize line is read on (without keeping it) to say its size: a gzip bomb is not inflated to its end.
_MEASURED_UP_TO = 1 << 30
_OVERSIZE_FIX = ("no program a model writes for these benchmarks is that long (real ones are kilobytes): remove that "
                 "sample, or find what wrote it (a runaway generation?)")
_BOM = b"\xef\xbb\xbf"  # Windows editors start UTF-8 files with it; it is no part of the first sample
_JSONL_HINT = 'one {"task_id", "solution"} (or "completion") object per line'
_FENCE = re.compile(r"^[ \t]*```", re.MULTILINE)


class SamplesError(ValueError):
    """The samples file cannot be evaluated as it is; the message says where and why."""


@dataclass(frozen=True)
class Sample:
    task_id: str
    solution: str | None  # a whole program, or None when only a completion was given
    completion: str | None
    origin: str  # where it came from, for error messages
    generation: dict | None = None  # how scoder generate made it (model, decoding), where the line says


def read_samples(path: str | Path) -> list[Sample]:
    """Samples in file order. Accepts (optionally gzipped):
    - JSONL, one {"task_id", "solution"} or {"task_id", "completion"} per line (several lines per task give pass@k);
    - an eval_results JSON ({"eval": {task_id: [{"solution": ...}, ...]}}), to re-verify its programs;
    - lcb_runner's custom-evaluation JSON, a list of {"question_id", "code_list": [program, ...]}.
    A UTF-8 BOM at the start is dropped; a line (or a JSON file's program) over MAX_LINE_BYTES is refused.
    """
    path = Path(path)
    if not path.is_file():
        raise SamplesError(f"{path}: no such samples file; check the path given to --samples")
    if path.name.endswith((".json", ".json.gz")):
        return _from_document(path, _read_document(path))
    return [_from_line(path, number, line) for number, line in jsonl_lines(path)]


def jsonl_lines(path: Path) -> Iterator[tuple[int, str]]:
    """The non-blank lines of a JSON Lines file (gzipped if .gz), numbered from 1, each checked against
    MAX_LINE_BYTES and decoded as UTF-8 (a leading BOM dropped) before the next is read."""
    with _opened(path) as handle:
        for number in itertools.count(1):
            try:
                raw = handle.readline(MAX_LINE_BYTES + 1)
                oversize = len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n")
                size = len(raw) + _rest_of_line(handle) if oversize else len(raw)
            except (OSError, EOFError, zlib.error) as error:
                raise _unreadable(path, error)
            if not raw:
                return
            if oversize:
                shown = _size(size) if size < _MEASURED_UP_TO else f"over {_size(_MEASURED_UP_TO)}"
                raise SamplesError(f"{path} line {number}: {shown}, more than the {_size(MAX_LINE_BYTES)} a samples line may "
                                   f"hold; {_OVERSIZE_FIX}")
            if number == 1:
                raw = raw.removeprefix(_BOM)
            # JSON Lines end lines at \n only: a raw U+2028 or U+0085 inside a string (valid JSON) is not a line break.
            line = _decoded(raw.removesuffix(b"\n"), f"{path} line {number}")
            if line.strip():
                yield number, line


def _opened(path: Path) -> BinaryIO:
    try:
        return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")
    except OSError as error:
        raise _unreadable(path, error)


def _unreadable(path: Path, error: BaseException) -> SamplesError:
    gzipped = "a gzip file (as its .gz name says)" if path.suffix == ".gz" else "a readable file"
    return SamplesError(f"{path}: cannot be read ({error}); check that it is {gzipped}")


def _rest_of_line(handle: BinaryIO) -> int:
    """Bytes up to the end of the current line (its newline not counted), read in pieces and dropped, at most
    about _MEASURED_UP_TO."""
    rest = 0
    while rest < _MEASURED_UP_TO:
        piece = handle.readline(1 << 20)
        rest += len(piece.removesuffix(b"\n"))
        if not piece or piece.endswith(b"\n"):
            break
    return rest


def _size(count: int) -> str:
    """A size as it is best read: a limit in MiB, a size found to the byte (one byte over the limit shows)."""
    return f"{count >> 20} MiB" if count and count % (1 << 20) == 0 else f"{count:,} bytes"


def _decoded(raw: bytes, origin: str, whole_file: bool = False) -> str:
    """`raw` as text; where it is not UTF-8, the error says where (by line, as every other error in a samples file)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line_start = raw.rfind(b"\n", 0, error.start) + 1
        line_number = raw.count(b"\n", 0, line_start) + 1
        line = f"line {line_number}, " if whole_file else ""
        raise SamplesError(f"{origin}: not UTF-8 ({line}byte {error.start - line_start + 1} of the line: "
                           f"{raw[error.start:error.end]!r}); save the file as UTF-8") from None


def _from_line(path: Path, number: int, line: str) -> Sample:
    origin = f"{path.name} line {number}"
    return _sample(json_record(line, origin), origin)


def json_record(line: str, origin: str) -> dict:
    """One line's JSON object, or a SamplesError that says what is wrong with the line."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        # Some of json's messages end in "at" ("Unterminated string starting at"): the column completes them.
        problem = error.msg.removesuffix(" at")
        raise SamplesError(f"{origin}: not valid JSON ({problem} at column {error.colno}); "
                           f"a samples file holds {_JSONL_HINT}") from None
    if isinstance(record, list):
        raise SamplesError(f"{origin}: a JSON list, where JSON Lines hold {_JSONL_HINT}; put each sample on a line of its own")
    if not isinstance(record, dict):
        raise SamplesError(f"{origin}: not a JSON object; a samples file holds {_JSONL_HINT}")
    return record


def _sample(record: dict, origin: str) -> Sample:
    task_id = record.get("task_id")
    if not isinstance(task_id, str):
        raise SamplesError(f"{origin}: no task_id; give each sample its task's id as a string, e.g. \"task_id\": \"HumanEval/0\"")
    solution, completion = record.get("solution"), record.get("completion")
    if solution is None and completion is None:
        raise SamplesError(f"{origin}: no program; give it as \"solution\" (a whole program) or \"completion\" (what follows the prompt)")
    for name, value in (("solution", solution), ("completion", completion)):
        if value is not None and not isinstance(value, str):
            raise SamplesError(f"{origin}: '{name}' must be a string; for several samples, repeat the task_id on several lines")
        size = _encoded_size(value) if value is not None and len(value) > MAX_LINE_BYTES // 4 else 0  # 4 bytes a character at most
        if size > MAX_LINE_BYTES:  # in a JSON samples file: a JSONL line was checked before it was parsed
            raise SamplesError(f"{origin}: its {name} is {_size(size)}, more than the {_size(MAX_LINE_BYTES)} a program may hold; "
                               f"{_OVERSIZE_FIX}")
    generation = record.get("generation")
    return Sample(task_id, solution, None if solution is not None else completion, origin,
                  generation if isinstance(generation, dict) else None)


def _encoded_size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))  # JSON may hold a lone surrogate ("\\ud800")


def warn_of_raw_outputs(samples: list[Sample], samples_path: Path, benchmark: str, log: Callable[[str], None] = print) -> None:
    """One warning line when samples hold a line that opens a markdown fence (```): a model's raw output, not yet
    the program in it. Their verdicts stay what they are (a SyntaxError, as the official evaluators give); the
    warning names the fix."""
    count = sum(bool(_FENCE.search(sample.solution if sample.solution is not None else sample.completion)) for sample in samples)
    if count:
        log(f"warning: {count} of {len(samples)} samples look like raw model output (markdown fences): sanitize them first "
            f"with `scoder sanitize --benchmark {benchmark} --samples {shlex.quote(str(samples_path))}`")


def _read_document(path: Path) -> str:
    """A whole JSON samples file, refused once it passes MAX_DOCUMENT_BYTES (decompressed) without reading on."""
    with _opened(path) as handle:
        try:
            content = handle.read(MAX_DOCUMENT_BYTES + 1)
        except (OSError, EOFError, zlib.error) as error:
            raise _unreadable(path, error)
    if len(content) > MAX_DOCUMENT_BYTES:
        raise SamplesError(f"{path}: more than the {_size(MAX_DOCUMENT_BYTES)} a JSON samples file may hold "
                           f"(decompressed); give its samples as JSON Lines instead, {_JSONL_HINT} (a line may hold "
                           f"{_size(MAX_LINE_BYTES)}, the file any size)")
    return _decoded(content.removeprefix(_BOM), str(path), whole_file=True)


def _from_document(path: Path, text: str) -> list[Sample]:
    """An eval_results file, or lcb_runner's list of code_lists."""
    formats = (f'an eval_results JSON ({{"eval": {{task_id: [{{"solution": ...}}, ...]}}}}), lcb_runner\'s list of '
               f'{{"question_id", "code_list": [program, ...]}} (LiveCodeBench), or JSON Lines ({_JSONL_HINT}, named .jsonl)')
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        if error.msg == "Extra data":  # more than one JSON value: JSON Lines under a .json name
            raise SamplesError(f"{path.name}: more than one JSON value (the second on line {error.lineno}); if it holds one "
                               f"sample per line, name it {_jsonl_name(path)}") from None
        raise SamplesError(f"{path.name}: not valid JSON ({error.msg.removesuffix(' at')} at line {error.lineno} column "
                           f"{error.colno}); a JSON samples file is {formats}") from None
    if isinstance(document, list):
        return _from_code_lists(path, document)
    if not isinstance(document, dict) or not isinstance(document.get("eval"), dict):
        hint = f"; if it is one sample, name the file {_jsonl_name(path)}" if isinstance(document, dict) and "task_id" in document else ""
        raise SamplesError(f"{path.name}: not an eval_results file (no \"eval\" object of task ids); a JSON samples file is {formats}{hint}")
    samples = []
    for task_id, entries in document["eval"].items():
        if not isinstance(entries, list):
            raise SamplesError(f"{path.name} eval[{task_id!r}]: not a list; an eval_results file lists each task's samples, "
                               f'{{"eval": {{task_id: [{{"solution": ...}}, ...]}}}}')
        for index, entry in enumerate(entries):
            origin = f"{path.name} eval[{task_id!r}][{index}]"
            if not isinstance(entry, dict):
                raise SamplesError(f'{origin}: not an object; an eval_results entry is {{"solution": ...}}')
            samples.append(_sample(dict(entry, task_id=task_id), origin))
    return samples


def _jsonl_name(path: Path) -> str:
    return path.name.replace(".json", ".jsonl", 1)


def _from_code_lists(path: Path, entries: list) -> list[Sample]:
    samples = []
    for index, entry in enumerate(entries):
        origin = f"{path.name} [{index}]"
        if isinstance(entry, dict) and "task_id" in entry and "code_list" not in entry:
            raise SamplesError(f"{path.name}: a JSON list of samples; every benchmark takes them as JSON Lines, {_JSONL_HINT}: "
                               f"write them so, in {_jsonl_name(path)} (a JSON list is read only as lcb_runner's LiveCodeBench format)")
        if not isinstance(entry, dict) or not isinstance(entry.get("code_list"), list):
            raise SamplesError(f'{origin}: not an entry of lcb_runner\'s list, {{"question_id", "code_list": [program, ...]}} '
                               f"(LiveCodeBench's format, the only JSON list read); for any benchmark, give JSON Lines instead, "
                               f"{_JSONL_HINT}")
        if not isinstance(entry.get("question_id"), str):
            raise SamplesError(f'{origin}: no "question_id"; give each entry its problem\'s id as a string, e.g. "question_id": "1873_A"')
        for number, code in enumerate(entry["code_list"]):
            samples.append(_sample({"task_id": entry.get("question_id"), "solution": code}, f"{origin} code_list[{number}]"))
    return samples
