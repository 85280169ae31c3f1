import gzip
import json

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar as statsmodels_mcnemar

from harness.metrics import EXACT_BELOW, bootstrap_interval, mcnemar, mean_pass_at_k, pass_at_k


def test_pass_at_k_hand_computed():
    assert pass_at_k(1, 1, 1) == 1.0 and pass_at_k(1, 0, 1) == 0.0
    assert pass_at_k(5, 2, 1) == pytest.approx(2 / 5)
    # 1 - C(3,2)/C(5,2) = 1 - 3/10
    assert pass_at_k(5, 2, 2) == pytest.approx(0.7)
    # 1 - C(7,5)/C(10,5) = 1 - 21/252 = 11/12
    assert pass_at_k(10, 3, 5) == pytest.approx(11 / 12)
    # n - c < k: every draw of k contains a correct one
    assert pass_at_k(4, 2, 3) == 1.0


def test_mean_only_reports_k_every_task_supports():
    scores = mean_pass_at_k([(10, 5), (10, 0)])
    assert scores == {"pass@1": pytest.approx(0.25), "pass@10": pytest.approx(0.5)}
    assert mean_pass_at_k([(1, 1), (3, 0)]) == {"pass@1": 0.5}


def _plus_verdicts(conformance_dir, benchmark: str, model: str) -> dict[str, bool]:
    """Real per-task HumanEval+/MBPP+ verdicts from the official evalplus evaluator (greedy, one sample)."""
    path = conformance_dir / f"{benchmark}_{model}.eval_results.json.gz"
    results = json.loads(gzip.decompress(path.read_bytes()))["eval"]
    return {task: runs[0]["base_status"] == "pass" and runs[0]["plus_status"] == "pass" for task, runs in results.items()}


@pytest.fixture(scope="module")
def mbpp_pair(conformance_dir):
    llama = _plus_verdicts(conformance_dir, "mbpp", "Meta-Llama-3-8B-Instruct")
    mistral = _plus_verdicts(conformance_dir, "mbpp", "Mistral-7B-Instruct-v0.2")
    tasks = sorted(llama)
    assert sorted(mistral) == tasks and len(tasks) == 378
    return [llama[t] for t in tasks], [mistral[t] for t in tasks]


def test_bootstrap_of_a_constant_score_is_that_score():
    assert bootstrap_interval([0.25] * 50) == (0.25, 0.25)


def test_bootstrap_of_pass_fail_verdicts_matches_the_binomial_closed_form(mbpp_pair):
    # With 0/1 scores the mean of n tasks drawn with replacement is Binomial(n, p) / n exactly, so the
    # percentile interval's end points are that distribution's 2.5% and 97.5% quantiles. Monte Carlo
    # error of those quantiles with 10k resamples is about half a task here; allow two tasks.
    verdicts = np.array(mbpp_pair[0], dtype=float)
    n, p = verdicts.size, verdicts.mean()
    low, high = bootstrap_interval(verdicts)
    assert low == pytest.approx(stats.binom.ppf(0.025, n, p) / n, abs=2 / n)
    assert high == pytest.approx(stats.binom.ppf(0.975, n, p) / n, abs=2 / n)
    assert low < p < high


def test_bootstrap_agrees_with_scipy_percentile_method(mbpp_pair):
    # Fractional per-task scores from real verdicts: pass@1 estimated from two samples per task, the two
    # models' greedy outputs pooled as if one model had drawn them (0, 0.5 or 1).
    per_task = [(a + b) / 2 for a, b in zip(*mbpp_pair)]
    ours = bootstrap_interval(per_task, confidence=0.9, seed=3)
    reference = stats.bootstrap((np.array(per_task),), np.mean, confidence_level=0.9, n_resamples=10_000,
                                method="percentile", random_state=3).confidence_interval
    assert ours == pytest.approx((reference.low, reference.high), abs=0.005)


def test_bootstrap_is_reproducible_and_wider_at_higher_confidence(mbpp_pair):
    verdicts = mbpp_pair[1]
    assert bootstrap_interval(verdicts, seed=7) == bootstrap_interval(verdicts, seed=7)
    narrow, wide = bootstrap_interval(verdicts, confidence=0.8), bootstrap_interval(verdicts, confidence=0.99)
    assert wide[0] < narrow[0] < narrow[1] < wide[1]


