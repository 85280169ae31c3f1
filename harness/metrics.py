"""pass@k with the unbiased estimator of Chen et al. 2021 (HumanEval paper), as evalplus reports it;
a bootstrap interval over tasks, and McNemar's paired test between two models' per-task verdicts."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

DEFAULT_KS = (1, 10, 100)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k samples drawn from n (c of them correct) is correct."""
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def mean_pass_at_k(counts: list[tuple[int, int]], ks=DEFAULT_KS) -> dict[str, float]:
    """Mean over tasks of pass@k for each k that every task has enough samples for. counts: (n, c) per task."""
    if not counts:
        return {}
    fewest = min(n for n, _ in counts)
    return {f"pass@{k}": float(np.mean([pass_at_k(n, c, k) for n, c in counts])) for k in ks if fewest >= k}


def entries_pass_at_k(evaluated: dict[str, list], passed, ks=DEFAULT_KS) -> dict[str, float]:
    """mean_pass_at_k over a results file's entries per task; `passed(entry)` says which passed."""
    return mean_pass_at_k([(len(entries), sum(map(passed, entries))) for entries in evaluated.values()], ks)


# Resamples drawn per batch: bounds memory (batch x tasks indices) while keeping the work in numpy.
_BOOTSTRAP_BATCH = 1000


def bootstrap_interval(per_task: Sequence[float], confidence: float = 0.95, resamples: int = 10_000,
                       seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean score, resampling tasks with replacement.

    per_task holds each task's pass@k estimate (a fraction in [0, 1]); the interval is in fractions too.
    Tasks are the unit of resampling because the benchmark is a sample of tasks: the interval says how
    much the score would move on another draw of equally hard tasks, not how noisy the sampling was."""
    scores = np.asarray(per_task, dtype=float)
    if scores.ndim != 1 or scores.size == 0:
        raise ValueError(f"bootstrap_interval needs a non-empty flat sequence of per-task scores, got shape {scores.shape}")
    if not np.all((scores >= 0.0) & (scores <= 1.0)):
        raise ValueError("bootstrap_interval: per-task scores must be fractions in [0, 1] (NaN is refused)")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"bootstrap_interval: confidence must lie strictly between 0 and 1, got {confidence}")
    if resamples < 1:
        raise ValueError(f"bootstrap_interval: resamples must be at least 1, got {resamples}")
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    for start in range(0, resamples, _BOOTSTRAP_BATCH):
        stop = min(start + _BOOTSTRAP_BATCH, resamples)
        picks = rng.integers(0, scores.size, size=(stop - start, scores.size))
        means[start:stop] = scores[picks].mean(axis=1)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return float(low), float(high)


# Below this many discordant tasks the chi-square approximation is poor and the exact binomial test is
# used: the common rule of thumb b + c < 25 (Wikipedia, "McNemar's test"; also the metricgate.com
# "McNemar exact test" notes).
EXACT_BELOW = 25


@dataclass(frozen=True)
class McNemar:
    only_first: int  # tasks the first model passes and the second fails
    only_second: int  # tasks the second model passes and the first fails
    statistic: float  # exact: min(only_first, only_second), as statsmodels reports it; chi-square otherwise
    p_value: float  # two-sided
    method: str  # "exact binomial" or "chi-square with continuity correction"


def mcnemar(first: Sequence[bool], second: Sequence[bool], exact: bool | None = None) -> McNemar:
    """McNemar's test of equal pass rates for two models scored on the same tasks, aligned by position.

    Only discordant tasks count. exact=None picks the exact binomial test below EXACT_BELOW discordant
    tasks, the continuity-corrected chi-square (1 degree of freedom) otherwise."""
    if len(first) != len(second):
        raise ValueError(f"mcnemar: both models must be scored on the same tasks, got {len(first)} and {len(second)} verdicts")
    if not len(first):
        raise ValueError("mcnemar: no tasks to compare")
    for name, verdicts in (("first", first), ("second", second)):
        if not all(isinstance(verdict, (bool, np.bool_)) for verdict in verdicts):
            raise ValueError(f"mcnemar: {name} must hold booleans (a task passed or not)")
    only_first = sum(1 for a, b in zip(first, second) if a and not b)
    only_second = sum(1 for a, b in zip(first, second) if b and not a)
    discordant = only_first + only_second
    if exact is None:
        exact = discordant < EXACT_BELOW
    if exact:
        smaller = min(only_first, only_second)
        # Two-sided: twice the lower tail of Binomial(discordant, 1/2), capped at 1 (statsmodels' rule).
        tail = sum(math.comb(discordant, i) for i in range(smaller + 1)) / 2**discordant
        return McNemar(only_first, only_second, float(smaller), min(1.0, 2.0 * tail), "exact binomial")
    # Edwards' correction, applied only when the counts differ (as R's mcnemar.test does): with equal
    # counts the corrected difference would go negative and its square would invent evidence.
    # statsmodels squares it anyway and reports 1/discordant there.
    difference = max(abs(only_first - only_second) - 1, 0)
    statistic = difference**2 / discordant if discordant else 0.0
    # Survival function of chi-square with 1 degree of freedom: P(Z^2 > s) = erfc(sqrt(s / 2)).
    return McNemar(only_first, only_second, statistic, math.erfc(math.sqrt(statistic / 2.0)),
                   "chi-square with continuity correction")
