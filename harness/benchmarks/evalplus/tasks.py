"""HumanEval+ and MBPP+ (evalplus): data, the input fix-ups, and the output oracle.

The base tests (HumanEval, MBPP) and the plus tests (HumanEval+, MBPP+) come from the same file:
`base_input` and `plus_input` of each task. Every rule here mirrors evalplus 0.3.1 (data/mbpp.py,
eval/__init__.py, eval/_special_oracle.py) so that verdicts are the official ones; where evalplus
has a known defect we say so and do the right thing.
"""

from __future__ import annotations

import gc
import json
import math
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from harness.benchmarks.data import DatasetFile, read_dataset
from harness.execution import values

KINDS = ("base", "plus")
TASK_COUNTS = {"humaneval": 164, "mbpp": 378}  # HumanEval+ v0.1.10 (and its Mini), MBPP+ v0.2.0

_HUMANEVAL_RELEASE = "https://github.com/evalplus/humanevalplus_release/releases/download/v0.1.10"
HUMANEVAL_PLUS_DATA = DatasetFile("HumanEvalPlus-v0.1.10.jsonl.gz", f"{_HUMANEVAL_RELEASE}/HumanEvalPlus.jsonl.gz",
                                  md5="fe585eb4df8c88d844eeb463ea4d0302")
HUMANEVAL_PLUS_MINI_DATA = DatasetFile("HumanEvalPlus-Mini-v0.1.10.jsonl.gz", f"{_HUMANEVAL_RELEASE}/HumanEvalPlus-Mini.jsonl.gz",
                                       md5="401e75ad986361dccc7afecb4121e295")
MBPP_PLUS_DATA = DatasetFile("MbppPlus-v0.2.0.jsonl.gz", "https://github.com/evalplus/mbppplus_release/releases/download/v0.2.0/MbppPlus.jsonl.gz",
                             md5="ee43ecabebf20deef4bb776a405ac5b1")

# Entry points with special oracles (evalplus eval/_special_oracle.py, unsafe_execute).
MBPP_OUTPUT_NOT_NONE_TASKS = ("check_str", "text_match_three", "text_starta_endb")
MBPP_OUTPUT_SET_EQ_TASKS = (
    "similar_elements", "find_char_long", "common_in_nested_lists", "extract_singly",
    "larg_nnum", "intersection_array", "find_dissimilar", "Diff",
)
_MBPP_SPECIAL = ("are_equivalent", "sum_div", "surface_Area", "digit_distance_nums") + MBPP_OUTPUT_NOT_NONE_TASKS + MBPP_OUTPUT_SET_EQ_TASKS


def load_dataset(benchmark, data_dir=None) -> "Dataset":
    """The problems of an EvalPlusBenchmark's data file (its name, family and data)."""
    content = read_dataset(benchmark.data, data_dir).decode("utf-8")
    problems = {}
    with _collector_paused():
        for line in content.split("\n"):
            if line.strip():
                row = json.loads(line)
                problems[row["task_id"]] = Problem.from_row(row, benchmark.family)
    return Dataset(benchmark, problems, benchmark.data.md5)


@contextmanager
def _collector_paused():
    """The cycle collector paused while the rows parse: their inputs are 200,000 lists on HumanEval+, none of them ever
    garbage, and the collector's passes over them as they piled up were 40% of the load (0.08 of 0.20 s; MBPP+ 0.04 of
    0.09 s)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass
class Problem:
    task_id: str
    family: str
    prompt: str
    entry_point: str
    canonical_solution: str
    atol: float
    raw_inputs: dict[str, list]  # as stored in the file (JSON): what failing tests are reported as
    inputs: dict[str, list] = field(repr=False)  # what the function is called with

    @classmethod
    def from_row(cls, row: dict, family: str) -> "Problem":
        raw = {kind: row[f"{kind}_input"] for kind in KINDS}
        fixed = {kind: mbpp_deserialize_inputs(row["task_id"], raw[kind]) if family == "mbpp" else raw[kind] for kind in KINDS}
        return cls(row["task_id"], family, row["prompt"], row["entry_point"], row["canonical_solution"], row["atol"], raw, fixed)

    @property
    def reference_code(self) -> str:
        return self.prompt + self.canonical_solution

    def solution_from_completion(self, completion: str) -> str:
        return self.prompt + completion

    @cached_property
    def inputs_lines(self) -> dict[str, bytes]:
        """Inputs encoded for the sandbox. Plain JSON is already a valid encoding unless it holds objects
        (dicts, which travel tagged) or the inputs were fixed up into tuples, sets or complex numbers."""
        lines = {}
        for kind in KINDS:
            plain = json.dumps(self.raw_inputs[kind])
            if self.inputs[kind] is self.raw_inputs[kind] and "{" not in plain:
                lines[kind] = plain.encode()
            else:
                lines[kind] = values.encode(self.inputs[kind]).encode()
        return lines

    @property
    def has_special_oracle(self) -> bool:
        if self.family == "mbpp":
            return self.entry_point in _MBPP_SPECIAL
        return self.entry_point == "find_zero"

    def outputs_match(self, arguments: list, output, expected, atol: float) -> bool:
        """evalplus' judgement of one output (unsafe_execute), evaluated on plain decoded values.

        `atol` is the tolerance in force for this input: evalplus raises a zero atol to 1e-6 for good
        as soon as one expected output of the run is a float (see Run-level handling in expected_atol).
        """
        exact_match = output == expected
        if self.family == "mbpp":
            name = self.entry_point
            if name == "are_equivalent":  # Mbpp/164
                exact_match = exact_match or True
            elif name == "sum_div":  # Mbpp/295
                exact_match = exact_match or output == 0
            elif name == "surface_Area":  # Mbpp/581
                exact_match = exact_match or abs(output - _surface_area(*arguments)) <= atol
            elif name == "digit_distance_nums":  # Mbpp/558
                exact_match = exact_match or output == _digit_distance_nums(*arguments)
            elif name in MBPP_OUTPUT_SET_EQ_TASKS:
                exact_match = set(output) == set(expected)
            elif name in MBPP_OUTPUT_NOT_NONE_TASKS:  # expected is whether the reference returned non-None
                exact_match = output == expected if isinstance(output, bool) else expected == (output is not None)
        if self.family == "humaneval" and self.entry_point == "find_zero":
            # HumanEval/32: any root within atol. evalplus 0.3.1 checks this but then skips recording
            # the pass, so its verdict here is always "fail" (fixed upstream later); we record it.
            return abs(_poly(*arguments, output)) <= atol
        if not exact_match and atol != 0:
            # np.allclose with rtol=1e-07, np.testing.assert_allclose's default, as evalplus does
            if type(output) != type(expected):
                return False
            if isinstance(expected, (list, tuple)) and len(output) != len(expected):
                return False
            return bool(np.allclose(output, expected, rtol=1e-07, atol=atol))
        return bool(exact_match)


def is_floats(value) -> bool:
    """evalplus' test for a float output: a float, a non-empty list/tuple of floats, a float array."""
    if isinstance(value, float):
        return True
    if isinstance(value, (list, tuple)) and value:
        return all(isinstance(item, float) for item in value)
    if isinstance(value, np.ndarray):
        return value.dtype in (np.float64, np.float32)
    return False


