"""pass@k with the unbiased estimator of Chen et al. 2021 (HumanEval paper), as evalplus reports it."""

from __future__ import annotations

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
