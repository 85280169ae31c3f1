"""Stages and harness commands in containers, checked without a Docker engine (none runs on these
machines): the container specs are turned into requests by the real Docker SDK (docker-py) and read
back as the JSON the engine would receive; the engine's side of the conversation is a stand-in that
answers the HTTP API as the Engine API documents it. Nothing here claims that a container ran: the
clear failure without an engine is tested against a socket that does not exist."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import tempfile
import warnings
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlparse

import pytest

docker = pytest.importorskip("docker", reason="the containers extra (docker-py) is not installed")
import requests  # noqa: E402  (docker-py's transport)

from harness import container_engine, containers  # noqa: E402
from harness.container_engine import engine_client  # noqa: E402
from harness.containers import ContainerConfig, ContainerError, ContainerSpec, python_spec, run_in_container  # noqa: E402
from harness.execution.sandbox import SandboxError  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
API_VERSION = "1.44"  # Docker Engine 25; any version docker-py supports builds the same create request
NO_ENGINE = "unix:///nonexistent/docker.sock"
SANDBOX, TRAIN = containers.image_name("sandbox"), containers.image_name("train")


class _StreamBody(io.BytesIO):
    """A response body as docker-py reads a stream: it takes the socket from urllib3's raw response
    (raw._fp.fp.raw) to lift its timeout, then reads frames from raw."""

    def __init__(self, data: bytes):
        super().__init__(data)
        self._fp = SimpleNamespace(fp=SimpleNamespace(raw=SimpleNamespace()))


class StandInEngine(requests.adapters.BaseAdapter):
    """Answers the Engine API calls that run_in_container makes (inspect image, list its containers (none),
    create, inspect, start, logs, wait, remove) and records each request. Stand-in data, since no engine runs here."""

    def __init__(self, exit_code: int = 0, stdout: bytes = b"", stderr: bytes = b"", images=(SANDBOX, TRAIN)):
        super().__init__()
        self.exit_code, self.stdout, self.stderr, self.images = exit_code, stdout, stderr, images
        self.calls: list[tuple[str, str]] = []
        self.created: dict | None = None

    def send(self, request, **kwargs):
        path = urlparse(request.url).path.removeprefix(f"/v{API_VERSION}")
        self.calls.append((request.method, path))
        if request.method == "GET" and path.startswith("/images/"):
            name = path.removeprefix("/images/").removesuffix("/json")
            if name not in self.images:
                return self._answer(request, 404, {"message": f"No such image: {name}"})
            return self._answer(request, 200, {"Id": "sha256:" + "ab" * 32})
        if path == "/containers/json":
            return self._answer(request, 200, [])
        if path == "/containers/create":
            self.created = json.loads(request.body)
            return self._answer(request, 201, {"Id": "c0ffee", "Warnings": []})
        if path == "/containers/c0ffee/json":
            return self._answer(request, 200, {"Id": "c0ffee", "Config": {"Tty": False}})
        if path == "/containers/c0ffee/logs":
            # The Engine API's stream format without a TTY: [stream, 0, 0, 0, size (big-endian u32)] + bytes.
            frames = b"".join(struct.pack(">BxxxL", stream, len(data)) + data for stream, data in ((1, self.stdout), (2, self.stderr)) if data)
            return self._answer(request, 200, raw=frames)
        if path == "/containers/c0ffee/wait":
            return self._answer(request, 200, {"StatusCode": self.exit_code})
        if request.method in ("POST", "DELETE") and path in ("/containers/c0ffee/start", "/containers/c0ffee"):
            return self._answer(request, 204)
        return self._answer(request, 404, {"message": f"not answered by the stand-in: {request.method} {path}"})

    def close(self):
        pass

    @staticmethod
    def _answer(request, status: int, body=None, raw: bytes | None = None):
        response = requests.Response()
        response.status_code, response.request, response.url = status, request, request.url
        response.headers["Content-Type"] = "application/json"
        response.raw = _StreamBody(raw if raw is not None else json.dumps(body).encode() if body is not None else b"")
        return response


def client_with(engine: StandInEngine):
    client = docker.DockerClient(base_url=NO_ENGINE, version=API_VERSION)  # a fixed version: no daemon is asked
    client.api.mount("http+docker://", engine)
    return client


def sent_to_engine(spec: ContainerSpec) -> dict:
    """The body of POST /containers/create for this spec, as docker-py builds it."""
    engine = StandInEngine(images=(spec.image,))
    assert run_in_container(spec, client_with(engine), output=io.BytesIO()) == 0
    return engine.created


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """The harness and Hugging Face caches in the test's folder; no host variable adds a mount."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("SCODER_CACHE_DIR", str(folder))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    for variable in ("SCODER_DATA_DIR", "SCODER_LCB_DIR"):
        monkeypatch.delenv(variable, raising=False)
    return folder


