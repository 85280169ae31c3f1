"""LiveCodeBench code generation: releases and problems (grading.py holds lcb_runner's grading rules).

Data: the Hugging Face dataset livecodebench/code_generation_lite, JSONL shards test.jsonl ... test6.jsonl.
Every rule here follows upstream, read for this module and re-expressed, never copied:
  - the dataset's loading script code_generation_lite.py: release names -> shards;
  - lcb_runner/benchmarks/code_generation.py: the row schema, private-test decoding, the date window;
  - lcb_runner/evaluation/testing_util.py: how a program is prepared and fed, how outputs are compared;
  - lcb_runner/evaluation/compute_code_generation_metrics.py and runner/parser.py: the timeouts;
  - lcb_runner/runner/scenario_router.py: problems sorted by question_id.
"""

from __future__ import annotations

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
from pathlib import Path

from harness.benchmarks.data import DOWNLOAD_TIMEOUT_S, Availability, DataError, available, downloads_off
from harness.files import cache_dir, file_sha256, numbered_rows, write_atomically

# ------------------------------------------------------------------------------------------ releases and data

# The dataset repository's main branch at "fix typos (#4)": the last commit, holding test.jsonl ... test6.jsonl
# and the loading script that knows release_v6. A commit pins every shard's content (the LFS pointers, hence
# their sha256, are part of the commit), so no checksum of our own is needed for downloads.
NAME = "livecodebench"  # the benchmark's name, in the registry and in results
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


def window(start: str | None, end: str | None) -> str:
    """The contest dates as reports and baselines write them, "2024-08-01..2025-02-01" ("" for the whole release)."""
    if not start and not end:
        return ""
    return "..".join(parse_window_date(day).date().isoformat() if day else "" for day in (start, end))
