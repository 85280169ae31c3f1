"""From a model to a samples file: prompts -> backend -> program extraction -> JSONL, resumable.

Each line is {"task_id", "solution", "raw_solution", "generation"}: the program to run, the model's whole
output (with the prompt for direct completion), and how it was made (model, backend, prompt format,
decoding, package versions). Lines are appended and fsynced as each task's samples are complete, so a
killed run loses at most the tasks in flight; a re-run with the same settings keeps what exists and
generates only the missing samples. A file made with other settings is refused rather than mixed.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import replace
from pathlib import Path

from tqdm import tqdm

from harness import __version__
from harness.generation.backend import Decoding
from harness.generation.prompts import PromptSet
from harness.samples import SamplesError

# What makes two samples comparable; versions and batch size are recorded but do not split a file.
_IDENTITY = ("model", "backend", "adapter", "dtype", "chat_template", "prompt_format", "decoding")


def _identity(generation: dict) -> dict:
    decoding = {key: value for key, value in generation.get("decoding", {}).items() if key != "batch_size"}
    return {key: decoding if key == "decoding" else generation.get(key) for key in _IDENTITY}


def _existing(path: Path, identity: dict) -> dict[str, int]:
    """Samples per task already in the file. A torn last line (a killed run) is cut off."""
    if not path.is_file():
        return {}
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        with open(path, "r+b") as handle:
            handle.truncate(cut)
        data = data[:cut]
    counts: dict[str, int] = {}
    for number, line in enumerate(data.decode("utf-8").split("\n"), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            task_id, generation = record["task_id"], record["generation"]
        except (ValueError, KeyError, TypeError):
            raise SamplesError(f"{path} line {number}: not a sample written by scoder generate; choose another --output")
        if _identity(generation) != identity:
            differing = [key for key in _IDENTITY if _identity(generation)[key] != identity[key]]
            raise SamplesError(f"{path} holds samples made with other settings ({', '.join(differing)}); "
                               "choose another --output, or delete the file to start again")
        counts[task_id] = counts.get(task_id, 0) + 1
    return counts


def package_versions(backend_versions: dict) -> dict:
    return {"scoder": __version__, "python": platform.python_version(), **backend_versions}


def generate_samples(backend, prompt_set: PromptSet, decoding: Decoding, output: str | Path,
                     limit: int | None = None, progress: bool = True) -> dict:
    """Write the samples of the first `limit` prompts (all by default); returns a summary."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    if decoding.max_new_tokens is None:
        decoding = replace(decoding, max_new_tokens=prompt_set.default_max_new_tokens)
    described = backend.describe()
    generation = {**{key: value for key, value in described.items() if key != "versions"},
                  "prompt_format": prompt_set.format, "decoding": decoding.record(),
                  "versions": package_versions(described.get("versions", {}))}
    prompts = prompt_set.prompts[:limit] if limit else prompt_set.prompts
    have = _existing(output, _identity(generation))
    # Prompts grouped by how many samples they still need (a killed run can leave a task part done).
    missing: dict[int, list] = {}
    for prompt in prompts:
        needed = decoding.n - have.get(prompt.task_id, 0)
        if needed > 0:
            missing.setdefault(needed, []).append(prompt)
    todo = sum(len(group) for group in missing.values())
    written, tokens, started = 0, 0, time.monotonic()
    bar = tqdm(total=todo, desc=f"generate {prompt_set.format}", unit="task", disable=not progress)
    with open(output, "a", encoding="utf-8") as handle:
        for needed, group in missing.items():
            for index, outputs, count in backend.generate(group, replace(decoding, n=needed)):
                prompt = group[index]
                for sample, text in enumerate(outputs):
                    solution, raw = prompt_set.program(prompt, text)
                    handle.write(json.dumps({"task_id": prompt.task_id, "solution": solution, "raw_solution": raw,
                                             "generation": generation}) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
                written += len(outputs)
                tokens += count
                bar.update()
                bar.set_postfix_str(f"{tokens / max(time.monotonic() - started, 1e-9):.1f} tok/s")
    bar.close()
    seconds = time.monotonic() - started
    return {"output": str(output), "tasks": len(prompts), "generated_tasks": todo, "kept_tasks": len(prompts) - todo,
            "samples_written": written, "tokens": tokens, "seconds": round(seconds, 2),
            "tokens_per_second": round(tokens / seconds, 2) if seconds > 0 and tokens else 0.0}
