"""Real containers, no stand-in engine: Debian's podman answers the Docker SDK (install.sh --dev installs it), the
sandbox image is the one containers/build.sh builds from the locks, and `scoder eval --container` gives the
host's verdicts; the layer inside is reported, and no container outlives SIGTERM, SIGINT or a crash. Where no
engine answers, each scoder process starts podman's service for its run, as a user's would."""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from harness import containers
from harness.container_engine import ContainerError, engine_client
from tests.conftest import REPO, SHARED

BUILD_TIMEOUT_S = 1200


@pytest.fixture(scope="module")
def engine():
    """A Docker SDK client, found as `--container` finds it: the engine that answers, else podman's service started
    for this module."""
    pytest.importorskip("docker")
    with contextlib.ExitStack() as stack:
        try:
            client = stack.enter_context(engine_client())
        except ContainerError:
            if shutil.which("podman") or os.environ.get("CI"):  # CI must run these: install.sh --dev installs podman
                raise
            pytest.skip("no container engine here (install.sh --dev installs podman)")
        yield client


@pytest.fixture(scope="module")
def sandbox_image(engine):
    name = containers.image_name("sandbox")
    if not engine.images.list(name=name):
        built = subprocess.run([str(REPO / "containers" / "build.sh"), "sandbox"], cwd=REPO, capture_output=True, text=True,
                               timeout=BUILD_TIMEOUT_S)
        assert built.returncode == 0, built.stderr[-3000:]
    return name


def ours(engine) -> set[str]:
    return {container.id for container in engine.containers.list(all=True, filters={"label": "scoder.role"})}


def official_samples(conformance_dir, path, tasks: int = 30, dataset: str = "humaneval"):
    official = json.loads(gzip.decompress((conformance_dir / f"{dataset}_Meta-Llama-3-8B-Instruct.eval_results.json.gz").read_bytes()))
    path.write_text("".join(json.dumps({"task_id": task_id, "solution": entries[0]["solution"]}) + "\n"
                            for task_id, entries in list(official["eval"].items())[:tasks]))
    return path


def scoder_eval(samples, output, *extra, benchmark="humaneval+", **options):
    command = [sys.executable, "-m", "harness.cli", "eval", "--benchmark", benchmark, "--samples", str(samples),
               "--output", str(output), "--no-progress", *extra]
    return subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **options)


@pytest.mark.parametrize("benchmark", ["humaneval+", "mbpp+"])
def test_verdicts_in_the_container_equal_the_hosts(engine, sandbox_image, conformance_dir, data_dir, tmp_path, benchmark):
    samples = official_samples(conformance_dir, tmp_path / "samples.jsonl", dataset=benchmark.rstrip("+"))
    host = scoder_eval(samples, tmp_path / "host.json", benchmark=benchmark)
    assert host.wait(timeout=600) == 0, host.stderr.read()
    said = []  # what each run printed; the container's output comes on the runner's stdout
    for attempt in range(2):  # the second replaces the results file the first wrote
        boxed = scoder_eval(samples, tmp_path / "container.json", "--container", benchmark=benchmark)
        assert boxed.wait(timeout=600) == 0, boxed.stderr.read()
        said.append(boxed.stdout.read() + boxed.stderr.read())
    host_results, boxed_results = (json.loads((tmp_path / name).read_text()) for name in ("host.json", "container.json"))
    statuses = [{task: [(e["base_status"], e["plus_status"]) for e in entries] for task, entries in results["eval"].items()}
                for results in (host_results, boxed_results)]
    assert statuses[0] == statuses[1]
    assert {status for entries in statuses[0].values() for pair in entries for status in pair} >= {"pass", "fail"}
    isolation = boxed_results["scoder"]["isolation"]
    if os.getuid() == 0:  # said, not silent: the weaker layer is recorded and the reason printed, once
        # The second run finds every verdict in its journal: it runs no program, so it picks no layer and says nothing.
        assert isolation == ["process+seccomp+landlock"] and [run.count("uid 0 cannot create") for run in said] == [1, 0]
        assert not any("NO SANDBOX" in run or "install bubblewrap" in run for run in said)
    else:
        assert isolation == ["bwrap+seccomp+landlock"]


def test_a_non_root_container_gets_bubblewrap(engine, sandbox_image, conformance_dir, data_dir, tmp_path, monkeypatch):
    # What a non-root caller gets: the spec of `scoder eval --container` with uid 1000, its folders open to it.
    open_to_uid_1000(tmp_path, monkeypatch)
    samples = official_samples(conformance_dir, tmp_path / "samples.jsonl", tasks=5)
    arguments = ["eval", "--benchmark", "humaneval+", "--samples", str(samples), "--output", str(tmp_path / "out.json"),
                 "--data-dir", str(data_dir), "--no-progress"]
    spec = containers.python_spec("harness.cli", arguments, "sandbox", containers.ContainerConfig(enabled=True),
                                  writable=[tmp_path], read_only=[data_dir])
    spec = dataclasses.replace(spec, user="1000:1000")
    log = io.BytesIO()
    assert containers.run_in_container(spec, engine, output=log) == 0, log.getvalue().decode()[-3000:]
    assert json.loads((tmp_path / "out.json").read_text())["scoder"]["isolation"] == ["bwrap+seccomp+landlock"]