def test_sandbox_container_has_no_network_no_capabilities_and_read_only_inputs(tmp_path, cache):
    run, data = tmp_path / "run", tmp_path / "data"
    run.mkdir(), data.mkdir()
    spec = python_spec("harness.cli", ["eval", "--benchmark", "humaneval+"], "sandbox", ContainerConfig(), [run], [data, tmp_path / "missing"])
    created = sent_to_engine(spec)
    host = created["HostConfig"]
    mounts = {mount["Target"]: mount for mount in host["Mounts"]}
    assert all(mount["Type"] == "bind" and mount["Source"] == target for target, mount in mounts.items())  # same paths inside
    assert {target: mount["ReadOnly"] for target, mount in mounts.items()} == {
        str(run): False, str(cache): False, str(data): True, str(REPO): True}  # the missing path is not mounted
    assert host["NetworkMode"] == "none" and host["CapDrop"] == ["ALL"] and host["ReadonlyRootfs"] is True
    assert host["SecurityOpt"] == ["no-new-privileges"] and "/tmp" in host["Tmpfs"]
    assert not host.get("DeviceRequests") and host.get("IpcMode") != "host"
    assert created["Image"] == SANDBOX and created["WorkingDir"] == os.getcwd()
    assert created["Cmd"] == ["python", "-m", "harness.cli", "eval", "--benchmark", "humaneval+"]
    env = dict(item.split("=", 1) for item in created["Env"])
    assert env["SCODER_OFFLINE"] == "1" and env["PYTHONPATH"] == str(REPO) and env["SCODER_CACHE_DIR"] == str(cache)
    assert env[containers.IN_CONTAINER_VARIABLE] == SANDBOX


def test_a_benchmark_registered_outside_brings_its_own_isolated_execution_image(tmp_path, cache, monkeypatch, capsys):
    """A benchmark family with an image of its own (as DS-1000's would be) is one registration: harness.containers
    knows its role, isolates it as the sandbox, passes its data variable, refuses uid 0 where its programs start
    processes, and `scoder sandbox setup` and the default decontamination find it; none of them names it."""
    from harness.benchmarks.registry import BENCHMARKS, register, task_environments
    from harness.cli import main as harness_main
    from harness.execution.task_env import TaskEnvironment
    from scoder.synthesis import DecontaminationConfig
    from tests.fixture_benchmark import ArithmeticBenchmark

    class OwnImageArithmetic(ArithmeticBenchmark):
        name = "arithmetic-own-image"
        execution_role = "arithmetic-libraries"
        task_environment = TaskEnvironment("arithmetic-libraries", "3.12", tmp_path / "requirements.lock", "SCODER_ARITHMETIC_PYTHON")
        starts_processes = True
        data_variables = ("SCODER_ARITHMETIC_DIR",)
        decontaminate = True

    role, data = "arithmetic-libraries", tmp_path / "arithmetic-data"
    data.mkdir()
    monkeypatch.setenv("SCODER_ARITHMETIC_DIR", str(data))
    assert role not in containers.roles()
    with pytest.raises(ValueError, match="unknown container role"):
        ContainerSpec("arithmetic:1", ("python",), role)
    register(OwnImageArithmetic())
    try:
        assert containers.roles() == ("train", "vllm", "sandbox", "bigcodebench", role)
        spec = python_spec("harness.cli", ["eval"], role, ContainerConfig(images={role: "arithmetic:1"}, gpus="all"), [tmp_path])
        spec = replace(spec, user="1000:1000")
        host = sent_to_engine(spec)["HostConfig"]
        assert host["NetworkMode"] == "none" and host["CapDrop"] == ["ALL"] and host["ReadonlyRootfs"] is True
        assert not host.get("DeviceRequests")  # gpus: all is for the trusted roles
        env = dict(item.split("=", 1) for item in sent_to_engine(spec)["Env"])
        assert env["SCODER_ARITHMETIC_DIR"] == str(data) and env["SCODER_OFFLINE"] == "1"
        assert {mount["Target"]: mount["ReadOnly"] for mount in host["Mounts"]}[str(data)] is True
        with pytest.raises(ContainerError, match="arithmetic-libraries image runs tests that start processes.*non-root user"):
            run_in_container(replace(spec, user="0:0"), client_with(StandInEngine(images=(spec.image,))))
        assert task_environments()[role] is OwnImageArithmetic.task_environment
        assert DecontaminationConfig().benchmarks == ("humaneval+", "mbpp+", "bigcodebench", "livecodebench", "arithmetic-own-image")
        # `scoder sandbox setup` sets up every environment; one base interpreter cannot serve two Pythons.
        assert harness_main(["sandbox", "setup", "--python", sys.executable]) == 2
        assert "--python is the base interpreter of one environment: name it (bigcodebench, arithmetic-libraries)" in capsys.readouterr().err
    finally:
        del BENCHMARKS[OwnImageArithmetic.name]
    assert role not in containers.roles()


