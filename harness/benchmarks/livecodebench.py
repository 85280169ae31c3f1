"""LiveCodeBench code generation: releases, problems, and lcb_runner's grading rules.

Data: the Hugging Face dataset livecodebench/code_generation_lite, JSONL shards test.jsonl ... test6.jsonl.
Every rule here follows upstream, read for this module and re-expressed, never copied:
  - the dataset's loading script code_generation_lite.py: release names -> shards;
  - lcb_runner/benchmarks/code_generation.py: the row schema, private-test decoding, the date window;
  - lcb_runner/evaluation/testing_util.py: how a program is prepared and fed, how outputs are compared;
  - lcb_runner/evaluation/compute_code_generation_metrics.py and runner/parser.py: the timeouts;
  - lcb_runner/runner/scenario_router.py: problems sorted by question_id.

Nothing here runs a program. The executor runs a PreparedProgram in its sandbox (see PreparedProgram) and
sends back what the entry returned; the harness judges that with stdio_outputs_match / call_outputs_match.
"""

from __future__ import annotations

import ast
import base64
import io
import json
import os
import pickle
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from harness.benchmarks.data import DOWNLOAD_TIMEOUT_S, Availability, DataError, available, downloads_off
from harness.files import cache_dir, file_sha256, numbered_rows, write_atomically

# ------------------------------------------------------------------------------------------ releases and data

# The dataset repository's main branch at "fix typos (#4)": the last commit, holding test.jsonl ... test6.jsonl
# and the loading script that knows release_v6. A commit pins every shard's content (the LFS pointers, hence
# their sha256, are part of the commit), so no checksum of our own is needed for downloads.
PINNED_REVISION = "0fe84c3912ea0c4d4a78037083943e8f0c4dd505"
HUB_URL = "https://huggingface.co/datasets/livecodebench/code_generation_lite/resolve/{revision}/{shard}"
DATA_DIR_VARIABLE = "SCODER_LCB_DIR"
SHARD_COUNT = 6  # test.jsonl ... test6.jsonl at PINNED_REVISION
DEFAULT_RELEASE = "release_latest"  # lcb_runner's --release_version default; the loading script's default config


def _shard_name(number: int) -> str:
    return "test.jsonl" if number == 1 else f"test{number}.jsonl"


def _release_table() -> dict[str, tuple[str, ...]]:
    """code_generation_lite.py's ALLOWED_FILES: cumulative releases, single shards vN, and ranges vA_vB (A < B)."""
    shards = [_shard_name(number) for number in range(1, SHARD_COUNT + 1)]
    table = {f"release_v{number}": tuple(shards[:number]) for number in range(1, SHARD_COUNT + 1)}
    table["release_latest"] = tuple(shards)
    table.update({f"v{number}": (shards[number - 1],) for number in range(1, SHARD_COUNT + 1)})
    for first in range(1, SHARD_COUNT + 1):
        for last in range(first + 1, SHARD_COUNT + 1):
            table[f"v{first}_v{last}"] = tuple(shards[first - 1:last])
    return table


RELEASES = _release_table()


def shards_for(release: str) -> tuple[str, ...]:
    """The shard files of a release name, in the order the loading script reads them."""
    if release not in RELEASES:
        raise ValueError(f"unknown LiveCodeBench release {release!r}; valid names: {', '.join(RELEASES)}")
    return RELEASES[release]


# What each shard holds at PINNED_REVISION: its problem count and the last day of its contests. Releases are
# cumulative by contest date. Counts and months are upstream's: README.md lines 52-57 of github.com/LiveCodeBench/
# LiveCodeBench at 28fef95 (the dataset card at PINNED_REVISION says the same): release_v1 "problems released
# between May 2023 and Mar 2024 containing 400 problems", v2 to May 2024 (511), v3 to Jul 2024 (612), v4 to Sep
# 2024 (713), v5 to Jan 2025 (880), v6 to Apr 2025 (1055). The README gives months only; the days of v1 ... v5 are
# read off the 880 release_v5 problems of ../shared/conformance/livecodebench (LiveCodeBench/submissions' rows)
# sorted by contest date: the dates of the 400th, 511th, 612th, 713th and 880th. A boundary day can hold problems
# of both shards (the 400th and the 401st are both of 2024-03-02), so a shard's contests start on the last day of
# the shard before. Release_v3 reaches 2024-08-04 where the README says Jul 2024: only 601 problems are dated
# before August. No release_v6 rows are at hand, so v6 ends with the README's month.
FIRST_CONTEST_DAY = date(2023, 5, 1)  # the README's "May 2023"
SHARD_CONTENTS = {
    "test.jsonl": (400, date(2024, 3, 2)),
    "test2.jsonl": (111, date(2024, 5, 25)),
    "test3.jsonl": (101, date(2024, 8, 4)),
    "test4.jsonl": (101, date(2024, 9, 28)),
    "test5.jsonl": (167, date(2025, 1, 4)),
    "test6.jsonl": (175, date(2025, 4, 30)),
}


