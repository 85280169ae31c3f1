"""The HTML pages: self-contained and escaped (read with an HTML parser), and shown by a real browser:
Debian's Chromium, started headless by the test, loads each page from a file:// URL; its screenshot is
read back with Tesseract OCR and its DOM with --dump-dom, and both must hold the table's content.

The table is real: two models' official evalplus verdicts (tests/conformance_runs.py) against the
published baselines. install.sh --dev installs chromium and tesseract-ocr; the browser tests are skipped
only on a machine where they cannot be installed (not root, no password-less sudo, or no apt-get).
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser

import pytest
from conformance_runs import MODELS, evalplus_run

from harness.report import html
from harness.report.baselines import load_baselines
from harness.report.model import Cell, Row, Table
from harness.report.runs import read_run
from harness.report.table import build_table
from scoder.runner import Stage, StageRunner

HOSTILE = '<img src=x onerror="alert(1)"></th><script>alert(2)</script>'


@pytest.fixture(scope="module")
def runs(conformance_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs")
    return [read_run(evalplus_run(conformance_dir, folder / model, model)) for model in MODELS]


@pytest.fixture(scope="module")
def table(runs):
    return build_table(runs, load_baselines(), reference=MODELS[0])


@pytest.fixture(scope="module")
def manifests(tmp_path_factory):
    """Real stage manifests, written by the stage runner for two tiny stages."""
    run_dir = tmp_path_factory.mktemp("run")
    summaries = StageRunner(run_dir, log=lambda line: None).run([
        Stage("seed", {"path": "data/seed.jsonl"}, (), lambda config, folder, inputs, context: {"samples": 12}),
        Stage("synthesize", {"note": HOSTILE}, ("seed",), lambda config, folder, inputs, context: {"samples": 16}),
    ])
    return {name: json.loads((run_dir / name / "manifest.json").read_text()) for name in summaries}


@pytest.fixture(scope="module")
def plot_files(table, tmp_path_factory):
    pytest.importorskip("matplotlib", reason="plots need the report extra: pip install scoder-harness[report]")
    from harness.report import plots

    return plots.save(plots.benchmark_bars(table), tmp_path_factory.mktemp("plots") / "bars")


class _Elements(HTMLParser):
    """Every start tag with its attributes, and the text inside each <script>."""

    def __init__(self, page: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[str] = []
        self._in_script = False
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)


def _hostile_table(table: Table) -> Table:
    column = table.columns[0]
    return Table(table.title, table.columns, table.rows + [Row(HOSTILE, "run", HOSTILE, {column: Cell(1.0)})], table.reference, [HOSTILE])


def test_pages_make_no_requests_and_escape_every_outside_text(table, manifests, plot_files):
    hostile = _hostile_table(table)
    pages = [html.run_page(hostile, {HOSTILE: plot_files[1], "bars (png)": plot_files[0].read_bytes()}, manifests, {"python": HOSTILE}),
             html.leaderboard_page(hostile, HOSTILE)]
    for page in pages:
        elements = _Elements(page)
        for tag, attributes in elements.tags:
            assert tag not in ("link", "iframe", "object", "embed", "base")
            for name in ("src", "href", "action", "srcset"):
                assert attributes.get(name, "data:").startswith(("data:", "#")), (tag, attributes)
        # The only markup is the page's own: the hostile text never became an element or a script.
        assert not [attributes for tag, attributes in elements.tags if tag == "img" and attributes["src"] == "x"]
        assert all("alert" not in script for script in elements.scripts)
        assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page


def test_run_page_embeds_the_plots_and_every_stage_manifest(table, manifests, plot_files):
    png, svg = plot_files
    page = html.run_page(table, {"scores": svg, "scores (png)": png.read_bytes()}, manifests, {"python": "3.11"})
    images = [attributes for tag, attributes in _Elements(page).tags if tag == "img"]
    assert [image["alt"] for image in images] == ["scores", "scores (png)"]
    assert base64.b64decode(images[0]["src"].removeprefix("data:image/svg+xml;base64,")) == svg.read_bytes()
    assert base64.b64decode(images[1]["src"].removeprefix("data:image/png;base64,")) == png.read_bytes()
    assert page.count("<details>") == len(manifests) == 2
    for manifest in manifests.values():
        assert manifest["key"] in page and manifest["versions"]["python"] in page
    with pytest.raises(ValueError, match="neither PNG nor SVG"):
        html.run_page(table, {"notes": b"plain text"}, {}, {})


# ------------------------------------------------------------------------------------- in a real browser

def _installable() -> bool:
    """As install.sh decides: apt-get, run as root or through password-less sudo."""
    if shutil.which("apt-get") is None:
        return False
    return os.geteuid() == 0 or (shutil.which("sudo") is not None and subprocess.run(["sudo", "-n", "true"], check=False, capture_output=True).returncode == 0)


def _tool(name: str, package: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    if _installable():
        pytest.fail(f"{name} is missing but can be installed here: run ./install.sh --dev (it installs {package})")
    pytest.skip(f"{name} is not installed and cannot be installed on this machine (needs root or password-less sudo, and apt-get)")


@pytest.fixture(scope="module")
def chromium():
    return _tool("chromium", "chromium")


@pytest.fixture(scope="module")
def tesseract():
    return _tool("tesseract", "tesseract-ocr")


def _browse(chromium: str, profile, url: str, *arguments: str) -> str:
    # --no-sandbox: Chromium's sandbox refuses to start as root in a container; the page is our own file.
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
               f"--user-data-dir={profile}", *arguments, url]
    done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _screenshot(chromium: str, tmp_path, url: str, width: int, height: int, scale: int = 1):
    path = tmp_path / "screenshot.png"
    _browse(chromium, tmp_path / "profile", url, f"--screenshot={path}", f"--window-size={width},{height}",
            f"--force-device-scale-factor={scale}")
    assert path.read_bytes().startswith(b"\x89PNG")
    return path


def _letters(text: str) -> str:
    """Text as OCR may read it: no spaces, one case, and I, l, 1 and | as one letter."""
    return re.sub(r"[il1|]", "l", re.sub(r"\s+", "", text.lower()))


def _body_rows(dom: str) -> list[str]:
    body = dom.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r'<th scope="row"[^>]*>(.*?)</th>', body)


def test_leaderboard_in_chromium_shows_every_model_and_number_sorted_as_asked(table, chromium, tesseract, tmp_path):
    page = tmp_path / "leaderboard.html"
    page.write_text(html.leaderboard_page(table, "generated from results/ and results/baselines"), encoding="utf-8")
    column = 3  # model, kind, HumanEval, HumanEval+: sort by HumanEval+, best first
    url = f"{page.as_uri()}#sort={column}-desc"
    plus = table.columns[column - 2]
    assert plus.benchmark == "humaneval+"

    # What the browser built: every row, in the order of the column's scores (rows without one last).
    dom = _browse(chromium, tmp_path / "profile", url, "--dump-dom")
    expected = sorted(table.rows, key=lambda row: -row.cells[plus].value if plus in row.cells else float("inf"))
    assert _body_rows(dom) == [row.name for row in expected]
    assert 'aria-sort="descending"' in dom

    # What a person sees: the screenshot's text holds every model name and every number of the table.
    screenshot = _screenshot(chromium, tmp_path, url, 1600, 1000, scale=2)
    text = subprocess.run([tesseract, str(screenshot), "-"], capture_output=True, text=True, timeout=60, check=True).stdout
    letters = _letters(text)
    missing_names = [row.name for row in table.rows if _letters(row.name) not in letters]
    assert not missing_names, f"not in the screenshot's text: {missing_names}\n{text}"
    numbers = [f"{value:.1f}" for row in table.rows for cell in row.cells.values()
               for value in (cell.value, cell.low, cell.high) if value is not None]
    assert not [number for number in numbers if number not in text], f"numbers not in the screenshot's text\n{text}"
    # The sorted order shows on screen too: the names come out of OCR top to bottom.
    positions = [letters.index(_letters(row.name)) for row in expected]
    assert positions == sorted(positions)


def test_run_page_in_chromium_shows_the_table_plots_and_stages(table, manifests, plot_files, chromium, tesseract, tmp_path):
    from matplotlib.image import imread

    page = tmp_path / "run.html"
    page.write_text(html.run_page(table, {"scores": plot_files[1]}, manifests, {"python": "3.11"}), encoding="utf-8")
    dom = _browse(chromium, tmp_path / "profile", page.as_uri(), "--dump-dom")
    assert _body_rows(dom)[:2] == list(MODELS)
    assert re.findall(r"<summary>(.*?)</summary>", dom) == list(manifests)

    screenshot = _screenshot(chromium, tmp_path, page.as_uri(), 1400, 1400, scale=2)
    text = subprocess.run([tesseract, str(screenshot), "-"], capture_output=True, text=True, timeout=60, check=True).stdout
    for name in (*MODELS, "Stages", "seed", "synthesize"):
        assert _letters(name) in _letters(text), f"{name!r} not in the screenshot's text\n{text}"
    # The SVG plot was drawn: its first row's bar color covers a good area of the screenshot.
    pixels = (imread(screenshot)[:, :, :3] * 255).round()
    first_color = (0x4C, 0x72, 0xB0)  # plots' first color, the reference run's bars
    assert ((abs(pixels - first_color) <= 2).all(axis=2)).sum() > 2000


def test_the_leaderboard_fits_a_1280_pixel_screen_footnotes_included(chromium, conformance_dir, tmp_path):
    from harness.report.command import leaderboard

    # A run beside every published baseline (all their columns), one of its samples files gone: a footnote says so.
    run = evalplus_run(conformance_dir, tmp_path / "results" / MODELS[0], MODELS[0])
    (run / "evaluate" / "mbpp.samples.jsonl").unlink()
    leaderboard(tmp_path / "results", None, tmp_path, out=io.StringIO())
    page = (tmp_path / "leaderboard.html").read_text(encoding="utf-8")
    probe = ("<script>var cut = Array.prototype.filter.call(document.querySelectorAll('tfoot td, caption, thead th'), "
             "function (element) { return element.getBoundingClientRect().right > window.innerWidth; }).length;"
             "document.body.setAttribute('data-fit', document.documentElement.scrollWidth + ' ' + window.innerWidth + ' ' + cut);</script>")
    (tmp_path / "probe.html").write_text(page.replace("</body>", probe + "</body>"), encoding="utf-8")
    dom = _browse(chromium, tmp_path / "profile", (tmp_path / "probe.html").as_uri(), "--window-size=1280,900", "--dump-dom")
    scroll_width, viewport, cut = map(int, re.search(r'data-fit="(\d+) (\d+) (\d+)"', dom).groups())
    assert viewport == 1280 and scroll_width <= viewport and cut == 0
    assert "<tfoot>" in page and "decoding unknown" in page  # the notes were there to be checked
