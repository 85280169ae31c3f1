"""Running a command of the harness or a stage of a recipe inside its pinned container, through the
Docker SDK for Python (the `containers` extra). Images are built from containers/ (see its README);
the engine is found (or podman's started for the run) by container_engine.py; without one or the SDK,
`--container` fails with what to install or start, and the same command without `--container` runs on the host.

Every container sees the host's paths at the same places: the folders it writes (the run directory)
read-write, its inputs (data, models, this source tree) read-only, so the files it writes are the ones
a host run writes, owned by the caller (the container runs as the caller's uid:gid). The code that
runs is this checkout's (mounted and put first on PYTHONPATH); the image pins everything else.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import signal
import socket
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from harness.benchmarks.data import DATA_DIR_VARIABLE, OFFLINE_VARIABLE
from harness.benchmarks.registry import data_variables, execution_roles, roles_starting_processes
from harness.container_engine import ContainerError, engine_client
from harness.execution.sandbox import IN_CONTAINER_VARIABLE
from harness.files import CACHE_DIR_VARIABLE, cache_dir
from harness.generation.backend import BACKENDS

TRAINING_ROLE = "train"  # the method's training stages
SOURCE_ROOT = Path(__file__).resolve().parents[1]
_LOCK_FILES = re.compile(r"containers/\S*\.lock")
# Which scoder process started a container (process_identity), so that a later run removes it if that process died.
OWNER_LABEL = "scoder.owner"
# Host variables a trusted (training, generation) container receives as they are.
PASSED_VARIABLES = ("HF_TOKEN", "HF_HUB_OFFLINE", OFFLINE_VARIABLE, "OPENAI_BASE_URL", "OPENAI_API_KEY")


def roles() -> tuple[str, ...]:
    """The image roles, each built from containers/<role>/Dockerfile by containers/build.sh (a recipe or --image
    may name another image): training's, the generation backends' and the benchmarks' execution roles."""
    return tuple(dict.fromkeys((TRAINING_ROLE, *(backend.image for backend in BACKENDS.values()), *execution_roles())))


def is_isolated(role: str) -> bool:
    """Whether the role executes untrusted programs: no network, no capabilities, read-only root, no GPU."""
    return role in execution_roles()


def image_name(role: str, source_root: Path = SOURCE_ROOT) -> str:
    """scoder-<role>:<first 12 hex of the sha256 of its Dockerfile and of the lock files it copies>, the tag
    containers/build.sh gives it: a changed lock or Dockerfile names a new image, never a stale one."""
    dockerfile = (source_root / "containers" / role / "Dockerfile").read_bytes()
    digest = hashlib.sha256(dockerfile)
    for lock in sorted(set(_LOCK_FILES.findall(dockerfile.decode()))):
        digest.update((source_root / lock).read_bytes())
    return f"scoder-{role}:{digest.hexdigest()[:12]}"


def _check_gpus(gpus: int | str) -> None:
    """Docker's --gpus forms: all, a count, device=ID[,ID]; and none."""
    if isinstance(gpus, int):
        if gpus < 1:
            raise ValueError(f"gpus: a count is at least 1 (none for no GPU), got {gpus}")
    elif gpus not in ("all", "none") and not (gpus.startswith("device=") and gpus[len("device="):]):
        raise ValueError(f"gpus: expected all, none, a count or device=ID[,ID], got {gpus!r}")


@dataclass(frozen=True)
class ContainerConfig:
    """A recipe's `containers:` field; `--container` turns it on from the command line."""
    enabled: bool = False
    images: dict[str, str] = field(default_factory=dict)  # role -> image, over image_name(role)
    gpus: int | str = "all"  # for the train and vllm roles: all, none, a count, or device=0,1

    def __post_init__(self):
        unknown = sorted(set(self.images) - set(roles()))
        if unknown:
            raise ValueError(f"images: unknown role {', '.join(map(repr, unknown))}; the roles are {', '.join(roles())}")
        _check_gpus(self.gpus)

    def image(self, role: str) -> str:
        return self.images.get(role) or image_name(role)


def caller_user() -> str:
    return f"{os.getuid()}:{os.getgid()}"


