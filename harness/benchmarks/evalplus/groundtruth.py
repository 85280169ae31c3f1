"""Expected outputs and reference times: the canonical solutions run once, cached by dataset checksum.

Cache layout: <cache>/groundtruth/<benchmark>-<md5>-v<FORMAT>/<task>.bin, one file per task written
atomically as soon as it is computed, so an interrupted computation resumes with the missing tasks. Each file is
a JSON line (per kind: the length of its encoded inputs, the times, the first float output, each output's length or
its Digest, and the digests of the large outputs that compare as encoded) and then, per kind, the inputs as the
reference solution was given them (every sample's run is given the same bytes: encoding them again cost MBPP+ half a
second of the harness's CPU per evaluation) and the outputs' bytes, back to back. A few outputs run to a hundred
megabytes (HumanEval/15's plus outputs are 141 MB, Mbpp/255's 215 MB): reading them as JSON strings cost a second of
the harness's CPU per evaluation, and each sample's run carried as much through two pipes to be compared bytewise.
Now a file is read once and its outputs are slices of it, not copies, and a program's output that can only equal a
large expected one by being encoded the same (values.compares_as_encoded: strings, in lists and tuples) comes as its
digest.
The reference code runs in the same sandbox as samples (trusted mode: no per-input limits), and
each call's CPU time becomes the base of that input's time limit.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm import tqdm

from harness.benchmarks.data import DataError
from harness.files import cache_dir, write_atomically
from harness.benchmarks.evalplus.tasks import KINDS, MBPP_OUTPUT_NOT_NONE_TASKS, Dataset, Problem, is_floats
from harness.execution import values
from harness.execution.function_calls import Digest, ReferenceRecorder
from harness.execution.pool import Run, WorkerPool

FORMAT = 4  # 1: one JSON file per task; 2: no digests of large outputs; 3: no inputs
REFERENCE_BUDGET_CPU_S = 900.0
# An expected output larger than this that compares as encoded is matched by digest: carrying it costs more than hashing.
DIGEST_ABOVE_BYTES = 64 * 1024


@dataclass(frozen=True)
class Expected:
    inputs_line: bytes  # the kind's inputs, encoded (values.encode) as the reference solution was given them
    outputs: Sequence[bytes | memoryview | Digest]  # encoded expected outputs; a Digest for the rare huge one
    seconds: list[float]
    first_float: int | None  # first input whose expected output is a float (see Problem.outputs_match)
    # By input: the digest of a large expected output that a program's output compares with as encoded (DIGEST_ABOVE_BYTES)
    digests: dict[int, Digest] = field(default_factory=dict)

    def size(self, index: int) -> int:
        """An expected output's encoded length, without reading one that a digest stands for (it may be left on disk)."""
        output = self.digests.get(index) or self.outputs[index]
        return output.size if isinstance(output, Digest) else len(output)

    def atol_at(self, index: int, atol: float) -> float:
        # evalplus turns a zero atol into 1e-6 once a float expected output has been seen in the run.
        if atol == 0 and self.first_float is not None and self.first_float <= index:
            return 1e-6
        return atol


class StoredOutputs(Sequence):
    """A kind's expected outputs: slices of what was read of its task's cache file, each made when asked for; the Digest
    that stands for a huge one; or, for one matched by digest, read from the file if a program's output comes whole.
    Kept as memoryviews they were 124,000 objects on HumanEval+ alone, for which the cycle collector made one more full
    pass while the runs were being queued (60-90 ms of the main thread); offsets are no objects to it."""

    def __init__(self, blob: memoryview, bounds: list[int], huge: dict[int, Digest], unread: dict[int, tuple[int, int]],
                 path: Path):
        self.blob, self.bounds, self.huge = blob, bounds, huge  # output i is blob[bounds[i]:bounds[i + 1]]
        self.unread, self.path = unread, path  # or, where it was not read, its (position, length) in the file
        self.count = len(bounds) - 1  # asked for on each output a program reports: no call to work it out again

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> bytes | memoryview | Digest:
        index = index + self.count if index < 0 else index
        if not 0 <= index < self.count:
            raise IndexError(index)
        if index in self.huge:
            return self.huge[index]
        if index in self.unread:
            return _read_span(self.path, *self.unread[index])
        return self.blob[self.bounds[index]:self.bounds[index + 1]]

    def __eq__(self, other) -> bool:
        return list(self) == list(other) if isinstance(other, StoredOutputs) else NotImplemented


