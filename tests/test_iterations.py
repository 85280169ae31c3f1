"""Scores per self-distillation round: benchmark scores across runs with different numbers of rounds, and
the judge's mean score per round within a run."""

from __future__ import annotations

import json

import pytest
from conformance_runs import evalplus_run

from scoder import iterations


def _manifest(run_dir, synthesizer: str) -> None:
    """The synthesize stage's manifest as the stage runner writes it (only the field read here)."""
    (run_dir / "synthesize").mkdir(parents=True)
    (run_dir / "synthesize" / "manifest.json").write_text(json.dumps({"stage": "synthesize", "inputs": {"snippets": "a", synthesizer: "b"}}))


def test_rounds_come_from_the_synthesize_manifest(tmp_path):
    _manifest(tmp_path / "none", "coldstart")
    _manifest(tmp_path / "three", "iteration-3/train")
    assert iterations.iterations_of(tmp_path / "none") == 0
    assert iterations.iterations_of(tmp_path / "three") == 3
    with pytest.raises(ValueError, match="no synthesize/manifest.json"):
        iterations.iterations_of(tmp_path)


def test_iteration_scores_put_each_run_at_its_rounds(conformance_dir, tmp_path):
    # Real evalplus verdicts of two models stand in for two runs of one recipe with 0 and 2 rounds (a
    # real ablation trains 6.7B models); what is tested is the reading, not what the method gains.
    zero = evalplus_run(conformance_dir, tmp_path / "zero", "Mistral-7B-Instruct-v0.2", ["humaneval"])
    two = evalplus_run(conformance_dir, tmp_path / "two", "Meta-Llama-3-8B-Instruct", ["humaneval"])
    _manifest(zero, "coldstart")
    _manifest(two, "iteration-2/train")
    series = iterations.iteration_scores([two, zero])
    assert list(series) == ["HumanEval v0.1.10, greedy pass@1", "HumanEval+ v0.1.10, greedy pass@1"]
    # pass@1 as shared/conformance/README.md gives it: Mistral 45.1 / 39.0, Llama 64.0 / 57.3.
    assert [(rounds, round(value, 1)) for rounds, value, _, _ in series["HumanEval+ v0.1.10, greedy pass@1"]] == [(0, 39.0), (2, 57.3)]
    assert [(rounds, round(value, 1)) for rounds, value, _, _ in series["HumanEval v0.1.10, greedy pass@1"]] == [(0, 45.1), (2, 64.0)]
    for points in series.values():
        assert all(low < value < high and high - low < 20 for _, value, low, high in points)


def test_iteration_scores_refuse_two_runs_with_the_same_rounds(conformance_dir, tmp_path):
    runs = [evalplus_run(conformance_dir, tmp_path / name, model, ["humaneval"])
            for name, model in (("a", "Mistral-7B-Instruct-v0.2"), ("b", "Meta-Llama-3-8B-Instruct"))]
    for run in runs:
        _manifest(run, "iteration-1/train")
    with pytest.raises(ValueError, match="both ran 1 rounds"):
        iterations.iteration_scores(runs)


def test_judge_scores_are_the_mean_of_every_scored_candidate(tmp_path):
    # Made-up judge scores in the score stage's layout (scored.jsonl holds all, records.jsonl the kept top).
    for number, scores in ((1, [3.0, 6.0]), (2, [9.0, 9.0, 0.0])):
        folder = tmp_path / f"iteration-{number}" / "score"
        folder.mkdir(parents=True)
        (folder / "scored.jsonl").write_text("".join(json.dumps({"id": str(index), "score": score}) + "\n" for index, score in enumerate(scores)))
        (folder / "records.jsonl").write_text(json.dumps({"id": "0", "score": max(scores)}) + "\n")
    (tmp_path / "iteration-3" / "score").mkdir(parents=True)  # scorer off, or not run yet: no point
    points = iterations.judge_scores(tmp_path)
    # Round 1: mean 4.5; resampling two scores gives means 3, 4.5, 6 with probability 1/4, 1/2, 1/4, so the
    # 2.5% and 97.5% quantiles are 3 and 6.
    assert points[0] == (1, 4.5, 3.0, 6.0)
    assert points[1][:2] == (2, 6.0) and points[1][2] < 6.0 < points[1][3]
    assert len(points) == 2