@dataclass(frozen=True)
class Coverage:
    """The problems a release name stands for: how many, and the span of their contest days."""
    problems: int
    first_day: date
    last_day: date

    def __str__(self) -> str:
        return f"{self.problems} problems from contests {self.first_day} to {self.last_day}"

    def can_hold(self, problems: int, first_day: date, last_day: date) -> bool:
        return self.first_day <= first_day and last_day <= self.last_day and problems <= self.problems


def coverage(release: str) -> Coverage:
    """What a release name (a cumulative release, one shard, or a range of shards) stands for at PINNED_REVISION."""
    shards = shards_for(release)
    order = list(SHARD_CONTENTS)
    before = order.index(shards[0]) - 1
    first_day = SHARD_CONTENTS[order[before]][1] if before >= 0 else FIRST_CONTEST_DAY
    return Coverage(sum(SHARD_CONTENTS[shard][0] for shard in shards), first_day, SHARD_CONTENTS[shards[-1]][1])


def shard_url(shard: str, revision: str = PINNED_REVISION) -> str:
    return HUB_URL.format(revision=revision, shard=shard)


def locate_shard(shard: str, revision: str = PINNED_REVISION, data_dir: str | os.PathLike | None = None) -> Path:
    """Path of a shard: in `data_dir` (else $SCODER_LCB_DIR), else in the user cache, else downloaded into it.
    A local folder holds the files as they are on the hub; the cache keeps one folder per revision."""
    path, searched = _find_shard(shard, revision, data_dir)
    return path or _download(shard_url(shard, revision), _cached_shard(shard, revision), searched)


def _cached_shard(shard: str, revision: str) -> Path:
    return cache_dir() / "livecodebench" / revision / shard


def _find_shard(shard: str, revision: str, data_dir: str | os.PathLike | None) -> tuple[Path | None, list[str]]:
    """The local copy of a shard (see locate_shard), else None and the folders searched."""
    folder = data_dir or os.environ.get(DATA_DIR_VARIABLE)
    searched = []
    if folder:
        path = Path(folder) / shard
        if path.is_file():
            return path, []
        searched.append(f"{folder} (the LiveCodeBench data folder argument or {DATA_DIR_VARIABLE})")
    cached = _cached_shard(shard, revision)
    if cached.is_file():
        return cached, []
    searched.append(f"{cached.parent} (the user cache)")
    return None, searched


def data_availability(release: str, data_dir: str | os.PathLike | None = None, revision: str = PINNED_REVISION) -> Availability:
    """Where a release's data will come from, without downloading it. One file standing for the release is read
    whole and refused if it is not the release (check_data_file): a run must not find that out after its training."""
    data_file = single_data_file(data_dir)
    if data_file:
        return Availability((f"{data_file} ({inspect_data_file(data_file, release).summary()})",))
    local, absent, searched = [], [], []
    for shard in shards_for(release):
        path, searched = _find_shard(shard, revision, data_dir)
        local += [str(path)] if path else []
        absent += [] if path else [shard]
    return available(local, [shard_url(shard, revision) for shard in absent],
                     f"LiveCodeBench {release}'s {', '.join(absent)} not found in {' or '.join(searched)}",
                     f"Set {DATA_DIR_VARIABLE} to a folder of LiveCodeBench shards or one JSONL file, or go online.")


def _download(url: str, destination: Path, searched: list[str]) -> Path:
    def unavailable(reason: str) -> DataError:
        return DataError(
            f"{destination.name} was not found in {' or '.join(searched)} and {reason}. Download it from {url} "
            f"into a folder and pass that folder as the LiveCodeBench data folder or with {DATA_DIR_VARIABLE}."
        )

    refusal = downloads_off(url)
    if refusal:
        raise unavailable(refusal)
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
            content = response.read()
    except (urllib.error.URLError, OSError) as error:
        raise unavailable(f"could not be downloaded ({error})")
    write_atomically(destination, content)
    return destination


# ------------------------------------------------------------------------------------------------- problems

STDIN, FUNCTIONAL = "stdin", "functional"  # code_generation.TestType values
PLATFORMS = ("leetcode", "codeforces", "atcoder")  # code_generation.Platform
DIFFICULTIES = ("easy", "medium", "hard")  # code_generation.Difficulty
_TEST_KEYS = {"input", "output", "testtype"}  # code_generation.Test(**t): exactly these
# Private tests may inflate to at most this; a blob inflating further is refused, not held in memory. Chosen
# generously: the lite shards hold about 4 MB of encoded tests per problem (4.5 GB for 1055 problems), but
# the largest problem was not measured inflated. Raise it if a real problem hits it.
MAX_DECOMPRESSED_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class Test:
    input: str  # stdin text, or newline-separated JSON arguments (functional)
    output: str  # expected stdout text, or one JSON value (functional)
    testtype: str  # STDIN or FUNCTIONAL


