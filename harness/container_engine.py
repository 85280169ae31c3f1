"""The container engine a `--container` run talks to through the Docker SDK: the one that answers, else podman's
service started for the run, else an error that names the fix for the engine this machine has.

Starting podman's service rather than only naming it: `install.sh --dev` installs podman, which has no daemon
running by default, so without this every `--container` run there would first need a manual step. The service
is started only where nothing answers and $DOCKER_HOST names no engine of the caller's choosing; it listens on a
private socket (no other user's engine is touched or left changed), is waited for with a deadline, and is stopped
when the run ends: by a `finally` on every way out Python sees, and by the kernel (PR_SET_PDEATHSIG) when this
process is killed outright. It gets a session of its own so that Ctrl-C does not stop it before the run's
container is removed through it.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from harness.files import ScratchFolder

DOCKER_SOCKET = "unix:///var/run/docker.sock"  # docker-py's default where $DOCKER_HOST is not set
PODMAN_ROOTFUL_SOCKET = "unix:///run/podman/podman.sock"  # where podman.socket (systemd) listens for root
# Podman's first start after an upgrade migrates its storage: seconds, so this leaves a wide margin.
SERVICE_START_TIMEOUT_S = 30.0
_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_LOG_TAIL_CHARS = 1500


class ContainerError(RuntimeError):
    """A container cannot be started; the message says what to install, start or build."""


def podman_socket() -> str:
    """Where podman's socket unit listens for this user: the rootful one for uid 0, else under the user's runtime folder."""
    if os.getuid() == 0:
        return PODMAN_ROOTFUL_SOCKET
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    return f"unix://{runtime}/podman/podman.sock"


@contextlib.contextmanager
def engine_client():
    """A docker-py client for one run; where podman's service had to be started for it, it is stopped on the way out."""
    docker = _sdk()
    if os.environ.get("DOCKER_HOST"):
        # The caller chose the engine: a private podman service would quietly run the containers elsewhere.
        try:
            client = docker.from_env()  # also reads DOCKER_TLS_VERIFY and DOCKER_CERT_PATH
        except docker.errors.DockerException as error:
            raise ContainerError(_no_engine(f"$DOCKER_HOST, {os.environ['DOCKER_HOST']} ({error})", _fix(chosen_host=True))) from None
        yield client
        return
    tried = {}  # address -> why it did not answer
    for address in dict.fromkeys((DOCKER_SOCKET, podman_socket())):
        client, tried[address] = _client_at(docker, address)
        if client is not None:
            yield client
            return
    where = ", ".join(f"{address} ({why})" for address, why in tried.items())
    if shutil.which("podman") is None:
        raise ContainerError(_no_engine(where, _fix(chosen_host=False)))
    with _podman_service(docker, where) as client:
        yield client


def _sdk():
    try:
        import docker
    except ImportError:
        raise ContainerError("the Docker SDK for Python is not installed: pip install 'scoder-harness[containers]' "
                             "(the `docker` package), or run without --container (the host path)") from None
    return docker


def _client_at(docker, address: str):
    """(a client of the engine at `address`, None), or (None, why none answers there): docker-py asks the engine its
    API version at once, so a socket that refuses the caller (permissions) is said here, not at the first container."""
    if address.startswith("unix://") and not os.path.exists(address.removeprefix("unix://")):
        return None, "no such socket"
    try:
        return docker.DockerClient(base_url=address), None
    except docker.errors.DockerException as error:
        return None, str(error)


def _no_engine(where: str, fix: str) -> str:
    return (f"no container engine answers at {where}. {fix}. GPUs also need the NVIDIA Container Toolkit. "
            "Or run without --container (the host path)")


def _fix(chosen_host: bool) -> str:
    """What to start or install, for the engine that is installed here."""
    if shutil.which("podman"):
        socket = podman_socket()
        unit = "systemctl start podman.socket" if os.getuid() == 0 else "systemctl --user start podman.socket"
        instead = "unset DOCKER_HOST and scoder starts podman's service for the run, or start it yourself: " if chosen_host else ""
        return (f"podman is installed: {instead}`podman system service --time=0 {socket} &` and "
                f"`export DOCKER_HOST={socket}` (or `{unit}` where systemd runs)")
    if shutil.which("docker") or shutil.which("dockerd"):
        return "Docker is installed: start its engine, `sudo systemctl start docker` (where systemd does not run: `sudo dockerd &`)"
    return ("neither podman nor Docker is installed: install one, podman with `sudo apt-get install podman` "
            "(./install.sh --dev installs it with the settings the images need) or Docker (docs.docker.com/engine/install)")


@contextlib.contextmanager
def _podman_service(docker, tried: str):
    folder = ScratchFolder("scoder-podman-")
    address = f"unix://{folder.path}/podman.sock"
    log = folder.path / "service.log"
    try:
        with open(log, "wb") as log_file:
            service = subprocess.Popen(
                ["podman", "system", "service", "--time=0", address], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=log_file, start_new_session=True, preexec_fn=_terminate_with_this_process())
        try:
            client = _await_service(docker, address, service, log, tried)
            print(f"[container] no engine answered, so podman's service was started for this run at {address} "
                  "(it stops when the run ends)", flush=True)
            yield client
        finally:
            _stop(service)
    finally:
        folder.remove()


def _terminate_with_this_process():
    """For preexec_fn: the child asks the kernel for SIGTERM when its parent ends (strictly, the thread that started
    it: engine_client's `with` ends in that thread first). libc is looked up here, in the parent, so that the child
    between fork and exec only makes the call."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    return functools.partial(prctl, _PR_SET_PDEATHSIG, int(signal.SIGTERM))


def _await_service(docker, address: str, service: subprocess.Popen, log: Path, tried: str):
    deadline = time.monotonic() + SERVICE_START_TIMEOUT_S
    while True:
        if service.poll() is not None:
            failure = f"exited with code {service.returncode}"
            break
        client, _ = _client_at(docker, address)
        if client is not None:
            return client
        if time.monotonic() > deadline:
            failure = f"did not answer within {SERVICE_START_TIMEOUT_S:g} s"
            break
        time.sleep(0.1)
    said = log.read_text(errors="replace").strip()[-_LOG_TAIL_CHARS:]
    raise ContainerError(f"no container engine answers at {tried}, and podman's service, started for this run at {address}, "
                         f"{failure}" + (f": {said}" if said else "") + f". Start it yourself to see why: {_fix(chosen_host=False)}. "
                         "Or run without --container (the host path)")


def _stop(service: subprocess.Popen) -> None:
    service.terminate()
    try:
        service.wait(timeout=30)
    except subprocess.TimeoutExpired:
        service.kill()
        service.wait()
