"""BigCodeBench: 1140 library-heavy Python tasks, each tested by a unittest TestCases class.

Versions: v0.1.4 (the default, the leaderboard's) and v0.1.0_hf (the conformance data's). Subsets:
full, and hard (148 tasks, the same rows of the same file). Splits complete and instruct differ only
in the prompt a model is given; the programs are run the same way (bigcodebench 0.2.5 evaluate.py).
"""

from __future__ import annotations

import ast
import hashlib
import json
import warnings
from dataclasses import dataclass
from functools import cached_property

from harness.benchmarks.data import DataError, DatasetFile, read_dataset
from harness.execution.task_env import CONTAINERS, TaskEnvironment

_RELEASES = "https://github.com/bigcode-project/bigcodebench-annotation/releases/download"
VERSIONS = {
    # Checksums of the decompressed JSONL: v0.1.4's sha256 is the one published upstream for it.
    "v0.1.4": DatasetFile("BigCodeBench-v0.1.4.jsonl.gz", f"{_RELEASES}/v0.1.4/BigCodeBench.jsonl.gz",
                          md5="7da7e5ed503d450b3bffa6f4a497b166",
                          sha256="f6704a124f4edcec9d12cc7912f41f3d4207f51b87f091d136e3436f7e25149f"),
    "v0.1.0_hf": DatasetFile("BigCodeBench-v0.1.0_hf.jsonl.gz", f"{_RELEASES}/v0.1.0_hf/BigCodeBench.jsonl.gz",
                             md5="3522577434616e01948f44671882468e"),
}
DEFAULT_VERSION = "v0.1.4"
SPLITS = ("complete", "instruct")
FULL_TASK_COUNT = 1140
# The Python and task libraries its programs run on (`scoder sandbox setup bigcodebench`; its image installs the same lock).
TASK_ENVIRONMENT = TaskEnvironment("bigcodebench", "3.10", CONTAINERS / "bigcodebench" / "requirements.lock", "SCODER_BIGCODEBENCH_PYTHON")

# The BigCodeBench-Hard task numbers (148), as upstream's Hard files list them; taken from the full
# file of the chosen version, so Hard needs no file of its own.
HARD_TASK_NUMBERS = frozenset((
    13, 15, 17, 19, 34, 37, 82, 89, 92, 93, 99, 100, 101, 108, 120, 123, 124, 129, 139, 147, 161, 162, 177, 184,
    187, 199, 208, 211, 214, 227, 239, 241, 267, 273, 274, 287, 302, 308, 310, 313, 324, 326, 341, 346, 360, 367,
    368, 374, 399, 401, 409, 417, 418, 424, 443, 445, 454, 458, 461, 477, 486, 492, 501, 502, 503, 509, 511, 513,
    526, 528, 530, 532, 553, 560, 567, 574, 579, 582, 583, 587, 590, 592, 593, 594, 618, 636, 637, 654, 655, 657,
    678, 720, 723, 752, 760, 763, 765, 771, 777, 785, 800, 826, 845, 854, 857, 865, 870, 879, 897, 906, 914, 915,
    916, 917, 928, 942, 945, 952, 955, 963, 964, 969, 971, 985, 988, 990, 998, 999, 1003, 1004, 1006, 1008, 1012,
    1013, 1015, 1019, 1020, 1022, 1039, 1040, 1042, 1053, 1057, 1077, 1085, 1124, 1129, 1137,
))


@dataclass(frozen=True)
class Problem:
    task_id: str
    complete_prompt: str
    instruct_prompt: str
    code_prompt: str
    canonical_solution: str
    test: str
    entry_point: str
    libs: tuple[str, ...]

    @property
    def number(self) -> int:
        return int(self.task_id.rsplit("/", 1)[1])

    def solution_from_completion(self, completion: str) -> str:
        return self.complete_prompt + completion  # upstream: no separator

    def calibrated(self, solution: str) -> str:
        """The official default: the code prompt and `pass` first, so a solution that only has a body
        or misses an import still defines the entry point and imports what the prompt imports."""
        return self.code_prompt + "\n    pass\n" + solution

    @property
    def reference_code(self) -> str:
        return self.complete_prompt + "\n" + self.canonical_solution

    @cached_property
    def test_names(self) -> frozenset[str]:
        """The test methods TestCases has in the test code (with those of its bases defined there):
        a run that reports fewer did not run them all. Empty where they cannot be read statically."""
        try:
            with warnings.catch_warnings():  # old escape sequences in some tests' strings
                warnings.simplefilter("ignore")
                tree = ast.parse(self.test)
        except SyntaxError:
            return frozenset()
        classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
        names, todo, seen = set(), ["TestCases"], set()
        while todo:
            node = classes.get(todo.pop())
            if node is None or node.name in seen:
                continue
            seen.add(node.name)
            names |= {item.name for item in node.body if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name.startswith("test")}
            todo += [base.id for base in node.bases if isinstance(base, ast.Name)]
        return frozenset(names)


@dataclass(frozen=True)
class Dataset:
    benchmark: object  # the BigCodeBenchmark (harness.benchmarks.bigcodebench): its name and subset
    version: str
    hash: str  # md5 of the full file's content, as upstream names its caches
    problems: dict[str, Problem]


def _libs(value) -> list[str]:
    # A JSON list in the file, written as the text of a Python list in some versions.
    if isinstance(value, list):
        return [str(item) for item in value]
    try:
        return [str(item) for item in ast.literal_eval(value)]
    except (ValueError, SyntaxError):
        return []


def load_dataset(benchmark, data_dir: str | None = None, version: str = DEFAULT_VERSION) -> Dataset:
    """A BigCodeBenchmark's tasks (its subset) in one dataset version."""
    if version not in VERSIONS:
        raise DataError(f"unknown BigCodeBench version {version!r}; choose one of {', '.join(VERSIONS)}")
    spec = VERSIONS[version]
    content = read_dataset(spec, data_dir)
    problems = {}
    for number, line in enumerate(content.decode("utf-8").split("\n"), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            problem = Problem(row["task_id"], row["complete_prompt"], row["instruct_prompt"], row["code_prompt"],
                              row["canonical_solution"], row["test"], row["entry_point"], tuple(_libs(row["libs"])))
        except (ValueError, KeyError, TypeError) as error:
            raise DataError(f"{spec.filename} line {number}: not a BigCodeBench task ({error!r})")
        if benchmark.subset == "full" or problem.number in HARD_TASK_NUMBERS:
            problems[problem.task_id] = problem
    return Dataset(benchmark, version, hashlib.md5(content).hexdigest(), problems)
