"""Isolation layers for the sandbox workers, strongest first, and how to start a worker in each.

  bwrap    bubblewrap: a new root made of read-only system and Python folders only (no home, no
           project, no benchmark data), private /tmp, no network, own PID/IPC/UTS/user namespaces,
           no capabilities, killed with the harness.
  unshare  util-linux unshare: own user, network and PID namespaces; the file system stays visible
           (seccomp and the evalplus restrictions still apply inside).
  process  a plain child process with rlimits and seccomp only, announced with a loud warning (inside one
           of the runner's containers, with what applies there instead).
The layer used is reported with every result.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

from harness.files import ScratchFolder, remove_unheld

# Set by harness.containers in the containers it starts, to the image's name: the sandbox then explains its isolation.
IN_CONTAINER_VARIABLE = "SCODER_CONTAINER"

LAYERS = ("bwrap", "unshare", "process")
SCRATCH_PREFIX = "scoder-sandbox-"  # the programs' HOME and TMPDIR where the layer has no private /tmp
# What each layer keeps from a program, beyond what every layer has: rlimits (memory, CPU, processes, file size,
# open files), seccomp (no new processes, signals to others, ptrace, internet sockets, namespaces), Landlock (no change to any file
# outside the run's folder, no TCP) and the harness deciding verdicts from returned values.
PROTECTS = {
    "bwrap": "its own root of read-only system folders (no home, project or data), private /tmp, no network, "
             "own PID, IPC, UTS and user namespaces, no capabilities",
    "unshare": "no network, own PID and user namespaces; it still sees (but cannot change) the whole file system",
    "process": "nothing more: it sees the file system and the network namespace of the harness",
}
WORKER = Path(__file__).with_name("worker.py")
TMPFS_BYTES = 256 * 1024 * 1024
# Programs see this environment and nothing of the caller's.
SANDBOX_ENVIRONMENT = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": "/tmp",
    "TMPDIR": "/tmp",
    "LANG": "C.UTF-8",
    "PYTHONHASHSEED": "0",  # set and dict-of-str orders, hence some outputs, repeat across runs
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONIOENCODING": "utf-8",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}
_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# Read-only system configuration programs legitimately consult (time zones, MIME types, fonts,
# certificates, host names); nothing in it is secret.
_ETC_FILES = (
    "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "timezone", "passwd", "group", "nsswitch.conf",
    "alternatives", "mime.types", "fonts", "ssl", "ca-certificates", "os-release", "hosts", "hostname",
    "protocols", "services", "resolv.conf",
)


class SandboxError(RuntimeError):
    pass


@dataclass(frozen=True)
class Launch:
    argv: list[str]
    env: dict[str, str]
    scratch: ScratchFolder | None  # a host folder to remove at shutdown, where the layer has no private /tmp


@dataclass(frozen=True)
class Sandbox:
    """An isolation layer, and the interpreter its workers run: the harness's own by default, or a
    benchmark's task environment (task_env.py), with modules to preload in the worker."""

    layer: str
    python: str = sys.executable
    preload: tuple[str, ...] = ("numpy",)

    @property
    def own_namespaces(self) -> bool:
        """Whether workers have their own PID and network namespaces."""
        return self.layer in ("bwrap", "unshare")

    def launch(self) -> Launch:
        python = [self.python, "-s", "-B", str(WORKER)]
        preload = ",".join(self.preload)
        if self.layer == "bwrap":  # its own /tmp; what killed runs of the other layers left goes all the same
            remove_unheld(SCRATCH_PREFIX)
            return Launch(_bwrap_prefix(self.python) + python + ["/tmp", "1", "/tmp,/dev/shm", preload], dict(SANDBOX_ENVIRONMENT), None)
        scratch = ScratchFolder(SCRATCH_PREFIX)
        folder = str(scratch.path)
        env = dict(SANDBOX_ENVIRONMENT, HOME=folder, TMPDIR=folder)
        if self.layer == "unshare":
            prefix = ["unshare", "--user", "--map-root-user", "--net", "--pid", "--fork", "--mount-proc", "--kill-child", "--"]
            return Launch(prefix + python + [folder, "1", "", preload], env, scratch)
        return Launch(python + [folder, "0", "", preload], env, scratch)


