import re

import pytest

from harness.benchmarks.registry import column_titles
from harness.report.baselines import BASELINES_DIR, BaselineError, PublishedScore, load_baselines

GOOD_GROUP = """\
- source: https://example.org/results.json
  benchmark: {benchmark}
  version: v0.2.0
  scores:
    Model-A: 58.7
"""


def test_shipped_baselines_load():
    scores = load_baselines()
    assert scores == load_baselines(sorted(BASELINES_DIR.glob("*.yaml")))
    by_file = {path.name: load_baselines([path]) for path in BASELINES_DIR.glob("*.yaml")}
    assert set(by_file) == {"leaderboards.yaml", "self_reported.yaml"}
    assert all(score.source.startswith("https://") and score.version and 0 <= score.value <= 100 for score in scores)
    assert {score.model for score in by_file["leaderboards.yaml"]} == {
        "DeepSeek-Coder-6.7B-base", "DeepSeek-Coder-6.7B-instruct", "Magicoder-S-DS-6.7B",
        "WaveCoder-Ultra-6.7B", "OpenCodeInterpreter-DS-6.7B", "Qwen2.5-Coder-7B-Instruct"}
    assert {score.protocol for score in by_file["leaderboards.yaml"]} == {"greedy pass@1"}


def test_self_reported_numbers_never_share_a_column_with_leaderboard_numbers():
    def columns(name):
        return {(s.benchmark, s.version, s.protocol, s.window) for s in load_baselines([BASELINES_DIR / name])}

    self_reported = columns("self_reported.yaml")
    assert self_reported and not self_reported & columns("leaderboards.yaml")
    assert all("self-reported" in protocol for _, _, protocol, _ in self_reported)


def test_a_group_gives_one_score_per_model(tmp_path):
    path = tmp_path / "lcb.yaml"
    path.write_text("""\
- source: https://example.org/lcb.json
  benchmark: livecodebench
  version: release_v5
  protocol: pass@1, n=10, temperature 0.2
  window: 2024-08-01..2025-02-01
  note: group note
  scores:
    Model-A: 30
    Model-B: {value: 12.5, note: own note}
""")
    assert load_baselines([path]) == [
        PublishedScore("Model-A", "livecodebench", "release_v5", "pass@1, n=10, temperature 0.2", 30.0,
                       "https://example.org/lcb.json", "2024-08-01..2025-02-01", "group note"),
        PublishedScore("Model-B", "livecodebench", "release_v5", "pass@1, n=10, temperature 0.2", 12.5,
                       "https://example.org/lcb.json", "2024-08-01..2025-02-01", "group note; own note"),
    ]


def test_the_same_number_in_two_files_is_kept_once(tmp_path):
    for name in ("a.yaml", "b.yaml"):
        (tmp_path / name).write_text(GOOD_GROUP.format(benchmark="mbpp+"))
    assert len(load_baselines([tmp_path / "a.yaml", tmp_path / "b.yaml"])) == 1


# Each bad entry: the YAML text (one file), and what the message must name besides the file: the
# entry and the field.
BAD = {
    "unknown benchmark": (GOOD_GROUP.format(benchmark="mbpp-plus"), r"group 1: benchmark: unknown benchmark 'mbpp-plus'"),
    "missing source": (GOOD_GROUP.format(benchmark="mbpp+").replace("- source: https://example.org/results.json\n  ", "- "),
                       r"group 1 \(mbpp\+\): source: missing"),
    "version read as a number": (GOOD_GROUP.format(benchmark="mbpp+").replace("v0.2.0", "0.2"),
                                 r"group 1 \(mbpp\+\): version: 0.2 is not text"),
    "empty version": (GOOD_GROUP.format(benchmark="mbpp+").replace("v0.2.0", "''"), r"group 1 \(mbpp\+\): version: missing or empty"),
    "value above 100": (GOOD_GROUP.format(benchmark="mbpp+").replace("58.7", "158.7"),
                        r"group 1 \(mbpp\+\), model 'Model-A': value: 158.7 is outside 0..100"),
    "negative value": (GOOD_GROUP.format(benchmark="mbpp+").replace("58.7", "-1"), r"model 'Model-A': value: -1 is outside 0..100"),
    "fraction written as text": (GOOD_GROUP.format(benchmark="mbpp+").replace("58.7", "'58.7%'"),
                                 r"model 'Model-A': value: '58.7%' is not a number"),
    "blank written as null": (GOOD_GROUP.format(benchmark="mbpp+").replace("58.7", "null"), r"model 'Model-A': value: missing; leave a model out"),
    "model listed twice": (GOOD_GROUP.format(benchmark="mbpp+") + "    Model-A: 60.1\n", r"'Model-A' appears twice"),
    "misspelt field": (GOOD_GROUP.format(benchmark="mbpp+").replace("version:", "verison:"), r"group 1: verison: unknown field"),
    "window outside LiveCodeBench": (GOOD_GROUP.format(benchmark="mbpp+") + "  window: 2024-08-01..2025-02-01\n",
                                     r"group 1 \(mbpp\+\): window: mbpp\+ scores have no contest window \(only livecodebench"),
    "malformed window": (GOOD_GROUP.format(benchmark="livecodebench") + "  window: 2024-08..2025-02\n",
                         r"group 1 \(livecodebench\): window: '2024-08..2025-02' is not a window"),
    "window ending before it starts": (GOOD_GROUP.format(benchmark="livecodebench") + "  window: 2025-02-01..2024-08-01\n",
                                       r"window: .* the start is after the end"),
    "no scores": (GOOD_GROUP.format(benchmark="mbpp+").replace("    Model-A: 58.7\n", ""), r"group 1 \(mbpp\+\): scores: expected a non-empty mapping"),
    "not a list of groups": ("source: https://example.org\n", r"expected a non-empty list of groups"),
    "not YAML": ("- source: [unclosed\n", r"cannot be read as YAML"),
}


@pytest.mark.parametrize("kind", BAD)
def test_bad_entries_are_refused_with_file_entry_and_field(tmp_path, kind):
    text, message = BAD[kind]
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(BaselineError, match=re.escape(str(path)) + ".*" + message):
        load_baselines([path])


def test_two_values_for_one_measurement_are_refused_naming_both_places(tmp_path):
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    first.write_text(GOOD_GROUP.format(benchmark="mbpp+"))
    second.write_text(GOOD_GROUP.format(benchmark="mbpp+").replace("58.7", "58.2"))
    with pytest.raises(BaselineError, match=rf"{re.escape(str(second))}: group 1 \(mbpp\+\), model 'Model-A': value: 58.2 "
                                            rf"contradicts 58.7 .* at {re.escape(str(first))}: group 1"):
        load_baselines([first, second])


def test_another_version_or_protocol_is_another_measurement(tmp_path):
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    first.write_text(GOOD_GROUP.format(benchmark="mbpp+"))
    second.write_text(GOOD_GROUP.format(benchmark="mbpp+").replace("58.7", "64.4").replace("v0.2.0", "v0.1.0"))
    assert [score.value for score in load_baselines([first, second])] == [58.7, 64.4]


def test_every_benchmark_key_is_accepted(tmp_path):
    path = tmp_path / "all.yaml"
    path.write_text("".join(GOOD_GROUP.format(benchmark=key) + ("  window: 2024-08-01..2025-02-01\n" if key == "livecodebench" else "")
                            for key in column_titles()))
    assert [score.benchmark for score in load_baselines([path])] == list(column_titles())