@dataclass(frozen=True)
class Problem:
    question_id: str
    question_title: str
    question_content: str = field(repr=False)
    platform: str
    contest_id: str
    contest_date: datetime
    difficulty: str
    starter_code: str = field(repr=False)
    func_name: str | None  # metadata["func_name"]: the method or function the tests call
    public_tests: tuple[Test, ...] = field(repr=False)
    private_test_cases: str = field(repr=False)  # as stored; decoded on demand by private_tests()

    @property
    def style(self) -> str:
        # testing_util.run_test: call-based exactly when the sample has a fn_name, standard input otherwise.
        return FUNCTIONAL if self.func_name is not None else STDIN

    def private_tests(self) -> tuple[Test, ...]:
        """Decoded on every call, not kept: a problem's private tests can be tens of megabytes."""
        return decode_private_tests(self.private_test_cases, self.question_id)

    def tests(self) -> tuple[Test, ...]:
        # code_generation.get_evaluation_sample: public tests first, then private ones; graded in that order.
        return self.public_tests + self.private_tests()

    @classmethod
    def from_row(cls, row: dict, origin: str = "row") -> Problem:
        question_id = row.get("question_id") if isinstance(row, dict) else None
        where = f"{origin} ({question_id})" if question_id else origin
        try:
            strings = {key: row[key] for key in (
                "question_id", "question_title", "question_content", "platform", "contest_id", "contest_date",
                "difficulty", "starter_code", "public_test_cases", "private_test_cases", "metadata",
            )}
        except (KeyError, TypeError) as error:
            raise DataError(f"{where}: not a LiveCodeBench code generation row (missing {error})") from None
        if not all(isinstance(value, str) for value in strings.values()):
            raise DataError(f"{where}: every field of a LiveCodeBench row is a string")
        if strings["platform"] not in PLATFORMS or strings["difficulty"] not in DIFFICULTIES:
            raise DataError(f"{where}: unknown platform {strings['platform']!r} or difficulty {strings['difficulty']!r}")
        try:
            contest_date = datetime.fromisoformat(strings["contest_date"])
            metadata = json.loads(strings["metadata"])
            public_cases = json.loads(strings["public_test_cases"])
        except ValueError as error:
            raise DataError(f"{where}: unreadable contest_date, metadata or public_test_cases ({error})") from None
        func_name = metadata.get("func_name") if isinstance(metadata, dict) else None
        if not isinstance(metadata, dict) or not isinstance(func_name, (str, type(None))):
            raise DataError(f"{where}: metadata must be a JSON object whose func_name, if any, is a string")
        return cls(
            question_id=strings["question_id"],
            question_title=strings["question_title"],
            question_content=strings["question_content"],
            platform=strings["platform"],
            contest_id=strings["contest_id"],
            contest_date=contest_date,
            difficulty=strings["difficulty"],
            starter_code=strings["starter_code"],
            func_name=func_name,
            public_tests=_tests_from_json(public_cases, f"{where}: public tests"),
            private_test_cases=strings["private_test_cases"],
        )


def _tests_from_json(cases: object, what: str) -> tuple[Test, ...]:
    if not isinstance(cases, list):
        raise DataError(f"{what}: expected a JSON list of tests")
    tests = []
    for case in cases:
        if not isinstance(case, dict) or set(case) != _TEST_KEYS or not all(isinstance(v, str) for v in case.values()):
            raise DataError(f"{what}: each test is {{input, output, testtype}} with string values")
        if case["testtype"] not in (STDIN, FUNCTIONAL):
            raise DataError(f"{what}: unknown testtype {case['testtype']!r}")
        tests.append(Test(case["input"], case["output"], case["testtype"]))
    return tuple(tests)


def decode_private_tests(blob: str, question_id: str) -> tuple[Test, ...]:
    """code_generation.CodeGenerationProblem.__post_init__: the blob is a JSON list of tests, else base64 of
    zlib-compressed pickle of that JSON text. Unlike upstream, the pickle may only hold that one string."""
    what = f"private tests of {question_id}"
    try:
        cases = json.loads(blob)
    except (ValueError, RecursionError):
        try:
            compressed = base64.b64decode(blob.encode("utf-8"))  # not validating, as upstream
        except ValueError as error:
            raise DataError(f"{what}: neither JSON nor base64 ({error})") from None
        text = _unpickle_string(_inflate(compressed, what), what)
        try:
            cases = json.loads(text)
        except (ValueError, RecursionError) as error:
            raise DataError(f"{what}: the unpickled text is not JSON ({error})") from None
    return _tests_from_json(cases, what)


def _inflate(compressed: bytes, what: str) -> bytes:
    inflater = zlib.decompressobj()
    try:
        content = inflater.decompress(compressed, MAX_DECOMPRESSED_BYTES + 1)
    except zlib.error as error:
        raise DataError(f"{what}: not zlib data ({error})") from None
    if len(content) > MAX_DECOMPRESSED_BYTES:
        raise DataError(f"{what}: inflates past {MAX_DECOMPRESSED_BYTES} bytes (MAX_DECOMPRESSED_BYTES); refused")
    if not inflater.eof:
        raise DataError(f"{what}: truncated zlib stream")
    return content  # bytes after the end of the stream are ignored, as zlib.decompress does


