"""The multi-aspect scorer: parsing judge replies (hand-written here, labelled as such), the weighted
sum, and execution signals computed in the real sandbox, including programs that try to fake them."""

import pytest

from harness.journal import Journal
from scoder.scoring import ASPECTS, ScoringConfig, execution_signals, keep_top, parse_judgement, total

# Hand-written judge replies in the styles small models produce.
TIDY = "\n".join(f"{name}: {index % 10} - reason {index}" for index, name in enumerate(ASPECTS))
MESSY = """Sure! Here are my ratings:
1. **Problem Clarity**: 7/9 - clear enough
- self-containedness = 12
**difficulty:** 3 – easy
snippet relevance: 8
Solution correctness: not sure
"""


def test_a_tidy_reply_gives_every_aspect():
    parsed = parse_judgement(TIDY)
    assert {name: value["score"] for name, value in parsed.items()} == {name: index % 10 for index, name in enumerate(ASPECTS)}
    assert parsed["difficulty"]["reason"] == "reason 2"


def test_a_messy_reply_gives_what_it_rates_and_clips():
    parsed = parse_judgement(MESSY)
    assert {name: value["score"] for name, value in parsed.items()} == {
        "problem_clarity": 7, "self_containedness": 9, "difficulty": 3, "snippet_relevance": 8}


def test_weighted_sum_counts_missing_aspects_as_zero():
    aspects = {name: {"score": 9} for name in ASPECTS}
    assert total(aspects, None, ScoringConfig()) == 9
    assert total({}, None, ScoringConfig()) == 0
    half = {name: {"score": 9} for name in list(ASPECTS)[:5]}
    assert total(half, None, ScoringConfig()) == pytest.approx(4.5)
    weights = {name: 0.0 for name in list(ASPECTS)[5:]}
    assert total(half, None, ScoringConfig(weights=weights)) == pytest.approx(9)
    signals = {"parses": True, "runs": False, "passes_own_tests": False}
    assert total(aspects, signals, ScoringConfig()) == pytest.approx((10 * 9 + 9) / 13)
    with pytest.raises(ValueError, match="unknown aspects"):
        ScoringConfig(weights={"beauty": 1})


def test_keep_top():
    scored = [{"score": s} for s in (9, 7, 5, 3)]
    assert keep_top(scored, 0.5) == scored[:2] and keep_top(scored, 0.01) == scored[:1] and keep_top([], 0.5) == []


SOLUTIONS = {
    "good": "def add(a, b):\n    return a + b\n\nassert add(1, 2) == 3\n",
    "good_test_function": "def add(a, b):\n    return a + b\n\ndef test_add():\n    assert add(2, 2) == 4\n",
    "no_tests": "def add(a, b):\n    return a + b\n",
    "failing_assert": "def add(a, b):\n    return a - b\n\nassert add(1, 2) == 3\n",
    "failing_test_function": "def add(a, b):\n    return a - b\n\ndef test_add():\n    assert add(2, 2) == 4\n",
    "main_guard_tests": "def add(a, b):\n    return a - b\n\nif __name__ == '__main__':\n    assert add(1, 1) == 2\n",
    "syntax_error": "def add(a, b)\n    return a + b\n",
    "exits_early": "import sys\nassert False or sys.exit(0)\n",
    "hard_exit": "import os\nos._exit(0)\nassert 1 == 2\n",
    "prints_done": "print('D 1')\nimport sys; sys.stdout.flush()\nassert False\n",
    "patches_assert": "import builtins\nbuiltins.AssertionError = type('X', (Exception,), {})\nassert 1 == 2\n",
    "loops_forever": "while True:\n    pass\n",
}
EXPECTED = {  # (parses, runs, passes_own_tests)
    "good": (True, True, True), "good_test_function": (True, True, True), "no_tests": (True, True, False),
    "failing_assert": (True, False, False), "failing_test_function": (True, False, False),
    "main_guard_tests": (True, False, False), "syntax_error": (False, False, False),
    "exits_early": (True, False, False), "hard_exit": (True, False, False), "prints_done": (True, False, False),
    "patches_assert": (True, False, False), "loops_forever": (True, False, False),
}


def test_execution_signals_come_from_the_sandbox_not_the_program(tmp_path):
    samples = [{"id": name, "solution": code} for name, code in SOLUTIONS.items()]
    journal = Journal(tmp_path / "exec.journal.jsonl", "test")
    execution_signals(samples, journal, seconds=2.0)
    journal.close()
    found = {name: tuple(journal.records["exec:" + name][key] for key in ("parses", "runs", "passes_own_tests")) for name in SOLUTIONS}
    assert found == EXPECTED
