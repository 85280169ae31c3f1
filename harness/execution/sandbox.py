"""Isolation layers for the sandbox workers, strongest first, and how to start a worker in each.

  bwrap    bubblewrap: a new root made of read-only system and Python folders only (no home, no
           project, no benchmark data), private /tmp, no network, own PID/IPC/UTS/user namespaces,
           no capabilities, killed with the harness.
  unshare  util-linux unshare: own user, network and PID namespaces; the file system stays visible
           (seccomp and the evalplus restrictions still apply inside).
  process  a plain child process with rlimits and seccomp only, announced with a loud warning.
The layer used is reported with every result.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

LAYERS = ("bwrap", "unshare", "process")
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
_ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "passwd", "group", "nsswitch.conf", "alternatives")


class SandboxError(RuntimeError):
    pass


@dataclass(frozen=True)
class Launch:
    argv: list[str]
    env: dict[str, str]
    scratch_host_dir: str | None  # a host folder to delete at shutdown, where the layer has no private /tmp


@dataclass(frozen=True)
class Sandbox:
    layer: str

    def launch(self) -> Launch:
        python = [sys.executable, "-s", "-B", str(WORKER)]
        if self.layer == "bwrap":
            return Launch(_bwrap_prefix() + python + ["/tmp", "1"], dict(SANDBOX_ENVIRONMENT), None)
        scratch = tempfile.mkdtemp(prefix="scoder-sandbox-")
        env = dict(SANDBOX_ENVIRONMENT, HOME=scratch, TMPDIR=scratch)
        if self.layer == "unshare":
            prefix = ["unshare", "--user", "--map-root-user", "--net", "--pid", "--fork", "--mount-proc", "--kill-child", "--"]
            return Launch(prefix + python + [scratch, "1"], env, scratch)
        return Launch(python + [scratch, "0"], env, scratch)


def _python_dirs() -> list[str]:
    candidates = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    candidates.add(str(Path(os.path.realpath(sys.executable)).parent.parent))
    return sorted(path for path in candidates if os.path.isdir(path))


def _bwrap_prefix() -> list[str]:
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
    for path in _python_dirs() + [str(WORKER.parent)]:
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
    launch = Sandbox(layer).launch()
    argv = launch.argv[: launch.argv.index(sys.executable)] + [sys.executable, "-c", "import os; os.listdir('/')"]
    try:
        return subprocess.run(argv, env=launch.env, capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False
    finally:
        if launch.scratch_host_dir:
            shutil.rmtree(launch.scratch_host_dir, ignore_errors=True)


def choose(requested: str = "auto") -> Sandbox:
    """The strongest working layer, or exactly `requested`; refuses a requested layer that does not work."""
    if not sys.platform.startswith("linux"):
        raise SandboxError("the executor needs Linux (namespaces, rlimits and seccomp)")
    if requested != "auto":
        if requested not in LAYERS:
            raise SandboxError(f"unknown isolation layer {requested!r}; choose one of auto, {', '.join(LAYERS)}")
        if not works(requested):
            raise SandboxError(f"isolation layer {requested!r} does not work on this machine{_install_hint()}")
        return Sandbox(requested)
    for layer in LAYERS:
        if works(layer):
            if layer == "process":
                warnings.warn(
                    "NO SANDBOX: neither bubblewrap nor unshare works here, so generated code runs as a plain "
                    f"child process with only rlimits and seccomp between it and this machine{_install_hint()}",
                    RuntimeWarning,
                    stacklevel=2,
                )
            return Sandbox(layer)
    raise AssertionError("the process layer always works")


def _install_hint() -> str:
    return "; install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap) for full isolation"
