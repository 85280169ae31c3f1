"""CRUXEval's 800 tasks: a short function `f`, an input (its arguments as Python source) and the output it returns
(as Python source). Output prediction (CRUXEval-O) shows the function and the input and asks for the output; input
prediction (CRUXEval-I) shows the function and the output and asks for a call `f(...)` that returns it.

The file is upstream's data/cruxeval.jsonl (github.com/facebookresearch/cruxeval at commit 190faf1, MIT), pinned
by the checksums of its content; it is published plain and may be kept gzipped in a data folder."""

from __future__ import annotations

import json
from dataclasses import dataclass

from harness.benchmarks.data import DataError, DatasetFile, read_dataset

UPSTREAM_COMMIT = "190faf16d175b5847b0af05d937872b1fb395942"
VERSION = UPSTREAM_COMMIT[:7]  # upstream numbers no releases: the data is named by its commit
DATA = DatasetFile("cruxeval.jsonl", f"https://raw.githubusercontent.com/facebookresearch/cruxeval/{UPSTREAM_COMMIT}/data/cruxeval.jsonl",
                   md5="909218466adc7ef626ae886ddb79a42d",
                   sha256="8368b81047dc5014e4caf5a2f97604eff7644e0ecd7415e3ceeb184bbc2e0c96")


@dataclass(frozen=True)
class Task:
    id: str  # sample_0 ... sample_799, upstream's ids and our task_id
    code: str  # the function f
    input: str  # its arguments, as Python source: f({input})
    output: str  # what it returns, as Python source


def load_tasks(data_dir: str | None = None) -> dict[str, Task]:
    """The tasks in the file's order (upstream's, sample_0 first), verified against the pinned checksums."""
    tasks = {}
    for number, line in enumerate(read_dataset(DATA, data_dir).decode("utf-8").split("\n"), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            task = Task(row["id"], row["code"], row["input"], row["output"])
        except (ValueError, KeyError, TypeError) as error:
            raise DataError(f"{DATA.filename} line {number}: not a CRUXEval task ({error!r})") from None
        tasks[task.id] = task
    return tasks
