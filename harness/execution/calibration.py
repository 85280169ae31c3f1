"""This machine's speed, measured on a fixed CPU-bound workload: a figure that results from machines of different
speed carry side by side, and by which evalplus' absolute floors may be scaled on request (TimePolicy.speed).

The workload is pure Python (integer arithmetic, dict and list operations, sorting, string building: what the
programs judged spend their time on), run in a fresh interpreter of the harness's Python, several times; its CPU
time is the best of those runs, the one least disturbed by other processes. Speed is the reference machine's CPU
time over this machine's: 2.0 means twice as fast as the reference. Measured once per process (a run).
"""

from __future__ import annotations

import functools
import subprocess
import sys
from dataclasses import dataclass

# The reference: this project's 2-core development machine (AMD EPYC, Python 3.11.7), quiet: the median of 7
# measurements on 2026-12-05 of a workload twice this one's length (0.084-0.102 s: this virtual machine's own speed
# drifts by about 20% over minutes), halved by the two workloads' ratio measured side by side on 2026-12-05 (median of
# 7 pairs: 0.504), so that speed figures recorded before the workload was halved still compare.
REFERENCE = "the project's 2-core reference machine (AMD EPYC, Python 3.11.7)"
REFERENCE_CPU_S = 0.0464
REPEATS = 7
WORKLOAD = """
import os, select, time
def workload():
    total, table = 0, {}
    for i in range(300_000):
        total = (total * 31 + i) % 1_000_003
        table[i % 1024] = table.get(i % 1024, 0) + total
    words = sorted(str(value) for value in table.values())
    return total + len("".join(words))
listening, paused = True, False
def when_let():  # between runs of the workload: "0" on stdin pauses it, "1" lets it go on, the pipe's end for good
    global listening, paused
    while listening and select.select([0], [], [], None if paused else 0)[0]:
        told = os.read(0, 64)
        listening, paused = bool(told), told.endswith(b"0")
started = time.process_time()
while time.process_time() - started < 0.1:  # warm-up: an idle core is clocked down until it has been busy a while
    when_let()
    workload()
best = float("inf")
for _ in range(REPEATS):
    when_let()
    started = time.process_time()
    workload()
    best = min(best, time.process_time() - started)
print(best)
"""


@dataclass(frozen=True)
class Calibration:
    cpu_s: float  # the workload's CPU seconds here, best of REPEATS

    @property
    def speed(self) -> float:
        return REFERENCE_CPU_S / self.cpu_s

    def record(self) -> dict:
        """As results record it."""
        return {"speed": round(self.speed, 3), "workload_cpu_s": round(self.cpu_s, 4), "reference": REFERENCE,
                "reference_cpu_s": REFERENCE_CPU_S}


class Measurement:
    """The workload, running in a process of its own, which pauses between its runs while told to (go_on): an
    evaluation's pool lets it compute only on cores the runs leave idle (WorkerPool.fill_idle_with). Told through a
    pipe, not by signals: a process stopped by SIGSTOP outlives a harness killed meanwhile, stopped for ever; this one
    reads the end of the pipe and finishes."""

    def __init__(self):
        self.process = subprocess.Popen([sys.executable, "-I", "-S", "-c", WORKLOAD.replace("REPEATS", str(REPEATS))],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def go_on(self, going: bool) -> None:
        try:
            self.process.stdin.write("1" if going else "0")
            self.process.stdin.flush()
        except (OSError, ValueError):  # it has ended (a broken pipe), or its figure was read (the pipe closed)
            pass

    def result(self) -> Calibration:
        try:
            stdout, stderr = self.process.communicate(timeout=120)  # closes the pipe: it goes on for good
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise RuntimeError("the calibration workload did not end in 120 s") from None
        if self.process.returncode != 0:
            raise RuntimeError(f"the calibration workload failed: {stderr[-500:]}")
        return Calibration(float(stdout))


@functools.cache
def begin() -> Measurement:
    """Start measuring, once per process, beside whatever the process does meanwhile (an evaluation starts it as it
    begins, while its data loads; its pool then pauses it while every worker has a run; and it reads it last). The
    workload's figure is CPU time, the best of several runs, so sharing the cores or pausing costs the figure nothing,
    and the evaluation at most the workload's own CPU time."""
    return Measurement()


@functools.cache
def measure() -> Calibration:
    """The calibration of this machine (once per process: the measurement begin() started, or one started now)."""
    return begin().result()
