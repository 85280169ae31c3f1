"""Leaderboard exports from run directories, file by file in the formats the leaderboards take (their
upstream sources are named in each family's harness/benchmarks/<family>/export.py), and the refusals of what cannot honestly be
submitted.

Data: real model outputs from ../shared/conformance, scored by `scoder eval` on a few tasks here, and
LiveCodeBench runs on the hand-written fixture shards (tests/fixtures/livecodebench: NOT real problems).
The conformance files keep neither the raw model outputs nor a generation record, so the samples written
here are RECONSTRUCTED: the sanitized program stands in for the raw output, and the generation record says
what ../shared/conformance/README.md says of them (greedy vLLM samples of Meta-Llama-3-8B-Instruct; greedy
samples of Qwen2.5-Coder-1.5B, their backend assumed). A whole HumanEval+ and MBPP+ run costs minutes
here, so the full-benchmark results are assembled by the harness's own code from the official evalplus
verdicts of those outputs instead of being re-run.
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

import pytest

from harness.benchmarks.evalplus.tasks import KINDS
from harness.cli import main
from harness.benchmarks.evalplus.scoring import plan as evalplus_plan
from harness.evaluation import assemble_results, sample_key
from harness.benchmarks.livecodebench.scoring import LiveCodeBenchSettings, evaluate as evaluate_livecodebench
from harness.evaluation_runs import Execution
from harness.report.exports import export_run
from harness.report.submission import ExportError
from harness.samples import Sample, read_samples
from tests.conftest import SHARED
from tests.test_livecodebench_eval import CORRECT, FIXTURES, WRONG


def export_evalplus(run_dir, out_dir, **settings):
    return export_run("evalplus", run_dir, out_dir, **settings)


def export_bigcodebench(run_dir, out_dir, **settings):
    return export_run("bigcodebench", run_dir, out_dir, **settings)


def export_livecodebench(run_dir, out_dir, lcb_dir=None, **settings):
    return export_run("livecodebench", run_dir, out_dir, options=argparse.Namespace(lcb_dir=lcb_dir), **settings)

CONFORMANCE = SHARED / "conformance"
LLAMA = {"model": "meta-llama/Meta-Llama-3-8B-Instruct", "adapter": None, "backend": "vllm", "prompt_format": "evalplus-chat",
         "decoding": {"n": 1, "temperature": 0.0}}  # RECONSTRUCTED (see the module docstring)
QWEN = {"model": "Qwen/Qwen2.5-Coder-1.5B", "adapter": None, "backend": "vllm", "prompt_format": "bigcodebench-complete-base",
        "decoding": {"n": 1, "temperature": 0.0}}  # RECONSTRUCTED
# Hand-written for the LiveCodeBench fixtures: two samples per problem, lcb_runner's sampling temperature.
TINY = {"model": "org/tiny-coder", "adapter": None, "backend": "hf", "prompt_format": "livecodebench-chat",
        "decoding": {"n": 2, "temperature": 0.2}}


def official(benchmark: str) -> dict:
    """The official evalplus results of Meta-Llama-3-8B-Instruct's outputs (humaneval or mbpp)."""
    with gzip.open(CONFORMANCE / "evalplus" / f"{benchmark}_Meta-Llama-3-8B-Instruct.eval_results.json.gz", "rt") as handle:
        return json.load(handle)