@pytest.mark.parametrize("per_task, options, message", [
    ([], {}, "non-empty"),
    ([0.5, 1.5], {}, r"\[0, 1\]"),
    ([0.5, float("nan")], {}, r"\[0, 1\]"),
    ([0.5], {"confidence": 1.0}, "confidence"),
    ([0.5], {"confidence": 0.0}, "confidence"),
    ([0.5], {"confidence": 95}, "confidence"),
    ([0.5], {"resamples": 0}, "resamples"),
])
def test_bootstrap_refuses_bad_input(per_task, options, message):
    with pytest.raises(ValueError, match=message):
        bootstrap_interval(per_task, **options)


def _verdicts(both: int, only_first: int, only_second: int, neither: int) -> tuple[list[bool], list[bool]]:
    """Two aligned verdict lists with the given 2x2 table (constructed: the real pairs give one table each)."""
    first = [True] * (both + only_first) + [False] * (only_second + neither)
    second = [True] * both + [False] * only_first + [True] * only_second + [False] * neither
    return first, second


TABLES = [(50, 0, 0, 30), (10, 0, 5, 10), (40, 3, 9, 60), (300, 12, 30, 500), (20, 41, 40, 5), (600, 100, 60, 380)]


@pytest.mark.parametrize("both, only_first, only_second, neither", TABLES)
@pytest.mark.parametrize("exact", [True, False])
def test_mcnemar_matches_statsmodels(both, only_first, only_second, neither, exact):
    result = mcnemar(*_verdicts(both, only_first, only_second, neither), exact=exact)
    assert (result.only_first, result.only_second) == (only_first, only_second)
    if not exact and only_first + only_second == 0:
        # statsmodels divides by zero there (NaN); no discordant task is no evidence: p = 1.
        assert (result.statistic, result.p_value) == (0.0, 1.0)
        return
    reference = statsmodels_mcnemar([[both, only_first], [only_second, neither]], exact=exact, correction=True)
    assert result.statistic == pytest.approx(reference.statistic)
    assert result.p_value == pytest.approx(reference.pvalue, rel=1e-9)


def test_mcnemar_on_real_verdicts_matches_statsmodels(mbpp_pair):
    llama, mistral = mbpp_pair
    table = np.zeros((2, 2), dtype=int)
    for a, b in zip(llama, mistral):
        table[int(not a), int(not b)] += 1
    for exact in (True, False):
        result = mcnemar(llama, mistral, exact=exact)
        reference = statsmodels_mcnemar(table, exact=exact, correction=True)
        assert (result.only_first, result.only_second) == (table[0, 1], table[1, 0])
        assert result.p_value == pytest.approx(reference.pvalue, rel=1e-9)
    # Llama-3-8B beats Mistral-7B on MBPP+ by 18 points: the paired test must call that significant.
    assert mcnemar(llama, mistral).p_value < 1e-6


def test_mcnemar_with_equal_discordant_counts_has_no_evidence():
    # The corrected difference |b - c| - 1 would be -1; as in R's mcnemar.test, no correction is
    # applied to equal counts, so the statistic is 0 (statsmodels reports 1/(b + c) there).
    result = mcnemar(*_verdicts(100, 30, 30, 100), exact=False)
    assert (result.statistic, result.p_value) == (0.0, 1.0)


def test_mcnemar_picks_the_exact_test_for_few_discordant_tasks():
    assert mcnemar(*_verdicts(10, 4, EXACT_BELOW - 5, 10)).method == "exact binomial"
    assert mcnemar(*_verdicts(10, 4, EXACT_BELOW - 4, 10)).method == "chi-square with continuity correction"


@pytest.mark.parametrize("first, second, message", [
    ([True, False], [True], "same tasks"),
    ([], [], "no tasks"),
    ([1, 0], [True, False], "booleans"),
    ([True, False], [0.5, 1.0], "booleans"),
])
def test_mcnemar_refuses_bad_input(first, second, message):
    with pytest.raises(ValueError, match=message):
        mcnemar(first, second)
