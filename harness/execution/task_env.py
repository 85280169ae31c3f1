"""Task-library environments: the Python a benchmark's programs run on, when it is not the harness's.

A benchmark declares its environment (Benchmark.task_environment; BigCodeBench's tasks import about 75
pinned libraries, numpy 1.21 ... tensorflow 2.11, that only install on Python 3.10). `scoder sandbox
setup NAME` builds it into a virtualenv from the lock file of its execution role (versions and sha256 of
every distribution), which that role's container image installs too. The harness stays on its own Python
and starts sandbox workers with the environment's interpreter; the worker is standard library only.

The folder is named after the lock file's hash, so a changed lock file gets a new environment, and a
marker written last tells a finished build from an interrupted one (which is rebuilt).
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness.files import cache_dir

CONTAINERS = Path(__file__).resolve().parents[2] / "containers"
COMPLETE_MARKER = ".scoder-complete"


class EnvironmentMissing(RuntimeError):
    """The task-library environment a benchmark needs has not been built."""


@dataclass(frozen=True)
class TaskEnvironment:
    name: str
    python_version: str  # major.minor the lock file was resolved for
    lock_file: Path
    variable: str  # names a ready interpreter to use instead (for example inside its container)

    @property
    def folder(self) -> Path:
        digest = hashlib.sha256(self.lock_file.read_bytes()).hexdigest()[:12]
        return cache_dir() / "envs" / f"{self.name}-{digest}"

    @property
    def setup_command(self) -> str:
        return f"scoder sandbox setup {self.name}"

    def python(self) -> str:
        """The interpreter to run this benchmark's programs with; raises EnvironmentMissing."""
        override = os.environ.get(self.variable)
        if override:
            if not os.access(override, os.X_OK):
                raise EnvironmentMissing(f"{self.variable}={override} is not an executable interpreter")
            return override
        folder = self.folder
        if not (folder / COMPLETE_MARKER).is_file():
            raise EnvironmentMissing(
                f"the {self.name} task-library environment is not built (looked in {folder}). Build it once "
                f"with `{self.setup_command}` (Python {self.python_version}, about 8 minutes and 3 GB), "
                f"or set {self.variable} to an interpreter that has the libraries of {self.lock_file}"
            )
        return str(folder / "bin" / "python")

    def setup(self, base_python: str | None = None, force: bool = False, log=print) -> Path:
        """Build the virtualenv from the lock file (skipped when a finished one exists)."""
        folder = self.folder
        if (folder / COMPLETE_MARKER).is_file() and not force:
            log(f"{self.name}: ready in {folder}")
            return folder
        base_python = base_python or find_python(self.python_version)
        if folder.exists():
            shutil.rmtree(folder)  # an interrupted or forced build starts over
        folder.parent.mkdir(parents=True, exist_ok=True)
        log(f"{self.name}: building {folder} with {base_python} from {self.lock_file}")
        _run([base_python, "-m", "venv", str(folder)])
        pip = [str(folder / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
        _run(pip + ["install", "--require-hashes", "--no-deps", "-r", str(self.lock_file)])
        _run(pip + ["check"])
        (folder / COMPLETE_MARKER).write_text(self.lock_file.read_text())
        log(f"{self.name}: ready in {folder}")
        return folder


def _run(argv: list[str]) -> None:
    result = subprocess.run(argv)
    if result.returncode != 0:
        raise EnvironmentMissing(f"`{' '.join(argv)}` failed with exit code {result.returncode}")


def find_python(version: str) -> str:
    """A working python<version> interpreter: on PATH, else one of pyenv's installed versions (a pyenv
    shim on PATH fails where that version is not selected, hence the check)."""
    candidates = [shutil.which(f"python{version}")]
    for root in filter(None, [os.environ.get("PYENV_ROOT"), os.path.expanduser("~/.pyenv")]):
        candidates += sorted(glob.glob(os.path.join(root, "versions", f"{version}.*", "bin", f"python{version}")), reverse=True)
    for candidate in filter(None, candidates):
        if subprocess.run([candidate, "-c", "pass"], capture_output=True).returncode == 0:
            return candidate
    raise EnvironmentMissing(
        f"Python {version} was not found (neither python{version} on PATH nor a pyenv version); install it "
        f"(for example `pyenv install {version}`) or pass its path with --python"
    )

