"""Figures: a table's scores with their intervals, an ablation's differences to the full method, scores
per self-distillation round, and the diversity of the synthesized data per round; saved as PNG and SVG.

Figures are built on matplotlib's object API (Figure, never pyplot), so no GUI backend or global state
is involved; files are written by the Agg and SVG backends. matplotlib comes with the `report` extra and
is imported only when a figure is made.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from harness.report.model import Table

DPI = 150
_SVG_SALT = "scoder"  # fixed salt for the SVG's element ids: the same figure gives the same bytes
_COLORS = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c", "#ccb974", "#64b5cd"]


def _figure(width: float, height: float):
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("plots need matplotlib: pip install scoder-harness[report]") from None
    return Figure(figsize=(width, height), layout="constrained")


def _color(index: int) -> str:
    return _COLORS[index % len(_COLORS)]


def _wrapped(text: str, width: int = 22) -> str:
    return "\n".join(textwrap.wrap(text, width))


def benchmark_bars(table: Table):
    """One panel per column (a benchmark as measured), a bar per row that has a score there, the same
    color for a row in every panel; error bars span the 95% interval where the cell has one (our runs;
    published numbers have none). Self-reported numbers are hatched."""
    if not table.columns or not table.rows:
        raise ValueError(f"{table.title!r}: nothing to plot (no columns or no rows)")
    across = min(4, len(table.columns))
    down = -(-len(table.columns) // across)
    figure = _figure(2.2 + 2.6 * across, 0.6 + 2.6 * down)
    panels = figure.subplots(down, across, sharey=True, squeeze=False).flatten()
    for axes, column in zip(panels, table.columns):
        scored = [(index, row) for index, row in enumerate(table.rows) if column in row.cells]
        slots = max(len(scored), 3)  # a lone bar keeps a bar's width
        axes.set_xlim(-0.5, slots - 0.5)
        for position, (index, row) in enumerate(scored, (slots - len(scored)) // 2):
            cell = row.cells[column]
            bounded = cell.low is not None and cell.high is not None
            bars = axes.bar(position, cell.value, 0.8, color=_color(index), label=row.name,
                            hatch="//" if row.kind == "self-reported" else None, edgecolor="white", linewidth=0.5,
                            yerr=[[cell.value - cell.low], [cell.high - cell.value]] if bounded else None, capsize=3)
            axes.bar_label(bars, fmt="%.1f", fontsize=7, padding=2)
        axes.set_title(_wrapped(column.title, 32), fontsize=8)
        axes.set_xticks([])
        axes.grid(axis="y", alpha=0.3)
        axes.set_axisbelow(True)
    for axes in panels[len(table.columns):]:
        axes.set_visible(False)
    for axes in panels[::across]:
        axes.set_ylabel("score (%)")
    panels[0].set_ylim(0, 1.12 * max((cell.high if cell.high is not None else cell.value
                                      for row in table.rows for cell in row.cells.values()), default=100.0))
    handles = {}
    for axes in panels:
        for handle, label in zip(*axes.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    names = [row.name for row in table.rows if row.name in handles]  # a row without any score has no bar
    figure.legend([handles[name] for name in names], names, loc="outside right upper", fontsize=8)
    figure.suptitle(table.title, fontsize=10)
    return figure


def ablation_deltas(table: Table):
    """One panel per column: each row's difference to the reference row (points), a line at zero, and a
    star on the differences the paired test finds significant."""
    if table.reference is None:
        raise ValueError(f"{table.title!r}: an ablation plot needs a table with a reference row")
    columns = [column for column in table.columns if any(column in row.cells and row.cells[column].delta is not None for row in table.rows)]
    if not columns:
        raise ValueError(f"{table.title!r}: no row has a difference to the reference {table.reference!r}")
    names = [row.name for row in table.rows if any(column in row.cells and row.cells[column].delta is not None for column in columns)]
    figure = _figure(max(5.0, 3.0 * len(columns)), 1.8 + 0.45 * len(names))
    panels = figure.subplots(1, len(columns), sharey=True, squeeze=False)[0]
    for axes, column in zip(panels, columns):
        compared = [(names.index(row.name), row.cells[column]) for row in table.rows
                    if column in row.cells and row.cells[column].delta is not None]
        axes.barh([y for y, _ in compared], [cell.delta for _, cell in compared],
                  color=["#c44e52" if cell.significant else "#b0b0b0" for _, cell in compared])
        for y, cell in compared:
            if cell.significant:
                axes.annotate("*", (cell.delta, y), xytext=(4 if cell.delta >= 0 else -4, 0), textcoords="offset points",
                              ha="left" if cell.delta >= 0 else "right", va="center", fontsize=12)
        axes.axvline(0, color="black", linewidth=0.8)
        reach = 1.25 * max(abs(cell.delta) for _, cell in compared) or 1.0
        axes.set_xlim(-reach, reach)  # zero in the middle: gains and losses read alike
        axes.set_title(_wrapped(column.title, 30), fontsize=9)
        axes.grid(axis="x", alpha=0.3)
    panels[0].set_yticks(range(len(names)), names)
    panels[0].invert_yaxis()
    figure.supxlabel(f"difference to {table.reference} (points); * significant (paired McNemar test)", fontsize=9)
    figure.suptitle(table.title, fontsize=10)
    return figure


def score_per_iteration(series: dict[str, list[tuple[int, float, float | None, float | None]]], ylabel: str = "pass@1 (%)"):
    """A line per series (a benchmark column, or the judge's score): x is the number of self-distillation
    rounds, y the score, with its interval as an error bar where the point has one."""
    if not any(series.values()):
        raise ValueError("no scores to plot")
    figure = _figure(6.5, 4.0)
    axes = figure.add_subplot()
    for index, (name, points) in enumerate(series.items()):
        points = sorted(points, key=lambda point: point[0])
        axes.plot([x for x, *_ in points], [y for _, y, *_ in points], marker="o", color=_color(index), label=_wrapped(name, 40))
        bounded = [(x, y, low, high) for x, y, low, high in points if low is not None and high is not None]
        if bounded:
            axes.errorbar([x for x, *_ in bounded], [y for _, y, *_ in bounded],
                          yerr=[[y - low for _, y, low, _ in bounded], [high - y for _, y, _, high in bounded]],
                          fmt="none", ecolor=_color(index), capsize=3)
    axes.set_xlabel("self-distillation rounds")
    axes.set_ylabel(ylabel)
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    return figure


DIVERSITY_PANELS = {"distinct-n": ("distinct-1", "distinct-2", "distinct-3"), "token entropy (bits)": ("entropy",),
                    "near-duplicate rate": ("near-duplicates",)}
_DATA_LABELS = {"seed": "seed", "synthesized": "final"}  # x tick labels of the sets outside the rounds
_MEASURE_STYLES = (("-", "o"), ("--", "s"), (":", "^"))  # line and marker for each measure of a panel


def diversity_per_iteration(rows: list[dict]):
    """Three panels (distinct-1/2/3, token entropy, near-duplicate rate), a color per kind of data (seed,
    candidates, selected, synthesized) over the rounds; rows as scoder.diversity.per_iteration gives them
    ("iteration", "data" and the measures)."""
    from matplotlib.lines import Line2D

    if not rows:
        raise ValueError("no diversity measurements to plot")
    kinds = list(dict.fromkeys(row["data"] for row in rows))
    ticks = sorted({row["iteration"]: _DATA_LABELS.get(row["data"], str(row["iteration"])) for row in rows}.items())
    figure = _figure(12.0, 3.8)
    panels = figure.subplots(1, len(DIVERSITY_PANELS))
    for axes, (title, measures) in zip(panels, DIVERSITY_PANELS.items()):
        for index, kind in enumerate(kinds):
            points = sorted((row for row in rows if row["data"] == kind), key=lambda row: row["iteration"])
            for (line, marker), measure in zip(_MEASURE_STYLES, measures):
                axes.plot([row["iteration"] for row in points], [row[measure] for row in points], linestyle=line, marker=marker,
                          color=_color(index), label=kind)
        axes.set_title(title, fontsize=10)
        axes.set_xlabel("self-distillation round")
        axes.set_xticks([x for x, _ in ticks], [label for _, label in ticks])
        axes.grid(alpha=0.3)
    measures = DIVERSITY_PANELS["distinct-n"]
    panels[0].legend([Line2D([], [], color="black", linestyle=line, marker=marker) for line, marker in _MEASURE_STYLES],
                     measures, fontsize=7)
    figure.legend([Line2D([], [], color=_color(index), marker="o") for index in range(len(kinds))], kinds,
                  loc="outside right upper", fontsize=8)
    return figure


def save(figure, path_stem: str | Path) -> list[Path]:
    """Write path_stem.png and path_stem.svg; the same figure gives byte-identical files (the SVG has a
    fixed id salt and no date)."""
    from matplotlib import rc_context

    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = [stem.with_name(stem.name + ".png"), stem.with_name(stem.name + ".svg")]
    with rc_context({"svg.hashsalt": _SVG_SALT}):
        figure.savefig(written[0], dpi=DPI, metadata={"Software": None})
        figure.savefig(written[1], metadata={"Date": None})
    return written