def open_to_uid_1000(tmp_path, monkeypatch):
    """A non-root caller's folders: the run folder and a harness cache of its own, open to uid 1000."""
    tmp_path.chmod(0o777)
    cache = tmp_path / "cache"
    cache.mkdir()
    cache.chmod(0o777)  # mkdir applies the umask
    monkeypatch.setenv("SCODER_CACHE_DIR", str(cache))


def bigcodebench_samples(path, tasks: int):
    samples = SHARED / "conformance" / "bigcodebench" / "qwen2.5-coder-1.5b-base.full.complete.samples.jsonl.gz"
    with gzip.open(samples, "rt") as lines:
        path.write_text("".join(line for _, line in zip(range(tasks), lines)))
    return path


def test_bigcodebench_verdicts_in_a_non_root_container_equal_the_hosts(engine, data_dir, tmp_path, monkeypatch):
    image = containers.image_name("bigcodebench")
    if not engine.images.list(name=image):  # 17 minutes to build: CI builds only the sandbox image
        pytest.skip(f"no {image} here: containers/build.sh bigcodebench builds it")
    samples = bigcodebench_samples(tmp_path / "samples.jsonl", tasks=30)
    host = scoder_eval(samples, tmp_path / "host.json", "--data-dir", str(data_dir), benchmark="bigcodebench")
    assert host.wait(timeout=900) == 0, host.stderr.read()
    open_to_uid_1000(tmp_path, monkeypatch)  # the container's caller: uid 1000, with a cache of its own
    arguments = ["eval", "--benchmark", "bigcodebench", "--samples", str(samples), "--output", str(tmp_path / "out.json"),
                 "--data-dir", str(data_dir), "--no-progress"]
    spec = containers.python_spec("harness.cli", arguments, "bigcodebench", containers.ContainerConfig(enabled=True),
                                  writable=[tmp_path], read_only=[data_dir])
    log = io.BytesIO()
    assert containers.run_in_container(dataclasses.replace(spec, user="1000:1000"), engine, output=log) == 0, \
        log.getvalue().decode()[-3000:]
    host_results, boxed_results = (json.loads((tmp_path / name).read_text()) for name in ("host.json", "out.json"))
    statuses = [{task: [entry["status"] for entry in entries] for task, entries in results["eval"].items()}
                for results in (host_results, boxed_results)]
    assert len(statuses[0]) == 30 and statuses[0] == statuses[1]
    assert {status for entries in statuses[0].values() for status in entries} >= {"pass", "fail"}
    assert boxed_results["scoder"]["isolation"] == host_results["scoder"]["isolation"]


@pytest.mark.skipif(os.getuid() != 0, reason="what uid 0 is told")
def test_bigcodebench_in_a_container_as_root_is_refused_before_it_starts(engine, tmp_path):
    samples = bigcodebench_samples(tmp_path / "samples.jsonl", tasks=1)
    before = ours(engine)
    refused = scoder_eval(samples, tmp_path / "out.json", "--container", "--image", "any", benchmark="bigcodebench")
    assert refused.wait(timeout=120) != 0
    assert "non-root user" in refused.stderr.read() and ours(engine) == before and not (tmp_path / "out.json").exists()


ENDLESS = "def has_close_elements(numbers, threshold):\n    while True:\n        pass\n"


def endless_container_run(engine, tmp_path):
    """`scoder eval --container` on programs that never end, once its container is up: (process, our containers
    before it, its container)."""
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps({"task_id": "HumanEval/0", "solution": ENDLESS + f"# {i}\n"}) + "\n" for i in range(40)))
    before = ours(engine)
    process = scoder_eval(samples, tmp_path / "out.json", "--container")
    deadline = time.monotonic() + 120
    while not (ours(engine) - before) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
    started = ours(engine) - before
    assert started, f"no container started: {process.stderr.read() if process.poll() is not None else ''}"
    return process, before, started


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT])
def test_no_container_outlives_a_signal(engine, sandbox_image, tmp_path, how):
    process, before, _ = endless_container_run(engine, tmp_path)
    time.sleep(2)  # inside, the evaluation is under way
    process.send_signal(how)
    assert process.wait(timeout=60) != 0
    assert ours(engine) == before


def test_no_container_outlives_a_crash(engine, sandbox_image, tmp_path):
    class BrokenOutput:
        def write(self, chunk):
            raise OSError("the terminal went away")

        def flush(self):
            pass

    spec = containers.ContainerSpec(sandbox_image, ("python", "-u", "-c", "print('hello'); import time; time.sleep(60)"), "sandbox")
    before = ours(engine)
    with pytest.raises(OSError, match="terminal went away"):
        containers.run_in_container(spec, engine, output=BrokenOutput())
    assert ours(engine) == before


def test_the_next_run_removes_a_container_whose_scoder_was_killed(engine, sandbox_image, tmp_path):
    process, before, orphans = endless_container_run(engine, tmp_path)
    process.kill()  # SIGKILL: nothing in the process can act
    process.wait(timeout=60)
    assert orphans <= ours(engine)  # left behind, as nothing could remove it
    log = io.BytesIO()
    spec = containers.ContainerSpec(sandbox_image, ("python", "-c", "print('next run')"), "sandbox")
    assert containers.run_in_container(spec, engine, output=log) == 0
    assert ours(engine) == before
