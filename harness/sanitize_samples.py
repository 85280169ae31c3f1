"""`scoder sanitize`: raw model outputs in, the programs in them out, as evalplus.sanitize and bigcodebench.sanitize
do: `<name>-sanitized.jsonl` beside the input, one {"task_id", "solution"} per line, ready for `scoder eval`.

Each output goes through the extraction `scoder generate` applies (harness.generation.prompts): the benchmark's
sanitizer with the task's entry point (evalplus, bigcodebench), or LiveCodeBench's last fenced block. Without a
benchmark, evalplus' sanitizer keeps the longest code block's imports and definitions (no entry point to keep
reachable). A line's other fields travel with it; the output's lines are marked as this command's, so that a file
of that name which is anything else is never overwritten.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from harness import __version__
from harness.files import write_atomically
from harness.generation.prompts import PromptSet
from harness.generation.sanitize import EVALPLUS, sanitize
from harness.output_paths import writable_folder
from harness.samples import SamplesError, json_record, jsonl_lines

MARK = "sanitized"  # the field (how it was sanitized) that every line this command writes carries
OUTPUT_FIELDS = ("task_id", "solution", "raw_solution", MARK)  # a sanitized line's own fields, first; the input's others follow


def sanitized_path(samples_path: Path) -> Path:
    """Beside the input, as evalplus names it: s.jsonl (or s.jsonl.gz) -> s-sanitized.jsonl."""
    name = samples_path.name.removesuffix(".gz").removesuffix(".jsonl")
    return samples_path.with_name(f"{name}-sanitized.jsonl")


def sanitize_samples(samples_path: Path, build_prompts: Callable[[bool], PromptSet] | None, benchmark: str | None) -> dict:
    """Write the sanitized samples; `build_prompts` (a benchmark's prompt_builder, chat -> PromptSet) gives entry
    points and the extraction, None sanitizes without them. Returns counts and the output's path."""
    output = sanitized_path(samples_path)
    if not writable_folder(output.parent):
        raise SamplesError(f"the sanitized samples go beside the raw ones, and {output.parent} is not writable; "
                           "copy the raw samples into a folder you can write, and sanitize that copy")
    if not samples_path.is_file():
        raise SamplesError(f"{samples_path}: no such samples file; check the path given to --samples")
    if samples_path.name.endswith((".json", ".json.gz")):
        raise SamplesError(f"{samples_path}: sanitize reads JSON Lines of raw outputs ({{\"task_id\", \"solution\"}} per line); "
                           "a JSON samples file (eval_results, lcb_runner's code_list) holds programs already: evaluate it as it is")
    _refuse_foreign_output(output, samples_path)
    extract = _Extractor(build_prompts, benchmark)
    mark = {"benchmark": benchmark, "extraction": extract.extraction, "harness_version": __version__}
    lines, changed, empty = [], 0, 0
    for number, line in jsonl_lines(samples_path):
        origin = f"{samples_path.name} line {number}"
        record = json_record(line, origin)
        task_id, raw, completion = _output(record, origin)
        program, raw = extract(task_id, raw, completion, origin)
        changed += program != raw
        empty += not program.strip()
        kept = {key: value for key, value in record.items() if key not in OUTPUT_FIELDS + ("completion",)}
        lines.append(json.dumps({"task_id": task_id, "solution": program, "raw_solution": raw, MARK: mark, **kept}) + "\n")
    if not lines:
        raise SamplesError(f"{samples_path}: no samples; give JSON Lines of raw outputs, one {{\"task_id\", \"solution\"}} per line")
    write_atomically(output, "".join(lines).encode())
    return {"output": output, "samples": len(lines), "changed": changed, "empty": empty}


def _output(record: dict, origin: str) -> tuple[str, str | None, str | None]:
    """(task id, whole output, completion): the raw output is raw_solution where scoder generate wrote one (its
    solution is already sanitized), else solution (evalplus' name for the output), else a completion of the prompt."""
    task_id = record.get("task_id")
    if not isinstance(task_id, str):
        raise SamplesError(f"{origin}: no task_id; give each output its task's id as a string, e.g. \"task_id\": \"HumanEval/0\"")
    for name in ("raw_solution", "solution"):
        if isinstance(record.get(name), str):
            return task_id, record[name], None
    if isinstance(record.get("completion"), str):
        return task_id, None, record["completion"]
    raise SamplesError(f"{origin}: no model output; give it as a string in \"solution\" (the whole output) or \"completion\" "
                       "(what follows the prompt)")


class _Extractor:
    """The benchmark's extraction for each task; its base prompts are built only when a completion needs them."""

    def __init__(self, build_prompts: Callable[[bool], PromptSet] | None, benchmark: str | None):
        self.build_prompts, self.benchmark = build_prompts, benchmark
        self.chat = _by_task(build_prompts(True)) if build_prompts else None
        self.base = None
        self.extraction = self.chat[0].extraction.name if self.chat else EVALPLUS

    def __call__(self, task_id: str, output: str | None, completion: str | None, origin: str) -> tuple[str, str]:
        """(program, raw output) of one sample."""
        if self.chat is None:
            if output is None:
                raise SamplesError(f"{origin}: a completion is sanitized with its prompt in front: give --benchmark")
            return sanitize(output), output
        if task_id not in self.chat[1]:
            raise SamplesError(f"{origin}: {task_id!r} is not a task of {self.benchmark} (or not among the problems its options "
                               "select); give the --benchmark (and options) the outputs were generated for")
        if output is not None:
            return self.chat[0].extract(self.chat[1][task_id], output), output
        if self.base is None:
            self.base = _by_task(self.build_prompts(False))
        prompts, prompt = self.base[0], self.base[1][task_id]
        return prompts.extract(prompt, completion), prompt.text + completion


def _by_task(prompts: PromptSet) -> tuple[PromptSet, dict]:
    return prompts, {prompt.task_id: prompt for prompt in prompts.prompts}


def _refuse_foreign_output(output: Path, samples_path: Path) -> None:
    """The output is written only where nothing is, or over what this command wrote before: any other file of that
    name is the user's, left as it is."""
    if not output.exists():
        return
    if output.resolve() == samples_path.resolve():
        raise SamplesError(f"{output} is the samples file itself (a link?): sanitizing would overwrite the outputs; "
                           "copy them to a file of their own")
    if not output.is_file() or not _written_here(output):
        raise SamplesError(f"{output} exists and is not an output of scoder sanitize; it is left as it is: move or rename it, "
                           "then sanitize again")


def _written_here(path: Path) -> bool:
    """Every line carries this command's mark (and there is one)."""
    marked = 0
    try:
        for _, line in jsonl_lines(path):
            if not isinstance(json.loads(line).get(MARK), dict):
                return False
            marked += 1
    except (SamplesError, ValueError, AttributeError):
        return False
    return marked > 0
