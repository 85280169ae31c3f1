"""`scoder report`: run directories (and published baselines) -> one comparison table, written as files."""

from __future__ import annotations

import html
import sys
from pathlib import Path
from typing import Sequence

from harness.report.baselines import load_baselines
from harness.report.model import Table
from harness.report.render import FORMATS
from harness.report.runs import read_run
from harness.report.table import build_table


def report(run_dirs: Sequence[str | Path], baselines: Sequence[str | Path] | None = None, formats: Sequence[str] = ("md",),
           output_dir: str | Path = "scoder_report", reference: str | None = None, title: str = "pass@1 (%)",
           all_columns: bool = False, out=None) -> Table:
    """Write report.<format> into output_dir for each format and print the Markdown table.
    baselines: YAML files of published scores; None for the project's (results/baselines), [] for none."""
    unknown = [name for name in formats if name not in FORMATS]
    if unknown:
        raise ValueError(f"unknown report format {unknown[0]!r}; choose from {', '.join(FORMATS)}")
    runs = [read_run(directory) for directory in run_dirs]
    if baselines is None:
        published = load_baselines()
    else:
        published = load_baselines([Path(path) for path in baselines]) if baselines else []
    table = build_table(runs, published, reference, title=title, all_columns=all_columns)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    for name in formats:
        text = table.render(name)
        if name == "html":
            text = _page(table.title, text)
        (output_dir / f"report.{name}").write_text(text, encoding="utf-8")
    print(table.render("md"), file=out or sys.stdout)
    print(f"report: {', '.join(str(output_dir / f'report.{name}') for name in formats)}", file=out or sys.stdout)
    return table


def _page(title: str, fragment: str) -> str:
    return (f'<!doctype html>\n<html lang="en">\n<head><meta charset="utf-8"><title>{html.escape(title)}</title></head>\n'
            f"<body>\n{fragment}</body>\n</html>\n")
