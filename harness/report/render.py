"""A Table as text: GitHub Markdown, CSV (one number per field), LaTeX (booktabs) or an HTML <table> fragment.

Every format shows the same thing: a cell is the score, its interval in brackets, and its difference to
the reference row, daggered where the paired test finds it significant.
"""

from __future__ import annotations

import csv
import html
import io

from harness.report.model import SIGNIFICANT, Cell, Row, Table

MISSING = "-"
FORMATS = ("md", "csv", "tex", "html")


def render(table: Table, format: str) -> str:
    renderers = {"md": _markdown, "csv": _csv, "tex": _latex, "html": _html}
    if format not in renderers:
        raise ValueError(f"unknown table format {format!r}; choose from {', '.join(FORMATS)}")
    return renderers[format](table)


def _parts(cell: Cell) -> tuple[str, str, str]:
    """The score, its interval, its delta (with the significance marker); empty strings where absent."""
    interval = f"[{cell.low:.1f}, {cell.high:.1f}]" if cell.low is not None else ""
    delta = f"{cell.delta:+.1f}{SIGNIFICANT if cell.significant else ''}" if cell.delta is not None else ""
    return f"{cell.value:.1f}", interval, delta


def _kind(table: Table, row: Row) -> str:
    return f"{row.kind} (reference)" if row.name == table.reference else row.kind


def _markdown(table: Table) -> str:
    def escape(text: str) -> str:
        return text.replace("|", "\\|")

    header = ["model", "kind"] + [column.title for column in table.columns]
    lines = [f"**{escape(table.title)}**", "", "| " + " | ".join(map(escape, header)) + " |",
             "|---|---|" + "---:|" * len(table.columns)]
    for row in table.rows:
        cells = [" ".join(filter(None, _parts(row.cells[column]))) if column in row.cells else MISSING for column in table.columns]
        lines.append("| " + " | ".join(map(escape, [row.name, _kind(table, row)] + cells)) + " |")
    if table.notes:
        lines += [""] + [f"- {escape(note)}" for note in table.notes]
    return "\n".join(lines) + "\n"


def _csv(table: Table) -> str:
    fields = ("value", "low", "high", "delta", "p")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["model", "kind", "source"] + [f"{column.title}: {field}" for column in table.columns for field in fields])
    for row in table.rows:
        numbers = []
        for column in table.columns:
            cell = row.cells.get(column)
            values = (cell.value, cell.low, cell.high, cell.delta, cell.p_value) if cell else (None,) * len(fields)
            numbers += ["" if value is None else f"{value:.6g}" for value in values]
        writer.writerow([row.name, _kind(table, row), row.source] + numbers)
    return buffer.getvalue()


_LATEX_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                   "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                   "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}", SIGNIFICANT: r"\textdagger{}"}


def _tex(text: str) -> str:
    return "".join(_LATEX_SPECIALS.get(character, character) for character in text)


def _latex(table: Table) -> str:
    width = 2 + len(table.columns)

    def cell_text(cell: Cell | None) -> str:
        if cell is None:
            return MISSING
        value, interval, delta = _parts(cell)
        return " ".join(filter(None, (value, interval and rf"{{\scriptsize {interval}}}", _tex(delta))))

    lines = [rf"\begin{{tabular}}{{ll{'r' * len(table.columns)}}}", r"\toprule",
             " & ".join(["Model", "Kind"] + [_tex(column.title) for column in table.columns]) + r" \\", r"\midrule"]
    for row in table.rows:
        lines.append(" & ".join([_tex(row.name), _tex(_kind(table, row))]
                                + [cell_text(row.cells.get(column)) for column in table.columns]) + r" \\")
    lines.append(r"\bottomrule")
    lines += [rf"\multicolumn{{{width}}}{{@{{}}p{{\linewidth}}@{{}}}}{{\footnotesize {_tex(note)}}} \\" for note in table.notes]
    lines.append(r"\end{tabular}")
    return "\n".join(lines) + "\n"


def _html(table: Table) -> str:
    escape = html.escape

    def cell_html(cell: Cell | None) -> str:
        if cell is None:
            return f'<td class="score missing">{MISSING}</td>'
        value, interval, delta = _parts(cell)
        classes = "score significant" if cell.significant else "score"
        title = f' title="p = {cell.p_value:.3g}"' if cell.p_value is not None else ""
        inner = escape(value) + (f' <span class="interval">{escape(interval)}</span>' if interval else "") \
            + (f' <span class="delta">{escape(delta)}</span>' if delta else "")
        return f'<td class="{classes}"{title}>{inner}</td>'

    lines = ['<table class="scoder-table">', f"<caption>{escape(table.title)}</caption>", "<thead><tr>"
             + "".join(f'<th scope="col">{escape(text)}</th>' for text in ["model", "kind"] + [column.title for column in table.columns])
             + "</tr></thead>", "<tbody>"]
    for row in table.rows:
        classes = row.kind.replace(" ", "-") + (" reference" if row.name == table.reference else "")
        source = f' title="{escape(row.source)}"' if row.source else ""
        lines.append(f'<tr class="{classes}"><th scope="row"{source}>{escape(row.name)}</th><td class="kind">{escape(_kind(table, row))}</td>'
                     + "".join(cell_html(row.cells.get(column)) for column in table.columns) + "</tr>")
    lines.append("</tbody>")
    if table.notes:
        lines.append("<tfoot>" + "".join(f'<tr><td colspan="{2 + len(table.columns)}">{escape(note)}</td></tr>' for note in table.notes)
                     + "</tfoot>")
    lines.append("</table>")
    return "\n".join(lines) + "\n"