def test_outputs_are_owned_by_the_caller(tmp_path, cache):
    made_here = tmp_path / "made-by-the-caller"
    made_here.write_text("")
    owner = made_here.stat()
    spec = python_spec("harness.cli", ["eval"], "sandbox", ContainerConfig(), [tmp_path])
    assert sent_to_engine(spec)["User"] == f"{owner.st_uid}:{owner.st_gid}"


@pytest.mark.parametrize("gpus, request_", [
    ("all", {"Count": -1, "DeviceIDs": []}),
    (2, {"Count": 2, "DeviceIDs": []}),
    ("device=0,3", {"Count": 0, "DeviceIDs": ["0", "3"]}),  # what `docker run --gpus device=0,3` sends too
])
def test_training_container_asks_for_gpus_and_keeps_the_network(tmp_path, cache, monkeypatch, gpus, request_):
    monkeypatch.setenv("HF_TOKEN", "hf_test")
    spec = python_spec("scoder.stage_exec", [str(tmp_path), "coldstart"], "train", ContainerConfig(gpus=gpus), [tmp_path])
    created = sent_to_engine(spec)
    host = created["HostConfig"]
    [device_request] = host["DeviceRequests"]
    assert device_request["Capabilities"] == [["gpu"]]
    assert {key: device_request[key] for key in request_} == request_
    assert host["NetworkMode"] != "none" and host["IpcMode"] == "host" and "CapDrop" not in host
    assert not host.get("ReadonlyRootfs") and host["SecurityOpt"] == ["no-new-privileges"]
    env = dict(item.split("=", 1) for item in created["Env"])
    assert env["HF_HOME"] == str(tmp_path / "hf") and env["HF_TOKEN"] == "hf_test"
    assert {mount["Target"]: mount["ReadOnly"] for mount in host["Mounts"]}[str(tmp_path / "hf")] is False


def test_gpus_none_and_the_sandbox_never_get_a_device(tmp_path, cache):
    assert not sent_to_engine(python_spec("harness.cli", [], "vllm", ContainerConfig(gpus="none"), [tmp_path]))["HostConfig"].get("DeviceRequests")
    with pytest.raises(ValueError, match="no GPU"):
        ContainerSpec(SANDBOX, ("true",), "sandbox", gpus="all")


def test_a_path_asked_writable_and_read_only_is_mounted_once_writable(tmp_path, cache):
    spec = python_spec("harness.cli", [], "sandbox", ContainerConfig(), [tmp_path], [tmp_path, tmp_path / "."])
    targets = [mount["Target"] for mount in sent_to_engine(spec)["HostConfig"]["Mounts"]]
    assert targets.count(str(tmp_path)) == 1 and spec.writable.count(str(tmp_path)) == 1