class _DataOnlyUnpickler(pickle.Unpickler):
    """Builds plain data only. Every way a pickle can reach code (a class or function by name, an extension
    code, a persistent id) goes through these two methods, so refusing them refuses all of it."""

    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError(f"refused: the pickle names {module}.{name}")

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("refused: the pickle holds a persistent id")


def _unpickle_string(data: bytes, what: str) -> str:
    try:
        value = _DataOnlyUnpickler(io.BytesIO(data)).load()
    except Exception as error:  # noqa: BLE001 -- a malformed or hostile pickle can raise almost anything
        raise DataError(f"{what}: unreadable or refused pickle ({error})") from None
    if type(value) is not str:
        raise DataError(f"{what}: the pickle holds a {type(value).__name__}, not the JSON text of the tests")
    return value


# ------------------------------------------------------------------------------------- loading and windows


def parse_window_date(text: str) -> datetime:
    """code_generation.load_code_generation_dataset: datetime.strptime(date, "%Y-%m-%d"), midnight of that day."""
    try:
        return datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        raise ValueError(f"{text!r} is not a date like 2024-08-01 (YYYY-MM-DD)") from None


def _in_window(problem: Problem, start: datetime | None, end: datetime | None) -> bool:
    # Upstream keeps start <= contest_date <= end with both bounds at midnight: a row dated later on the end
    # day itself is left out. The dataset's dates we have seen are all midnights, where this cannot bite.
    return (start is None or start <= problem.contest_date) and (end is None or problem.contest_date <= end)


def filter_by_date(problems: list[Problem], start_date: str | None = None, end_date: str | None = None) -> list[Problem]:
    """lcb_runner's --start_date / --end_date: both inclusive."""
    start = parse_window_date(start_date) if start_date else None
    end = parse_window_date(end_date) if end_date else None
    return [problem for problem in problems if _in_window(problem, start, end)]


def read_shard(path: Path) -> Iterator[Problem]:
    for number, row in numbered_rows(path, DataError):
        yield Problem.from_row(row, f"{path}:{number}")


def single_data_file(data_dir: str | os.PathLike | None = None) -> Path | None:
    """The data source when it is one file rather than a folder of shards, else None."""
    source = data_dir or os.environ.get(DATA_DIR_VARIABLE)
    return Path(source) if source and Path(source).is_file() else None


def load_problems(
    release: str = DEFAULT_RELEASE,
    start_date: str | None = None,
    end_date: str | None = None,
    data_dir: str | os.PathLike | None = None,
    revision: str = PINNED_REVISION,
) -> list[Problem]:
    """The problems of a release inside the (inclusive) date window, sorted by question_id as lcb_runner's
    scenario_router does. Rows outside the window are dropped while reading: shards are large.

    `data_dir` (else $SCODER_LCB_DIR) may also be one JSONL or JSONL.gz file of rows in the upstream format:
    that file is then the whole problem set, checked against the release it stands for (check_data_file)."""
    return read_release(release, start_date, end_date, data_dir, revision)[0]


def read_release(
    release: str = DEFAULT_RELEASE,
    start_date: str | None = None,
    end_date: str | None = None,
    data_dir: str | os.PathLike | None = None,
    revision: str = PINNED_REVISION,
) -> tuple[list[Problem], DataFile | None]:
    """load_problems, and what the one data file holds where one file stands for the release (None for shards)."""
    shards = shards_for(release)
    start = parse_window_date(start_date) if start_date else None
    end = parse_window_date(end_date) if end_date else None
    data_file = single_data_file(data_dir)
    paths = [data_file] if data_file else (locate_shard(shard, revision, data_dir) for shard in shards)
    problems: dict[str, Problem] = {}
    contest_days = []  # of every row, in the window or not: what the data is
    for path in paths:
        for problem in read_shard(path):
            contest_days.append(problem.contest_date.date())
            if not _in_window(problem, start, end):
                continue
            if problem.question_id in problems:
                raise DataError(f"{path}: question_id {problem.question_id} appears twice in release {release}")
            problems[problem.question_id] = problem
    described = check_data_file(data_file, release, contest_days) if data_file else None
    return sorted(problems.values(), key=lambda problem: problem.question_id), described


