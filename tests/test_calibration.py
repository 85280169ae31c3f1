"""The machine's speed (harness.execution.calibration) travels with every results file and beside every run in a
report; `--speed` scales evalplus' absolute floors by it, and the results and the report say that this is not the
official setting. The slow program here is written for the purpose (labelled): correct, but its first call spins
0.5 s of CPU, under evalplus' 1 s floor and over the floor of a machine taken to be 4 times as fast."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.execution.calibration import REFERENCE, measure
from harness.execution.limits import TimePolicy
from tests.test_file_safety import GREEDY, samples_file

REPO = Path(__file__).resolve().parent.parent
SLOW_FIRST_CALL = '''import time
_calls = []
def has_close_elements(numbers, threshold):
    if not _calls:
        started = time.process_time()
        while time.process_time() - started < 0.5:
            pass
    _calls.append(1)
    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])
'''


def test_the_calibration_is_measured_once_per_process_and_agrees_across_processes():
    found = measure()
    assert found is measure()  # once per process
    another = subprocess.run([sys.executable, "-c", "from harness.execution.calibration import measure; print(measure().cpu_s)"],
                             cwd=REPO, capture_output=True, text=True, check=True)
    # Loosely: a measurement that took the interpreter's start-up or a warm-up into account would be far off.
    assert 0.5 < float(another.stdout) / found.cpu_s < 2
    assert found.record()["reference"] == REFERENCE and found.speed > 0


def test_a_speed_divides_the_absolute_limits_only():
    official, fast = TimePolicy(), TimePolicy(speed=4.0)
    assert official.per_input([0.01, 1.0]) == [1.0, 4.0]
    assert fast.per_input([0.01, 1.0]) == [0.25, 4.0]  # the floor scales; a limit from the reference's time does not
    # The task budget and evalplus' two extra seconds scale too: 60 + 2, and 60 / 4 + 2 / 4.
    assert (official.per_run([30.0, 40.0]), fast.per_run([30.0, 40.0])) == (62.0, 15.5)
    with pytest.raises(ValueError, match="speed must be a number"):
        TimePolicy(speed=0.0)


def test_two_runs_on_different_speed_settings_show_side_by_side(tmp_path, data_dir, capsys):
    runs = {}
    for name, speed in (("official", []), ("fast-machine", ["--speed", "4"])):
        folder = tmp_path / name
        folder.mkdir()
        samples = samples_file(folder / "s.jsonl", {"HumanEval/0": SLOW_FIRST_CALL}, GREEDY)
        assert main(["eval", "--benchmark", "humaneval+", "--samples", str(samples), "--data-dir", str(data_dir),
                     "--no-progress", *speed]) == 0
        runs[name] = json.loads(next(folder.glob("*_eval_results.json")).read_text())
    official, fast = runs["official"], runs["fast-machine"]
    assert official["eval"]["HumanEval/0"][0]["base_status"] == "pass"
    # 0.5 s over a floor of 0.25 s: an input over its limit, which evalplus calls a failure (TimeoutException)
    assert fast["eval"]["HumanEval/0"][0]["base_status"] == "fail"
    assert fast["eval"]["HumanEval/0"][0]["base_error"].startswith("TimeoutException")
    assert official["scoder"]["time_policy"]["speed"] is None and "not_official" not in official["scoder"]
    assert fast["scoder"]["time_policy"]["speed"] == 4.0 and fast["scoder"]["not_official"] == ["floors scaled to speed 4.00"]
    assert official["scoder"]["calibration"] == fast["scoder"]["calibration"] == measure().record()

    capsys.readouterr()
    assert main(["report", str(tmp_path / "official"), str(tmp_path / "fast-machine"), "--no-baselines",
                 "--output", str(tmp_path / "report")]) == 0
    table = (tmp_path / "report" / "report.md").read_text()
    assert "floors scaled to speed 4.00 (not the official setting)" in table  # a column of its own
    speed = f"{measure().speed:.2f}"
    assert f"official: machine speed {speed}" in table and f"fast-machine: machine speed {speed}" in table


def test_the_calibration_computes_only_on_cores_the_runs_leave_idle():
    """An evaluation's pool pauses the calibration (WorkerPool.fill_idle_with) while every worker has a run, so that no
    run computes beside it and looks contended, and lets it go on while a worker waits for a run, and for good once the
    pool closes; pausing leaves its figure as it is. Here four runs that spin 0.3 s of CPU each (written for this test)
    go to two workers: while the first two and then the next two compute, the calibration waits (state S) and uses
    no CPU."""
    from harness.execution.calibration import Measurement
    from harness.execution.function_calls import ReferenceRecorder
    from harness.execution.pool import Run, WorkerPool

    measurement = Measurement()
    stat = Path(f"/proc/{measurement.process.pid}/stat")
    seen = []  # the calibration's state and CPU ticks as each run's output comes

    def watching():
        recorder = ReferenceRecorder(1)
        on_line = recorder.on_line

        def on_line_watched(line: bytes) -> bool:
            if line.startswith(b"O"):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                seen.append((fields[0], int(fields[11]) + int(fields[12])))
            return on_line(line)

        recorder.on_line = on_line_watched
        return recorder

    spinner = Run("import time\ndef f(x):\n    started = time.process_time()\n    while time.process_time() - started < 0.3:\n"
                  "        pass\n    return x\n", "f", b"[[1]]", None, 10.0, 30.0)
    with WorkerPool(2) as pool:
        pool.fill_idle_with(measurement)
        for number in range(4):
            pool.submit((number, spinner, watching))
        for _ in range(4):
            pool.next_result()
    assert [state for state, _ in seen[:3]] == ["S"] * 3, seen
    assert seen[1][1] == seen[2][1], seen  # not a tick of CPU while the second two runs computed
    assert 0.5 < measurement.result().cpu_s / measure().cpu_s < 2  # closed: it went on to the end


def test_a_paused_calibration_does_not_outlive_a_killed_harness():
    """Paused, the calibration waits on a pipe from the harness; killed (SIGKILL: nothing of the harness runs after it),
    the harness closes that pipe, and the calibration goes on to its end instead of waiting for ever."""
    import signal
    import time

    harness = subprocess.Popen([sys.executable, "-c", "from harness.execution.calibration import Measurement\n"
                                "m = Measurement()\nm.go_on(False)\nprint(m.process.pid, flush=True)\n"
                                "import time\ntime.sleep(60)\n"], cwd=REPO, stdout=subprocess.PIPE, text=True)
    pid = int(harness.stdout.readline())
    time.sleep(0.5)
    assert state(pid) == "S"  # paused
    harness.send_signal(signal.SIGKILL)
    harness.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and state(pid) not in (None, "Z"):  # a zombie where nothing reaps orphans
        time.sleep(0.05)
    assert state(pid) in (None, "Z")


def state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return None