def test_run_streams_output_returns_the_exit_code_and_removes_the_container(tmp_path, cache):
    engine = StandInEngine(exit_code=3, stdout=b"samples: 10\n", stderr=b"a warning\n")
    output = io.BytesIO()
    spec = python_spec("harness.cli", ["eval"], "sandbox", ContainerConfig(), [tmp_path])
    assert run_in_container(spec, client_with(engine), output=output) == 3
    assert output.getvalue() == b"samples: 10\na warning\n"
    assert [call for call in engine.calls if call[0] != "GET"] == [
        ("POST", "/containers/create"), ("POST", "/containers/c0ffee/start"), ("POST", "/containers/c0ffee/wait"),
        ("DELETE", "/containers/c0ffee")]


def test_a_missing_image_says_how_to_build_it(tmp_path, cache):
    engine = StandInEngine(images=())
    spec = python_spec("harness.cli", ["eval"], "bigcodebench", ContainerConfig(images={"bigcodebench": "mine:1"}), [tmp_path])
    spec = replace(spec, user="1000:1000")  # uid 0 is refused sooner (below)
    with pytest.raises(ContainerError, match="no image 'mine:1'.*containers/build.sh bigcodebench"):
        run_in_container(spec, client_with(engine))
    assert ("POST", "/containers/create") not in engine.calls


def test_no_engine_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", NO_ENGINE)
    with pytest.raises(ContainerError, match=r"no container engine answers at \$DOCKER_HOST, unix:///nonexistent.*without --container \(the host path\)"):
        with engine_client():
            pass


def test_no_sdk_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "docker", None)  # as if the containers extra were not installed
    with pytest.raises(ContainerError, match=r"pip install 'scoder-harness\[containers\]'.*without --container"):
        with engine_client():
            pass


# A stand-in for podman (a real one cannot be installed and yet not start): `podman system service --time=0 unix://PATH`
# answers, on PATH, the one Engine API call docker-py makes on connecting (GET /version), or fails at once, or never
# answers, as $STANDIN_PODMAN says; it notes the SIGTERM that stops it in a file beside itself.
STANDIN_PODMAN = f"""#!{sys.executable}
import http.server, os, signal, socketserver, sys, time
from pathlib import Path

def stopped(*_):
    (Path(__file__).parent / "stopped").write_text("SIGTERM")
    os._exit(0)

signal.signal(signal.SIGTERM, stopped)
if os.environ["STANDIN_PODMAN"] == "fail":
    sys.exit("Error: the stand-in podman fails as asked")
while os.environ["STANDIN_PODMAN"] == "hang":
    time.sleep(1)

class Engine(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b'{{"ApiVersion": "1.41", "Version": "stand-in"}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

socketserver.UnixStreamServer(sys.argv[-1].removeprefix("unix://"), Engine).serve_forever()
"""


@pytest.fixture
def no_engine_here(tmp_path, monkeypatch):
    """No engine answers and no $DOCKER_HOST: the default sockets point into an empty folder, and PATH is a folder of
    stand-in executables the test puts there (only their presence is read, except for the stand-in podman's)."""
    bin_folder = tmp_path / "bin"
    bin_folder.mkdir()
    monkeypatch.setenv("PATH", str(bin_folder))
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setattr(container_engine, "DOCKER_SOCKET", f"unix://{tmp_path}/absent/docker.sock")
    monkeypatch.setattr(container_engine, "PODMAN_ROOTFUL_SOCKET", f"unix://{tmp_path}/absent/podman.sock")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "absent"))
    return bin_folder


def installed(bin_folder: Path, name: str, script: str = "#!/bin/sh\nexit 1\n") -> None:
    executable = bin_folder / name
    executable.write_text(script)
    executable.chmod(0o755)


