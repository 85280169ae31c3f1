"""Load on the machine for tests that need it: busy loops as other users of the machine would run them."""

from __future__ import annotations

import subprocess
import sys
from contextlib import contextmanager


@contextmanager
def busy_loops(count: int):
    """`count` processes that each keep a core busy, each in a session of its own: Linux's autogroup shares the cores
    between sessions first, and each sandboxed run has its own, so busy loops all in one session (this test's) would
    cost a run about 5% of waiting rather than the machine's cores (measured on the project's 2-core machine)."""
    loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True) for _ in range(count)]
    try:
        yield
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()
