"""From a model to a samples file: prompts -> backend -> program extraction -> JSONL, resumable.

Each line is {"task_id", "solution", "raw_solution", "generation"}: the program to run, the model's whole
output (with the prompt for direct completion), and how it was made (model, backend, prompt format,
decoding, package versions). Lines are appended and fsynced as each task's samples are complete, so a
killed run loses at most the tasks in flight; a re-run with the same settings keeps what exists and
generates only the missing samples. The file is locked for the run, and one that is not ours or was made with
other settings is refused untouched rather than mixed.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import dataclass, replace
from pathlib import Path

from tqdm import tqdm

from harness import __version__
from harness.files import Interrupted, exclusive
from harness.generation.backend import Decoding
from harness.generation.prompts import PromptSet
from harness.output_paths import OutputError, output_file
from harness.samples import SamplesError

# What makes two samples comparable; versions and batch size are recorded but do not split a file.
_IDENTITY = ("model", "backend", "adapter", "dtype", "chat_template", "prompt_format", "decoding")


def _identity(generation: dict) -> dict:
    decoding = {key: value for key, value in generation.get("decoding", {}).items() if key != "batch_size"}
    return {key: decoding if key == "decoding" else generation.get(key) for key in _IDENTITY}


@dataclass(frozen=True)
class Existing:
    """What an existing samples file holds, read without changing it."""
    counts: dict[str, int]  # samples per task
    keep_bytes: int  # where new lines go: the end, or the start of the torn last line of a killed run
    needs_newline: bool  # its last sample is complete but has no final newline (an edited file)


def read_existing(path: Path, identity: dict, flag: str = "--output", keys: tuple[str, ...] = _IDENTITY) -> Existing:
    """The samples already in `path`, refused (untouched) unless every line is a sample of scoder generate made
    with these settings (`identity`, an _identity of a generation record, compared on `keys`). A torn last line
    is only noted here: it is cut when the first new sample is written."""
    if not path.is_file():
        return Existing({}, 0, False)
    data = path.read_bytes()
    foreign = f"{path} is not a samples file written by scoder generate ({{why}}); it is left as it is: choose another {flag}"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SamplesError(foreign.format(why="not UTF-8 text" + (", it is gzip-compressed" if data[:2] == b"\x1f\x8b" else ""))) from None
    lines = text.split("\n")
    counts: dict[str, int] = {}
    keep_bytes, needs_newline = len(data), False
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        last = number == len(lines)  # text after the last newline
        try:
            record = json.loads(line)
            task_id, generation = record["task_id"], record["generation"]
            if not isinstance(task_id, str) or not isinstance(generation, dict):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            if last and counts:  # the torn tail of a killed run, after samples of ours
                keep_bytes = len(data) - len(line.encode("utf-8"))
                break
            raise SamplesError(foreign.format(why=f"line {number} is not one of its samples")) from None
        differing = [key for key in keys if not _agrees(_identity(generation)[key], identity[key])]
        if differing:
            raise SamplesError(f"{path} holds samples made with other settings ({', '.join(differing)}); it is left as it is: "
                               f"choose another {flag}, or delete the file to start again")
        counts[task_id] = counts.get(task_id, 0) + 1
        needs_newline = last
    return Existing(counts, keep_bytes, needs_newline)


def _agrees(found, wanted) -> bool:
    """A setting of the file equals the one wanted; a decoding is compared on the fields wanted (all of them, but in
    the check before a model loads)."""
    if isinstance(found, dict) and isinstance(wanted, dict):
        return {key: found.get(key) for key in wanted} == wanted
    return found == wanted


def precheck_output(path: Path, flag: str, backend: str, decoding: Decoding) -> None:
    """Before a model loads: the file is ours, made with this backend and decoding, and no other process writes
    it. (The model's own identity, dtype and prompt form are known only once it is loaded, and with the form the
    benchmark's default max_new_tokens, which is then not compared here when the user left it to the default.)"""
    wanted = _identity({"backend": backend, "decoding": decoding.record()})
    if decoding.max_new_tokens is None:
        del wanted["decoding"]["max_new_tokens"]
    with exclusive(lock_path(path), f"the samples file {path}"):
        read_existing(path, wanted, flag, keys=("backend", "decoding"))


def lock_path(samples_path: Path) -> Path:
    return samples_path.with_name(f".{samples_path.name}.lock")


def check_samples_output(given: str | Path, flag: str = "--output") -> Path:
    """The samples file a generation may append to, refused before any work when it cannot be one."""
    path = output_file(given, flag, "samples.jsonl")
    if path.name.endswith(".gz"):
        raise OutputError(f"{flag} {given}: generation appends each sample as it is made, which a gzip file cannot take "
                          f"safely; name it {path.name.removesuffix('.gz')} (and gzip it when done: eval reads .jsonl.gz)")
    return path


def package_versions(backend_versions: dict) -> dict:
    return {"scoder": __version__, "python": platform.python_version(), **backend_versions}


def generate_samples(backend, prompt_set: PromptSet, decoding: Decoding, output: str | Path,
                     limit: int | None = None, progress: bool = True, flag: str = "--output") -> dict:
    """Write the samples of the first `limit` prompts (all by default); returns a summary. `flag` is how the
    caller's user named the output, for messages. The file is locked for the run; an existing one is
    checked to be ours before anything is written, and a new one is made with its first sample."""
    output = check_samples_output(output, flag)
    if decoding.max_new_tokens is None:
        decoding = replace(decoding, max_new_tokens=prompt_set.default_max_new_tokens)
    described = backend.describe()
    generation = {**{key: value for key, value in described.items() if key != "versions"},
                  "prompt_format": prompt_set.format, "decoding": decoding.record(),
                  "versions": package_versions(described.get("versions", {}))}
    prompts = prompt_set.prompts[:limit] if limit else prompt_set.prompts
    with exclusive(lock_path(output), f"the samples file {output}"):
        existing = read_existing(output, _identity(generation), flag)
        # Prompts grouped by how many samples they still need (a killed run can leave a task part done).
        missing: dict[int, list] = {}
        for prompt in prompts:
            needed = decoding.n - existing.counts.get(prompt.task_id, 0)
            if needed > 0:
                missing.setdefault(needed, []).append(prompt)
        todo = sum(len(group) for group in missing.values())
        written, tokens, started = 0, 0, time.monotonic()
        bar = tqdm(total=todo, desc=f"generate {prompt_set.format}", unit="task", disable=not progress)
        handle = None
        try:
            for needed, group in missing.items():
                for index, outputs, count in backend.generate(group, replace(decoding, n=needed)):
                    handle = handle or _open_for_appending(output, existing)
                    prompt = group[index]
                    for sample, text in enumerate(outputs):
                        solution, raw = prompt_set.program(prompt, text)
                        line = json.dumps({"task_id": prompt.task_id, "solution": solution, "raw_solution": raw, "generation": generation})
                        handle.write(line.encode("utf-8") + b"\n")
                    handle.flush()
                    os.fsync(handle.fileno())
                    written += len(outputs)
                    tokens += count
                    bar.update()
                    bar.set_postfix_str(f"{tokens / max(time.monotonic() - started, 1e-9):.1f} tok/s")
        except KeyboardInterrupt:
            kept = len(prompts) - todo + bar.n
            raise Interrupted(f"{kept} of {len(prompts)} tasks have their samples in {output} (each task's are written when "
                              "complete); the same command resumes from there") from None
        finally:
            if handle is not None:
                handle.close()
            bar.close()
    seconds = time.monotonic() - started
    return {"output": str(output), "tasks": len(prompts), "generated_tasks": todo, "kept_tasks": len(prompts) - todo,
            "samples_written": written, "tokens": tokens, "seconds": round(seconds, 2),
            "tokens_per_second": round(tokens / seconds, 2) if seconds > 0 and tokens else 0.0}


def _open_for_appending(path: Path, existing: Existing):
    """The samples file, ready for the next line: made (with its folder) if new, its torn tail cut, or the newline
    its complete last sample lacks added. Called only when the first new sample is ready, so a run that fails
    before (an unreachable server) leaves no file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "r+b" if path.exists() else "wb")
    handle.truncate(existing.keep_bytes)
    handle.seek(existing.keep_bytes)
    if existing.needs_newline:
        handle.write(b"\n")
    return handle

