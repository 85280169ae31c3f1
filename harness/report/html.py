"""Self-contained HTML pages: one per run (its table, plots, stage manifests and versions), and a
leaderboard (every run under results/ beside the published baselines) sortable by any column.

A page makes no request: its CSS and a few lines of sorting script are inline, and plots are data URIs
in <img> elements (each SVG keeps its element ids to itself). Every text from outside (model names,
configs, notes) is escaped; the table itself comes escaped from harness.report.render.
"""

from __future__ import annotations

import base64
import json
from html import escape
from pathlib import Path

from harness.report.model import Table
from harness.report.render import render

_CSS = """
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; margin: 2rem; color: #1a1a1a; max-width: 110rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.95rem; }
caption { text-align: left; font-weight: bold; padding-bottom: 0.4rem; }
th, td { border: 1px solid #c8c8c8; padding: 0.35rem 0.45rem; }
thead th { background: #eef1f5; vertical-align: bottom; overflow-wrap: anywhere; }
tbody th { text-align: left; min-width: 9rem; }
td.score { text-align: right; white-space: nowrap; }
td.missing { color: #8c8c8c; text-align: center; }
.interval, .kind { color: #555; font-size: 0.85em; }
.interval, .delta { display: block; }  /* one number per line: ten columns then fit a 1280 px screen */
.significant .delta { font-weight: bold; }
tr.reference { background: #fff8e1; }
tr.self-reported { font-style: italic; }
tfoot td { border: none; font-size: 0.85em; color: #444; padding: 0.15rem 0; }
table.sortable thead th { cursor: pointer; }
table.sortable thead th[aria-sort=ascending]::after { content: " \\25B2"; }
table.sortable thead th[aria-sort=descending]::after { content: " \\25BC"; }
figure { margin: 1rem 0; } figure img { max-width: 100%; border: 1px solid #e0e0e0; }
figcaption { font-size: 0.9rem; color: #444; }
details { margin: 0.3rem 0; } summary { cursor: pointer; }
pre { background: #f6f8fa; padding: 0.8rem; overflow-x: auto; font-size: 0.8rem; }
.generated { color: #555; }
"""

# Click a header to sort by it (scores high to low first, text A to Z); the page's address remembers the
# order (#sort=COLUMN or #sort=COLUMN-asc / -desc), so a sorted leaderboard can be linked. Rows without
# a score in the column stay last either way.
_SORT_SCRIPT = """
(function () {
  function key(cell) {
    if (!cell.classList.contains("score")) return cell.textContent.trim().toLowerCase();
    var number = parseFloat(cell.textContent);
    return isNaN(number) ? null : number;
  }
  function sortBy(table, column, descending) {
    var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a.cells[column]), y = key(b.cells[column]);
      if (x === null || y === null) return (x === null) - (y === null);
      var order = typeof x === "number" ? x - y : x.localeCompare(y);
      return descending ? -order : order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (header, index) {
      header.setAttribute("aria-sort", index === column ? (descending ? "descending" : "ascending") : "none");
    });
    history.replaceState(null, "", "#sort=" + column + (descending ? "-desc" : "-asc"));
  }
  var table = document.querySelector("table.scoder-table");
  if (!table || !table.tHead || !table.tBodies.length) return;
  table.classList.add("sortable");
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (header, column) {
    header.tabIndex = 0;
    function activate() {
      var state = header.getAttribute("aria-sort"), numeric = table.tBodies[0].rows.length &&
          table.tBodies[0].rows[0].cells[column].classList.contains("score");
      sortBy(table, column, state === "none" || !state ? !!numeric : state === "ascending");
    }
    header.addEventListener("click", activate);
    header.addEventListener("keydown", function (event) { if (event.key === "Enter") activate(); });
  });
  var wanted = /^#sort=(\\d+)(?:-(asc|desc))?$/.exec(location.hash);
  if (wanted && +wanted[1] < table.tHead.rows[0].cells.length) {
    var column = +wanted[1], first = table.tBodies[0].rows[0];
    var numeric = first && first.cells[column].classList.contains("score");
    sortBy(table, column, wanted[2] ? wanted[2] === "desc" : !!numeric);
  }
})();
"""


def run_page(table: Table, plots: dict[str, Path | bytes], manifests: dict[str, dict], versions: dict) -> str:
    """One run's page: the table, the plots (PNG or SVG, as files or bytes) under their names, each stage's
    manifest (config, inputs, timings, versions) in a collapsible section, and the package versions."""
    runs = [row.name for row in table.rows if row.kind == "run"]
    parts = [f"<h1>{escape(', '.join(runs) or table.title)}</h1>", render(table, "html")]
    if plots:
        parts.append("<h2>Plots</h2>")
        parts += [f'<figure><img src="{_data_uri(plot)}" alt="{escape(name)}"><figcaption>{escape(name)}</figcaption></figure>'
                  for name, plot in plots.items()]
    if manifests:
        parts.append("<h2>Stages</h2>")
        parts.append(_stage_summary(manifests))
        parts += [f"<details><summary>{escape(stage)}</summary><pre>{escape(json.dumps(manifest, indent=2, default=str))}</pre></details>"
                  for stage, manifest in manifests.items()]
    if versions:
        parts.append("<h2>Versions</h2>")
        parts.append("<table><tbody>" + "".join(f"<tr><th>{escape(str(name))}</th><td>{escape(str(value))}</td></tr>"
                                                for name, value in versions.items()) + "</tbody></table>")
    return _page(table.title, parts)


def leaderboard_page(table: Table, generated: str) -> str:
    """The leaderboard: the table (sortable by clicking a column header) and a line saying how and when it
    was generated."""
    parts = ["<h1>Leaderboard</h1>", f'<p class="generated">{escape(generated)}</p>',
             "<p>Click a column header to sort by it.</p>", render(table, "html")]
    return _page(f"Leaderboard: {table.title}", parts, script=_SORT_SCRIPT)


def _stage_summary(manifests: dict[str, dict]) -> str:
    rows = []
    for stage, manifest in manifests.items():
        finished = manifest.get("finished") or "not finished"
        seconds = manifest.get("seconds")
        rows.append(f"<tr><th>{escape(stage)}</th><td class=\"score\">{escape(f'{seconds:.1f}' if isinstance(seconds, (int, float)) else '-')}</td>"
                    f"<td>{escape(str(finished))}</td><td>{escape(str(manifest.get('git') or '-'))}</td></tr>")
    return ("<table><thead><tr><th>stage</th><th>seconds</th><th>finished</th><th>git revision</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _data_uri(plot: Path | bytes) -> str:
    data = plot if isinstance(plot, bytes) else Path(plot).read_bytes()
    if data.startswith(_PNG_SIGNATURE):
        kind = "image/png"
    elif b"<svg" in data[:4096]:
        kind = "image/svg+xml"
    else:
        raise ValueError(f"{plot if not isinstance(plot, bytes) else 'a plot'}: neither PNG nor SVG")
    return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"


def _page(title: str, parts: list[str], script: str = "") -> str:
    body = "\n".join(parts)
    script_tag = f"<script>{script}</script>\n" if script else ""
    return (f'<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{escape(title)}</title>\n'
            f"<style>{_CSS}</style>\n</head>\n<body>\n{body}\n{script_tag}</body>\n</html>\n")