@pytest.mark.parametrize("uid, socket, unit", [
    (0, "unix:///run/podman/podman.sock", "systemctl start podman.socket"),
    (1000, "unix:///run/user/1000/podman/podman.sock", "systemctl --user start podman.socket"),
])
def test_no_engine_with_podman_installed_names_podmans_service(tmp_path, monkeypatch, uid, socket, unit):
    installed(tmp_path, "podman")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("DOCKER_HOST", NO_ENGINE)  # the caller's choice: scoder does not start podman's service instead
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/1000")
    monkeypatch.setattr(os, "getuid", lambda: uid)
    with pytest.raises(ContainerError) as error:
        with engine_client():
            pass
    message = str(error.value)
    assert message.startswith(f"no container engine answers at $DOCKER_HOST, {NO_ENGINE} (")
    assert message.endswith(
        "). podman is installed: unset DOCKER_HOST and scoder starts podman's service for the run, or start it yourself: "
        f"`podman system service --time=0 {socket} &` and `export DOCKER_HOST={socket}` (or `{unit}` where systemd runs). "
        "GPUs also need the NVIDIA Container Toolkit. Or run without --container (the host path)")


@pytest.mark.parametrize("executables, fix", [
    (["docker"], "Docker is installed: start its engine, `sudo systemctl start docker` (where systemd does not run: `sudo dockerd &`)"),
    ([], "neither podman nor Docker is installed: install one, podman with `sudo apt-get install podman` "
         "(./install.sh --dev installs it with the settings the images need) or Docker (docs.docker.com/engine/install)"),
])
def test_no_engine_names_the_fix_for_what_is_installed(no_engine_here, executables, fix):
    for name in executables:
        installed(no_engine_here, name)
    absent = no_engine_here.parent / "absent"
    with pytest.raises(ContainerError) as error:
        with engine_client():
            pass
    assert str(error.value) == (
        f"no container engine answers at unix://{absent}/docker.sock (no such socket), {container_engine.podman_socket()} "
        f"(no such socket). {fix}. GPUs also need the NVIDIA Container Toolkit. Or run without --container (the host path)")


def test_podmans_service_is_started_for_the_run_and_stopped_after(no_engine_here, monkeypatch, capsys):
    installed(no_engine_here, "podman", STANDIN_PODMAN)
    monkeypatch.setenv("STANDIN_PODMAN", "serve")
    with engine_client() as client:
        assert client.version()["Version"] == "stand-in"
        assert not (no_engine_here / "stopped").exists()
    assert (no_engine_here / "stopped").read_text() == "SIGTERM"
    [said] = capsys.readouterr().out.splitlines()
    socket = said.split(" at ")[1].split()[0]
    assert said == (f"[container] no engine answered, so podman's service was started for this run at {socket} "
                    "(it stops when the run ends)")
    assert not os.path.exists(os.path.dirname(socket.removeprefix("unix://")))  # its private folder is gone too


@pytest.mark.parametrize("behaviour, failure", [
    ("fail", "exited with code 1: Error: the stand-in podman fails as asked"),
    ("hang", "did not answer within 1 s"),
])
def test_a_podman_service_that_does_not_answer_is_said_and_stopped(no_engine_here, monkeypatch, behaviour, failure):
    installed(no_engine_here, "podman", STANDIN_PODMAN)
    monkeypatch.setenv("STANDIN_PODMAN", behaviour)
    monkeypatch.setattr(container_engine, "SERVICE_START_TIMEOUT_S", 1.0)
    with pytest.raises(ContainerError) as error:
        with engine_client():
            pass
    message = str(error.value)
    assert f"and podman's service, started for this run at unix://{tempfile.gettempdir()}/scoder-podman-" in message
    assert f"/podman.sock, {failure}. Start it yourself to see why: podman is installed: `podman system service" in message
    assert (no_engine_here / "stopped").exists() == (behaviour == "hang")  # the one that was still running was stopped


