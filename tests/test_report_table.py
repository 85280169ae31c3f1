"""Comparison tables from real runs: the conformance data's real model outputs (Meta-Llama-3-8B-Instruct and
Mistral-7B-Instruct-v0.2 on HumanEval+) evaluated here by `scoder eval` on the first tasks, read back as
runs; intervals, deltas and McNemar's p recomputed from the results files; columns that never mix
versions, task sets or protocols; published baselines; every render format parsed."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import shutil
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from scipy.stats import binomtest

from harness.cli import main
from harness.metrics import bootstrap_interval
from harness.report.baselines import load_baselines
from harness.report.model import GREEDY, SIGNIFICANT, Cell, Column, ColumnMismatch, Row
from harness.report.runs import RunError, read_run
from harness.report.table import build_table
from harness.report.render import render

LCB_FIXTURES = Path(__file__).parent / "fixtures" / "livecodebench"
MODELS = {"llama": "Meta-Llama-3-8B-Instruct", "mistral": "Mistral-7B-Instruct-v0.2"}
# The conformance files carry no generation record; their README says they are greedy vLLM samples, so
# the record written beside them here says that (temperature 0, one sample per task).
GREEDY_RECORD = {"backend": "vllm", "decoding": {"n": 1, "temperature": 0.0, "top_p": 0.95}}


def conformance_programs(conformance_dir: Path, model: str) -> dict[str, str]:
    with gzip.open(conformance_dir / f"humaneval_{MODELS[model]}.eval_results.json.gz", "rt") as handle:
        return {task_id: entries[0]["solution"] for task_id, entries in json.load(handle)["eval"].items()}


def evaluate(folder: Path, lines: list[dict], *arguments: str) -> Path:
    folder.mkdir(parents=True)
    samples = folder / "samples.jsonl"
    samples.write_text("".join(json.dumps(line) + "\n" for line in lines))
    output = folder / "samples_eval_results.json"
    assert main(["eval", "--samples", str(samples), "--output", str(output), "--parallel", "2", "--no-progress", *arguments]) == 0
    return output


@pytest.fixture(scope="module")
def runs(tmp_path_factory, data_dir, conformance_dir) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    programs = {model: conformance_programs(conformance_dir, model) for model in MODELS}
    first = [f"HumanEval/{number}" for number in range(20)]
    humaneval = ["--benchmark", "humaneval", "--data-dir", str(data_dir)]
    folders = {}
    for name, model, tasks in (("llama_20", "llama", first), ("mistral_20", "mistral", first), ("llama_10", "llama", first[:10])):
        lines = [{"task_id": task, "solution": programs[model][task], "generation": {"model": MODELS[model], **GREEDY_RECORD}} for task in tasks]
        folders[name] = evaluate(root / name, lines, *humaneval).parent
    # Two real programs per task (Llama's and Mistral's) stand in for two samples drawn at temperature 0.8.
    sampled = {"model": "two models' programs", "backend": "vllm", "decoding": {"n": 2, "temperature": 0.8, "top_p": 0.95}}
    lines = [{"task_id": task, "solution": programs[model][task], "generation": sampled} for task in first[:10] for model in MODELS]
    folders["sampled"] = evaluate(root / "sampled", lines, *humaneval).parent
    # LiveCodeBench in a date window: the hand-written fixtures (NOT real LiveCodeBench data, only its format).
    lines = [{"task_id": "abc900_b", "solution": "n = int(input())\nprint(sum(map(int, input().split())) / n)\n", "generation": GREEDY_RECORD},
             {"task_id": "9004", "solution": "class Solution:\n    def evensAndOdds(self, nums):\n        return [], []\n",
              "generation": GREEDY_RECORD}]
    folders["lcb_window"] = evaluate(root / "lcb_window", lines, "--benchmark", "livecodebench", "--release", "release_v2",
                                     "--lcb-dir", str(LCB_FIXTURES), "--start-date", "2024-01-01", "--end-date", "2024-12-31").parent
    return folders


def results_of(folder: Path) -> dict:
    return json.loads((folder / "samples_eval_results.json").read_text())


def file_verdicts(folder: Path, plus: bool) -> dict[str, list[bool]]:
    """Each task's sample verdicts, straight from the results file: base tests, or base and plus tests."""
    return {task: [entry["base_status"] == "pass" and (not plus or entry["plus_status"] == "pass") for entry in entries]
            for task, entries in results_of(folder)["eval"].items()}


def copy_run(source: Path, target: Path, change=None) -> Path:
    """A copy of a real run; `change` edits its results (to make a case that real runs cannot give)."""
    shutil.copytree(source, target)
    if change:
        path = target / "samples_eval_results.json"
        results = json.loads(path.read_text())
        change(results)
        path.write_text(json.dumps(results))
    return target