@dataclass(frozen=True)
class ContainerSpec:
    image: str
    command: tuple[str, ...]
    role: str
    writable: tuple[str, ...] = ()  # absolute host paths, mounted read-write at the same path
    read_only: tuple[str, ...] = ()  # absolute host paths, mounted read-only at the same path
    gpus: int | str = "none"
    user: str = field(default_factory=caller_user)
    working_dir: str | None = None
    environment: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        if self.role not in roles():
            raise ValueError(f"unknown container role {self.role!r}; the roles are {', '.join(roles())}")
        _check_gpus(self.gpus)
        if is_isolated(self.role) and self.gpus != "none":
            raise ValueError(f"the {self.role} role runs untrusted programs and gets no GPU")
        relative = [path for path in self.writable + self.read_only if not os.path.isabs(path)]
        if relative:
            raise ValueError(f"mount paths must be absolute: {', '.join(relative)}")


def generation_role(backend: str) -> str:
    return BACKENDS[backend].image


def python_spec(module: str, args: list[str], role: str, config: ContainerConfig,
                writable: list[str | os.PathLike] = (), read_only: list[str | os.PathLike] = ()) -> ContainerSpec:
    """`python -m MODULE ARGS` in the role's image, in the caller's working directory (so relative
    paths mean what they mean on the host), with the given paths and the caches mounted."""
    isolated = is_isolated(role)
    image = config.image(role)
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    # The harness' cache holds the benchmark files and the ground-truth outputs, which the sandbox writes.
    writable = [*writable, cache]
    read_only = [*read_only, SOURCE_ROOT]
    environment = {"HOME": "/tmp", "PYTHONPATH": str(SOURCE_ROOT), "PYTHONUNBUFFERED": "1",
                   IN_CONTAINER_VARIABLE: image, CACHE_DIR_VARIABLE: str(cache)}
    for variable in (DATA_DIR_VARIABLE, *data_variables()):
        if os.environ.get(variable):
            environment[variable] = os.environ[variable]
            read_only.append(os.environ[variable])
    if isolated:
        environment[OFFLINE_VARIABLE] = "1"  # no network: data must be cached, so say so at once
    else:
        environment.update({name: os.environ[name] for name in PASSED_VARIABLES if name in os.environ})
        # The host's Hugging Face cache: a model downloaded once serves every container and the host.
        hub_cache = Path(os.environ.get("HF_HOME") or Path.home() / ".cache" / "huggingface")
        hub_cache.mkdir(parents=True, exist_ok=True)
        writable.append(hub_cache)
        environment["HF_HOME"] = str(hub_cache)
    writable, read_only = _mount_points(writable, read_only)
    return ContainerSpec(image, ("python", "-m", module, *map(str, args)), role, writable, read_only,
                         "none" if isolated else config.gpus, working_dir=os.getcwd(), environment=environment)


def _mount_points(writable, read_only) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Absolute, existing, each once; a path asked for both ways is writable."""
    def absolute(paths):
        return dict.fromkeys(str(Path(path).resolve()) for path in paths if os.path.exists(path))

    writable = absolute(writable)
    return tuple(writable), tuple(path for path in absolute(read_only) if path not in writable and path != "/")


def docker_arguments(spec: ContainerSpec) -> dict:
    """Keyword arguments of docker-py's `client.containers.create` for this spec."""
    from docker.types import DeviceRequest, Mount

    mounts = [Mount(path, path, type="bind", read_only=False) for path in spec.writable]
    mounts += [Mount(path, path, type="bind", read_only=True) for path in spec.read_only]
    arguments = dict(image=spec.image, command=list(spec.command), user=spec.user, working_dir=spec.working_dir,
                     environment=dict(spec.environment), mounts=mounts,
                     labels={"scoder.role": spec.role, OWNER_LABEL: process_identity(os.getpid())},
                     init=True,  # reaps the workers' children and forwards signals
                     security_opt=["no-new-privileges"], device_requests=_device_requests(spec.gpus, DeviceRequest))
    if is_isolated(spec.role):
        arguments.update(network_mode="none", cap_drop=["ALL"], read_only=True, tmpfs={"/tmp": "rw,nosuid,nodev"})
        if not runs_as_root(spec):
            # The engine's masked /proc paths keep bubblewrap from mounting a /proc of its own, and the harness
            # would fall back to a weaker layer; unmasked they are harmless to a user that owns none of them
            # (never for uid 0, which may write the host's sysctls through them).
            arguments["security_opt"].append("systempaths=unconfined")
    else:
        # torch and vLLM pass tensors between processes through shared memory; vLLM's Docker guide
        # (docs.vllm.ai, "Deploying with Docker") asks for --ipc=host or a large --shm-size.
        arguments["ipc_mode"] = "host"
    return arguments