def test_in_a_root_container_one_message_says_which_isolation_applies(tmp_path, cache, monkeypatch, capsys):
    """The runner outside starts the sandbox container as uid 0; the harness inside (simulated: the variable the runner
    sets, uid 0, bubblewrap in the image but neither it nor unshare working) picks the process layer."""
    from harness.execution import sandbox

    spec = replace(python_spec("harness.cli", ["eval"], "sandbox", ContainerConfig(), [tmp_path]), user="0:0")
    assert run_in_container(spec, client_with(StandInEngine()), output=io.BytesIO()) == 0
    outside = capsys.readouterr()
    monkeypatch.setenv(containers.IN_CONTAINER_VARIABLE, SANDBOX)
    monkeypatch.setattr(os, "getuid", lambda: 0)
    monkeypatch.setattr(sandbox, "works", lambda layer: layer == "process")
    installed(tmp_path, "bwrap")
    monkeypatch.setenv("PATH", str(tmp_path))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert sandbox.choose().layer == "process"
    about_isolation = [line for line in outside.out.splitlines() + outside.err.splitlines() if "bubblewrap" in line or "uid 0" in line]
    assert about_isolation + [str(warning.message) for warning in caught] == [
        "isolation: programs run in the process layer (rlimits, seccomp, Landlock where the kernel has it) inside the "
        "container's own isolation, weaker than bubblewrap: the container runs as uid 0 (the caller's), and without "
        "CAP_SETFCAP, which the container does not get, uid 0 cannot create the user namespace bubblewrap needs. "
        "Run scoder as a non-root user for bubblewrap inside the container"]
    with pytest.raises(SandboxError) as refused:  # asked for by name, bubblewrap is refused with the same reason
        sandbox.choose("bwrap")
    assert "uid 0 cannot create the user namespace" in str(refused.value) and "install bubblewrap" not in str(refused.value)


def test_outside_a_container_the_process_layer_still_says_install_bubblewrap(monkeypatch):
    from harness.execution import sandbox

    monkeypatch.delenv(containers.IN_CONTAINER_VARIABLE, raising=False)
    monkeypatch.setattr(sandbox, "works", lambda layer: layer == "process")
    with pytest.warns(RuntimeWarning) as caught:
        sandbox.choose()
    assert [str(warning.message) for warning in caught] == [
        "NO SANDBOX: neither bubblewrap nor unshare works here, so generated code runs as a plain child process with only "
        "rlimits and seccomp between it and this machine; install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap) "
        "for full isolation"]


def scoder(*args, env=None, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "scoder.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=120,
                          env={**os.environ, "DOCKER_HOST": NO_ENGINE, **(env or {})})


def test_run_with_container_and_no_engine_fails_before_any_stage(tmp_path):
    result = scoder("run", "recipes/smoke.yaml", "--container", "--run-dir", str(tmp_path / "run"))
    assert result.returncode == 2 and "no container engine answers" in result.stderr and "host path" in result.stderr
    assert not (tmp_path / "run").exists()  # nothing started, nothing recorded as run


def test_eval_with_container_and_no_engine_fails_clearly(tmp_path):
    result = scoder("eval", "--benchmark", "humaneval+", "--samples", str(tmp_path / "s.jsonl"), "--container")
    assert result.returncode == 2 and "no container engine answers" in result.stderr
    refused = scoder("eval", "--benchmark", "humaneval+", "--model", "m", "--container")
    assert refused.returncode == 2 and "scoder generate --container" in refused.stderr


def write_recipe(folder: Path, containers_field: str) -> Path:
    text = (REPO / "recipes" / "smoke.yaml").read_text().replace("data/seed_synthesis.jsonl", str(REPO / "recipes/data/seed_synthesis.jsonl"))
    path = folder / "recipe.yaml"
    path.write_text(text + containers_field)
    return path


def test_dry_run_shows_each_stage_image_and_the_host_path_stays(tmp_path):
    recipe = write_recipe(tmp_path, "containers: {enabled: true, images: {sandbox: 'scoder-sandbox:0.1.0'}, gpus: none}\n")
    plan = scoder("run", str(recipe), "--dry-run", "--run-dir", str(tmp_path / "run"))
    assert plan.returncode == 0, plan.stderr
    lines = {line.split()[1]: line for line in plan.stdout.splitlines()[1:]}
    assert lines["coldstart"].endswith(f"[{TRAIN}]") and lines["iteration-1/sample"].endswith(f"[{TRAIN}]")
    assert lines["evaluate"].endswith(f"[{TRAIN}, then scoder-sandbox:0.1.0]")
    host = scoder("run", str(recipe), "--dry-run", "--no-container", "--run-dir", str(tmp_path / "run"))
    assert host.returncode == 0 and "in containers" not in host.stdout and "[scoder" not in host.stdout


