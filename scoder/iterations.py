"""Scores across self-distillation rounds: the benchmark scores of runs of one recipe that differ only in
their number of rounds (recipes/ablations/iterations-*.yaml beside the paper recipe), and within one run
the judge's mean score of each round's candidates.

Each point is (rounds, score, 95% interval low, high), the form harness.report.plots.score_per_iteration
draws.
"""

from __future__ import annotations

import re
from pathlib import Path

from harness.metrics import bootstrap_interval
from harness.report.runs import read_run
from scoder.runner import read_manifest, read_records
from scoder.scoring import MAX_SCORE

Point = tuple[int, float, float | None, float | None]
_ROUND_FOLDER = re.compile(r"iteration-(\d+)")


def rounds_started(run_dir: str | Path) -> list[int]:
    """The rounds that have a folder in the run directory (iteration-<i>), in order."""
    found = (_ROUND_FOLDER.fullmatch(path.name) for path in Path(run_dir).iterdir() if path.is_dir())
    return sorted(int(match.group(1)) for match in found if match)


def iterations_of(run_dir: str | Path) -> int:
    """How many rounds a run's final synthesizer went through: the synthesize stage reads the synthesizer
    of the last round (iteration-N/train), or the cold start's (0 rounds). Its manifest is the record of
    what ran, whatever recipe file was edited since."""
    manifest = read_manifest(Path(run_dir) / "synthesize")
    if manifest is None:
        raise ValueError(f"{run_dir}: no synthesize/manifest.json, so its number of rounds is not known "
                         "(a run that synthesizes no data has no rounds)")
    synthesizer = next(name for name in manifest["inputs"] if name != "snippets")
    return 0 if synthesizer == "coldstart" else int(_ROUND_FOLDER.match(synthesizer).group(1))


def iteration_scores(run_dirs: list[str | Path]) -> dict[str, list[Point]]:
    """Per benchmark column (its title), a point per run: (its rounds, pass@1 %, 95% bootstrap interval
    over tasks). Columns are compared as harness.report does: runs evaluated on different versions or
    task sets give different series, never one line."""
    series: dict[str, list[Point]] = {}
    runs_by_rounds: dict[int, Path] = {}
    for run_dir in map(Path, run_dirs):
        rounds = iterations_of(run_dir)
        if rounds in runs_by_rounds:
            raise ValueError(f"{run_dir} and {runs_by_rounds[rounds]} both ran {rounds} rounds; give one run per number of rounds")
        runs_by_rounds[rounds] = run_dir
        for score in read_run(run_dir).scores:
            low, high = bootstrap_interval(list(score.per_task.values()))
            series.setdefault(score.column.title, []).append((rounds, score.value, 100 * low, 100 * high))
    return {title: sorted(points) for title, points in series.items()}


def judge_scores(run_dir: str | Path) -> list[Point]:
    """Per round that has been scored: the judge's mean score (0-9) of all its parsed candidates
    (iteration-i/score/scored.jsonl, before the top fraction is kept) with a 95% bootstrap interval over
    candidates. Rounds run without the scorer have no such file and no point."""
    points = []
    for number in rounds_started(run_dir):
        folder = Path(run_dir) / f"iteration-{number}" / "score"
        if not (folder / "scored.jsonl").is_file():
            continue
        scores = [record["score"] for record in read_records(folder, "scored.jsonl")]
        if not scores:
            continue
        low, high = bootstrap_interval([score / MAX_SCORE for score in scores])
        points.append((number, sum(scores) / len(scores), MAX_SCORE * low, MAX_SCORE * high))
    return points


def figures(run_dirs) -> dict:
    """The method's plots for `scoder report` (harness.report.command.FigureSource): benchmark score per
    number of rounds when several finished runs differ in it, and for each pipeline run the judge's score
    and the synthesized data's diversity per round. What a run does not have yet is left out."""
    from harness.report import plots
    from scoder.diversity import per_iteration

    pipelines = [Path(directory) for directory in run_dirs if (Path(directory) / "seed").is_dir()]
    made = {}
    finished = [directory for directory in pipelines if read_manifest(directory / "synthesize") is not None]
    if len({iterations_of(directory) for directory in finished}) > 1:
        made["score-per-round"] = plots.score_per_iteration(iteration_scores(finished))
    for directory in pipelines:
        suffix = f"-{directory.name}" if len(pipelines) > 1 else ""
        if judged := judge_scores(directory):
            made[f"judge-score-per-round{suffix}"] = plots.score_per_iteration({"judge": judged}, ylabel="judge score (0-9)")
        if diversity := per_iteration(directory):
            made[f"diversity-per-round{suffix}"] = plots.diversity_per_iteration(diversity)
    return made