def process_identity(pid: int) -> str | None:
    """host/pid/start time: names one process for as long as the machine runs, also after its pid is reused."""
    try:
        # Field 22 of /proc/PID/stat, counted after the command name (which may hold spaces and parentheses).
        start_ticks = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None
    return f"{socket.gethostname()}/{pid}/{start_ticks}"


def remove_orphans(client) -> list[str]:
    """Remove the containers whose scoder process on this host is gone: one killed by SIGKILL (or the OOM killer)
    could not remove its own. Containers started from other hosts are left alone."""
    removed = []
    for container in client.containers.list(all=True, filters={"label": OWNER_LABEL}):
        owner = container.labels.get(OWNER_LABEL, "")
        host, _, pid = owner.partition("/")
        pid = pid.partition("/")[0]
        if host != socket.gethostname() or not pid.isdigit() or process_identity(int(pid)) == owner:
            continue
        with contextlib.suppress(Exception):  # another scoder may be removing it at the same moment
            container.remove(force=True)
            removed.append(f"{container.short_id} (left by pid {pid})")
    return removed


def runs_as_root(spec: ContainerSpec) -> bool:
    return _is_root(spec.user)


def _is_root(user: str) -> bool:
    return user.split(":")[0] in ("0", "root")


def ensure_startable(role: str, user: str | None = None) -> None:
    """Refuses, before anything runs, a container that could only fail: some benchmarks' tests (BigCodeBench's) start
    processes, which the harness allows only in PID and network namespaces of their own, and uid 0 in a container
    cannot create them."""
    if role in roles_starting_processes() and _is_root(user or caller_user()):
        raise ContainerError(
            f"the {role} image runs tests that start processes, which the harness allows only in a PID and network "
            "namespace of their own; in a container uid 0 cannot create one (the kernel asks for CAP_SETFCAP, which the "
            "container does not get). Run scoder as a non-root user that may use the engine's socket, or without "
            "--container (bubblewrap on the host)")


def _device_requests(gpus: int | str, DeviceRequest) -> list:
    if gpus == "none":
        return []
    if gpus == "all":
        return [DeviceRequest(count=-1, capabilities=[["gpu"]])]
    if isinstance(gpus, int):
        return [DeviceRequest(count=gpus, capabilities=[["gpu"]])]
    return [DeviceRequest(device_ids=gpus[len("device="):].split(","), capabilities=[["gpu"]])]


def run_in_container(spec: ContainerSpec, client=None, output=None) -> int:
    """Run the spec to its end, streaming its output; returns its exit code. The container is removed
    afterwards, also when interrupted."""
    ensure_startable(spec.role, spec.user)
    if client is None:
        with engine_client() as client:
            return run_in_container(spec, client, output)
    import docker

    output = output or sys.stdout.buffer
    try:
        image = client.images.get(spec.image)
    except docker.errors.ImageNotFound:
        raise ContainerError(f"no image {spec.image!r} on this engine: build it with containers/build.sh {spec.role}, "
                             "or name another (a recipe's containers.images, or --image)") from None
    for orphan in remove_orphans(client):
        print(f"[container] removed {orphan}, whose scoder process was killed", flush=True)
    # Which isolation the programs get is said once, inside, by the harness that picks the layer (sandbox.choose).
    print(f"[container] {spec.role}: {spec.image} ({image.id[:19]}) as {spec.user}: {' '.join(spec.command)}", flush=True)
    container = None
    try:
        with _termination_interrupts():
            container = client.containers.create(**docker_arguments(spec))
            container.start()
            for chunk in container.logs(stream=True, follow=True):
                output.write(chunk)
                output.flush()
            return container.wait()["StatusCode"]
    except docker.errors.APIError as error:
        # The GPU request is checked when the container starts: name what is missing.
        hint = " (GPUs need the NVIDIA Container Toolkit on the host, or gpus: none)" if "device driver" in str(error) else ""
        raise ContainerError(f"the engine refused the {spec.image} container: {error.explanation or error}{hint}") from None
    finally:
        if container is not None:
            container.remove(force=True)


@contextlib.contextmanager
def _termination_interrupts():
    """SIGTERM (a CI timeout, `kill`) interrupts the run as Ctrl-C does, so that the container is removed on the
    way out instead of outliving this process. Signal handlers belong to the main thread; elsewhere nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