def write_samples(path: Path, programs: list[tuple[str, str]], generation: dict | None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    records = [{"task_id": task_id, "solution": code, **({"raw_solution": code, "generation": generation} if generation else {})}
               for task_id, code in programs]
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


def programs_of(results: dict, limit: int | None = None) -> list[tuple[str, str]]:
    return [(task_id, entry["solution"]) for task_id, entries in list(results["eval"].items())[:limit] for entry in entries]


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def unordered(records) -> list[str]:
    return sorted(json.dumps(record, sort_keys=True) for record in records)


def assembled_evalplus_run(evaluate_dir: Path, dataset, generation: dict) -> Path:
    """A pipeline's evaluate/<stem>.samples.jsonl + .eval_results.json for all of a benchmark, the results
    assembled by harness.benchmarks.evalplus.scoring from the official verdicts (see the module docstring)."""
    verdicts = official(dataset.benchmark.family)
    stem = dataset.benchmark.name.replace("+", "plus")
    samples = write_samples(evaluate_dir / f"{stem}.samples.jsonl", programs_of(verdicts), generation)
    keyed, records = [], {}
    for task_id, code in programs_of(verdicts):
        [entry] = verdicts["eval"][task_id]
        keyed.append(Sample(task_id, code, None, "conformance"))
        records[sample_key(task_id, code)] = {"isolation": "official evalplus 0.3.1 verdicts",
                                              **{f"{kind}_{part}": entry[f"{kind}_{part}"] for kind in KINDS for part in ("status", "fail_tests")},
                                              **{f"{kind}_error": None for kind in KINDS}}
    results = assemble_results(evalplus_plan(dataset, keyed), records, samples)
    (evaluate_dir / f"{stem}.eval_results.json").write_text(json.dumps(results))
    return evaluate_dir.parent


def full_evalplus_run(folder: Path, humaneval, mbpp, generation: dict = LLAMA, datasets=("humaneval", "mbpp")) -> Path:
    for name in datasets:
        assembled_evalplus_run(folder / "evaluate", humaneval if name == "humaneval" else mbpp, generation)
    return folder


def test_evalplus_entry_and_files_from_a_full_run(tmp_path, humaneval, mbpp):
    run = full_evalplus_run(tmp_path / "run", humaneval, mbpp)
    out = tmp_path / "out"
    files = export_evalplus(run, out)
    stem = "meta-llama--Meta-Llama-3-8B-Instruct_vllm_temp_0.0"
    assert [path.relative_to(out).as_posix() for path in files] == [
        f"{dataset}/{stem}{suffix}" for dataset in ("humaneval", "mbpp") for suffix in (".jsonl", ".raw.jsonl", "_eval_results.json")
    ] + ["leaderboard_entry.json", "scoder_export.json"]
    # pass@1 as ../shared/conformance/README.md gives the official evaluator's: 64.0 / 57.3 and 65.9 / 55.8.
    assert json.loads((out / "leaderboard_entry.json").read_text()) == {"meta-llama/Meta-Llama-3-8B-Instruct": {
        "link": None, "open-data": None, "pass@1": {"humaneval": 64.0, "humaneval+": 57.3, "mbpp": 65.9, "mbpp+": 55.8},
        "prompted": True, "size": None}}
    for dataset, md5 in (("humaneval", "fe585eb4df8c88d844eeb463ea4d0302"), ("mbpp", "ee43ecabebf20deef4bb776a405ac5b1")):
        verdicts = official(dataset)
        expected = unordered({"task_id": task_id, "solution": code} for task_id, code in programs_of(verdicts))
        assert unordered(read_jsonl(out / dataset / f"{stem}.jsonl")) == expected
        assert unordered(read_jsonl(out / dataset / f"{stem}.raw.jsonl")) == expected
        results = json.loads((out / dataset / f"{stem}_eval_results.json").read_text())
        assert set(results) == {"date", "hash", "eval", "pass_at_k"} and results["hash"] == md5
        assert results["eval"] == verdicts["eval"]  # evalplus' own entries, key for key
    manifest = json.loads(files[-1].read_text())
    assert manifest["partial"] == [] and manifest["model_name"] == LLAMA["model"] and manifest["generation"] == LLAMA
    assert [source["dataset"] for source in manifest["sources"]] == ["HumanEvalPlus-v0.1.10.jsonl.gz", "MbppPlus-v0.2.0.jsonl.gz"]
    assert manifest["files"] == [path.relative_to(out).as_posix() for path in files[:-1]]

    renamed = export_evalplus(run, tmp_path / "renamed", model_name="SCoder-DS-6.7B")
    assert renamed[0].name == "SCoder-DS-6.7B_vllm_temp_0.0.jsonl"
    assert list(json.loads((tmp_path / "renamed" / "leaderboard_entry.json").read_text())) == ["SCoder-DS-6.7B"]


def test_evalplus_refuses_what_the_leaderboard_does_not_take(tmp_path, humaneval, mbpp):
    only_humaneval = full_evalplus_run(tmp_path / "he", humaneval, mbpp, datasets=("humaneval",))
    with pytest.raises(ExportError, match="no mbpp\\+ results"):
        export_evalplus(only_humaneval, tmp_path / "out")
    # ALTERED generation records, for the cases real samples cannot give here:
    sampled = full_evalplus_run(tmp_path / "sampled", humaneval, mbpp, {**LLAMA, "decoding": {"n": 1, "temperature": 0.8}})
    with pytest.raises(ExportError, match="greedy pass@1"):
        export_evalplus(sampled, tmp_path / "out")
    adapted = full_evalplus_run(tmp_path / "adapted", humaneval, mbpp, {**LLAMA, "adapter": "runs/x/target/checkpoint-40"})
    with pytest.raises(ExportError, match="adapter.*--model-name"):
        export_evalplus(adapted, tmp_path / "out")
    assert list(json.loads(export_evalplus(adapted, tmp_path / "out", model_name="SCoder")[-2].read_text())) == ["SCoder"]
    assert not (tmp_path / "out" / "humaneval" / "meta-llama--Meta-Llama-3-8B-Instruct_vllm_temp_0.0.jsonl").exists()


@pytest.fixture(scope="module")
def limited_evalplus_run(tmp_path_factory, data_dir):
    """`scoder eval` on Meta-Llama-3-8B-Instruct's programs for the first 3 tasks of each benchmark, in nested folders."""
    run = tmp_path_factory.mktemp("limited")
    for benchmark in ("humaneval", "mbpp"):
        samples = write_samples(run / benchmark / "llama.jsonl", programs_of(official(benchmark), 3), LLAMA)
        assert main(["eval", "--benchmark", benchmark, "--samples", str(samples), "--data-dir", str(data_dir),
                     "--no-progress", "--parallel", "1"]) == 0
    return run


def test_evalplus_run_of_some_tasks_is_refused_or_labelled_partial(limited_evalplus_run, tmp_path, capsys):
    with pytest.raises(ExportError, match="161 of 164 tasks have no samples.*375 of 378 tasks have no samples"):
        export_evalplus(limited_evalplus_run, tmp_path / "refused")
    assert not (tmp_path / "refused").exists()
    files = export_evalplus(limited_evalplus_run, tmp_path / "out", allow_partial=True)
    reasons = ["humaneval+: 161 of 164 tasks have no samples", "mbpp+: 375 of 378 tasks have no samples"]
    [entry] = json.loads((tmp_path / "out" / "leaderboard_entry.json").read_text()).values()
    assert entry["partial"] == reasons and json.loads(files[-1].read_text())["partial"] == reasons
    for benchmark in ("humaneval", "mbpp"):
        ours = json.loads((limited_evalplus_run / benchmark / f"llama_{benchmark}+_eval_results.json").read_text())
        exported = json.loads((tmp_path / "out" / benchmark / "meta-llama--Meta-Llama-3-8B-Instruct_vllm_temp_0.0_eval_results.json").read_text())
        assert exported["partial"] == reasons and exported["pass_at_k"] == ours["pass_at_k"]
        assert entry["pass@1"][benchmark] == round(100 * ours["pass_at_k"]["base"]["pass@1"], 1)
        assert entry["pass@1"][f"{benchmark}+"] == round(100 * ours["pass_at_k"]["plus"]["pass@1"], 1)
        assert exported["eval"] == {task_id: [{key: result[key] for key in official(benchmark)["eval"][task_id][0]} for result in results]
                                    for task_id, results in ours["eval"].items()}

    assert main(["export", "evalplus", str(limited_evalplus_run), "--output", str(tmp_path / "cli")]) == 2
    assert "no evalplus leaderboard entry from a partial run" in capsys.readouterr().err
    assert main(["export", "evalplus", str(limited_evalplus_run), "--output", str(tmp_path / "cli"), "--allow-partial"]) == 0
    printed = capsys.readouterr().out
    assert str(tmp_path / "cli" / "leaderboard_entry.json") in printed and "PARTIAL" in printed and "fill in" in printed


def test_samples_without_a_generation_record_are_refused(tmp_path, data_dir):
    """Samples as the conformance files have them: programs only, so the model and decoding are unknown."""
    samples = write_samples(tmp_path / "run" / "llama.jsonl", programs_of(official("humaneval"), 2), None)
    assert main(["eval", "--benchmark", "humaneval", "--samples", str(samples), "--data-dir", str(data_dir), "--no-progress", "--parallel", "1"]) == 0
    with pytest.raises(ExportError, match="no generation record"):
        export_evalplus(tmp_path / "run", tmp_path / "out", model_name="Llama", allow_partial=True)


@pytest.fixture(scope="module")
def bigcodebench_runs(tmp_path_factory, data_dir):
    """`scoder eval` on Qwen2.5-Coder-1.5B's programs for three tasks, on v0.1.4 and on v0.1.0_hf."""
    with gzip.open(CONFORMANCE / "bigcodebench" / "qwen2.5-coder-1.5b-base.full.complete.samples.jsonl.gz", "rt") as handle:
        programs = {record["task_id"]: record["solution"] for record in map(json.loads, handle)}
    chosen = [(task_id, programs[task_id]) for task_id in ("BigCodeBench/1", "BigCodeBench/3", "BigCodeBench/22")]
    runs = {}
    for version in ("v0.1.4", "v0.1.0_hf"):
        run = tmp_path_factory.mktemp(version)
        samples = write_samples(run / "evaluate" / "bigcodebench-complete.samples.jsonl", chosen, QWEN)
        assert main(["eval", "--benchmark", "bigcodebench", "--version", version, "--samples", str(samples), "--output",
                     str(run / "evaluate" / "bigcodebench-complete.eval_results.json"), "--data-dir", str(data_dir),
                     "--no-progress", "--parallel", "1"]) == 0
        runs[version] = run
    return runs


def test_bigcodebench_submission_files(bigcodebench_runs, tmp_path):
    run = bigcodebench_runs["v0.1.4"]
    with pytest.raises(ExportError, match="1137 of 1140 tasks have no samples"):
        export_bigcodebench(run, tmp_path / "out")
    files = export_bigcodebench(run, tmp_path / "out", allow_partial=True)
    stem = "Qwen--Qwen2.5-Coder-1.5B--main--bigcodebench-complete--vllm-0-1-sanitized_calibrated"
    assert [path.name for path in files] == [f"{stem}.jsonl", f"{stem}_eval_results.json", f"{stem}_pass_at_k.json", "scoder_export.json"]
    ours = json.loads((run / "evaluate" / "bigcodebench-complete.eval_results.json").read_text())
    samples = read_jsonl(run / "evaluate" / "bigcodebench-complete.samples.jsonl")
    assert read_jsonl(files[0]) == [{key: record[key] for key in ("task_id", "solution", "raw_solution")} for record in samples]
    reasons = ["bigcodebench complete: 1137 of 1140 tasks have no samples"]
    exported = json.loads(files[1].read_text())
    assert exported == {"date": ours["date"], "partial": reasons, "eval": {
        task_id: [{key: entry[key] for key in ("task_id", "solution", "status", "details")} for entry in entries]
        for task_id, entries in ours["eval"].items()}}
    # The programs as run: calibrated, the code prompt and `pass` before each sample's solution.
    assert all(entry["solution"].endswith(record["solution"]) and entry["solution"] != record["solution"]
               for record, [entry] in zip(samples, exported["eval"].values()))
    assert json.loads(files[2].read_text()) == {"pass@1": ours["pass_at_k"]["pass@1"], "model": "Qwen--Qwen2.5-Coder-1.5B--main",
                                                "split": "complete", "subset": "full", "calibrated": True, "partial": reasons}


def test_bigcodebench_other_dataset_version_is_refused(bigcodebench_runs, tmp_path):
    with pytest.raises(ExportError, match="v0.1.0_hf, not the leaderboard's v0.1.4"):
        export_bigcodebench(bigcodebench_runs["v0.1.0_hf"], tmp_path / "out", allow_partial=True)


def livecodebench_run(folder: Path, start_date: str | None = None) -> Path:
    programs = [(question_id, code) for question_id in CORRECT for code in (CORRECT[question_id], WRONG[question_id])]
    samples = write_samples(folder / "lcb.samples.jsonl", programs, TINY)
    settings = LiveCodeBenchSettings(release="release_v2", start_date=start_date, test_timeout_s=1)
    evaluate_livecodebench(samples, folder / "lcb.eval_results.json", str(FIXTURES), settings, progress=False, execution=Execution(parallel=1))
    return folder


def test_livecodebench_submissions_folder(tmp_path):
    run = livecodebench_run(tmp_path / "run")
    out = tmp_path / "out"
    files = export_livecodebench(run, out, lcb_dir=FIXTURES)
    assert [path.relative_to(out).as_posix() for path in files] == [
        "org--tiny-coder/Scenario.codegeneration_2_0.2.json", "org--tiny-coder/Scenario.codegeneration_2_0.2_eval_all.json",
        "org--tiny-coder/model.json", "scoder_export.json"]
    rows = {row["question_id"]: row for shard in ("test.jsonl", "test2.jsonl") for row in read_jsonl(FIXTURES / shard)}
    ours = json.loads((run / "lcb.eval_results.json").read_text())
    generations, evaluations = (json.loads(path.read_text()) for path in files[:2])
    assert [record["question_id"] for record in evaluations] == sorted(rows) == [record["question_id"] for record in generations]
    for generation, evaluation in zip(generations, evaluations):
        row, entries = rows[evaluation["question_id"]], ours["eval"][evaluation["question_id"]]
        for key in ("question_title", "question_content", "platform", "contest_id", "contest_date", "starter_code", "difficulty"):
            assert evaluation[key] == row[key], key
        programs = [CORRECT[row["question_id"]], WRONG[row["question_id"]]]
        assert evaluation["code_list"] == evaluation["output_list"] == programs  # raw outputs: the programs as written here
        assert evaluation["graded_list"] == [True, False] and evaluation["pass@1"] == 0.5
        assert [json.loads(item) for item in evaluation["metadata"]] == [
            {}, {"error_code": entries[1]["error_code"], "error_message": entries[1]["error_message"]}]
        assert generation == {key: value for key, value in evaluation.items() if key not in ("graded_list", "pass@1", "metadata")}
    assert {json.loads(item)["error_message"] for record in evaluations for item in record["metadata"][1:]} == {"Wrong Answer", "Time Limit Exceeded"}
    # lcb_runner's custom evaluator input is a list of {question_id, code_list}: our reader of that format gets the programs back.
    assert [(sample.task_id, sample.solution) for sample in read_samples(files[0])] == [
        (question_id, code) for question_id in sorted(rows) for code in (CORRECT[question_id], WRONG[question_id])]
    assert json.loads(files[2].read_text()) == {"model_name": "org/tiny-coder", "model_repr": "org/tiny-coder", "model_style": None,
                                                "release_date": None, "link": None}


def test_livecodebench_date_window_is_partial(tmp_path):
    run = livecodebench_run(tmp_path / "run", start_date="2024-01-01")
    with pytest.raises(ExportError, match="not the whole release_v2"):
        export_livecodebench(run, tmp_path / "out", lcb_dir=FIXTURES)
    files = export_livecodebench(run, tmp_path / "out", model_name="Tiny Coder", allow_partial=True, lcb_dir=FIXTURES)
    assert [record["question_id"] for record in json.loads(files[1].read_text())] == ["9004", "abc900_b"]
    model = json.loads(files[2].read_text())
    assert model["model_repr"] == "Tiny Coder" and model["partial"] == ["livecodebench: scored on the contest dates 2024-01-01 to ..., not the whole release_v2"]


def test_livecodebench_run_short_of_samples_or_with_changed_samples_is_refused(tmp_path):
    run = livecodebench_run(tmp_path / "run")
    samples = run / "lcb.samples.jsonl"
    lines = samples.read_text().splitlines()
    # A generation killed before its last sample: evaluated again, one problem has 1 of the 2 samples asked for.
    samples.write_text("\n".join(lines[:-1]) + "\n")
    evaluate_livecodebench(samples, run / "lcb.eval_results.json", str(FIXTURES),
                           LiveCodeBenchSettings(release="release_v2", test_timeout_s=1), progress=False, execution=Execution(parallel=1))
    with pytest.raises(ExportError, match="1 tasks have fewer than the 2 samples per task"):
        export_livecodebench(run, tmp_path / "out", lcb_dir=FIXTURES)
    # The samples file changed after the evaluation: the exported programs would not be the scored ones.
    changed = lines[:-1]
    changed[3] = changed[3].replace("print(0)", "print(1)")  # problem 9002_A's wrong program
    samples.write_text("\n".join(changed) + "\n")
    with pytest.raises(ExportError, match="changed since it was scored"):
        export_livecodebench(run, tmp_path / "out", allow_partial=True, lcb_dir=FIXTURES)