@functools.cache
def _python_dirs(python: str) -> list[str]:
    """The folders an interpreter needs: its prefixes (a virtualenv's and its base's); asked of it unless it is this one."""
    if python == sys.executable:
        listed = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]
    else:
        script = "import sys; print('\\n'.join({sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}))"
        listed = subprocess.run([python, "-s", "-c", script], capture_output=True, text=True, timeout=60).stdout.split("\n")
    candidates = set(filter(None, listed)) | {str(Path(os.path.realpath(python)).parent.parent)}
    return sorted(path for path in candidates if os.path.isdir(path))


def _bwrap_prefix(python: str) -> list[str]:
    args = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    for path in _SYSTEM_DIRS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for name in _ETC_FILES:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    args += ["--proc", "/proc", "--dev", "/dev"]
    args += ["--size", str(TMPFS_BYTES), "--tmpfs", "/tmp", "--size", str(TMPFS_BYTES), "--tmpfs", "/dev/shm"]
    # After the tmpfs mounts, so that an interpreter or checkout living under /tmp stays visible.
    for path in _python_dirs(python) + [str(WORKER.parent)]:
        args += ["--ro-bind", path, path]
    args += ["--chdir", "/tmp", "--clearenv"]
    for key, value in SANDBOX_ENVIRONMENT.items():
        args += ["--setenv", key, value]
    return args + ["--"]


@functools.cache
def works(layer: str) -> bool:
    """Whether `layer` can start a Python child on this machine (probed once)."""
    if layer == "process":
        return True
    if shutil.which(layer) is None:
        return False
    launch = Sandbox(layer, preload=()).launch()
    argv = launch.argv[: launch.argv.index(sys.executable)] + [sys.executable, "-c", "import os; os.listdir('/')"]
    try:
        return subprocess.run(argv, env=launch.env, capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False
    finally:
        if launch.scratch:
            launch.scratch.remove()


def choose(requested: str = "auto", python: str = sys.executable, preload: tuple[str, ...] = ("numpy",)) -> Sandbox:
    """The strongest working layer, or exactly `requested`; refuses a requested layer that does not work."""
    if not sys.platform.startswith("linux"):
        raise SandboxError("the executor needs Linux (namespaces, rlimits and seccomp)")
    if requested != "auto":
        if requested not in LAYERS:
            raise SandboxError(f"unknown isolation layer {requested!r}; choose one of auto, {', '.join(LAYERS)}")
        if not works(requested):
            raise SandboxError(f"isolation layer {requested!r} does not work here; {_container_reason() or _install_hint()}")
        stronger = next(layer for layer in LAYERS if layer == requested or works(layer))
        if stronger != requested:
            warnings.warn(f"isolation {requested!r} as asked, though {stronger!r} works here and also gives "
                          f"{PROTECTS[stronger]}; {requested!r} gives {PROTECTS[requested]}", RuntimeWarning, stacklevel=2)
        return Sandbox(requested, python, preload)
    for layer in LAYERS:
        if works(layer):
            if layer == "process":
                warnings.warn(_process_layer_warning(), RuntimeWarning, stacklevel=2)
            return Sandbox(layer, python, preload)
    raise AssertionError("the process layer always works")


def _process_layer_warning() -> str:
    container_reason = _container_reason()
    if container_reason:
        # The one message a root container run prints about its isolation: the runner outside says nothing, since
        # only this process knows what works in there, and "install bubblewrap" would be wrong where the image has it.
        return ("isolation: programs run in the process layer (rlimits, seccomp, Landlock where the kernel has it) "
                f"inside the container's own isolation, weaker than bubblewrap: {container_reason}")
    return ("NO SANDBOX: neither bubblewrap nor unshare works here, so generated code runs as a plain child process "
            f"with only rlimits and seccomp between it and this machine; {_install_hint()}")


def _container_reason() -> str | None:
    """Why bubblewrap does not work, inside one of the runner's containers (None elsewhere)."""
    image = os.environ.get(IN_CONTAINER_VARIABLE)
    if not image:
        return None
    if shutil.which("bwrap") is None:
        return f"the image {image} has no bubblewrap"
    if os.getuid() == 0:
        return ("the container runs as uid 0 (the caller's), and without CAP_SETFCAP, which the container does not get, "
                "uid 0 cannot create the user namespace bubblewrap needs. Run scoder as a non-root user for bubblewrap "
                "inside the container")
    return f"bubblewrap is in the image {image} but cannot start in this container"


def _install_hint() -> str:
    return "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap) for full isolation"