@dataclass(frozen=True)
class DataFile:
    """What one data file standing for a release holds, as the results record it in place of a bare claim."""
    path: Path
    release: str  # the release it stands for
    sha256: str
    problems: int
    first_contest_day: date
    last_contest_day: date
    whole_release: bool  # as many problems as its release, within its release's contest days

    def summary(self) -> str:
        part = f"the whole {self.release}" if self.whole_release else f"a part of {self.release}"
        return (f"{part}: {self.problems} problems from contests {self.first_contest_day} to {self.last_contest_day}, "
                f"sha256 {self.sha256[:12]}")

    def record(self) -> dict:
        return {"sha256": self.sha256, "problems": self.problems, "first_contest_date": self.first_contest_day.isoformat(),
                "last_contest_date": self.last_contest_day.isoformat(), "whole_release": self.whole_release}


def inspect_data_file(path: Path, release: str) -> DataFile:
    """check_data_file on a file not otherwise read: its rows are read (and checked) for their contest days."""
    return check_data_file(path, release, [problem.contest_date.date() for problem in read_shard(path)])


def check_data_file(path: Path, release: str, contest_days: list[date]) -> DataFile:
    """Whether one file of problems with these contest days can be `release`, a DataError where it cannot.

    A file names no release and its rows carry none, so what decides is the release's count and contest days
    (Coverage). Refused, with the release to pass instead: problems dated outside the release's days (the common
    mistake: a newer file under an older or the default name), more problems than the release has, or exactly
    another, smaller release (a release_v5 file under release_latest). Accepted as the whole release: its count
    within its days. Accepted as a part: fewer problems within its days (a sample, a file with problems removed),
    which no check can tell from the release's own; the results then record what the file holds (DataFile) and
    are labelled a part (release_label), never the release itself."""
    if not contest_days:
        raise DataError(f"{path}: no problems")
    claimed = coverage(release)
    count, first, last = len(contest_days), min(contest_days), max(contest_days)
    holds = f"{path} holds {count} problems from contests {first} to {last}"
    # The smallest release that can hold the file is what to pass instead (release_vN before vA_vB of the same shards).
    fitting = [name for name in RELEASES if coverage(name).can_hold(count, first, last)]
    instead = min(fitting, key=lambda name: coverage(name).problems, default=None)
    advice = (f"Pass --release {instead} (in a recipe: livecodebench:{instead}), or a file of {release}'s problems." if instead else
              f"No LiveCodeBench release at revision {PINNED_REVISION[:7]} holds those; pass a file of {release}'s problems.")
    if not claimed.can_hold(count, first, last):
        raise DataError(f"{holds}, but {release} is {claimed}. {advice}")
    if RELEASES[instead] != RELEASES[release] and count == coverage(instead).problems:
        raise DataError(f"{holds}: that is {instead} ({coverage(instead)}), not {release} ({claimed}). {advice}")
    return DataFile(path, release, file_sha256(path), count, first, last, whole_release=count == claimed.problems)


def release_label(meta: dict) -> str:
    """The release a results file's scores are of, as reports and columns name it. release_latest is whatever the
    pinned dataset revision holds, so the revision is part of its name; a file that is only part of its release
    is named by what it holds, so that its scores are never taken for the release's."""
    held = meta.get("data_file_holds")
    if held and not held["whole_release"]:
        return f"{meta['release']} part {held['problems']}/{coverage(meta['release']).problems} sha256:{held['sha256'][:12]}"
    if meta["release"] == "release_latest":
        return f"release_latest@{meta['revision'][:7]}"
    return meta["release"]


# ------------------------------------------------------------------------------------------ grading: programs

# testing_util.import_string, prepended to every program: star imports (order matters: later ones shadow
# earlier names, and `import datetime` afterwards makes `datetime` the module), then plain imports.
_STAR_IMPORTED = (
    "string", "re", "datetime", "collections", "heapq", "bisect", "copy", "math", "random", "statistics",
    "itertools", "functools", "operator", "io", "sys", "json", "builtins", "typing",
)
_IMPORTED = (
    "string", "re", "datetime", "collections", "heapq", "bisect", "copy", "math", "random", "statistics",
    "itertools", "functools", "operator", "io", "sys", "json",
)
IMPORT_PRELUDE = (
    "".join(f"from {module} import *\n" for module in _STAR_IMPORTED)
    + "".join(f"import {module}\n" for module in _IMPORTED)
    + "sys.setrecursionlimit(50000)\n"
)
MODULE_NAME = "tmp_sol"  # testing_util.compile_code execs in ModuleType("tmp_sol"): __main__ guards left in don't run
ENTRY_NAME = "lcb_entry"
_WRAPPER_NAME = "wrapped_function"  # testing_util.make_function