@dataclass
class Dataset:
    benchmark: object  # the EvalPlusBenchmark (harness.benchmarks.evalplus): its name, family and data file
    problems: dict[str, Problem]
    hash: str  # md5 of the decompressed file: evalplus' dataset hash, written into results


def _surface_area(base_edge, height):
    # Mbpp/581 oracle: "height" is the perpendicular distance from the base to the apex.
    slant_height = math.sqrt((base_edge / 2) ** 2 + height**2)
    return round(base_edge**2 + 4 * (base_edge * slant_height) / 2)


def _digit_distance_nums(num1, num2):
    # Mbpp/558 oracle: pad both numbers with zeros to the same length first.
    first, second = str(num1), str(num2)
    width = max(len(first), len(second))
    return sum(abs(int(a) - int(b)) for a, b in zip(first.zfill(width), second.zfill(width)))


def _poly(xs: list, x: float):
    # HumanEval/32 oracle: the polynomial with coefficients xs at x.
    return sum(coefficient * math.pow(x, power) for power, coefficient in enumerate(xs))


# ------------------------------------------------------------------ MBPP+ input fix-ups
# JSON has no tuples, sets or complex numbers; evalplus rebuilds them per task (data/mbpp.py,
# mbpp_deserialize_inputs). The task numbers below are that function's.

def _tuples(items):
    return [tuple(item) for item in items]


def _deep_tuple(value):
    return tuple(_deep_tuple(item) for item in value) if isinstance(value, list) else value


_MBPP_FIXUPS = {
    **dict.fromkeys((2, 116, 132, 143, 222, 261, 273, 394, 399, 421, 424, 429, 470, 560, 579, 596, 616, 630, 726, 740, 744, 809),
                    _tuples),
    **dict.fromkeys((63, 64, 70, 94, 120, 237, 272, 299, 400, 409, 417, 438, 473, 614, 780),
                    lambda inp: [_tuples(group) for group in inp]),
    **dict.fromkeys((75, 413, 444, 753), lambda inp: [_tuples(inp[0]), inp[1]]),
    **dict.fromkeys((106, 750), lambda inp: [inp[0], tuple(inp[1])]),
    115: lambda inp: [[set(item) if isinstance(item, list) and len(item) else {} for item in inp[0]]],
    124: lambda inp: (float(inp[0]), complex(inp[1])),
    **dict.fromkeys((250, 405, 446, 617, 720, 763, 808), lambda inp: [tuple(inp[0]), inp[1]]),
    **dict.fromkeys((259, 401, 445), lambda inp: _tuples(_tuples(group) for group in inp)),
    278: lambda inp: _tuples([[tuple(item) if isinstance(item, list) else item for item in inp[0]]]),
    307: lambda inp: [tuple(inp[0]), inp[1], inp[2]],
    722: lambda inp: [{key: tuple(value) for key, value in inp[0].items()}] + inp[1:],
    252: lambda inp: [complex(inp[0])],
    **dict.fromkeys((580, 615, 791), _deep_tuple),
}


def mbpp_deserialize_inputs(task_id: str, inputs: list) -> list:
    fixup = _MBPP_FIXUPS.get(int(task_id.split("/")[-1]))
    return inputs if fixup is None else [fixup(inp) for inp in inputs]
