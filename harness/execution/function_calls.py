"""The function-call test style: call a program's entry point on each input, judge each return value.

Two listeners for pool runs (see pool.Listener):
  ReferenceRecorder  records what trusted reference code returns and how long each call took;
  OutputJudge        compares an untrusted program's outputs with expected ones as they stream in,
                     stops the run at the first mismatch (fail-fast, as evalplus does) and decides.
Everything the child sent is untrusted: lines are parsed defensively and any protocol surprise fails.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable

from harness.execution import values

PASS, FAIL, TIMEOUT = "pass", "fail", "timeout"
# The harness could not judge the run (its own comparison broke, not the program): the sample has no verdict and is
# left out of the scores (harness.evaluation), never counted as a pass or a fail.
NO_VERDICT = "no verdict"


@dataclass
class Verdict:
    status: str
    fail_index: int | None = None  # the input that failed or was running when the run was stopped
    reason: str | None = None
    cpu_s: float = 0.0
    waited_s: float | None = None  # how long it waited for a core (worker.Zygote.waited_seconds); None: not known
    margin: dict | None = None  # how near a clock it was (harness.execution.margins.Margin.record), where one was

    @property
    def timed_out(self) -> bool:
        """Decided by a clock (an input's time limit, the run's budget or a backstop), or by a death that
        evalplus also reports as a timeout: the verdicts a busy machine can flip, so they are re-checked."""
        return self.status == TIMEOUT or (self.reason or "").startswith("TimeoutException")


@dataclass(frozen=True)
class Digest:
    """Stands for an output too large to transport (see Limits.max_output_bytes): equal digests mean
    equal encodings. Outputs this large are compared exactly, without evalplus' float tolerance."""

    sha256: str
    size: int
    has_nan: bool

    @classmethod
    def parse(cls, payload: bytes) -> "Digest":
        sha256, size, has_nan = payload.split(b" ")
        return cls(sha256.decode("ascii"), int(size), has_nan == b"1")


def parse_line(line: bytes) -> tuple[str, int | None, float | None, bytes]:
    """Split a child line into (kind, input index, cpu seconds, payload). Raises ValueError if malformed."""
    kind = line[:1].decode("ascii")
    if kind in ("O", "H"):
        _, index, seconds, payload = line.split(b" ", 3)
        return kind, int(index), float(seconds), payload
    if kind == "B":
        return kind, None, float(line[2:]), b""
    if kind in ("E", "D"):
        _, index, *rest = line.split(b" ", 2)
        return kind, int(index), None, rest[0] if rest else b""
    if kind == "L":
        return kind, None, None, line[2:]
    raise ValueError(f"unknown line kind {kind!r}")


def _reason(payload: bytes) -> str:
    try:
        return str(json.loads(payload))
    except ValueError:
        return payload[:300].decode("utf-8", "replace")


class ReferenceRecorder:
    """Outputs (encoded text) and CPU seconds per input of trusted reference code."""

    def __init__(self, n_inputs: int):
        self.n_inputs = n_inputs
        self.outputs: list[bytes | Digest] = []
        self.seconds: list[float] = []
        self.error: str | None = None

    def on_line(self, line: bytes) -> bool:
        kind, index, seconds, payload = parse_line(line)
        if kind in ("O", "H") and index == len(self.outputs):
            self.outputs.append(payload if kind == "O" else Digest.parse(payload))
            self.seconds.append(seconds)
        elif kind in ("E", "L"):
            self.error = f"input {index}: {_reason(payload)}" if index is not None else _reason(payload)
        return False

    def on_done(self, report: dict) -> None:
        if self.error is None and len(self.outputs) != self.n_inputs:
            self.error = f"only {len(self.outputs)} of {self.n_inputs} outputs (killed: {report.get('killed')}, exit {report.get('exit')})"


Oracle = Callable[[int, object], bool]  # (input index, decoded output) -> matches


class _GraderFault(Exception):
    """The harness cannot judge an input (see OutputJudge._refuse_to_judge)."""