def test_runs_are_read_with_their_exact_columns(runs, data_dir):
    with gzip.open(data_dir / "HumanEvalPlus-v0.1.10.jsonl.gz", "rt") as handle:
        size = sum(1 for line in handle if line.strip())
    run = read_run(runs["llama_20"])
    assert run.name == "llama_20"
    subset = f"first 20 of {size} tasks"
    assert [score.column for score in run.scores] == [Column("humaneval", "v0.1.10", GREEDY, tasks=subset),
                                                      Column("humaneval+", "v0.1.10", GREEDY, tasks=subset)]
    reported = results_of(runs["llama_20"])["pass_at_k"]
    for score, plus, kind in ((run.scores[0], False, "base"), (run.scores[1], True, "plus")):
        verdicts = file_verdicts(runs["llama_20"], plus)
        assert score.verdicts == {task: found[0] for task, found in verdicts.items()}
        assert score.value == pytest.approx(100 * reported[kind]["pass@1"])
    lcb = read_run(runs["lcb_window"]).scores
    assert [score.column for score in lcb] == [Column("livecodebench", "release_v2", GREEDY, "2024-01-01..2024-12-31")]
    assert lcb[0].verdicts == {"abc900_b": True, "9004": False}


def test_sampled_run_has_fractions_per_task_and_no_verdicts(runs):
    run = read_run(runs["sampled"])
    assert {score.column.protocol for score in run.scores} == {"pass@1, n=2, T=0.8, top-p 0.95"}
    plus = run.scores[1]
    expected = {task: sum(found) / len(found) for task, found in file_verdicts(runs["sampled"], plus=True).items()}
    assert plus.per_task == expected and 0.5 in expected.values()  # the real programs disagree on some task
    assert plus.verdicts is None


def test_cells_carry_a_bootstrap_interval_over_tasks(runs):
    run = read_run(runs["llama_20"])
    table = build_table([run])
    for score in run.scores:
        cell = table.rows[0].cells[score.column]
        low, high = bootstrap_interval([float(passed) for passed in score.verdicts.values()])
        assert (cell.low, cell.high) == (pytest.approx(100 * low), pytest.approx(100 * high))
        assert cell.low < cell.value < cell.high


def test_reference_row_gives_deltas_and_mcnemar_p(runs):
    llama, mistral = read_run(runs["llama_20"]), read_run(runs["mistral_20"])
    table = build_table([llama, mistral], reference="llama_20")
    assert table.reference == "llama_20" and table.rows[0].cells[llama.scores[0].column].delta is None
    for index, plus in ((0, False), (1, True)):
        column = llama.scores[index].column
        first, second = file_verdicts(runs["llama_20"], plus), file_verdicts(runs["mistral_20"], plus)
        only_first = sum(first[task][0] and not second[task][0] for task in first)
        only_second = sum(second[task][0] and not first[task][0] for task in first)
        assert only_first + only_second > 0
        expected_p = binomtest(only_second, only_first + only_second, 0.5).pvalue  # exact: fewer than 25 discordant tasks
        cell = table.rows[1].cells[column]
        assert cell.delta == pytest.approx(mistral.scores[index].value - llama.scores[index].value)
        assert cell.p_value == pytest.approx(expected_p)
        assert cell.significant == (expected_p < 0.05)
    p = table.rows[1].cells[llama.scores[1].column].p_value
    loose = build_table([llama, mistral], reference="llama_20", alpha=min(1.0, 2 * p))
    assert all(cell.significant for cell in loose.rows[1].cells.values())
    assert SIGNIFICANT in render(loose, "md") and SIGNIFICANT not in render(build_table([llama, mistral]), "md")


def test_no_paired_test_without_per_task_verdicts(runs, tmp_path):
    copy = read_run(copy_run(runs["sampled"], tmp_path / "sampled_copy"))  # a copy stands in for a second sampled run
    table = build_table([read_run(runs["sampled"]), copy], reference="sampled")
    for cell in table.rows[1].cells.values():
        assert cell.delta == 0 and cell.p_value is None and not cell.significant
    assert any("no paired test" in note and "sampled_copy" in note for note in table.notes)