# Appended to a stdin-style program: lcb_entry(stdin_text) runs wrapped_function once the way
# testing_util.grade_stdio does (Capturing around call_method) and returns what it printed. The patches are
# entered in the order mock enters stacked @patch decorators, bottom first: read/readlines/readline land on
# the sys.stdin the program loaded with (the prelude's `from sys import *` bound it as `stdin`), then sys.stdin
# becomes a fresh StringIO. Capturing's StringIO gets a close() that takes one argument, as upstream's does.
# Threads: programs that run `threading.Thread(target=main).start()` (deep recursion on a big stack) print from
# that thread. Upstream reads the captured output as soon as wrapped_function returns, which is when the main
# thread gets the GIL back: one switch interval after start(), so a thread that needs more CPU than that prints
# too late and fails (its official verdicts in ../shared/conformance/livecodebench: threads of 0.4-2.7 ms pass,
# of 17.5 and 386 ms fail with empty output). Here the program's threads get exactly that interval, counted on
# their own CPU clocks so that a busy machine does not shorten it; output is read after it or after they end.
_STDIO_ENTRY = f'''

def _lcb_stdio_entry(function):
    import sys
    import threading
    import time
    from contextlib import ExitStack
    from io import StringIO
    from unittest.mock import mock_open, patch

    def let_threads_have_their_interval(interval=sys.getswitchinterval()):
        for thread in threading.enumerate():
            if thread is threading.current_thread() or thread.native_id is None:
                continue
            cpu_clock = (~thread.native_id << 3) | 6  # Linux: the thread's own CPU clock (scheduler time)
            try:
                while thread.is_alive() and time.clock_gettime(cpu_clock) < interval:
                    thread.join(interval / 5)
            except OSError:  # the thread ended: its clock is gone
                pass

    def run(stdin_text):
        lines = iter(stdin_text.split("\\n"))
        replacements = (
            ("sys.stdin.read", lambda *args: stdin_text),
            ("sys.stdin.readlines", lambda *args: stdin_text.split("\\n")),
            ("sys.stdin.readline", lambda *args: next(lines)),
            ("sys.stdin", StringIO(stdin_text)),
            ("builtins.open", mock_open(read_data=stdin_text)),
        )
        captured = StringIO()
        captured.close = lambda x: 1
        saved_stdout, sys.stdout = sys.stdout, captured
        try:
            with ExitStack() as patches:
                for target, replacement in replacements:
                    patches.enter_context(patch(target, replacement))
                try:
                    function()
                except SystemExit:
                    pass
                let_threads_have_their_interval()
        finally:
            sys.stdout = saved_stdout
        return captured.getvalue()

    return run


{ENTRY_NAME} = _lcb_stdio_entry({_WRAPPER_NAME})
del _lcb_stdio_entry
'''


@dataclass(frozen=True)
class PreparedProgram:
    """A program ready for the sandbox. The child runs it the way lcb_runner's evaluation process does:

    1. Before loading: apply DISABLED_ATTRIBUTES / BLOCKED_MODULES (testing_util.reliability_guard runs before
       the program is compiled, so the prelude's `from builtins import *` copies quit = None), and give it a
       sys.stdin opened on os.devnull and a sys.stdout that discards (a multiprocessing child's): the prelude
       binds `stdin` and `stdout` to them.
    2. Load: namespace = {"__name__": MODULE_NAME}; exec(compile(text, ...), namespace) within TEST_TIMEOUT_S,
       compiled with no compiler flags of the harness's (testing_util.py line 160 execs the text as it is).
       An exception here, or no namespace[ENTRY_NAME] afterwards, fails every test (upstream compile error).
    3. Take entry = namespace[ENTRY_NAME] once; for each test in order, stopping at the first failure, within
       TEST_TIMEOUT_S each:
         STDIN:      entry(test.input) returns the captured stdout, judged by stdio_outputs_match;
         FUNCTIONAL: entry(*parse_call_inputs(test.input)) returns a value, judged by call_outputs_match
                     against parse_call_output(test.output).
       An exception from the entry fails that test. The sample passes when every test passes.
    """

    text: str
    style: str  # STDIN or FUNCTIONAL


def prepare_stdio_program(code: str) -> PreparedProgram:
    """testing_util.grade_stdio: clean_if_name, then make_function, then our entry. Code that does not parse
    is left as it is, as upstream leaves it: it then fails to load or leaves no entry."""
    wrapped = _wrap_in_function(_inline_main_guard(code))
    if wrapped is None:
        return PreparedProgram(code, STDIN)
    return PreparedProgram(wrapped + _STDIO_ENTRY, STDIN)


def _inline_main_guard(code: str) -> str:
    """testing_util.clean_if_name: a last top-level `if __name__ == '__main__':` is replaced by its body."""
    try:
        module = ast.parse(code)
        last = module.body[-1]
        if isinstance(last, ast.If) and ast.unparse(last.test).strip() == "__name__ == '__main__'":
            return ast.unparse(module.body[:-1]) + "\n" + ast.unparse(last.body)
        return code
    except Exception:  # noqa: BLE001 -- upstream's bare except: unparsable or empty code stays as it is
        return code


