"""`scoder report`: run directories (and published baselines) -> one comparison table, written as files,
with plots and a self-contained HTML page; or the leaderboard page over every run kept under results/."""

from __future__ import annotations

import datetime
import json
import sys
from pathlib import Path
from typing import Callable, Sequence

from harness import __version__
from harness.report.baselines import BASELINES_DIR, load_baselines
from harness.report.model import Table
from harness.report.render import FORMATS
from harness.report.runs import NoResults, read_run
from harness.report.table import build_table
from harness.report.render import render

# Extra figures for the page, from the run directories (the method adds its per-round plots this way, so
# the harness never imports it): name -> matplotlib Figure.
FigureSource = Callable[[Sequence[Path]], dict]


def report(run_dirs: Sequence[str | Path], baselines: Sequence[str | Path] | None = None, formats: Sequence[str] = ("md",),
           output_dir: str | Path = "scoder_report", reference: str | None = None, title: str = "pass@1 (%)",
           all_columns: bool = False, plots: bool = False, figures: FigureSource | None = None, out=None) -> Table:
    """Write report.<format> into output_dir for each format and print the Markdown table. With `plots` (or
    the html format) also plots/<name>.png and .svg; report.html is then one page with the table, the plots
    and the runs' stage manifests. baselines: YAML files of published scores; None for the project's
    (results/baselines), [] for none."""
    unknown = [name for name in formats if name not in FORMATS]
    if unknown:
        raise ValueError(f"unknown report format {unknown[0]!r}; choose from {', '.join(FORMATS)}")
    run_dirs = [Path(directory) for directory in run_dirs]
    runs = [read_run(directory) for directory in run_dirs]
    table = build_table(runs, _baselines(baselines), reference, title=title, all_columns=all_columns)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    written = [_write_plots(table, run_dirs, figures, output_dir / "plots")] if plots or "html" in formats else []
    for name in formats:
        if name == "html":
            from harness.report.html import run_page

            text = run_page(table, {plot.stem: plot for plot in written[0] if plot.suffix == ".svg"},
                            _manifests(run_dirs), _versions(run_dirs))
        else:
            text = render(table, name)
        (output_dir / f"report.{name}").write_text(text, encoding="utf-8")
    print(render(table, "md"), file=out or sys.stdout)
    files = [output_dir / f"report.{name}" for name in formats] + [path for group in written for path in group]
    print(f"report: {', '.join(map(str, files))}", file=out or sys.stdout)
    return table


def leaderboard(results_dir: str | Path, baselines: Sequence[str | Path] | None = None, output_dir: str | Path = "scoder_report",
                out=None) -> Table:
    """leaderboard.html (and .md) over every run directory directly under results_dir (the reproduced runs
    kept in the repository) beside the published baselines; folders that hold no results are passed over."""
    results_dir = Path(results_dir)
    runs = []
    for folder in sorted(path for path in results_dir.iterdir() if path.is_dir() and path.resolve() != BASELINES_DIR.resolve()):
        try:
            runs.append(read_run(folder))
        except NoResults:
            continue
    table = build_table(runs, _baselines(baselines), title="pass@1 (%)", all_columns=True)
    from harness.report.html import leaderboard_page

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    generated = (f"Generated {datetime.datetime.now():%Y-%m-%d %H:%M} by scoder-harness {__version__} from "
                 f"{len(runs)} run(s) under {results_dir} and the published baselines.")
    (output_dir / "leaderboard.html").write_text(leaderboard_page(table, generated), encoding="utf-8")
    (output_dir / "leaderboard.md").write_text(render(table, "md"), encoding="utf-8")
    print(render(table, "md"), file=out or sys.stdout)
    print(f"leaderboard: {output_dir / 'leaderboard.html'}", file=out or sys.stdout)
    return table


def _baselines(paths: Sequence[str | Path] | None):
    if paths is None:
        return load_baselines()
    return load_baselines([Path(path) for path in paths]) if paths else []


def _write_plots(table: Table, run_dirs: list[Path], figures: FigureSource | None, folder: Path) -> list[Path]:
    from harness.report import plots

    made = {"benchmarks": plots.benchmark_bars(table)}
    if table.reference and len([row for row in table.rows if row.kind == "run"]) > 1:
        made["ablation-deltas"] = plots.ablation_deltas(table)
    made.update(figures(run_dirs) if figures else {})
    folder.mkdir(parents=True, exist_ok=True)
    return [path for name, figure in made.items() for path in plots.save(figure, folder / name)]


def _manifests(run_dirs: list[Path]) -> dict[str, dict]:
    """Each pipeline stage's manifest, named by stage (and run, when there are several runs)."""
    found = {}
    for directory in run_dirs:
        for path in sorted(directory.glob("**/manifest.json"), key=lambda path: path.stat().st_mtime):
            stage = path.parent.relative_to(directory).as_posix()
            found[stage if len(run_dirs) == 1 else f"{directory.name}/{stage}"] = json.loads(path.read_text())
    return found


def _versions(run_dirs: list[Path]) -> dict:
    """Package versions each run recorded last (its newest stage manifest), and this report's."""
    versions = {}
    for directory in run_dirs:
        manifests = sorted(directory.glob("**/manifest.json"), key=lambda path: path.stat().st_mtime)
        if manifests:
            recorded = json.loads(manifests[-1].read_text()).get("versions", {})
            versions.update({name if len(run_dirs) == 1 else f"{directory.name}: {name}": value for name, value in recorded.items()})
    return {**versions, "report (scoder-harness)": __version__}