def test_versions_task_sets_and_protocols_get_separate_columns(runs, tmp_path):
    # Fake version: a copy of a real run relabelled as measured on a (made-up) HumanEval+ v0.1.9 file.
    older = copy_run(runs["llama_10"], tmp_path / "llama_10_older",
                     lambda results: results["scoder"].update(dataset_file="HumanEvalPlus-v0.1.9.jsonl.gz"))
    chosen = [read_run(runs[name]) for name in ("llama_20", "llama_10", "sampled")] + [read_run(older)]
    table = build_table(chosen)
    assert len(table.columns) == 8 == len(set(table.columns))
    for run, row in zip(chosen, table.rows):
        assert set(row.cells) == {score.column for score in run.scores}
    compared = build_table(chosen, reference="llama_20")
    assert all(cell.delta is None for row in compared.rows for cell in row.cells.values())
    assert "for llama_10, sampled, llama_10_older: no column in common" in " ".join(compared.notes)
    plus_columns = [column for column in table.columns if column.benchmark == "humaneval+"]
    assert {(column.version, column.tasks, column.protocol) for column in plus_columns} == {
        ("v0.1.10", "first 20 of 164 tasks", GREEDY), ("v0.1.10", "first 10 of 164 tasks", GREEDY),
        ("v0.1.10", "first 10 of 164 tasks", "pass@1, n=2, T=0.8, top-p 0.95"), ("v0.1.9", "first 10 of 164 tasks", GREEDY)}


def test_a_column_refuses_a_score_measured_otherwise(runs):
    score = read_run(runs["llama_20"]).scores[1]
    row = Row("llama_20", "run", str(runs["llama_20"]))
    for field, value in (("version", "v0.1.9"), ("protocol", "pass@1, n=10, T=0.8, top-p 0.95"), ("window", "2024-01-01..2024-12-31"),
                         ("tasks", ""), ("benchmark", "humaneval")):
        requested = replace(score.column, **{field: value})
        with pytest.raises(ColumnMismatch, match=rf"{field} .*, not "):
            row.put(requested, score.column, Cell(score.value))
    assert row.cells == {}
    row.put(score.column, score.column, Cell(score.value))
    with pytest.raises(ColumnMismatch, match="two scores"):
        row.put(score.column, score.column, Cell(score.value))


def test_published_baselines_fill_only_their_own_columns(runs):
    published = load_baselines()
    run = read_run(runs["llama_20"])
    table = build_table([run], published)
    assert [row.name for row in table.rows] == ["llama_20"]  # the run covers 20 tasks: no published number is comparable
    assert any("not comparable" in note and "HumanEval+ v0.1.10, greedy pass@1" in note for note in table.notes)
    everything = build_table([run], published, all_columns=True)
    rows = {row.name: row for row in everything.rows}
    for score in published:
        kind = "self-reported" if "self-reported" in score.protocol else "baseline"
        row = rows[score.model if kind == "baseline" else f"{score.model} (self-reported)"]
        assert row.kind == kind and score.source in row.source
        assert row.cells[Column(score.benchmark, score.version, score.protocol, score.window)] == Cell(score.value)
    assert set(rows["llama_20"].cells) == {score.column for score in run.scores}


def test_livecodebench_baselines_match_only_the_same_window(runs, tmp_path):
    # Fake published numbers for the fixture problems (which are not real LiveCodeBench data either).
    path = tmp_path / "lcb.yaml"
    group = {"source": "test", "benchmark": "livecodebench", "version": "release_v2"}
    path.write_text(yaml.safe_dump([{**group, "window": "2024-01-01..2024-12-31", "scores": {"Model A": 40.0}},
                                    {**group, "window": "2023-01-01..2023-12-31", "scores": {"Model A": 70.0}}]))
    run = read_run(runs["lcb_window"])
    table = build_table([run], load_baselines([path]))
    assert table.columns == [run.scores[0].column]
    assert [cell.value for cell in table.rows[1].cells.values()] == [40.0]
    assert any("2023-01-01..2023-12-31" in note for note in table.notes)
    assert len(build_table([run], load_baselines([path]), all_columns=True).columns) == 2


class _Html(HTMLParser):
    """Checks that tags nest and counts the cells of each row."""

    def __init__(self):
        super().__init__()
        self.open, self.rows = [], []

    def handle_starttag(self, tag, attrs):
        self.open.append(tag)
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self.rows[-1].append(dict(attrs))

    def handle_endtag(self, tag):
        assert self.open and self.open.pop() == tag, f"</{tag}> closes nothing open"