def _wrap_in_function(code: str) -> str | None:
    """testing_util.make_function: top-level imports stay at module level after the prelude; every other
    statement becomes the body of wrapped_function(). None where upstream falls back to the code unchanged."""
    try:
        module = ast.parse(code)
        imports = [node for node in module.body if isinstance(node, (ast.Import, ast.ImportFrom))]
        others = [node for node in module.body if not isinstance(node, (ast.Import, ast.ImportFrom))]
        function = ast.FunctionDef(
            name=_WRAPPER_NAME,
            args=ast.arguments(posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[]),
            body=others,
            decorator_list=[],
            lineno=-1,
        )
        return IMPORT_PRELUDE + "\n" + ast.unparse(imports) + "\n" + ast.unparse(function)
    except Exception:  # noqa: BLE001 -- upstream's make_function catches everything too
        return None


def prepare_call_program(code: str, func_name: str) -> PreparedProgram:
    """testing_util.grade_call_based and compile_code: the prelude, two newlines, the code; then the callable is
    Solution().<func_name> when "class Solution" occurs anywhere in the code (upstream's own test, made once per
    program, so one instance serves every test), else the module's <func_name>."""
    text = IMPORT_PRELUDE + "\n\n" + code
    try:
        ast.parse(text)
    except Exception:  # noqa: BLE001 -- left as it is: it fails to load, as upstream's compile_code does
        return PreparedProgram(text, FUNCTIONAL)
    if "class Solution" in text:
        resolve = f"{ENTRY_NAME} = getattr(Solution(), {func_name!r})"
    else:
        resolve = f"{ENTRY_NAME} = globals()[{func_name!r}]"
    return PreparedProgram(f"{text}\n\n{resolve}\n", FUNCTIONAL)


def prepare_program(problem: Problem, code: str) -> PreparedProgram:
    if problem.style == FUNCTIONAL:
        return prepare_call_program(code, problem.func_name)
    return prepare_stdio_program(code)


# ------------------------------------------------------------------------------------------- grading: values


def parse_call_inputs(text: str) -> list:
    """testing_util.grade_call_based: one JSON value per line, the arguments in order."""
    return [json.loads(line) for line in text.split("\n")]


def parse_call_output(text: str) -> object:
    return json.loads(text)


def call_outputs_match(produced: object, expected: object) -> bool:
    """testing_util.grade_call_based: a returned tuple counts as a list (the top level only), then ==.
    No float tolerance. An error while comparing, or a result without a truth value, is a failure."""
    if isinstance(produced, tuple):
        produced = list(produced)
    try:
        return bool(produced == expected)
    except Exception:  # noqa: BLE001 -- upstream's try around the comparison: any error fails the test
        return False


def _stripped_lines(text: str) -> list[str]:
    # testing_util.get_stripped_lines: strip the whole text, split on "\n", strip each line.
    return [line.strip() for line in text.strip().split("\n")]


def _decimals(line: str) -> list[Decimal] | None:
    # testing_util.convert_line_to_decimals
    try:
        return [Decimal(token) for token in line.split()]
    except (ArithmeticError, ValueError):  # decimal.InvalidOperation is an ArithmeticError
        return None


def stdio_outputs_match(produced: str, expected: str) -> bool:
    """testing_util.grade_stdio: the same number of stripped lines, and each line equal as text or, token by
    token, as Decimals (1.0 equals 1.00; no tolerance: 2.5000001 does not equal 2.5)."""
    produced_lines, expected_lines = _stripped_lines(produced), _stripped_lines(expected)
    if len(produced_lines) != len(expected_lines):
        return False
    for produced_line, expected_line in zip(produced_lines, expected_lines):
        if produced_line == expected_line:
            continue
        produced_numbers, expected_numbers = _decimals(produced_line), _decimals(expected_line)
        if produced_numbers is None or expected_numbers is None:
            return False
        try:
            if produced_numbers != expected_numbers:
                return False
        except ArithmeticError:  # a signalling NaN: upstream's comparison raises and the test fails
            return False
    return True


# ---------------------------------------------------------------------------------------- grading: the run

# lcb_runner's --timeout default (runner/parser.py; also run_test's and codegen_metrics' default): seconds of
# wall time (signal.alarm) for loading the program and again for each test.
TEST_TIMEOUT_S = 6


def sample_timeout_s(test_count: int, test_timeout_s: int = TEST_TIMEOUT_S) -> int:
    """compute_code_generation_metrics.check_correctness: the whole sample's process is joined this long, then
    killed, and then every test counts as failed."""
    return (test_timeout_s + 1) * test_count + 5


