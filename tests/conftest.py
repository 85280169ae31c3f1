import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"

# CI passes SCODER_DATA_DIR relative to the repository root; tests start `scoder` in other folders,
# so the variable every subprocess inherits must be absolute.
if os.environ.get("SCODER_DATA_DIR"):
    os.environ["SCODER_DATA_DIR"] = str(Path(os.environ["SCODER_DATA_DIR"]).resolve())


def _data_dir() -> Path:
    return Path(os.environ.get("SCODER_DATA_DIR") or SHARED / "benchmarks").resolve()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    folder = _data_dir()
    if not (folder / "HumanEvalPlus-v0.1.10.jsonl.gz").is_file():
        pytest.fail(f"benchmark data not found in {folder}: set SCODER_DATA_DIR to a folder with the upstream files")
    return folder


@pytest.fixture(scope="session")
def conformance_dir() -> Path:
    folder = SHARED / "conformance" / "evalplus"
    if not folder.is_dir():
        pytest.fail(f"conformance data not found in {folder}")
    return folder


@pytest.fixture(scope="session")
def humaneval(data_dir):
    from harness.benchmarks.evalplus import HUMANEVAL_PLUS

    return HUMANEVAL_PLUS.load(data_dir)


@pytest.fixture(scope="session")
def mbpp(data_dir):
    from harness.benchmarks.evalplus import MBPP_PLUS

    return MBPP_PLUS.load(data_dir)
