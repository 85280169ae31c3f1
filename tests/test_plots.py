"""The report's figures: what each draws (read back from the matplotlib objects), and the PNG and SVG files.

The comparison table is real: two models' official evalplus verdicts (tests/conformance_runs.py) against
the published baselines of results/baselines. Made-up numbers appear only where the real data lacks the
case (a difference that is not significant, scores per round), and say so.
"""

from __future__ import annotations

import sys
from xml.etree import ElementTree

import pytest

pytest.importorskip("matplotlib", reason="plots need the report extra: pip install scoder-harness[report]")

from conformance_runs import MODELS, evalplus_run
from matplotlib.container import BarContainer
from matplotlib.image import imread

from harness.report import plots
from harness.report.baselines import load_baselines
from harness.report.model import Cell, Column, Row, Table
from harness.report.runs import read_run
from harness.report.table import build_table


@pytest.fixture(scope="module")
def runs(conformance_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs")
    return [read_run(evalplus_run(conformance_dir, folder / model, model)) for model in MODELS]


@pytest.fixture(scope="module")
def table(runs):
    return build_table(runs, load_baselines(), reference=MODELS[0])


def _bars(axes) -> list[BarContainer]:
    return [container for container in axes.containers if isinstance(container, BarContainer)]


def test_benchmark_bars_draw_every_score_and_the_runs_intervals(table):
    figure = plots.benchmark_bars(table)
    panels = [axes for axes in figure.axes if axes.get_visible()]
    assert len(panels) == len(table.columns)
    for axes, column in zip(panels, table.columns):
        rows = [row for row in table.rows if column in row.cells]
        bars = _bars(axes)
        assert [container.get_label() for container in bars] == [row.name for row in rows]
        assert [container.patches[0].get_height() for container in bars] == pytest.approx([row.cells[column].value for row in rows])
        for container, row in zip(bars, rows):
            cell = row.cells[column]
            if row.kind == "run":  # bootstrap intervals: the error bar spans exactly [low, high]
                (segment,) = container.errorbar.lines[2][0].get_segments()
                assert segment[:, 1] == pytest.approx([cell.low, cell.high])
                assert cell.low < cell.value < cell.high
            else:  # published numbers come without an interval: no error bar is made up for them
                assert container.errorbar is None
    legend = figure.legends[0]
    assert [text.get_text() for text in legend.get_texts()] == [row.name for row in table.rows]


def test_self_reported_bars_are_hatched(table):
    table = build_table([], load_baselines())  # every published column, the self-reported ones among them
    figure = plots.benchmark_bars(table)
    hatched = {container.get_label() for axes in figure.axes for container in _bars(axes) if container.patches[0].get_hatch()}
    assert hatched == {row.name for row in table.rows if row.kind == "self-reported"}
    assert hatched


def test_ablation_deltas_draw_each_difference_with_a_zero_line_and_mark_the_significant(runs):
    table = build_table(runs, [], reference=MODELS[0])
    figure = plots.ablation_deltas(table)
    assert len(figure.axes) == len(table.columns)
    (other,) = [row for row in table.rows if row.name != table.reference]
    for axes, column in zip(figure.axes, table.columns):
        cell = other.cells[column]
        (bars,) = _bars(axes)
        assert bars.patches[0].get_width() == pytest.approx(cell.delta)
        assert any(list(line.get_xdata()) == [0, 0] for line in axes.get_lines())
        stars = [text for text in axes.texts if text.get_text() == "*"]
        assert len(stars) == int(cell.significant)
    # The two real models differ by about 19 points everywhere: all significant.
    assert all(cell.significant for cell in other.cells.values())


def test_ablation_deltas_leave_out_rows_without_a_difference(table):
    figure = plots.ablation_deltas(table)  # baselines have no per-task verdicts, so no difference
    assert [label.get_text() for label in figure.axes[0].get_yticklabels()] == [MODELS[1]]


def test_ablation_deltas_mark_only_significant_differences():
    # Made-up cells: the real pair above is significant everywhere, so the unmarked case needs its own.
    columns = [Column("humaneval+", "v0.1.10"), Column("mbpp+", "v0.2.0")]
    table = Table("ablations", columns, [
        Row("full method", "run", "runs/full", {column: Cell(50.0) for column in columns}),
        Row("no scorer", "run", "runs/no-scorer", {columns[0]: Cell(40.0, delta=-10.0, p_value=0.001, significant=True),
                                                   columns[1]: Cell(51.0, delta=1.0, p_value=0.6)}),
        Row("one checkpoint", "run", "runs/one", {columns[0]: Cell(48.0, delta=-2.0, p_value=0.3)}),
    ], reference="full method")
    figure = plots.ablation_deltas(table)
    first, second = figure.axes
    assert [bar.get_width() for bar in _bars(first)[0]] == [-10.0, -2.0]
    assert [bar.get_width() for bar in _bars(second)[0]] == [1.0]
    assert [text.xy for text in first.texts if text.get_text() == "*"] == [(-10.0, 0)]
    assert not [text for text in second.texts if text.get_text() == "*"]
    assert [label.get_text() for label in first.get_yticklabels()] == ["no scorer", "one checkpoint"]


def test_ablation_deltas_need_a_reference(table):
    with pytest.raises(ValueError, match="reference row"):
        plots.ablation_deltas(build_table([], load_baselines()))


def test_score_per_iteration_draws_a_line_per_series_with_intervals_where_known():
    series = {"HumanEval+ v0.1.10": [(2, 35.0, 30.0, 40.0), (0, 30.0, 25.0, 35.5), (1, 33.0, None, None)],  # made-up scores
              "MBPP+ v0.2.0": [(0, 40.0, 36.0, 44.0)]}
    figure = plots.score_per_iteration(series)
    (axes,) = figure.axes
    lines = [line for line in axes.get_lines() if not line.get_label().startswith("_")]  # not the error bars' caps
    assert [list(line.get_xdata()) for line in lines] == [[0, 1, 2], [0]]
    assert [list(line.get_ydata()) for line in lines] == [[30.0, 33.0, 35.0], [40.0]]
    bars = [container.lines[2][0].get_segments() for container in axes.containers]
    assert [[list(segment[:, 1]) for segment in segments] for segments in bars] == [[[25.0, 35.5], [30.0, 40.0]], [[36.0, 44.0]]]
    assert [text.get_text() for text in axes.get_legend().get_texts()] == list(series)


def test_diversity_per_iteration_has_a_panel_per_measure_and_names_seed_and_final():
    rows = [{"iteration": 0, "data": "seed", "distinct-1": 0.5, "distinct-2": 0.8, "distinct-3": 0.9, "entropy": 6.0, "near-duplicates": 0.0},
            *({"iteration": i, "data": kind, "distinct-1": 0.4 / i, "distinct-2": 0.6 / i, "distinct-3": 0.7 / i,
               "entropy": 6.0 - i, "near-duplicates": 0.1 * i} for i in (1, 2) for kind in ("candidates", "selected")),
            {"iteration": 3, "data": "synthesized", "distinct-1": 0.1, "distinct-2": 0.2, "distinct-3": 0.3, "entropy": 3.0,
             "near-duplicates": 0.4}]  # made-up measurements of a collapsing run
    figure = plots.diversity_per_iteration(rows)
    distinct, entropy, duplicates = figure.axes
    assert [label.get_text() for label in distinct.get_xticklabels()] == ["seed", "1", "2", "final"]
    assert len(distinct.get_lines()) == 4 * 3 and len(entropy.get_lines()) == 4
    candidates = entropy.get_lines()[1]
    assert list(candidates.get_xdata()) == [1, 2] and list(candidates.get_ydata()) == [5.0, 4.0]
    assert list(duplicates.get_lines()[3].get_ydata()) == [0.4]
    assert [text.get_text() for text in figure.legends[0].get_texts()] == ["seed", "candidates", "selected", "synthesized"]


def test_save_writes_valid_png_and_svg_byte_identical_for_the_same_input(table, tmp_path):
    first = plots.save(plots.benchmark_bars(table), tmp_path / "a" / "bars")
    second = plots.save(plots.benchmark_bars(table), tmp_path / "b" / "bars")
    assert [path.name for path in first] == ["bars.png", "bars.svg"]
    png, svg = first
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    height, width, _ = imread(png).shape
    assert width > 1000 and height > 300
    root = ElementTree.parse(svg).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert b"<dc:date>" not in svg.read_bytes()
    assert [path.read_bytes() for path in first] == [path.read_bytes() for path in second]


def test_a_missing_matplotlib_names_the_extra(table, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # what an environment without it gives
    with pytest.raises(ImportError, match=r"pip install scoder-harness\[report\]"):
        plots.benchmark_bars(table)