class GroundTruth:
    def __init__(self, dataset: Dataset):
        self.dataset = dataset
        self.folder = cache_dir() / "groundtruth" / f"{dataset.benchmark.name}-{dataset.hash}-v{FORMAT}"
        self.read: dict[str, dict[str, Expected]] = {}

    def get(self, task_id: str) -> dict[str, Expected]:
        """A task's expected outputs, read once per evaluation however its samples are ordered: the queued runs hold
        what they use, so a bounded cache that dropped a task would not free it, only read it again (and hold a second
        copy). A plain dict: a functools.cache of the bound method would make this object a reference cycle, which only
        the cycle collector frees (a fifth of a second for HumanEval+'s expected outputs and inputs, at exit)."""
        expected = self.read.get(task_id)
        if expected is None:
            expected = self.read[task_id] = self._load(task_id)
        return expected

    def _path(self, task_id: str) -> Path:
        return self.folder / (task_id.replace("/", "_") + ".bin")

    def missing(self, task_ids) -> list[str]:
        return [task_id for task_id in task_ids if not self._path(task_id).is_file()]

    def compute(self, task_ids, pool: WorkerPool, progress: bool = True) -> None:
        """Run the reference solutions of `task_ids` that are not cached yet."""
        todo = self.missing(task_ids)
        if not todo:
            return
        problems = self.dataset.problems
        runs = [
            ((task_id, kind), reference_run(problems[task_id], kind), functools.partial(ReferenceRecorder, len(problems[task_id].inputs[kind])))
            for task_id in todo
            for kind in KINDS
        ]
        self._remove_other_formats()
        partial: dict[str, dict] = {}
        bar = tqdm(total=len(todo), desc=f"{self.dataset.benchmark.name} expected outputs", unit="task", disable=not progress)
        for (task_id, kind), recorder in pool.map(runs):
            if recorder.error is not None:
                raise DataError(f"the reference solution of {task_id} failed on its {kind} inputs: {recorder.error}")
            partial.setdefault(task_id, {})[kind] = _expected_record(problems[task_id], kind, recorder)
            if len(partial[task_id]) == len(KINDS):
                write_atomically(self._path(task_id), _encoded(partial.pop(task_id)))
                bar.update()
        bar.close()

    def _remove_other_formats(self) -> None:
        """This dataset's caches in other formats are of no more use: freed (they hold hundreds of megabytes)."""
        for folder in self.folder.parent.glob(f"{self.dataset.benchmark.name}-{self.dataset.hash}-v*"):
            if folder != self.folder:
                shutil.rmtree(folder, ignore_errors=True)

    def _load(self, task_id: str) -> dict[str, Expected]:
        """Read once and sliced without copies, all but the outputs matched by digest: those are read only for a
        program whose output comes whole (HumanEval+ has 141 MB of them, half its cache, HumanEval/15's plus outputs; MBPP+
        77 MB). Not mapped: a program the 'process' layer runs without Landlock could cut the file short under the
        mapping, and the harness would die of SIGBUS reading it."""
        path = self._path(task_id)
        try:
            with open(path, "rb") as handle:
                header = json.loads(handle.readline())
                spans, parts, end = _layout(header, handle.tell())
                size = os.fstat(handle.fileno()).st_size
                if end != size:
                    raise _damaged(path, f"{size - end} bytes more or less than its header says")
                blob = memoryview(bytearray(sum(length for _, length in spans)))
                at = 0
                for start, length in spans:
                    handle.seek(start)
                    if handle.readinto(blob[at:at + length]) != length:
                        raise _damaged(path, "cut short while read")
                    at += length
            expected = {}
            for kind, (inputs_at, bounds, huge, unread) in parts.items():
                digests = {int(index): Digest(sha256, header[kind]["outputs"][int(index)], False)
                           for index, sha256 in header[kind]["digests"].items()}
                expected[kind] = Expected(bytes(blob[inputs_at:inputs_at + header[kind]["inputs"]]),
                                          StoredOutputs(blob, bounds, huge, unread, path), header[kind]["seconds"],
                                          header[kind]["first_float"], digests)
        except (ValueError, KeyError, TypeError, IndexError) as error:
            raise _damaged(path, error) from None
        return expected


