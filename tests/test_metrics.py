import pytest

from harness.metrics import mean_pass_at_k, pass_at_k


def test_pass_at_k_hand_computed():
    assert pass_at_k(1, 1, 1) == 1.0 and pass_at_k(1, 0, 1) == 0.0
    assert pass_at_k(5, 2, 1) == pytest.approx(2 / 5)
    # 1 - C(3,2)/C(5,2) = 1 - 3/10
    assert pass_at_k(5, 2, 2) == pytest.approx(0.7)
    # n - c < k: every draw of k contains a correct one
    assert pass_at_k(4, 2, 3) == 1.0


def test_mean_only_reports_k_every_task_supports():
    scores = mean_pass_at_k([(10, 5), (10, 0)])
    assert scores == {"pass@1": pytest.approx(0.25), "pass@10": pytest.approx(0.5)}
    assert mean_pass_at_k([(1, 1), (3, 0)]) == {"pass@1": 0.5}