# testing_util.reliability_guard (called with maximum_memory_bytes=None: no memory limit), which runs before
# the program loads: these attributes become None, these modules are unimportable (sys.modules[name] = None).
# It also sets OMP_NUM_THREADS=1. Checked entry by entry against lcb_runner/evaluation/testing_util.py at
# LiveCodeBench commit 15808c76 (lines 473-556):
#   builtins: line 503 `# builtins.exit = None` is commented out, so exit() stays usable (it raises SystemExit,
#             which call_method catches at line 140: what was printed before it is judged); quit (504) and
#             help (548, through __builtins__["help"]) become None;
#   os:       lines 510-536, fchdir listed twice upstream; shutil: 540-542; subprocess.Popen: 546;
#   modules:  sys.modules[...] = None at lines 552-556.
DISABLED_ATTRIBUTES = {
    "builtins": ("quit", "help"),
    "os": (
        "kill", "system", "putenv", "remove", "removedirs", "rmdir", "fchdir", "setuid", "fork", "forkpty",
        "killpg", "rename", "renames", "truncate", "replace", "unlink", "fchmod", "fchown", "chmod", "chown",
        "chroot", "lchflags", "lchmod", "lchown", "getcwd", "chdir",
    ),
    "shutil": ("rmtree", "move", "chown"),
    "subprocess": ("Popen",),
}
BLOCKED_MODULES = ("ipdb", "joblib", "resource", "psutil", "tkinter")
# compute_code_generation_metrics.py line 7 raises the interpreter's limit on int <-> str conversion for the
# evaluating process, which the processes running programs inherit: printing a 10000-digit number works there.
INT_MAX_STR_DIGITS = 50000


# -------------------------------------------------------------------------------------------------- benchmark


def add_livecodebench_arguments(parser, command: str) -> None:
    group = parser.add_argument_group("LiveCodeBench")
    if command != "export":
        group.add_argument("--release", default=DEFAULT_RELEASE, help="release_v1 ... release_v6, release_latest, or shards v1 ... v6, vA_vB")
        group.add_argument("--start-date", help="first contest date included (YYYY-MM-DD)")
        group.add_argument("--end-date", help="last contest date included (YYYY-MM-DD)")
    group.add_argument("--lcb-data", "--lcb-dir", dest="lcb_dir",
                       help="folder with the JSONL shards, or one JSONL(.gz) file of problems in the upstream row format "
                            f"(default: ${DATA_DIR_VARIABLE}, then the cache, then the hub)")


@dataclass(frozen=True)
class LiveCodeBenchmark:
    """LiveCodeBench code generation as a harness.benchmarks.benchmark.Benchmark; the work is done in
    harness.evaluate_livecodebench, harness.generation.prompts and harness.report.exports."""
    name = "livecodebench"
    columns = {"livecodebench": "LiveCodeBench"}
    execution_role = "sandbox"
    task_environment = None
    starts_processes = False
    data_variables = (DATA_DIR_VARIABLE,)
    leaderboard = "livecodebench"
    windowed = True
    hub_only_data = True  # large shards on the hub, no file to pin here
    decontaminate = True
    add_arguments = staticmethod(add_livecodebench_arguments)

    def variant_arguments(self, variant: str) -> list[str]:
        shards_for(variant)  # an unknown release is refused
        return ["--release", variant]

    def data_files(self) -> list:
        return []

    def data_availability(self, options) -> Availability:
        return data_availability(options.release, options.lcb_dir)

    def prompt_builder(self, options):
        from functools import partial

        from harness.generation.prompts import livecodebench_prompts

        return partial(livecodebench_prompts, load_problems(options.release, options.start_date, options.end_date, options.lcb_dir))

    def samples_name(self, options) -> str:
        return self.name

    def evaluate(self, samples, output, options, execution, progress: bool) -> dict:
        from harness.evaluate_livecodebench import LiveCodeBenchSettings, evaluate
        from harness.samples import SamplesError

        if not samples:
            raise SamplesError("--samples is required")
        shards_for(options.release)  # an unknown release is refused before anything runs
        settings = LiveCodeBenchSettings(options.release, options.start_date, options.end_date)
        return evaluate(samples, output, options.lcb_dir, settings, progress, execution)

    def summarize(self, results: dict, options, out=None) -> None:
        from harness.report.console import print_pass_at_k

        window = f" {options.start_date or '...'} to {options.end_date or '...'}" if options.start_date or options.end_date else ""
        print_pass_at_k(f"{self.name} {release_label(results['scoder'])}{window}", results, out)

    def score_columns(self, results: dict) -> list:
        from harness.benchmarks.benchmark import ScoreColumn

        meta = results["scoder"]
        return [ScoreColumn("livecodebench", release_label(meta), window(meta["start_date"], meta["end_date"]),
                            lambda entry: entry["passed"], results["pass_at_k"])]

    def task_texts(self, options) -> list[str]:
        return [f"{problem.question_content}\n{problem.starter_code}" for problem in load_problems(options.release, data_dir=options.lcb_dir)]

    def export(self, run_dir, out_dir, model_name, allow_partial: bool, options) -> list:
        from harness.report.exports import export_livecodebench

        return export_livecodebench(run_dir, out_dir, model_name, allow_partial=allow_partial, lcb_dir=options.lcb_dir,
                                   generation=options.generation)


def window(start: str | None, end: str | None) -> str:
    """The contest dates as reports and baselines write them, "2024-08-01..2025-02-01" ("" for the whole release)."""
    if not start and not end:
        return ""
    return "..".join(parse_window_date(day).date().isoformat() if day else "" for day in (start, end))


LIVECODEBENCH = LiveCodeBenchmark()