def _layout(header: dict, position: int) -> tuple[list[tuple[int, int]], dict, int]:
    """Where a cache file's parts lie, its header ending at `position`: the spans of the file to read, back to back (all
    but the outputs matched by digest); per kind, where its inputs start in what is read, its outputs' bounds there, its
    huge outputs' Digests, and the (position, length) of each output left unread; and where the file ends."""
    spans, span_start, kept, parts = [], position, 0, {}
    for kind in KINDS:
        inputs_at = kept
        kept, position = kept + header[kind]["inputs"], position + header[kind]["inputs"]
        digested = {int(index) for index in header[kind]["digests"]}
        bounds, huge, unread = [kept], {}, {}
        for index, item in enumerate(header[kind]["outputs"]):
            if isinstance(item, dict):
                huge[index] = Digest(**item)
            elif index in digested:
                spans.append((span_start, position - span_start))
                unread[index] = (position, item)
                position = span_start = position + item
            else:
                kept, position = kept + item, position + item
            bounds.append(kept)
        parts[kind] = inputs_at, bounds, huge, unread
    spans.append((span_start, position - span_start))
    return spans, parts, position


def _read_span(path: Path, position: int, length: int) -> bytes:
    """An expected output left unread when its task was loaded."""
    with open(path, "rb") as handle:
        handle.seek(position)
        data = handle.read(length)
    if len(data) != length:
        raise _damaged(path, "cut short after it was read")
    return data


def _damaged(path: Path, why) -> DataError:
    return DataError(f"the cached expected outputs {path} are damaged ({why}): delete the file, and the next evaluation "
                     "computes them again")


def _encoded(record: dict[str, dict]) -> bytes:
    """A task's cache file: the JSON header line, then per kind its inputs' bytes and its outputs' back to back."""
    header, blobs = {}, []
    for kind in KINDS:
        inputs_line, outputs = record[kind]["inputs_line"], record[kind]["outputs"]
        header[kind] = {"inputs": len(inputs_line), "seconds": record[kind]["seconds"], "first_float": record[kind]["first_float"],
                        "outputs": [asdict(output) if isinstance(output, Digest) else len(output) for output in outputs],
                        "digests": {str(index): digest.sha256 for index, digest in record[kind]["digests"].items()}}
        blobs += [inputs_line, *(output for output in outputs if isinstance(output, bytes))]
    return json.dumps(header).encode() + b"\n" + b"".join(blobs)


def reference_run(problem: Problem, kind: str) -> Run:
    # evalplus runs reference code with no memory limit (in its own process); some outputs are huge.
    all_memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return Run(problem.reference_code, problem.entry_point, problem.inputs_lines[kind], None,
               REFERENCE_BUDGET_CPU_S, REFERENCE_BUDGET_CPU_S * 3, memory_bytes=all_memory)


def _expected_record(problem: Problem, kind: str, recorder: ReferenceRecorder) -> dict:
    outputs = recorder.outputs
    if problem.family == "mbpp" and problem.entry_point in MBPP_OUTPUT_NOT_NONE_TASKS:
        # Some of these return re.Match objects; evalplus keeps only whether the output was None.
        outputs = [b"false" if output == b"null" else b"true" for output in outputs]
    first_float = next((i for i, output in enumerate(outputs) if isinstance(output, bytes) and is_floats(values.decode(output))), None)
    digests = {} if problem.has_special_oracle else {  # a special oracle accepts outputs encoded otherwise
        index: Digest(hashlib.sha256(output).hexdigest(), len(output), False) for index, output in enumerate(outputs)
        if isinstance(output, bytes) and len(output) > DIGEST_ABOVE_BYTES and values.compares_as_encoded(values.decode(output))}
    return {"inputs_line": problem.inputs_lines[kind], "outputs": outputs, "seconds": recorder.seconds, "first_float": first_float,
            "digests": digests}