@pytest.mark.parametrize("field, message", [
    ("containers: {images: {trian: x}}", "containers: images: unknown role 'trian'; the roles are train, vllm, sandbox, bigcodebench"),
    ("containers: {gpus: some}", "containers: gpus: expected all, none, a count or device=ID[,ID], got 'some'"),
    ("containers: {gpus: 0}", "containers: gpus: a count is at least 1"),
    ("containers: {enabled: 'yes'}", "containers.enabled: expected true or false"),
    ("containers: {image: x}", "containers.image: unknown field (did you mean 'images'?)"),
])
def test_the_recipe_field_is_validated(tmp_path, field, message):
    from scoder.config_loading import RecipeError
    from scoder.recipe import load_recipe

    with pytest.raises(RecipeError) as error:
        load_recipe(write_recipe(tmp_path, field + "\n"))
    assert message in str(error.value)


def test_recipe_images_and_gpus_reach_the_specs(tmp_path):
    from scoder.recipe import load_recipe

    recipe = load_recipe(write_recipe(tmp_path, "containers: {enabled: true, images: {vllm: 'registry/vllm@sha256:00'}, gpus: 4}\n"))
    assert recipe.containers.image("vllm") == "registry/vllm@sha256:00" and recipe.containers.image("train") == TRAIN
    spec = python_spec("harness.cli", [], "vllm", recipe.containers, [tmp_path])
    assert spec.image == "registry/vllm@sha256:00" and spec.gpus == 4


def test_a_stage_body_runs_through_stage_exec_and_records_where(tmp_path, cache, monkeypatch):
    """The host's side and the container's side of one stage, with the container replaced by a direct
    call of its command (python -m scoder.stage_exec ...) on this machine: no engine here."""
    from scoder import stage_exec
    from scoder.pipeline import stages
    from scoder.recipe import load_recipe
    from scoder.runner import StageRunner, read_manifest

    recipe = load_recipe(write_recipe(tmp_path, "containers: {enabled: true}\n"))
    specs = []

    def as_if_in_container(spec, client=None):
        specs.append(spec)
        assert spec.command[:3] == ("python", "-m", "scoder.stage_exec")
        return stage_exec.main(list(spec.command[3:]))

    monkeypatch.setattr(stage_exec, "run_in_container", as_if_in_container)
    in_containers = [stage for stage in stage_exec.containerized_stages(recipe, tmp_path / "boxed", progress=False) if stage.name == "seed"]
    on_host = [stage for stage in stages(recipe, progress=False) if stage.name == "seed"]
    StageRunner(tmp_path / "boxed", log=lambda line: None).run(in_containers)
    StageRunner(tmp_path / "host", log=lambda line: None).run(on_host)
    [spec] = specs
    assert spec.role == "train" and str((tmp_path / "boxed").resolve()) in spec.writable
    assert str(REPO / "recipes/data/seed_synthesis.jsonl") in spec.read_only
    assert (tmp_path / "boxed/seed/records.jsonl").read_bytes() == (tmp_path / "host/seed/records.jsonl").read_bytes()
    boxed, host = read_manifest(tmp_path / "boxed/seed"), read_manifest(tmp_path / "host/seed")
    assert boxed["key"] == host["key"] and boxed["outputs"] == host["outputs"]  # where it ran does not change the key
    assert boxed["summary"]["container"]["image"] == TRAIN and boxed["summary"]["container"]["versions"]["python"]
    assert {key: value for key, value in boxed["summary"].items() if key != "container"} == host["summary"]


