"""The stage runner: manifests, skipping unchanged stages, rerunning what a change reaches, resuming a
killed stage. The stage bodies here are small functions written for the test (the real stages are
exercised in test_pipeline.py); they count their calls so a skip is visible."""

import json
from pathlib import Path

import pytest

from harness.journal import Journal
from scoder.runner import MANIFEST, Stage, StageRunner, read_records, write_records


def counting_stages(calls: list, numbers_config: dict, double_config: dict | None = None):
    def numbers(config, folder, inputs, context):
        calls.append("numbers")
        write_records(folder, [{"n": n} for n in range(numbers_config["count"])])
        return {"records": numbers_config["count"]}

    def double(config, folder, inputs, context):
        calls.append("double")
        write_records(folder, [{"n": 2 * record["n"]} for record in read_records(inputs["numbers"])])
        return {"records": len(read_records(inputs["numbers"]))}

    return [Stage("numbers", numbers_config, (), numbers), Stage("sub/double", double_config or {}, ("numbers",), double)]


def test_manifests_and_skipping(tmp_path):
    calls = []
    runner = StageRunner(tmp_path, log=lambda line: None)
    summaries = runner.run(counting_stages(calls, {"count": 3}))
    assert calls == ["numbers", "double"] and summaries["sub/double"] == {"records": 3}
    assert read_records(tmp_path / "sub/double") == [{"n": 0}, {"n": 2}, {"n": 4}]
    manifest = json.loads((tmp_path / "sub/double" / MANIFEST).read_text())
    assert manifest["inputs"] == {"numbers": json.loads((tmp_path / "numbers" / MANIFEST).read_text())["key"]}
    assert manifest["finished"] and manifest["seconds"] >= 0 and "python" in manifest["versions"]
    assert set(manifest["outputs"]) == {"records.jsonl"}

    assert [action for _, _, action in runner.plan(counting_stages(calls, {"count": 3}))] == ["skip", "skip"]
    runner.run(counting_stages(calls, {"count": 3}))
    assert calls == ["numbers", "double"]  # nothing ran again


def test_a_change_reruns_the_stage_and_everything_after_it(tmp_path):
    calls = []
    runner = StageRunner(tmp_path, log=lambda line: None)
    runner.run(counting_stages(calls, {"count": 3}))
    assert [action for _, _, action in runner.plan(counting_stages(calls, {"count": 4}))] == ["rerun", "rerun"]
    runner.run(counting_stages(calls, {"count": 4}))
    assert calls == ["numbers", "double", "numbers", "double"]
    assert len(read_records(tmp_path / "sub/double")) == 4
    # a change to the downstream stage alone leaves the upstream one alone
    assert [action for _, _, action in runner.plan(counting_stages(calls, {"count": 4}, {"v": 2}))] == ["skip", "rerun"]


def test_a_killed_stage_resumes_from_its_journal(tmp_path):
    """The body journals each record; the first run dies after two, the second finishes the rest."""
    produced = []

    def body(config, folder, inputs, context, die_after=None):
        journal = Journal(folder / "work.journal.jsonl", "fingerprint")
        try:
            for n in range(5):
                if str(n) in journal.records:
                    continue
                if die_after is not None and len(journal.records) == die_after:
                    raise KeyboardInterrupt  # the run is killed here
                produced.append(n)
                journal.append(str(n), {"n": n})
        finally:
            journal.close()
        write_records(folder, [journal.records[str(n)] for n in range(5)])
        return {"records": 5}

    runner = StageRunner(tmp_path, log=lambda line: None)
    with pytest.raises(KeyboardInterrupt):
        runner.run([Stage("work", {}, (), lambda config, folder, inputs, context: body(config, folder, inputs, context, die_after=2))])
    assert [action for _, _, action in runner.plan([Stage("work", {}, (), body)])] == ["resume"]
    runner.run([Stage("work", {}, (), body)])
    assert produced == [0, 1, 2, 3, 4]  # nothing done twice
    assert read_records(tmp_path / "work") == [{"n": n} for n in range(5)]


def test_files_without_a_manifest_are_not_ours_and_are_left_alone(tmp_path):
    """A run directory pointed at a folder that already has one named like a stage (someone's `numbers/`)."""
    from scoder.runner import ForeignFiles

    (tmp_path / "numbers").mkdir()
    (tmp_path / "numbers" / "records.jsonl").write_text('{"n": 99}\n')
    calls = []
    runner = StageRunner(tmp_path, log=lambda line: None)
    assert runner.plan(counting_stages(calls, {"count": 1}))[0][2] == "foreign"
    with pytest.raises(ForeignFiles, match=f"{tmp_path / 'numbers'} exists and was not written by scoder run .* choose another --run-dir"):
        runner.run(counting_stages(calls, {"count": 1}))
    assert calls == [] and (tmp_path / "numbers" / "records.jsonl").read_text() == '{"n": 99}\n'
    assert sorted(path.name for path in tmp_path.iterdir()) == ["numbers"]


def test_a_rerun_killed_while_it_empties_a_folder_leaves_nothing_that_blocks_the_next(tmp_path, monkeypatch):
    import shutil

    calls = []
    runner = StageRunner(tmp_path, log=lambda line: None)
    runner.run(counting_stages(calls, {"count": 3}))

    def killed_midway(path, *args, **kwargs):
        (Path(path) / MANIFEST).unlink()  # the manifest went first, the rest did not
        raise KeyboardInterrupt

    monkeypatch.setattr(shutil, "rmtree", killed_midway)
    with pytest.raises(KeyboardInterrupt):
        runner.run(counting_stages(calls, {"count": 4}))
    monkeypatch.undo()
    assert [action for _, _, action in runner.plan(counting_stages(calls, {"count": 4}))] == ["run", "rerun"]
    runner.run(counting_stages(calls, {"count": 4}))
    assert len(read_records(tmp_path / "sub/double")) == 4 and not list(tmp_path.rglob("*.discarded"))


def test_a_run_directory_runs_in_one_process_at_a_time(tmp_path):
    from harness.files import Busy, exclusive
    from scoder.runner import LOCK

    calls = []
    with exclusive(tmp_path / LOCK, "held by the test"):  # as another `scoder run` on this directory would
        with pytest.raises(Busy, match="the run directory .* is in use by another scoder process"):
            StageRunner(tmp_path, log=lambda line: None).run(counting_stages(calls, {"count": 3}))
    assert calls == []
    StageRunner(tmp_path, log=lambda line: None).run(counting_stages(calls, {"count": 3}))
    assert calls == ["numbers", "double"] and not (tmp_path / LOCK).exists()
