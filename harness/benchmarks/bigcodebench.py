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

from harness.benchmarks.data import Availability, DataError, DatasetFile, dataset_availability, read_dataset
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
    benchmark: "BigCodeBenchmark"
    version: str
    hash: str  # md5 of the full file's content, as upstream names its caches
    problems: dict[str, Problem]


def add_bigcodebench_arguments(parser, command: str) -> None:
    if command == "export":
        return
    group = parser.add_argument_group("BigCodeBench")
    group.add_argument("--split", default="complete", choices=SPLITS, help="the prompt split (default: complete)")
    group.add_argument("--version", default=DEFAULT_VERSION, choices=tuple(VERSIONS), help=f"dataset version (default: {DEFAULT_VERSION})")
    if command == "eval":
        group.add_argument("--no-calibrate", action="store_true",
                           help="run solutions as given (default: the code prompt and `pass` first, as upstream)")
        group.add_argument("--check-ground-truth", action="store_true",
                           help="also check the reference solutions (cached); alone, without --samples, only that")


@dataclass(frozen=True)
class BigCodeBenchmark:
    """BigCodeBench full or hard as a harness.benchmarks.benchmark.Benchmark; the work is done in
    harness.evaluate_bigcodebench, harness.generation.prompts and harness.report.exports."""
    name: str
    subset: str  # full or hard
    title: str
    decontaminate: bool = True  # False for the hard subset, whose tasks are the full set's

    family = "bigcodebench"
    execution_role = "bigcodebench"  # its task libraries' image
    task_environment = TaskEnvironment("bigcodebench", "3.10", CONTAINERS / "bigcodebench" / "requirements.lock",
                                       "SCODER_BIGCODEBENCH_PYTHON")
    starts_processes = True  # subprocess, multiprocessing, servers
    data_variables = ()
    leaderboard = "bigcodebench"
    windowed = False
    hub_only_data = False
    add_arguments = staticmethod(add_bigcodebench_arguments)

    @property
    def data(self) -> DatasetFile:
        return VERSIONS[DEFAULT_VERSION]

    @property
    def columns(self) -> dict[str, str]:
        return {f"bigcodebench-{self.subset}-{split}": f"{self.title} {split.capitalize()}" for split in SPLITS}

    def variant_arguments(self, variant: str) -> list[str]:
        if variant not in SPLITS:
            raise ValueError(f"{self.name}:{variant}: the variant is a split, one of {', '.join(SPLITS)}")
        return ["--split", variant]

    def data_files(self) -> list[DatasetFile]:
        return list(VERSIONS.values())

    def data_availability(self, options) -> Availability:
        return dataset_availability([VERSIONS[options.version]], options.data_dir)

    def prompt_builder(self, options):
        from harness.generation.prompts import bigcodebench_prompts

        dataset = self.load(options.data_dir, options.version)
        return lambda chat: bigcodebench_prompts(dataset, options.split, chat)

    def samples_name(self, options) -> str:
        return f"{self.name}-{options.split}"

    def evaluate(self, samples, output, options, execution, progress: bool) -> dict:
        from harness.evaluate_bigcodebench import BigCodeBenchSettings, evaluate

        settings = BigCodeBenchSettings(options.version, options.split, not options.no_calibrate)
        return evaluate(self, samples, output, options.data_dir, settings, options.check_ground_truth, progress, execution)

    def summarize(self, results: dict, options, out=None) -> None:
        from harness.report.console import print_pass_at_k

        print_pass_at_k(f"{self.name} {options.version} {options.split}", results, out)

    def score_columns(self, results: dict) -> list:
        from harness.benchmarks.benchmark import ScoreColumn
        from harness.execution.function_calls import PASS

        key = f"bigcodebench-{self.subset}-{results['pass_at_k']['split']}"
        return [ScoreColumn(key, results["scoder"]["version"], "", lambda entry: entry["status"] == PASS, results["pass_at_k"])]

    def task_texts(self, options) -> list[str]:
        return [f"{problem.complete_prompt}\n{problem.instruct_prompt}\n{problem.canonical_solution}"
                for problem in self.load(options.data_dir, options.version).problems.values()]

    def export(self, run_dir, out_dir, model_name, allow_partial: bool, options) -> list:
        from harness.report.exports import export_bigcodebench

        return export_bigcodebench(run_dir, out_dir, model_name, allow_partial=allow_partial, generation=options.generation)

    def load(self, data_dir: str | None = None, version: str = DEFAULT_VERSION) -> Dataset:
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
            if self.subset == "full" or problem.number in HARD_TASK_NUMBERS:
                problems[problem.task_id] = problem
        return Dataset(self, version, hashlib.md5(content).hexdigest(), problems)


def _libs(value) -> list[str]:
    # A JSON list in the file, written as the text of a Python list in some versions.
    if isinstance(value, list):
        return [str(item) for item in value]
    try:
        return [str(item) for item in ast.literal_eval(value)]
    except (ValueError, SyntaxError):
        return []


BIGCODEBENCH = BigCodeBenchmark("bigcodebench", "full", "BigCodeBench")
BIGCODEBENCH_HARD = BigCodeBenchmark("bigcodebench-hard", "hard", "BigCodeBench-Hard", decontaminate=False)
