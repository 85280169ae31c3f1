"""Scratch folders under /tmp (the sandbox's HOME for its runs, podman's socket) do not pile up when a harness is
killed: the next one removes those no living process holds, and never one that a living process holds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from harness.execution.sandbox import works
from harness.files import ScratchFolder

REPO = Path(__file__).resolve().parent.parent
PREFIX = "scoder-test-scratch-"
HOLDER = ("import sys, time\nfrom harness.files import ScratchFolder\nfolder = ScratchFolder(sys.argv[1])\n"
          "(folder.path / 'written').write_text('x')\nprint(folder.path, flush=True)\ntime.sleep(120)\n")


def hold(tmp_path: Path) -> tuple[subprocess.Popen, str]:
    """A process that makes a scratch folder, writes in it and sleeps."""
    process = subprocess.Popen([sys.executable, "-c", HOLDER, PREFIX], cwd=REPO, stdout=subprocess.PIPE, text=True,
                               env=dict(os.environ, TMPDIR=str(tmp_path)))
    return process, process.stdout.readline().strip()


def test_the_next_folder_removes_a_killed_holders_and_keeps_a_living_ones(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    killed, killed_folder = hold(tmp_path)
    living, living_folder = hold(tmp_path)
    try:
        killed.send_signal(signal.SIGKILL)  # nothing of it runs after this
        killed.wait()
        assert os.path.isfile(f"{killed_folder}/written")  # left behind, as nothing could remove it
        other_users = tmp_path / f"{PREFIX}not-a-folder"
        other_users.write_text("a file of the same prefix is not ours to remove")
        # Hidden: being made (unlocked until renamed), or left by a process killed right then, a minute ago
        being_made, killed_making = tmp_path / f".{PREFIX}now", tmp_path / f".{PREFIX}then"
        being_made.mkdir()
        killed_making.mkdir()
        os.utime(killed_making, (time.time() - 120, time.time() - 120))

        folder = ScratchFolder(PREFIX)
        assert not os.path.exists(killed_folder) and not killed_making.exists() and being_made.is_dir()
        being_made.rmdir()
        assert os.path.isfile(f"{living_folder}/written")
        assert other_users.is_file()
        assert folder.path.is_dir() and folder.path.parent == tmp_path and folder.path.name.startswith(PREFIX)
        second = ScratchFolder(PREFIX)  # this process's own folder is held too
        assert folder.path.is_dir()
        folder.remove()
        second.remove()
        assert set(os.listdir(tmp_path)) == {os.path.basename(living_folder), other_users.name}
    finally:
        living.kill()
        living.wait()


@pytest.mark.skipif(not works("unshare"), reason="the unshare layer does not work here")
def test_a_killed_harness_leaves_no_sandbox_folder_after_the_next_pool(tmp_path):
    """The real path: a harness's worker pool on the unshare layer (the bwrap layer has a private /tmp instead),
    killed by SIGKILL while its workers run; a later pool in another process, of any layer, removes its folders."""
    env = dict(os.environ, TMPDIR=str(tmp_path))
    pool = ("import time\nfrom harness.execution.pool import WorkerPool\nfrom harness.execution.sandbox import choose\n"
            "with WorkerPool(2, sandbox=choose('unshare')) as pool:\n"
            "    pool.wait_started()\n    print('started', flush=True)\n    time.sleep(120)\n")
    harness = subprocess.Popen([sys.executable, "-W", "ignore", "-c", pool], cwd=REPO, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert harness.stdout.readline().strip() == "started"
        left = sorted(tmp_path.glob("scoder-sandbox-*"))
        assert len(left) == 2  # one per worker
    finally:
        harness.send_signal(signal.SIGKILL)
        harness.wait()
    time.sleep(1)  # the workers die with the harness
    assert all(folder.is_dir() for folder in left)

    # The next pool of any layer (the strongest here: bubblewrap's /tmp is its own) removes them
    next_pool = ("from harness.execution.pool import WorkerPool\nwith WorkerPool(1) as pool:\n    pool.wait_started()\n")
    subprocess.run([sys.executable, "-c", next_pool], cwd=REPO, capture_output=True, env=env, check=True)
    assert not list(tmp_path.glob("scoder-sandbox-*"))


def test_a_worker_whose_interpreter_is_missing_leaves_no_folder(tmp_path, monkeypatch):
    from harness.execution.pool import WorkerPool
    from harness.execution.sandbox import Sandbox, SandboxError

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    pool = WorkerPool(1, Sandbox("process", str(tmp_path / "no-python"), ()))
    try:
        with pytest.raises((SandboxError, FileNotFoundError)):
            pool.wait_started()
    finally:
        pool.close()
    assert not list(tmp_path.glob("scoder-sandbox-*"))