def test_evaluate_sends_generation_and_execution_to_their_containers(tmp_path, cache, monkeypatch):
    """The evaluate stage's two requests, with the containers replaced by reading back the request each was sent
    and writing the results file an evaluation would (stand-in scores: no model runs here)."""
    from harness import api
    from harness.generation.backend import Decoding
    from scoder import stage_exec
    from scoder.recipe import EvaluationConfig, load_recipe

    recipe = load_recipe(write_recipe(tmp_path, "containers: {enabled: true, gpus: 1}\n"))
    recipe = replace(recipe, evaluation=EvaluationConfig(["humaneval+", "bigcodebench-hard:instruct"], limit=3, data_dir=str(tmp_path)))
    run = (tmp_path / "run").resolve()
    (run / "target" / "checkpoint-4").mkdir(parents=True)
    (run / "target" / "checkpoint-4" / "adapter_config.json").write_text("{}")
    (run / "evaluate").mkdir()
    stand_in_results = {  # as each benchmark's evaluator writes them, with made-up scores
        "humaneval+": {"pass_at_k": {"base": {"pass@1": 0.5}, "plus": {"pass@1": 0.25}},
                       "scoder": {"dataset_file": "HumanEvalPlus-v0.1.10.jsonl.gz"}},
        "bigcodebench-hard:instruct": {"pass_at_k": {"pass@1": 0.5, "split": "instruct"}, "scoder": {"version": "v0.1.4"}},
    }
    specs, sent = [], []

    def as_if_in_container(spec, client=None):
        assert spec.command[:3] == ("python", "-m", "harness.api") and len(spec.command) == 4
        specs.append(spec)
        request = api.read_request(spec.command[3])
        sent.append(request)
        if isinstance(request, api.EvaluationRequest):
            Path(request.output).write_text(json.dumps(stand_in_results[request.benchmark]))
        return 0

    monkeypatch.setattr(stage_exec, "run_in_container", as_if_in_container)
    monkeypatch.setattr(containers, "caller_user", lambda: "1000:1000")  # uid 0 may not evaluate BigCodeBench in one
    [evaluate] = [stage for stage in stage_exec.containerized_stages(recipe, run, progress=False) if stage.name == "evaluate"]
    summary = evaluate.body(evaluate.config, run / "evaluate", {"target": run / "target"}, evaluate.context)
    assert summary["scores"] == {"humaneval+": {"base": 50.0, "plus": 25.0}, "bigcodebench-hard:instruct": {"pass@1": 50.0}}
    assert json.loads((run / "evaluate" / "scores.json").read_text()) == summary["scores"]
    assert [(spec.role, type(request).__name__) for spec, request in zip(specs, sent)] == [
        ("train", "GenerationRequest"), ("sandbox", "EvaluationRequest"), ("train", "GenerationRequest"), ("bigcodebench", "EvaluationRequest")]
    for spec in specs:
        assert spec.writable[0] == str(run / "evaluate") and str(run) in spec.read_only and str(tmp_path) in spec.read_only
        assert spec.gpus == (1 if spec.role == "train" else "none")
        assert Path(spec.command[3]).parent == run / "evaluate"  # the request lies in the stage's folder, mounted there

    # Each request says what the stage asks for.
    generate, execute = sent[2:]
    checkpoint = str(run / "target" / "checkpoint-4")
    assert (generate.benchmark, generate.limit, generate.data_dir) == ("bigcodebench-hard:instruct", 3, str(tmp_path))
    assert generate.model == recipe.target.model and generate.backend_options == recipe.generation.backend_options(checkpoint)
    assert generate.decoding == Decoding(batch_size=recipe.generation.batch_size) and not generate.progress
    assert execute.samples == generate.output == str(run / "evaluate" / "bigcodebench-hard-instruct.samples.jsonl")
    assert (execute.benchmark, execute.data_dir) == ("bigcodebench-hard:instruct", str(tmp_path))


def test_a_bigcodebench_evaluation_as_uid_0_is_refused_before_any_stage(tmp_path, monkeypatch):
    from scoder import stage_exec
    from scoder.recipe import load_recipe

    recipe = load_recipe(write_recipe(tmp_path, "containers: {enabled: true}\n"))
    recipe = replace(recipe, evaluation=replace(recipe.evaluation, benchmarks=("humaneval+", "bigcodebench-hard:instruct")))
    monkeypatch.setattr(containers, "caller_user", lambda: "1000:1000")
    assert stage_exec.containerized_stages(recipe, tmp_path / "run", progress=False)
    monkeypatch.setattr(containers, "caller_user", lambda: "0:0")
    with pytest.raises(ContainerError, match="non-root user"):
        stage_exec.containerized_stages(recipe, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()
