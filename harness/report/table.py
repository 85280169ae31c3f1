"""Comparison tables: our runs and published baselines, each score in the column of exactly what it measured.

Our runs' cells carry a 95% bootstrap interval over tasks. With a reference row (the full method of an
ablation, or the model to beat) every other run gets its difference to it and McNemar's paired test on
the tasks both were scored on; a significant difference is marked with a dagger.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Sequence

from harness.metrics import EXACT_BELOW, bootstrap_interval, mcnemar
from harness.report.baselines import PublishedScore
from harness.benchmarks.registry import column_titles
from harness.report.model import SIGNIFICANT, Cell, Column, Row, Table
from harness.report.runs import Score, ScoredRun

def build_table(runs: Sequence[ScoredRun], baselines: Sequence[PublishedScore] = (), reference: str | None = None,
                alpha: float = 0.05, title: str = "pass@1 (%)", all_columns: bool = False) -> Table:
    """Rows: each run, then each baseline model. Columns: every distinct measurement of the runs, in the
    benchmarks' order; baselines fill the columns that are exactly theirs. all_columns: also the columns
    only baselines have (always so when there are no runs)."""
    shared = [name for name, count in Counter(run.name for run in runs).items() if count > 1]
    if shared:
        raise ValueError(f"two runs are named {shared[0]!r} ({', '.join(str(run.directory) for run in runs if run.name == shared[0])}); "
                         "rows need distinct names (the folder's, or a pipeline run's recipe)")
    notes: list[str] = []
    rows, scores = [], {}
    for run in runs:
        row = Row(run.name, "run", str(run.directory))
        for score in run.scores:
            row.put(score.column, score.column, _cell(score))
        rows.append(row)
        scores[run.name] = {score.column: score for score in run.scores}
        notes += run.notes
    rows += _baseline_rows(baselines)
    columns = _columns(rows, all_columns or not runs)
    notes += _left_out(rows, columns)
    for row in rows:
        row.cells = {column: cell for column, cell in row.cells.items() if column in columns}
    rows = [row for row in rows if row.kind == "run" or row.cells]
    table = Table(title, columns, rows, reference, notes)
    if reference is not None:
        _compare(table, scores, reference, alpha)
    return table


def _cell(score: Score) -> Cell:
    low, high = bootstrap_interval(list(score.per_task.values()))
    return Cell(score.value, 100 * low, 100 * high)


def _kind(score: PublishedScore) -> str:
    # Numbers the model's authors measured themselves say so in their protocol (results/baselines/README.md).
    return "self-reported" if "self-reported" in score.protocol else "baseline"


def _baseline_rows(baselines: Sequence[PublishedScore]) -> list[Row]:
    """One row per model and kind: leaderboard numbers and self-reported ones never share a row."""
    rows: dict[tuple[str, str], Row] = {}
    for score in baselines:
        kind = _kind(score)
        row = rows.get((score.model, kind))
        if row is None:
            name = score.model if kind == "baseline" else f"{score.model} ({kind})"
            row = rows[(score.model, kind)] = Row(name, kind, "")
        column = Column(score.benchmark, score.version, score.protocol, score.window)
        row.put(column, column, Cell(score.value))
        if score.source not in row.source.split("; "):
            row.source = "; ".join(filter(None, (row.source, score.source)))
    return list(rows.values())


def _position(column: Column) -> tuple:
    # Within a benchmark: whole benchmark before parts of it, the leaderboards' protocol before others.
    return list(column_titles()).index(column.benchmark), column.tasks, column.protocol, column.version, column.window


def _columns(rows: list[Row], all_columns: bool) -> list[Column]:
    return sorted({column for row in rows if all_columns or row.kind == "run" for column in row.cells}, key=_position)


def _left_out(rows: list[Row], columns: list[Column]) -> list[str]:
    """Say which published numbers are not shown: measured otherwise than the runs on the same benchmark
    (another version, protocol, window or task set), or on a benchmark no run has."""
    outside = Counter(column for row in rows for column in row.cells if column not in columns)
    shown = {column.benchmark for column in columns}
    different = sorted((column for column in outside if column.benchmark in shown), key=_position)
    titles = column_titles()
    elsewhere = sorted({titles[column.benchmark] for column in outside if column.benchmark not in shown}, key=list(titles.values()).index)
    notes = []
    if different:
        notes.append("published numbers not comparable with the runs here, so not shown: "
                     + "; ".join(f"{column.title} ({outside[column]})" for column in different))
    if elsewhere:
        notes.append(f"published numbers on benchmarks no run here has are not shown ({', '.join(elsewhere)}); --all-columns shows them")
    return notes


def _compare(table: Table, scores: dict[str, dict[Column, Score]], reference: str, alpha: float) -> None:
    """Deltas and paired tests of every other run against the reference run, column by column."""
    if reference not in scores:
        known = ", ".join(scores) or "none"
        raise ValueError(f"reference {reference!r} is not one of the runs (runs: {known}); baselines have no per-task results to test against")
    base = scores[reference]
    untested, unmatched = [], []
    for row in table.rows:
        if row.kind != "run" or row.name == reference:
            continue
        if not base.keys() & row.cells.keys():
            unmatched.append(row.name)
        for column, cell in list(row.cells.items()):
            if column not in base:
                continue
            first, second = base[column].verdicts, scores[row.name][column].verdicts
            delta = cell.value - base[column].value
            if first is None or second is None:
                row.cells[column] = replace(cell, delta=delta)
                untested.append(f"{row.name} in {column.title}")
                continue
            shared = sorted(first.keys() & second.keys())
            test = mcnemar([first[task] for task in shared], [second[task] for task in shared])
            row.cells[column] = replace(cell, delta=delta, p_value=test.p_value, significant=test.p_value < alpha)
    table.notes.append(f"{SIGNIFICANT}: differs from {reference} with p < {alpha:g} (McNemar's test on per-task verdicts, "
                       f"exact binomial below {EXACT_BELOW} discordant tasks); deltas are percentage points against it")
    if unmatched:
        table.notes.append(f"no difference to {reference} for {', '.join(unmatched)}: no column in common "
                           "(another benchmark, version, protocol, window or task set)")
    if untested:
        table.notes.append("no paired test where a task has several samples (per-task pass/fail verdicts are needed): "
                           + "; ".join(untested))
