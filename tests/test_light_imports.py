"""Planning a run and reading the commands' help need none of the heavy packages (the train, hf and vllm
extras): recipes load, `scoder run --dry-run` prints its plan (on the host and for containers) and
`scoder --help` answers in an environment where torch and its kin are not installed."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "transformers", "trl", "peft", "accelerate", "datasets", "vllm")

# A stand-in for an environment without those extras, cheaper than building one: a finder placed first on
# sys.meta_path refuses them as if they were not installed, and remembers every attempt. At exit the child
# reports the attempts and any of them loaded anyway (by a path that bypassed the finder, which would make
# this stand-in dishonest).
WITHOUT_HEAVY = f"""
import atexit, json, sys
HEAVY = {HEAVY!r}
attempts = []
class NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in HEAVY:
            attempts.append(name)
            raise ModuleNotFoundError(f"No module named {{name!r}} (refused: stand-in for an environment without it)", name=name)
sys.meta_path.insert(0, NotInstalled())
atexit.register(lambda: print("HEAVY " + json.dumps({{"attempted": attempts,
    "loaded": sorted(name for name in sys.modules if name.partition(".")[0] in HEAVY)}}), file=sys.stderr))
"""


def without_heavy(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", WITHOUT_HEAVY + code], cwd=ROOT, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=300)


def scoder_without_heavy(*args: str) -> subprocess.CompletedProcess:
    """`scoder ARGS` as the console script runs it (`python -m scoder.cli`)."""
    return without_heavy(f"import runpy; sys.argv = ['scoder', *{list(args)!r}]; runpy.run_module('scoder.cli', run_name='__main__')")


def assert_light(result: subprocess.CompletedProcess):
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stderr.rpartition("HEAVY ")[2])
    assert report == {"attempted": [], "loaded": []}


def test_the_finder_refuses_the_heavy_packages():
    refused = without_heavy("import torch")
    assert refused.returncode == 1 and "refused: stand-in" in refused.stderr


@pytest.mark.parametrize("module", ["scoder.recipe", "harness.cli", "scoder.cli", "scoder.pipeline", "scoder.stage_exec"])
def test_importing_needs_no_heavy_package(module):
    assert_light(without_heavy(f"import {module}"))


@pytest.mark.parametrize("args", [["--help"], ["eval", "--help"], ["run", "--help"]])
def test_help_needs_no_heavy_package(args):
    result = scoder_without_heavy(*args)
    assert_light(result)
    assert "usage: scoder" in result.stdout


@pytest.mark.parametrize("recipe, container", [("recipes/smoke.yaml", []), ("recipes/smoke.yaml", ["--container"]),
                                               ("recipes/paper/scoder-ds6.7b-qwen7b.yaml", [])])
def test_planning_a_run_needs_no_heavy_package(tmp_path, recipe, container):
    result = scoder_without_heavy("run", recipe, "--dry-run", "--run-dir", str(tmp_path / "run"), *container)
    assert_light(result)
    assert "run  " in result.stdout and "evaluate" in result.stdout  # the plan lists the stages, all to run
    assert "to write:" in result.stdout  # and the disk estimate (the embedded model's GGUF header, the paper's configs)
    assert not (tmp_path / "run").exists()  # planning writes nothing
