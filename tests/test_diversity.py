"""Diversity of synthesized data: each measure against values worked out by hand on tiny inputs, and the
per-round reading of a pipeline run's folders."""

from __future__ import annotations

import json

import pytest

from scoder import diversity


def test_code_tokens_split_words_from_punctuation_and_keep_case():
    assert diversity.tokens("print(x+1)\nIf a_b >= 10:") == ["print", "(", "x", "+", "1", ")", "If", "a_b", ">", "=", "10", ":"]


def test_distinct_n_by_hand():
    # "a b a b": unigrams a b a b (2 distinct of 4), bigrams ab ba ab (2 of 3), trigrams aba bab (2 of 2).
    assert [diversity.distinct_n(["a b a b"], n) for n in (1, 2, 3)] == [0.5, 2 / 3, 1.0]
    # Two texts "a b": bigrams ab, ab (1 of 2); one spanning the texts (b a) would make it 2 of 3.
    assert diversity.distinct_n(["a b", "a b"], 2) == 0.5
    assert diversity.distinct_n(["a", "b"], 2) == 0.0  # no text has two tokens
    assert diversity.distinct_n([], 1) == 0.0


def test_token_entropy_by_hand():
    assert diversity.token_entropy(["x x x x"]) == 0.0
    assert diversity.token_entropy(["a a", "b b"]) == 1.0
    assert diversity.token_entropy(["a b c d"]) == 2.0
    # 3/4 a, 1/4 b: -(0.75 log2 0.75 + 0.25 log2 0.25) = 0.311278 + 0.5
    assert diversity.token_entropy(["a a a b"]) == pytest.approx(0.811278, abs=1e-6)
    assert diversity.token_entropy([""]) == 0.0


WORDS = [f"word{number}" for number in range(40)]


def _record(problem: str, solution: str = "def f():\n    return 1") -> dict:
    return {"problem": problem, "solution": solution}


def test_near_duplicate_rate_counts_exact_and_near_duplicates():
    original = " ".join(WORDS)
    records = [
        _record(original),
        _record(original.replace(" ", "  ")),  # exact duplicate up to whitespace
        _record(" ".join(WORDS[:-1] + ["changed"])),  # 35 of 37 distinct 5-word shingles shared: Jaccard 0.95
        _record(" ".join(f"other{number}" for number in range(40))),  # nothing shared
    ]
    assert diversity.near_duplicate_rate(records) == 2 / 4
    assert diversity.near_duplicate_rate(records[2:]) == 0.0
    assert diversity.near_duplicate_rate([]) == 0.0


def test_measure_leaves_out_unparsed_candidates():
    records = [_record("a b"), _record("a b"), {"problem": None, "solution": None, "raw": "no sections"}]
    measured = diversity.measure(records)
    # Texts "a b\ndef f():\n    return 1" twice: 9 tokens each (a b def f ( ) : return 1), 9 distinct of 18.
    assert measured["samples"] == 2
    assert measured["distinct-1"] == 0.5
    assert measured["entropy"] == pytest.approx(3.169925, abs=1e-6)  # 9 tokens equally likely: log2 9
    assert measured["near-duplicates"] == 0.5


def _write(folder, records, manifest=None):
    folder.mkdir(parents=True)
    (folder / "records.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    if manifest is not None:
        (folder / "manifest.json").write_text(json.dumps(manifest))


def test_per_iteration_reads_each_data_set_of_a_run_in_order(tmp_path):
    # A run directory's layout (scoder/pipeline.py) with made-up records: a real run takes hours. The
    # synthesizer collapses: the candidates repeat themselves more with each round.
    varied = [_record(" ".join(f"w{index}x{number}" for number in range(12))) for index in range(4)]
    _write(tmp_path / "seed", varied)
    _write(tmp_path / "iteration-1" / "sample", varied[:3] + [{"problem": None, "solution": None}])
    _write(tmp_path / "iteration-1" / "select", varied[:2])
    _write(tmp_path / "iteration-2" / "sample", [varied[0]] * 3 + [varied[1]])
    (tmp_path / "iteration-2" / "score").mkdir()  # a round still running: no selection yet
    _write(tmp_path / "synthesize", [varied[0]] * 4, {"inputs": {"snippets": "k1", "iteration-2/train": "k2"}})
    rows = diversity.per_iteration(tmp_path)
    assert [(row["iteration"], row["data"], row["samples"]) for row in rows] == [
        (0, "seed", 4), (1, "candidates", 3), (1, "selected", 2), (2, "candidates", 4), (3, "synthesized", 4)]
    assert [row["near-duplicates"] for row in rows] == [0.0, 0.0, 0.0, 0.5, 0.75]
    assert rows[0]["distinct-1"] > rows[3]["distinct-1"] > rows[4]["distinct-1"]


def test_per_iteration_of_a_run_that_has_not_synthesized_yet(tmp_path):
    _write(tmp_path / "seed", [_record("a b c")])
    assert [row["data"] for row in diversity.per_iteration(tmp_path)] == ["seed"]