def test_every_format_parses(runs):
    chosen = [read_run(runs[name]) for name in ("llama_20", "mistral_20", "sampled")]
    table = build_table(chosen, load_baselines(), reference="llama_20", all_columns=True)
    width = 2 + len(table.columns)

    records = list(csv.reader(io.StringIO(render(table, "csv"))))
    assert len(records) == 1 + len(table.rows) and {len(record) for record in records} == {3 + 5 * len(table.columns)}
    for record, row in zip(records[1:], table.rows):
        assert record[0] == row.name
        for index, column in enumerate(table.columns):
            value, low, high, delta, p = record[3 + 5 * index: 8 + 5 * index]
            cell = row.cells.get(column)
            assert (float(value) if value else None) == (pytest.approx(cell.value, abs=1e-3) if cell else None)
            if cell and cell.p_value is not None:
                assert float(p) == pytest.approx(cell.p_value, rel=1e-5) and float(delta) == pytest.approx(cell.delta, abs=1e-3)

    lines = [line for line in render(table, "md").splitlines() if line.startswith("|")]
    assert len(lines) == 2 + len(table.rows)
    assert {len(re.split(r"(?<!\\)\|", line)) - 2 for line in lines} == {width}
    assert "75.0 [" in render(table, "md")

    tex = render(table, "tex")
    assert tex.count(r"\begin{tabular}") == tex.count(r"\end{tabular}") == 1
    unescaped = re.sub(r"\\[{}&_%$#]", "", tex)
    depth = 0
    for character in unescaped:
        depth += {"{": 1, "}": -1}.get(character, 0)
        assert depth >= 0
    assert depth == 0
    body = tex.split(r"\midrule")[1].split(r"\bottomrule")[0].strip().splitlines()
    assert len(body) == len(table.rows) and {len(line.split(" & ")) for line in body} == {width}
    assert r"llama\_20" in tex and not re.search(r"(?<!\\)_", tex)

    parser = _Html()
    parser.feed(render(table, "html"))
    parser.close()
    assert parser.open == []
    cells = [row for row in parser.rows if not any("colspan" in attrs for attrs in row)]
    assert len(cells) == 1 + len(table.rows) and {len(row) for row in cells} == {width}
    assert "p &lt; 0.05" in render(table, "html")


def test_report_command_writes_every_format(runs, tmp_path, capsys):
    pipeline = tmp_path / "pipeline-run"  # a pipeline's layout, holding a real run's results
    (pipeline / "evaluate").mkdir(parents=True)
    shutil.copy(runs["llama_20"] / "samples_eval_results.json", pipeline / "evaluate" / "humanevalplus.eval_results.json")
    (pipeline / "results").mkdir()
    (pipeline / "results" / "results.json").write_text(json.dumps({"recipe": "smoke", "scores": {}, "stages": {}}))
    output = tmp_path / "report"
    assert main(["report", str(pipeline), str(runs["mistral_20"]), "--reference", "smoke", "--format", "md,csv,tex,html",
                 "--output", str(output)]) == 0
    printed = capsys.readouterr().out
    assert "| smoke | run (reference) |" in printed and "| mistral_20 | run |" in printed
    assert (output / "report.md").read_text() in printed
    page = (output / "report.html").read_text()
    assert page.startswith("<!doctype html>") and page.count('<img src="data:image/svg+xml;base64,') == 2
    assert sorted(path.name for path in output.iterdir()) == ["plots", "report.csv", "report.html", "report.md", "report.tex"]
    assert sorted(path.name for path in (output / "plots").iterdir()) == [
        "ablation-deltas.png", "ablation-deltas.svg", "benchmarks.png", "benchmarks.svg"]


def test_leaderboard_page_over_the_runs_kept_in_results(runs, tmp_path, capsys):
    results = tmp_path / "results"
    shutil.copytree(runs["mistral_20"], results / "mistral_20")
    (results / "notes").mkdir()  # a folder without results is passed over
    output = tmp_path / "site"
    assert main(["report", "--leaderboard", str(results), "--output", str(output)]) == 0
    page = (output / "leaderboard.html").read_text()
    assert "mistral_20" in page and "Magicoder-S-DS-6.7B" in page and "<script>" in page
    assert "| mistral_20 | run |" in capsys.readouterr().out


def test_unreadable_runs_are_clear_errors(runs, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "x_eval_results.json").write_text('{"eval": {')  # a torn file
    unknown = copy_run(runs["llama_10"], tmp_path / "unknown", lambda results: results["scoder"].update(benchmark="apps"))
    twice = copy_run(runs["llama_10"], tmp_path / "twice")
    shutil.copy(twice / "samples_eval_results.json", twice / "again_eval_results.json")
    for folder, message in ((empty, "no results of `scoder eval`"), (corrupt, "corrupt JSON"),
                            (unknown, "unknown benchmark 'apps'"), (twice, "two results for")):
        with pytest.raises(RunError, match=message):
            read_run(folder)
    assert main(["report", str(corrupt), "--no-baselines", "--output", str(tmp_path / "out")]) == 2
    assert "corrupt JSON" in capsys.readouterr().err
    assert main(["report", str(runs["llama_10"]), "--reference", "nope", "--no-baselines", "--output", str(tmp_path / "out")]) == 2
    assert "reference 'nope' is not one of the runs" in capsys.readouterr().err


def test_unknown_decoding_is_said_not_guessed(runs, tmp_path):
    moved = copy_run(runs["llama_10"], tmp_path / "moved", lambda results: results["scoder"].update(samples="/gone/samples.jsonl"))
    (moved / "samples.jsonl").unlink()
    run = read_run(moved)
    assert {score.column.protocol for score in run.scores} == {"pass@1, n=1, decoding not recorded"}
    assert any("decoding unknown" in note for note in run.notes)
