"""Hostile programs submitted as samples: each gets the right verdict, the harness survives, no process
is left running and nothing outside the sandbox changes. Run in every isolation layer the machine has.

Every program answers HumanEval/0 (has_close_elements). Where a program's attack should simply fail,
it returns the correct answer only if the attack failed, so "pass" proves the attack was stopped.
"""

import hashlib
import json
import os
import socket
import threading
import uuid
from pathlib import Path

import pytest

from harness.benchmarks.evalplus import HUMANEVAL_PLUS
from harness.benchmarks.evalplus.scoring import EvalSettings, evaluate
from harness.evaluation_runs import Execution
from harness.execution.sandbox import LAYERS, works

CORRECT = """
def _correct(numbers, threshold):
    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])
"""


def program(body: str) -> str:
    return CORRECT + body


def hostile_programs(canary: Path, secret: Path, port: int, layer: str) -> dict[str, tuple[str, set[str]]]:
    """name -> (solution, verdicts that are right for it)."""
    kill_everything = "libc.kill(-1, 9)" if layer != "process" else "pass  # would kill the whole machine unsandboxed"
    return {
        "control: correct program": (program("has_close_elements = _correct\n"), {"pass"}),
        "fork bomb": (program("import os\ndef has_close_elements(n, t):\n    while True:\n        os.fork()\n"), {"fail"}),
        "fork bomb through ctypes": (program(
            "import ctypes\nlibc = ctypes.CDLL(None)\n"
            "def has_close_elements(n, t):\n    while True:\n        libc.fork()\n"), {"fail"}),
        "memory bomb": (program("def has_close_elements(n, t):\n    hog = []\n    while True:\n        hog.append(bytearray(512 * 1024**2))\n"), {"fail"}),
        "infinite loop": (program("def has_close_elements(n, t):\n    while True:\n        pass\n"), {"fail"}),
        # Hashing big buffers releases the GIL, so four threads burn several cores while the caller
        # sleeps 2 s: only if their CPU counts against the 1 s limit of the input does this fail.
        "cpu-burning threads": (program(
            "import hashlib, threading, time\ndef _burn():\n    block = b'x' * 2**26\n    while True:\n        hashlib.sha256(block)\n"
            "def has_close_elements(n, t):\n    for _ in range(4):\n        threading.Thread(target=_burn, daemon=True).start()\n"
            "    time.sleep(2)\n    return _correct(n, t)\n"), {"fail"}),
        "10 GB file": (program(
            "import os\ndef has_close_elements(n, t):\n    fd = os.open('big', os.O_WRONLY | os.O_CREAT)\n"
            "    chunk = b'x' * 2**20\n    for _ in range(10 * 1024):\n        os.write(fd, chunk)\n    return _correct(n, t)\n"), {"timeout", "fail"}),
        "delete and change files outside": (program(
            "import ctypes, io\nlibc = ctypes.CDLL(None)\n"
            "def has_close_elements(n, t):\n"
            f"    removed = libc.unlink({str(canary / 'keep.txt').encode()!r}) == 0\n"
            "    try:\n"
            f"        io.open({str(canary / 'keep.txt')!r}, 'a').write('changed'); changed = True\n"
            "    except OSError:\n        changed = False\n"
            "    try:\n"
            f"        io.open({str(canary / 'new.txt')!r}, 'w').write('new'); created = True\n"
            "    except OSError:\n        created = False\n"
            "    return 'ATTACKED' if removed or changed or created else _correct(n, t)\n"), {"pass"}),
        "read a file from the home directory": (program(
            "import io\ndef has_close_elements(n, t):\n    try:\n"
            f"        secret = io.open({str(secret)!r}).read()\n        print(secret)\n        return 'LEAKED ' + secret\n"
            "    except OSError:\n        return _correct(n, t)\n"),
            {"pass"} if layer == "bwrap" else {"fail"}),  # only bubblewrap hides the home folder
        "network connection": (program(
            "import socket\ndef has_close_elements(n, t):\n    try:\n"
            f"        socket.create_connection(('127.0.0.1', {port}), timeout=1).sendall(b'hello')\n        return 'CONNECTED'\n"
            "    except OSError:\n        return _correct(n, t)\n"), {"pass"}),
        "kill the parent and its process group": (program(
            "import ctypes, os\nlibc = ctypes.CDLL(None)\n"
            "def has_close_elements(n, t):\n    group = os.getpgid(os.getppid())  # 0 where the parent's group is outside the namespace\n"
            "    results = [libc.kill(os.getppid(), 9), libc.kill(-group, 9) if group > 0 else -1, libc.kill(1, 9)]\n"
            f"    {kill_everything}\n"
            "    return 'KILLED' if 0 in results else _correct(n, t)\n"), {"pass"}),
        "sys.exit(0) before the tests": (program("import sys\nsys.exit(0)\nhas_close_elements = _correct\n"), {"fail"}),
        "os._exit(0) before the tests": (program("import os\nos._exit(0)\nhas_close_elements = _correct\n"), {"timeout"}),
        "sys.exit(0) inside the function": (program("import sys\ndef has_close_elements(n, t):\n    sys.exit(0)\n"), {"fail"}),
        "__eq__ always true": (program(
            "class Anything:\n    def __eq__(self, other):\n        return True\n    __hash__ = object.__hash__\n"
            "def has_close_elements(n, t):\n    return Anything()\n"), {"fail"}),
        "patching builtins and the runner": (program(
            "import builtins, json, sys\nbuiltins.isinstance = lambda *a: True\njson.dumps = lambda *a, **k: 'true'\n"
            "for module in list(sys.modules.values()):\n    if hasattr(module, 'encode_pieces'):\n"
            "        module.encode_pieces = lambda *a, **k: iter(['true'])\n"
            "def has_close_elements(n, t):\n    return True\n"), {"fail"}),
        "flooding stdout": (program(
            "import os\ndef has_close_elements(n, t):\n    while True:\n        print('x' * 10**6)\n        os.write(1, b'y' * 10**6)\n"), {"fail"}),
        "daemon left behind": (program(
            "import ctypes, time\nlibc = ctypes.CDLL(None)\n"
            "def has_close_elements(n, t):\n    pid = libc.fork()\n    if pid == 0:\n        libc.setsid()\n"
            "        while True:\n            time.sleep(1)\n    return _correct(n, t) if pid == -1 else 'FORKED'\n"), {"pass"}),
        "recursion bomb": (program(
            "import sys\nsys.setrecursionlimit(10**6)\ndef _down(k):\n    return _down(k + 1) + 1\n"
            "def has_close_elements(n, t):\n    return _down(0)\n"), {"fail", "timeout"}),
        "segfault through ctypes": (program("import ctypes\ndef has_close_elements(n, t):\n    return ctypes.string_at(0)\n"), {"timeout"}),
    }


def tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        digest.update(str(path).encode() + (path.read_bytes() if path.is_file() else b""))
    return digest.hexdigest()


def sandbox_processes() -> list[str]:
    found = []
    for entry in os.listdir("/proc"):
        try:
            command = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "harness/execution/worker.py" in command or command.startswith("bwrap"):
            found.append(f"{entry}: {command[:120]}")
    return found


@pytest.fixture
def listener():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    connections = []

    def accept():
        while not stop.is_set():
            try:
                connections.append(server.accept())
            except OSError:
                pass

    stop = threading.Event()
    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], connections
    stop.set()
    thread.join()
    server.close()


def test_ci_has_the_strongest_layer():
    if os.environ.get("CI"):
        assert works("bwrap"), "CI must run the hostile tests in bubblewrap: ./install.sh installs it"


@pytest.mark.parametrize("layer", [layer for layer in LAYERS if works(layer)])
def test_hostile_programs(layer, data_dir, tmp_path, listener):
    port, connections = listener
    canary = tmp_path / "outside"
    canary.mkdir()
    (canary / "keep.txt").write_text("original")
    secret = Path.home() / f".scoder-hostile-test-{uuid.uuid4().hex}"
    secret.write_text(f"SECRET-{uuid.uuid4().hex}")
    try:
        programs = hostile_programs(canary, secret, port, layer)
        samples = tmp_path / "hostile.jsonl"
        samples.write_text("".join(json.dumps({"task_id": "HumanEval/0", "solution": code}) + "\n" for code, _ in programs.values()))
        before = tree_digest(canary)
        scratch_before = set(Path("/tmp").glob("scoder-sandbox-*"))
        results = evaluate(HUMANEVAL_PLUS, samples, tmp_path / "results.json", data_dir, EvalSettings(), progress=False,
                           execution=Execution(parallel=2, isolation=layer))
        verdicts = {name: entry for name, entry in zip(programs, results["eval"]["HumanEval/0"], strict=True)}
        wrong = {name: (entry["base_status"], entry["plus_status"], entry["base_error"])
                 for name, entry in verdicts.items()
                 if {entry["base_status"], entry["plus_status"]} - programs[name][1]}
        assert not wrong, f"wrong verdicts in the {layer} layer: {wrong}"
        assert results["scoder"]["worker_restarts"] == 0, "a program brought its sandbox worker down"
        assert tree_digest(canary) == before, "a program changed files outside the sandbox"
        assert not connections, "a program reached a server outside the sandbox"
        assert not sandbox_processes(), "processes were left running"
        assert secret.read_text() not in (tmp_path / "results.json").read_text()
        assert set(Path("/tmp").glob("scoder-sandbox-*")) == scratch_before, "sandbox scratch folders were left behind"
    finally:
        secret.unlink()