@dataclass
class OutputJudge:
    """Streams an untrusted run against `expected` (encoded texts). `exact_text_ok(i)` says whether equal
    encodings may be accepted without decoding (false where the oracle has special rules); `oracle`
    decides everything else from the decoded output."""

    expected: list[bytes | memoryview | Digest]
    oracle: Oracle
    exact_text_ok: Callable[[int], bool]
    max_output_bytes: Callable[[int], int]
    verdict: Verdict | None = None
    checked: int = 0
    # The verdict as the benchmark's clocks settle it from the run's times (evalplus: its margin, harness.execution.margins)
    settle: Callable[["OutputJudge"], Verdict] = lambda judge: judge.verdict
    seconds: list[float] = field(default_factory=list)  # the CPU each input judged right took, in order
    wrong_output_seconds: float | None = None  # the CPU the input with a wrong output took
    loading: float = 0.0  # the CPU used before the first call
    # The digests of expected outputs that an output compares with as encoded, where it comes as a digest (the run's
    # digest_inputs); an expected output that is itself a Digest (a huge one) needs no entry.
    digests: dict[int, Digest] = field(default_factory=dict)
    total: int = field(init=False)  # len(expected), asked for on each output: a stored sequence's len is a call

    def __post_init__(self):
        self.total = len(self.expected)

    @property
    def timed_seconds(self) -> list[float]:
        """The CPU of every input that returned, in order: a wrong output's too, which a clock may have stopped first."""
        return self.seconds + ([self.wrong_output_seconds] if self.wrong_output_seconds is not None else [])

    def on_line(self, line: bytes) -> bool:
        if self.verdict is not None:
            return False  # decided; a failing run was already told to stop
        try:
            kind, index, seconds, payload = parse_line(line)
        except (ValueError, UnicodeDecodeError):
            return self._fail(self.checked, "malformed report from the program's process")
        if kind == "B":
            self.loading = seconds
            return False
        if kind == "L":
            return self._fail(None, f"did not load: {_reason(payload)}")
        if index != self.checked:
            if kind == "D":
                return self._fail(self.checked, "reported completion before all inputs ran")
            return self._fail(self.checked, "reported inputs out of order")
        if kind == "E":
            return self._fail(index, _reason(payload))
        if kind == "D":
            return False
        try:
            matches = self._matches(index, kind, payload)
        except _GraderFault as fault:
            self.verdict = Verdict(NO_VERDICT, index, str(fault))
            return True
        if matches:
            self.checked += 1
            self.seconds.append(seconds)
            if self.checked == self.total:
                self.verdict = Verdict(PASS)
            return False
        self.wrong_output_seconds = seconds
        return self._fail(index, "wrong output")

    def _matches(self, index: int, kind: str, payload: bytes) -> bool:
        if kind == "H":
            try:
                got = Digest.parse(payload)
            except ValueError:
                return False
            # Values of strings alone: no float, so no NaN to mind (a string may hold "NaN"). The expected output itself
            # is not asked for: it may be stored unread (harness.benchmarks.evalplus.groundtruth).
            if index in self.digests:
                return (got.sha256, got.size) == (self.digests[index].sha256, self.digests[index].size)
            expected = self.expected[index]
            return isinstance(expected, Digest) and self.exact_text_ok(index) and not expected.has_nan and got == expected
        expected = self.expected[index]
        if isinstance(expected, Digest):
            return False
        if payload == expected and self.exact_text_ok(index) and b"NaN" not in payload and b'"ndarray"' not in payload:
            return True  # identical encodings of plain values are equal values: skip decoding
        if len(payload) > self.max_output_bytes(index):
            return False  # far larger than anything equal to the expected value could be
        try:
            output = values.decode(payload)
        except Exception:  # the program's output, as its process encoded it: a failed input
            return False
        try:
            return bool(self.oracle(index, output))
        except Exception as error:  # a comparison the output breaks fails the input, as in evalplus
            self._refuse_to_judge(index, error)
            return False

    def _refuse_to_judge(self, index: int, error: Exception) -> None:
        """A _GraderFault where the comparison, not the program, is at fault: it breaks on the expected output itself
        (which cannot be decoded, or which the comparison cannot take), so no output could have been judged."""
        try:
            self.oracle(index, values.decode(self.expected[index]))
        except Exception as own:
            raise _GraderFault(f"grader fault on input {index}: comparing the expected output with itself raises "
                               f"{type(own).__name__}: {own} (the output's comparison raised {type(error).__name__})") from None

    def _fail(self, index: int | None, reason: str) -> bool:
        self.verdict = Verdict(FAIL, index, reason)
        return True

    def on_done(self, report: dict) -> None:
        if self.verdict is None and not self.expected:
            self.verdict = Verdict(PASS)
        if self.verdict is None:
            # Stopped without a verdict: killed over budget, or died on its own (a crash, os._exit).
            # evalplus reports both as "timeout" (its status stays unknown); so do we, with the cause.
            killed = report.get("killed")
            cause = f"killed: {killed}" if killed else f"exited with code {report.get('exit')} before finishing"
            self.verdict = Verdict(TIMEOUT, self.checked if self.checked < self.total else None, cause)
        self.verdict.cpu_s, self.verdict.waited_s = report.get("cpu_s", 0.0), report.get("waited_s")
