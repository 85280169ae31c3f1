"""LiveCodeBench: releases, loading, date windows, private-test decoding (hostile pickles refused) and
lcb_runner's grading rules, on the hand-written fixtures in upstream's format (tests/fixtures/livecodebench)."""

import base64
import functools
import gzip
import hashlib
import http.server
import io
import json
import os
import pickle
import shlex
import shutil
import subprocess
import sys
import threading
import zlib
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from harness.benchmarks.livecodebench import tasks as lcb
from harness.benchmarks.livecodebench import LIVECODEBENCH, grading
from harness.benchmarks.data import DataError
from harness.benchmarks.livecodebench.scoring import LiveCodeBenchSettings, plan
from tests.conftest import SHARED

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "livecodebench"


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """An empty cache, no folder variable, and no network unless a test turns it on."""
    monkeypatch.setenv("SCODER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv(lcb.DATA_DIR_VARIABLE, raising=False)
    monkeypatch.setenv("SCODER_OFFLINE", "1")


def ids(problems):
    return [problem.question_id for problem in problems]


def compressed(payload: bytes) -> str:
    return base64.b64encode(zlib.compress(payload)).decode("ascii")


def fixture_row(question_id: str) -> dict:
    for shard in ("test.jsonl", "test2.jsonl"):
        for line in (FIXTURES / shard).read_text().splitlines():
            row = json.loads(line)
            if row["question_id"] == question_id:
                return row
    raise KeyError(question_id)


def fixture_problem(question_id: str) -> lcb.Problem:
    return lcb.Problem.from_row(fixture_row(question_id))


# ------------------------------------------------------------------------------------------------ releases


def test_release_table_is_the_loading_scripts():
    assert len(lcb.RELEASES) == 6 + 1 + 6 + 15
    assert list(lcb.RELEASES)[:8] == [f"release_v{n}" for n in range(1, 7)] + ["release_latest", "v1"]
    assert lcb.RELEASES["release_v3"] == ("test.jsonl", "test2.jsonl", "test3.jsonl")
    assert lcb.RELEASES["release_latest"] == lcb.RELEASES["release_v6"] == ("test.jsonl",) + tuple(
        f"test{n}.jsonl" for n in range(2, 7)
    )
    assert lcb.RELEASES["v1"] == ("test.jsonl",) and lcb.RELEASES["v4"] == ("test4.jsonl",)
    assert lcb.RELEASES["v2_v4"] == ("test2.jsonl", "test3.jsonl", "test4.jsonl")
    assert lcb.RELEASES["v1_v6"] == lcb.RELEASES["release_v6"]
    assert "v2_v1" not in lcb.RELEASES and "v3_v3" not in lcb.RELEASES


def test_unknown_release_lists_the_valid_names():
    with pytest.raises(ValueError) as error:
        lcb.load_problems("release_v7", data_dir=FIXTURES)
    assert "release_v7" in str(error.value)
    assert all(name in str(error.value) for name in ("release_v1", "release_latest", "v6", "v5_v6"))


@pytest.mark.parametrize(
    "release, expected",
    [
        ("release_v1", ["9001", "9002_A"]),
        ("v1", ["9001", "9002_A"]),
        ("v2", ["9004", "abc900_b"]),
        ("release_v2", ["9001", "9002_A", "9004", "abc900_b"]),
        ("v1_v2", ["9001", "9002_A", "9004", "abc900_b"]),
    ],
)
def test_a_release_reads_its_shards_only(release, expected):
    assert ids(lcb.load_problems(release, data_dir=FIXTURES)) == expected  # sorted by question_id


def test_a_missing_shard_offline_names_the_folder_option_and_the_url():
    with pytest.raises(DataError) as error:
        lcb.load_problems("release_v3", data_dir=FIXTURES)
    message = str(error.value)
    assert "test3.jsonl" in message and lcb.DATA_DIR_VARIABLE in message and "SCODER_OFFLINE" in message
    assert lcb.shard_url("test3.jsonl") in message and lcb.PINNED_REVISION in message


def test_folder_precedence_argument_then_variable(tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv(lcb.DATA_DIR_VARIABLE, str(FIXTURES))
    assert len(lcb.load_problems("release_v2")) == 4
    monkeypatch.setenv(lcb.DATA_DIR_VARIABLE, str(empty))
    assert len(lcb.load_problems("release_v2", data_dir=FIXTURES)) == 4
    monkeypatch.setenv(lcb.DATA_DIR_VARIABLE, str(FIXTURES))
    with pytest.raises(DataError, match="test.jsonl was not found"):  # an explicit folder is not second-guessed
        lcb.load_problems("release_v1", data_dir=empty)


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """A local stand-in for the hub's resolve/<revision>/<shard> URLs, serving the fixture shards."""
    root = tmp_path / "hub"
    shutil.copytree(FIXTURES, root / lcb.PINNED_REVISION)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(lcb, "HUB_URL", f"http://127.0.0.1:{server.server_port}/{{revision}}/{{shard}}")
    monkeypatch.delenv("SCODER_OFFLINE")
    yield
    server.shutdown()
    server.server_close()


def test_download_goes_to_the_cache_per_revision_and_is_reused_offline(hub, tmp_path, monkeypatch):
    assert len(lcb.load_problems("release_v2")) == 4
    cached = tmp_path / "cache" / "livecodebench" / lcb.PINNED_REVISION
    assert (cached / "test2.jsonl").read_bytes() == (FIXTURES / "test2.jsonl").read_bytes()
    assert not [path for path in cached.iterdir() if path.name.startswith(".")]  # no temporary file left
    monkeypatch.setenv("SCODER_OFFLINE", "1")
    assert ids(lcb.load_problems("v2")) == ["9004", "abc900_b"]


def test_an_unreachable_hub_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("SCODER_OFFLINE")
    monkeypatch.setattr(lcb, "HUB_URL", "http://127.0.0.1:9/{revision}/{shard}")
    with pytest.raises(DataError, match="could not be downloaded"):
        lcb.load_problems("v1")


# ------------------------------------------------------------------------------- availability, before a run


def test_availability_finds_local_shards_and_says_what_will_be_downloaded(hub, tmp_path):
    found = lcb.data_availability("release_v2", FIXTURES)
    assert found.local == (str(FIXTURES / "test.jsonl"), str(FIXTURES / "test2.jsonl")) and not found.downloads
    to_fetch = lcb.data_availability("release_v2")
    assert to_fetch.downloads == (lcb.shard_url("test.jsonl"), lcb.shard_url("test2.jsonl")) and not to_fetch.local
    assert not (tmp_path / "cache" / "livecodebench").exists()  # asked with a HEAD request, nothing fetched


@pytest.mark.parametrize("variable, reason", [
    ("SCODER_OFFLINE", "downloads are off (SCODER_OFFLINE is set)"),
    ("HF_HUB_OFFLINE", "the Hugging Face hub is off (HF_HUB_OFFLINE is set)"),
])
def test_without_local_data_offline_is_refused_naming_the_fix(monkeypatch, variable, reason):
    monkeypatch.delenv("SCODER_OFFLINE")
    monkeypatch.setenv(variable, "1")
    with pytest.raises(DataError) as error:
        lcb.data_availability("release_v5")
    assert reason in str(error.value)
    assert "Set SCODER_LCB_DIR to a folder of LiveCodeBench shards or one JSONL file, or go online" in str(error.value)
    with pytest.raises(DataError, match=reason.replace("(", r"\(").replace(")", r"\)")):  # and the download keeps to it
        lcb.load_problems("v1")


def test_an_unreachable_hub_is_refused_before_the_run(monkeypatch):
    monkeypatch.delenv("SCODER_OFFLINE")
    monkeypatch.setattr(lcb, "HUB_URL", "http://127.0.0.1:9/{revision}/{shard}")
    with pytest.raises(DataError, match="cannot be downloaded: 127.0.0.1 cannot be reached"):
        lcb.data_availability("v1")


# ---------------------------------------------------------------------------------- one file for a release

RELEASE_V5 = SHARED / "conformance" / "livecodebench" / "release_v5-partial-tests.jsonl.gz"  # the 880 real ones


def release_v5_rows_by_date(count: int) -> list[dict]:
    with gzip.open(RELEASE_V5, "rt") as handle:
        return sorted(map(json.loads, handle), key=lambda row: row["contest_date"])[:count]


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.mark.parametrize("release, claimed", [
    ("release_v1", "but release_v1 is 400 problems from contests 2023-05-01 to 2024-03-02"),  # dated after it
    ("v5", "but v5 is 167 problems from contests 2024-09-28 to 2025-01-04"),  # dated before it
    ("v4_v5", "but v4_v5 is 268 problems from contests 2024-08-04 to 2025-01-04"),
    ("release_latest", "that is release_v5 (880 problems from contests 2023-05-01 to 2025-01-04), not release_latest"),
    ("release_v6", "that is release_v5 (880 problems from contests 2023-05-01 to 2025-01-04), not release_v6"),
])
def test_a_file_of_another_release_is_refused_naming_what_it_holds(release, claimed):
    with pytest.raises(DataError) as error:
        lcb.load_problems(release, data_dir=RELEASE_V5)
    message = str(error.value)
    assert f"{RELEASE_V5} holds 880 problems from contests 2023-05-07 to 2025-01-04" in message
    assert claimed in message and "Pass --release release_v5 (in a recipe: livecodebench:release_v5)" in message
    with pytest.raises(DataError, match="Pass --release release_v5"):  # before a run, too
        lcb.data_availability(release, RELEASE_V5)


@pytest.mark.parametrize("release", ["release_v5", "v1_v5"])
def test_a_file_of_the_release_is_taken_for_it_and_recorded(release):
    problems, data_file = lcb.read_release(release, data_dir=RELEASE_V5)
    assert len(problems) == 880 and data_file.whole_release
    meta = plan(problems, [], data_dir=str(RELEASE_V5), settings=LiveCodeBenchSettings(release), data_file=data_file).meta
    assert meta["data_file"] == str(RELEASE_V5) and meta["data_file_holds"] == {
        "sha256": hashlib.sha256(RELEASE_V5.read_bytes()).hexdigest(), "problems": 880,
        "first_contest_date": "2023-05-07", "last_contest_date": "2025-01-04", "whole_release": True}
    assert LIVECODEBENCH.score_columns({"scoder": meta, "pass_at_k": {}})[0].version == release
    assert f"the whole {release}: 880 problems" in str(lcb.data_availability(release, RELEASE_V5))


def test_part_of_a_release_is_recorded_as_what_it_holds_not_as_the_release(tmp_path):
    part = write_rows(tmp_path / "part.jsonl", release_v5_rows_by_date(100))
    problems, data_file = lcb.read_release("release_v1", "2023-06-01", data_dir=part)
    meta = plan(problems, [], data_dir=str(part), settings=LiveCodeBenchSettings("release_v1", "2023-06-01"), data_file=data_file).meta
    held = meta["data_file_holds"]
    assert (held["problems"], held["first_contest_date"], held["last_contest_date"], held["whole_release"]) == (
        100, "2023-05-07", "2023-07-15", False)  # the file's, not the window's
    column = LIVECODEBENCH.score_columns({"scoder": meta, "pass_at_k": {}})[0]
    assert column.version == f"release_v1 part 100/400 sha256:{held['sha256'][:12]}"


def test_a_file_that_is_exactly_a_smaller_release_is_refused_as_that_one(tmp_path):
    first_400 = write_rows(tmp_path / "v1.jsonl", release_v5_rows_by_date(400))
    with pytest.raises(DataError, match=r"that is release_v1 \(400 problems .*\), not release_v2 .* Pass --release release_v1"):
        lcb.load_problems("release_v2", data_dir=first_400)
    assert len(lcb.load_problems("release_v1", data_dir=first_400)) == 400


# ------------------------------------------------------------------------------------------------ problems


def test_rows_become_problems_as_upstream_reads_them():
    problems = {problem.question_id: problem for problem in lcb.load_problems("release_v2", data_dir=FIXTURES)}
    leetcode, codeforces = problems["9001"], problems["9002_A"]
    assert (leetcode.platform, leetcode.difficulty, leetcode.contest_id) == ("leetcode", "easy", "weekly-contest-901")
    assert leetcode.contest_date == datetime(2023, 5, 13)
    assert leetcode.func_name == "countPairs" and leetcode.style == lcb.FUNCTIONAL
    assert leetcode.starter_code.startswith("class Solution:\n    def countPairs(self")
    assert leetcode.public_tests == (lcb.Test("[1, 2, 3, 4]\n5", "2", "functional"),)
    assert codeforces.func_name is None and codeforces.style == lcb.STDIN and codeforces.starter_code == ""
    tests = codeforces.tests()
    assert tests[0] == lcb.Test("3\n1 2 3\n", "6\n", "stdin") and tests[1:] == codeforces.private_tests()
    assert [len(problems[key].tests()) for key in sorted(problems)] == [4, 4, 3, 5]


def test_both_private_test_encodings_decode_to_the_same_tests():
    cases = [{"input": "2\n1 4\n", "output": "2.5\n", "testtype": "stdin"}, {"input": "1\n7\n", "output": "7\n", "testtype": "stdin"}]
    expected = (lcb.Test("2\n1 4\n", "2.5\n", "stdin"), lcb.Test("1\n7\n", "7\n", "stdin"))
    as_json = json.dumps(cases)
    as_pickle = compressed(pickle.dumps(as_json, protocol=4))
    assert lcb.decode_private_tests(as_json, "q") == lcb.decode_private_tests(as_pickle, "q") == expected
    # the fixtures use both: plain JSON for 9001, a compressed pickle for 9002_A
    assert fixture_row("9001")["private_test_cases"].startswith("[")
    assert not fixture_row("9002_A")["private_test_cases"].startswith("[")
    assert fixture_problem("9002_A").private_tests()[2] == lcb.Test("4\n10 20 30 40\n", "100\n", "stdin")
    assert fixture_problem("9001").private_tests()[1] == lcb.Test("[]\n0", "0", "functional")


@pytest.mark.parametrize(
    "change, message",
    [
        ({"platform": "topcoder"}, "unknown platform"),
        ({"public_test_cases": json.dumps([{"input": "1", "output": "1", "testtype": "stdin", "x": "y"}])}, "input, output, testtype"),
        ({"public_test_cases": json.dumps([{"input": "1", "output": "1", "testtype": "interactive"}])}, "testtype"),
        ({"metadata": json.dumps({"func_name": 3})}, "func_name"),
        ({"contest_date": "yesterday"}, "contest_date"),
        ({"difficulty": None}, "string"),
    ],
)
def test_malformed_rows_are_refused_naming_the_problem(change, message):
    with pytest.raises(DataError, match=message) as error:
        lcb.Problem.from_row({**fixture_row("9001"), **change}, "shard:1")
    assert "shard:1 (9001)" in str(error.value)


def test_a_missing_field_is_refused():
    row = fixture_row("9002_A")
    del row["metadata"]
    with pytest.raises(DataError, match="missing 'metadata'"):
        lcb.Problem.from_row(row)


# ------------------------------------------------------------------------------ private tests: hostile data


def test_a_pickle_that_would_run_a_command_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "ran"

    class Exploit:
        def __reduce__(self):
            return os.system, (f"touch {shlex.quote(str(marker))}",)

    payload = pickle.dumps(Exploit())
    # The payload is live: a plain unpickler runs the command (in a separate process).
    subprocess.run([sys.executable, "-c", "import pickle, sys; pickle.loads(sys.stdin.buffer.read())"], input=payload, check=True)
    assert marker.exists()
    marker.unlink()
    with pytest.raises(DataError) as error:
        lcb.decode_private_tests(compressed(payload), "evil_1")
    assert "evil_1" in str(error.value) and "system" in str(error.value)
    assert not marker.exists()


@pytest.mark.parametrize(
    "value",
    [
        [{"input": "1", "output": "1", "testtype": "stdin"}],  # the tests themselves, not their JSON text
        {"input": "1", "output": "1", "testtype": "stdin"},
        b'[{"input": "1", "output": "1", "testtype": "stdin"}]',
        12,
    ],
)
def test_a_pickled_value_other_than_a_string_is_refused(value):
    with pytest.raises(DataError, match=f"holds a {type(value).__name__}, not the JSON text"):
        lcb.decode_private_tests(compressed(pickle.dumps(value, protocol=4)), "q7")


@pytest.mark.parametrize(
    "payload",
    [
        pickle.dumps(complex(1, 2)),  # a harmless class is still a class: refused by name
        b"Pabc\n.",  # a persistent id (protocol 0)
        pickle.dumps(ValueError("x"), protocol=0),  # old-style GLOBAL opcode
    ],
)
def test_globals_and_persistent_ids_are_refused(payload):
    with pytest.raises(DataError, match="refused"):
        lcb.decode_private_tests(compressed(payload), "q8")


def test_a_zlib_bomb_is_refused_and_the_cap_is_not_a_blanket_no(monkeypatch):
    monkeypatch.setattr(lcb, "MAX_DECOMPRESSED_BYTES", 1024 * 1024)

    def blob(size: int) -> str:
        text = json.dumps([{"input": "a" * size, "output": "", "testtype": "stdin"}])
        return compressed(pickle.dumps(text, protocol=4))

    assert len(lcb.decode_private_tests(blob(500_000), "q9")[0].input) == 500_000
    bomb = blob(50 * 1024 * 1024)
    assert len(bomb) < 100_000  # 50 MiB inflate from under 100 kB
    with pytest.raises(DataError, match="MAX_DECOMPRESSED_BYTES"):
        lcb.decode_private_tests(bomb, "q9")


@pytest.mark.parametrize(
    "blob, message",
    [
        (base64.b64encode(zlib.compress(pickle.dumps("[]"))[:-6]).decode(), "truncated"),
        (base64.b64encode(b"not zlib at all").decode(), "not zlib"),
        ("abc", "neither JSON nor base64"),
        (compressed(pickle.dumps("not json")), "not JSON"),
        (json.dumps({"input": "1"}), "JSON list"),
    ],
)
def test_broken_blobs_are_data_errors(blob, message):
    with pytest.raises(DataError, match=message):
        lcb.decode_private_tests(blob, "q10")


# ------------------------------------------------------------------------------------------------ windows


@pytest.mark.parametrize(
    "start, end, expected",
    [
        (None, None, ["9001", "9002_A", "9004", "abc900_b"]),
        ("2023-08-21", None, ["9002_A", "9004", "abc900_b"]),  # the start day is in
        (None, "2023-08-21", ["9001", "9002_A"]),  # the end day is in
        ("2023-08-22", "2024-05-24", ["abc900_b"]),
        ("2024-05-26", None, []),
    ],
)
def test_date_windows_are_inclusive(start, end, expected):
    assert ids(lcb.load_problems("release_v2", start, end, data_dir=FIXTURES)) == expected
    everything = lcb.load_problems("release_v2", data_dir=FIXTURES)
    assert ids(lcb.filter_by_date(everything, start, end)) == expected


def test_the_end_date_is_its_midnight_as_upstream_compares():
    late = lcb.Problem.from_row({**fixture_row("9004"), "contest_date": "2024-05-25T14:30:00"})
    assert lcb.filter_by_date([late], end_date="2024-05-25") == []
    assert lcb.filter_by_date([late], start_date="2024-05-25", end_date="2024-05-26") == [late]


@pytest.mark.parametrize("text", ["2024/05/01", "2024-5", "May 1"])
def test_a_malformed_window_date_is_refused(text):
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        lcb.load_problems("v1", start_date=text, data_dir=FIXTURES)


# ------------------------------------------------------------------------------------ grading: comparisons


@pytest.mark.parametrize(
    "produced, expected, verdict",
    [
        ("6\n", "6", True),
        ("1 2 3   \n", "1 2 3", True),  # trailing spaces
        ("a\n\n\n", "a\n", True),  # blank trailing lines
        ("\n\na", "a", True),  # blank leading lines
        ("1\r\n2\r\n", "1\n2\n", True),  # each line is stripped
        ("", "\n", True),
        ("a\n\nb", "a\nb", False),  # an inner blank line is a line
        ("1\n2", "1 2", False),  # line count differs
        ("1.0", "1.00", True),  # numbers compare as Decimals
        ("1e3 -0", "1000 0", True),
        ("0.1 0.2", "0.1    0.2", True),
        ("YES NO", "YES  NO", False),  # words do not: the lines differ as text
        ("2.5000001", "2.5", False),  # no tolerance
        ("yes", "YES", False),
        ("nan", "nan", True),  # equal as text first
        ("nan", "NaN", False),  # NaN never equals NaN
        ("sNaN", "snan", False),  # a signalling NaN cannot even be compared
        ("1 2", "1 2 3", False),
    ],
)
def test_stdio_outputs_match_as_lcb_runner(produced, expected, verdict):
    assert grading.stdio_outputs_match(produced, expected) is verdict


@pytest.mark.parametrize(
    "produced, expected, verdict",
    [
        ((0, 1), [0, 1], True),  # a returned tuple counts as a list
        ([(0, 1)], [[0, 1]], False),  # only at the top level
        ([0, 1], [1, 0], False),
        (0.1 + 0.2, 0.3, False),  # no float tolerance
        (1, True, True),  # plain ==, as upstream
        (1.0, 1, True),
        ({"a": [1]}, {"a": [1]}, True),
        ({1: 2}, {"1": 2}, False),
        (None, None, True),
        ({1, 2}, [1, 2], False),
        (np.array([3]), [3], True),  # upstream keeps a one-element array's truth value
        (np.array([1, 2]), [1, 2], False),  # no single truth value: upstream raises, the test fails
    ],
)
def test_call_outputs_match_as_lcb_runner(produced, expected, verdict):
    assert grading.call_outputs_match(produced, expected) is verdict


def test_call_inputs_are_one_json_value_per_line():
    assert grading.parse_call_inputs('[1, 2]\n5\n"x"\ntrue') == [[1, 2], 5, "x", True]
    assert grading.parse_call_output("[[2, 4], [1, 3]]") == [[2, 4], [1, 3]]
    with pytest.raises(ValueError):
        grading.parse_call_inputs("[1, 2]\n")  # a trailing newline is an empty, invalid line upstream too


def test_timeouts_are_lcb_runners():
    assert grading.TEST_TIMEOUT_S == 6
    assert grading.sample_timeout_s(10) == 75 and grading.sample_timeout_s(1, test_timeout_s=2) == 8


# --------------------------------------------------------------------------------------- grading: programs


def test_the_prelude_is_lcb_runners_import_string():
    modules = "string re datetime collections heapq bisect copy math random statistics itertools functools operator io sys json"
    expected = [f"from {m} import *" for m in modules.split() + ["builtins", "typing"]]
    expected += [f"import {m}" for m in modules.split()] + ["sys.setrecursionlimit(50000)"]
    assert grading.IMPORT_PRELUDE.splitlines() == expected and grading.IMPORT_PRELUDE.endswith("\n")


@pytest.fixture
def load_program():
    """Loads a PreparedProgram in this process as the sandbox child would (our own code only): stdin on
    os.devnull and a discarding stdout while it loads, a fresh namespace named tmp_sol."""

    def load(program: grading.PreparedProgram):
        namespace = {"__name__": grading.MODULE_NAME}
        exec(compile(program.text, "<lcb>", "exec"), namespace)  # noqa: S102 -- our own test programs
        return namespace[grading.ENTRY_NAME]

    saved_stdin, saved_stdout, recursion_limit = sys.stdin, sys.stdout, sys.getrecursionlimit()
    with open(os.devnull) as devnull:
        sys.stdin, sys.stdout = devnull, io.StringIO()
        try:
            yield load
        finally:
            sys.stdin, sys.stdout = saved_stdin, saved_stdout
            sys.setrecursionlimit(recursion_limit)  # the prelude raised it to 50000


def test_a_stdio_program_keeps_imports_on_top_and_wraps_the_rest():
    code = 'import sys\nfrom math import gcd\nN = 5\n\ndef main():\n    print(gcd(N, 10))\nif __name__ == "__main__":\n    main()\n'
    program = grading.prepare_stdio_program(code)
    assert program.style == lcb.STDIN and program.text.startswith(grading.IMPORT_PRELUDE)
    body = program.text[len(grading.IMPORT_PRELUDE):]
    assert body.startswith("\nimport sys\nfrom math import gcd\ndef wrapped_function():\n    N = 5\n")
    assert "__name__" not in body.split("def _lcb_stdio_entry")[0]  # the guard's body now runs in the wrapper
    assert "\n    main()\n" in body
    compile(program.text, "<lcb>", "exec")


STDIN_PROGRAMS = {
    "input": "n = int(input())\nprint(sum(map(int, input().split())))",
    "sys.stdin.read": "import sys\ndata = sys.stdin.read().split()\nprint(sum(map(int, data[1:])))",
    "sys.stdin.readline": "import sys\ninput = sys.stdin.readline\nn = int(input())\nprint(sum(map(int, input().split())))",
    "from sys import stdin": "from sys import stdin\nn = int(stdin.readline())\nprint(sum(map(int, stdin.readline().split())))",
    "prelude's stdin": "n = int(stdin.readline())\nprint(sum(map(int, stdin.readline().split())))",
    "main guard": 'def main():\n    input()\n    print(sum(map(int, input().split())))\n\nif __name__ == "__main__":\n    main()',
}


@pytest.mark.parametrize("way", list(STDIN_PROGRAMS))
def test_stdin_programs_read_their_input_every_way_upstream_allows(way, load_program):
    entry = load_program(grading.prepare_stdio_program(STDIN_PROGRAMS[way]))
    assert entry("3\n1 2 3\n") == "6\n"
    assert entry("2\n10 -4\n") == "6\n"  # every call gets its input afresh


def test_stdin_quirks_follow_upstream(load_program):
    # sys.exit keeps what was printed; stdin.buffer does not exist (sys.stdin is a StringIO during the call).
    assert load_program(grading.prepare_stdio_program("import sys\nprint(1)\nsys.exit(3)\nprint(2)"))("") == "1\n"
    entry = load_program(grading.prepare_stdio_program("import sys\nprint(sys.stdin.buffer.readline())"))
    with pytest.raises(AttributeError):
        entry("1\n")
    # stdin.readline (patched on the stdin bound at load) and input() (the call's StringIO) keep separate places.
    entry = load_program(grading.prepare_stdio_program("from sys import stdin\nprint(stdin.readline(), input())"))
    assert entry("a\nb\n") == "a a\n"


def test_a_main_guard_is_only_inlined_when_it_is_the_last_statement(load_program):
    code = 'if __name__ == "__main__":\n    print("main")\nprint("after")'
    program = grading.prepare_stdio_program(code)
    assert "if __name__ == '__main__':" in program.text  # kept inside wrapped_function, where it is false
    assert load_program(program)("") == "after\n"


def test_code_that_does_not_parse_is_left_as_it_is():
    broken = "def f(:\n    pass\n"
    assert grading.prepare_stdio_program(broken).text == broken
    unterminated = "class Solution:\n    def f(self):\n        return '''"
    program = grading.prepare_call_program(unterminated, "f")
    assert program.text == grading.IMPORT_PRELUDE + "\n\n" + unterminated and grading.ENTRY_NAME not in program.text
    for text in (grading.prepare_stdio_program(broken).text, program.text):
        with pytest.raises(SyntaxError):
            compile(text, "<lcb>", "exec")


def test_a_leetcode_program_calls_one_solution_instance(load_program):
    code = "class Solution:\n    def __init__(self):\n        self.calls = 0\n\n    def count(self, step):\n        self.calls += step\n        return self.calls, 'x'"
    program = grading.prepare_call_program(code, "count")
    assert program.style == lcb.FUNCTIONAL and program.text.startswith(grading.IMPORT_PRELUDE + "\n\n" + code)
    entry = load_program(program)
    assert [entry(1), entry(2)] == [(1, "x"), (3, "x")]


def test_a_function_program_calls_the_module_function(load_program):
    code = 'def double(x):\n    return 2 * x\n\nif __name__ == "__main__":\n    raise SystemExit("the guard ran")'
    entry = load_program(grading.prepare_call_program(code, "double"))  # loads as tmp_sol: the guard stays false
    assert entry(*grading.parse_call_inputs("21")) == 42


def test_class_solution_in_a_comment_is_taken_at_its_word(load_program):
    # Upstream tests the text for "class Solution", then instantiates Solution: here there is none.
    with pytest.raises(NameError):
        load_program(grading.prepare_call_program("# no class Solution here\ndef f():\n    return 1", "f"))


RIGHT = {
    "9001": "class Solution:\n    def countPairs(self, nums, target):\n        return sum(1 for i in range(len(nums)) for j in range(i + 1, len(nums)) if nums[i] + nums[j] == target)",
    "9002_A": 'def main():\n    input()\n    print(sum(map(int, input().split())))\n\nif __name__ == "__main__":\n    main()',
    "abc900_b": "import sys\nn, *a = map(int, sys.stdin.read().split())\nprint(sum(a) / n)",
    "9004": "class Solution:\n    def evensAndOdds(self, nums: List[int]) -> List[List[int]]:\n        return [x for x in nums if x % 2 == 0], [x for x in nums if x % 2]",
}
WRONG = {
    "9001": "class Solution:\n    def countPairs(self, nums, target):\n        return sum(1 for i in range(len(nums)) for j in range(len(nums)) if i != j and nums[i] + nums[j] == target)",
    "9002_A": "input()\nprint(sum(map(int, input().split()[1:])))",  # skips the first number
    "abc900_b": "import sys\nn, *a = map(int, sys.stdin.read().split())\nprint(sum(a) // n)",
    "9004": "class Solution:\n    def evensAndOdds(self, nums):\n        return [[x for x in nums if x % 2], [x for x in nums if x % 2 == 0]]",
}


def run_tests(problem: lcb.Problem, entry) -> list[bool]:
    verdicts = []
    for test in problem.tests():
        if problem.style == lcb.STDIN:
            verdicts.append(grading.stdio_outputs_match(entry(test.input), test.output))
        else:
            produced = entry(*grading.parse_call_inputs(test.input))
            verdicts.append(grading.call_outputs_match(produced, grading.parse_call_output(test.output)))
    return verdicts


@pytest.mark.parametrize("question_id", list(RIGHT))
def test_fixture_problems_pass_right_programs_and_fail_wrong_ones(question_id, load_program):
    problem = fixture_problem(question_id)
    assert all(run_tests(problem, load_program(grading.prepare_program(problem, RIGHT[question_id]))))
    assert not all(run_tests(problem, load_program(grading.prepare_program(problem, WRONG[question_id]))))
