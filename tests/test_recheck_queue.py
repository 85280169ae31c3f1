"""The skeleton's re-check queue (harness.evaluation_runs): a re-check starts once the trusted runs it needs first have
run, and re-checks that need the same trusted run share one run of it; a re-check the harness cannot build is a
grader fault. On the fixture benchmark (tests/fixture_benchmark.py, labelled fixture data), where these tests treat
a wrong output as if a clock had decided it, so that wrong programs are re-checked."""

from __future__ import annotations

import dataclasses
import functools
import gc
import json
import threading
import weakref

import tests.fixture_benchmark as fixture
from harness.evaluation import evaluate_samples
from harness.evaluation_runs import Check, Execution, Recheck
from harness.execution import values
from harness.execution.function_calls import FAIL, ReferenceRecorder
from harness.execution.pool import Run

WRONG = ["def add(a, b):\n    return a - b\n", "def add(a, b):\n    return a * b\n", "def add(a, b):\n    return 0\n"]


class Counted:
    """A listener factory that counts how many runs it made listeners for (a run repeated on a restarted worker
    would count twice: none is expected here)."""

    def __init__(self, factory):
        self.factory, self.made, self.lock = factory, 0, threading.Lock()

    def __call__(self):
        with self.lock:
            self.made += 1
        return self.factory()


def plan_with_rechecks(reference: Counted, built: list, broken: bool = False):
    def plan_for(samples, samples_path):
        base = fixture._plan(samples, samples_path)
        trusted = Run("def add(a, b):\n    return a + b\n", "add", values.encode([[1, 2]]).encode(), None, 10.0, 30.0)

        def recheck(task_id: str, code: str, part: str, outcome: dict) -> Recheck:
            def check(done: list) -> Check:
                if broken:
                    raise RuntimeError("a bug in the harness")
                built.append(done)
                return base.runs.checks(task_id, code)[part]
            return Recheck(check, before=((("reference", task_id), trusted, reference),))

        runs = dataclasses.replace(base.runs, timed_out=lambda outcome: outcome["status"] == FAIL, recheck=recheck)
        return dataclasses.replace(base, runs=runs)
    return plan_for


def samples(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text("".join(json.dumps({"task_id": "Arithmetic/0", "solution": code}) + "\n" for code in WRONG))
    return path


def noted(events: list, factory, made: str, done: str | None = None):
    """A listener factory that notes in `events` when each listener is made (its run starts) and, given `done`, when its
    run ends (list.append is atomic: the pool's threads may note at once)."""
    def make():
        events.append(made)
        listener = factory()
        if done:
            on_done = listener.on_done
            listener.on_done = lambda report: (events.append(done), on_done(report))
        return listener
    return make


def test_rechecks_share_the_trusted_run_they_need_and_wait_for_it(tmp_path):
    reference, built = Counted(functools.partial(ReferenceRecorder, 1)), []
    results = evaluate_samples(samples(tmp_path), tmp_path / "out.json", plan_with_rechecks(reference, built), progress=False)
    assert [entry["status"] for entry in results["eval"]["Arithmetic/0"]] == [FAIL] * 3
    assert results["scoder"]["timeouts"] == {"rechecked": 3, "confirmed": 3}
    assert reference.made == 1  # one trusted run for the three re-checks
    # Each re-check was built from that run, done: the reference's output for its one input.
    assert len(built) == 3 and all(done[0].outputs == [b"3"] and done[0].error is None for done in built)


def test_a_recheck_the_harness_cannot_build_is_a_grader_fault(tmp_path):
    reference = Counted(functools.partial(ReferenceRecorder, 1))
    results = evaluate_samples(samples(tmp_path), tmp_path / "out.json", plan_with_rechecks(reference, [], broken=True),
                               progress=False)
    assert [entry["no_verdict"] for entry in results["eval"]["Arithmetic/0"]] == ["grader fault: RuntimeError: a bug in the harness"] * 3


def test_a_part_is_re_checked_as_soon_as_its_first_run_ends(tmp_path):
    """A sample of two parts: a quick one whose wrong output counts as timed out here, and one that sleeps 4 s (written
    for this test). The quick part's re-check runs while the other part still sleeps: it does not wait for its sample's
    last first run (as it did when a plus run's timeout waited for its base run, queued far behind it, and ran at the
    end with the other cores idle)."""
    events = []
    def plan_for(samples, samples_path):
        base = fixture._plan(samples, samples_path)
        sleeper = "import time\ndef add(a, b):\n    time.sleep(4)\n    return a + b\n"

        def checks(task_id: str, code: str) -> dict[str, Check]:
            quick = base.runs.checks(task_id, code)["inputs"]
            slow = base.runs.checks(task_id, sleeper)["inputs"]
            return {"quick": dataclasses.replace(quick, listener=noted(events, quick.listener, "quick starts")),
                    "slow": dataclasses.replace(slow, listener=noted(events, slow.listener, "slow starts", "slow ends"))}

        def recheck(task_id: str, code: str, part: str, outcome: dict) -> Recheck:
            again = base.runs.checks(task_id, code)["inputs"]  # only the quick part fails
            return Recheck(lambda done: dataclasses.replace(again, listener=noted(events, again.listener, f"{part} re-checked")))

        runs = dataclasses.replace(base.runs, checks=checks, timed_out=lambda outcome: outcome["status"] == FAIL,
                                   recheck=recheck, record=lambda task_id, code, outcomes: outcomes["quick"])
        return dataclasses.replace(base, runs=runs)

    path = tmp_path / "s.jsonl"
    path.write_text(json.dumps({"task_id": "Arithmetic/0", "solution": WRONG[0]}) + "\n")
    results = evaluate_samples(path, tmp_path / "out.json", plan_for, progress=False, execution=Execution(parallel=2))
    assert results["scoder"]["timeouts"] == {"rechecked": 1, "confirmed": 1}
    assert sorted(events) == sorted(["quick starts", "slow starts", "quick re-checked", "slow ends"])
    assert events.index("quick re-checked") < events.index("slow ends"), events


def test_a_part_held_after_another_is_queued_at_the_priority_that_part_s_run_gives(tmp_path):
    """Three samples of two parts, one worker: each "main" part waits for its sample's "probe" part and is queued at the
    priority given from that probe's done listener (as evalplus queues a plus run by its base run's length): X's last
    (+10), Y's first (-10). Z's probe sleeps 1 s (written for this test), so that both are queued before the worker is
    free again: Y's main runs before X's, though X's was queued first."""
    events, seen = [], []
    given = {"X": 10.0, "Y": -10.0, "Z": 0.0}
    def plan_for(samples, samples_path):
        base = fixture._plan(samples, samples_path)
        names = {sample.solution: name for sample, name in zip(samples, given)}

        def checks(task_id: str, code: str) -> dict[str, Check]:
            name = names[code]
            probe = base.runs.checks(task_id, code.replace("pass  # probe", "import time; time.sleep(1)") if name == "Z" else code)
            main = base.runs.checks(task_id, code)["inputs"]

            def priority(listener) -> float:
                seen.append(listener.verdict.status)
                return given[name]

            return {"probe": dataclasses.replace(probe["inputs"], listener=noted(events, probe["inputs"].listener, f"{name} probe starts", f"{name} probe ends")),
                    "main": dataclasses.replace(main, listener=noted(events, main.listener, f"{name} main starts", f"{name} main ends"),
                                                after=("probe", priority))}

        runs = dataclasses.replace(base.runs, checks=checks, record=lambda task_id, code, outcomes: outcomes["main"])
        return dataclasses.replace(base, runs=runs)

    path = tmp_path / "s.jsonl"
    path.write_text("".join(json.dumps({"task_id": "Arithmetic/0", "solution": f"def add(a, b):\n    pass  # probe\n    return a + b  # {name}\n"}) + "\n"
                            for name in given))
    results = evaluate_samples(path, tmp_path / "out.json", plan_for, progress=False, execution=Execution(parallel=1))
    assert [entry["status"] for entry in results["eval"]["Arithmetic/0"]] == ["pass"] * 3
    assert seen == ["pass"] * 3  # each priority was given from its probe's done listener
    for name in given:
        assert events.index(f"{name} probe ends") < events.index(f"{name} main starts"), events
    assert events.index("Y main starts") < events.index("X main starts"), events


def test_what_was_loaded_is_frozen_for_the_runs_and_nothing_after(tmp_path):
    """The skeleton freezes what was loaded before the runs (gc.freeze: the collector then leaves the benchmark's data
    alone) and unfreezes it after: a cycle that was garbage meanwhile is collected then."""
    frozen_during, garbage = [], []

    class Garbage:
        pass

    def plan_for(samples, samples_path):
        base = fixture._plan(samples, samples_path)
        cycle = Garbage()
        cycle.itself = cycle  # garbage from the moment plan_for returns, and frozen with the rest
        garbage.append(weakref.ref(cycle))

        def checks(task_id: str, code: str) -> dict[str, Check]:
            check = base.runs.checks(task_id, code)["inputs"]
            return {"inputs": dataclasses.replace(check, listener=lambda: (frozen_during.append(gc.get_freeze_count()), check.listener())[1])}

        return dataclasses.replace(base, runs=dataclasses.replace(base.runs, checks=checks))

    results = evaluate_samples(samples(tmp_path), tmp_path / "out.json", plan_for, progress=False)
    assert [entry["status"] for entry in results["eval"]["Arithmetic/0"]] == [FAIL] * 3
    assert len(frozen_during) == 3 and min(frozen_during) > 0
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert garbage[0]() is None


def test_a_callers_own_freeze_is_left_as_it_was(tmp_path):
    """Where the caller froze objects itself (the prefork pattern gc.freeze is made for), the evaluation neither adds to
    that freeze nor undoes it."""
    gc.freeze()
    try:
        before = gc.get_freeze_count()
        evaluate_samples(samples(tmp_path), tmp_path / "out.json", fixture._plan, progress=False)
        # Neither unfrozen (none left) nor frozen again (the evaluation's own objects added, thousands). A few of the
        # caller's frozen objects may be freed meanwhile, which lowers the count: an entry a cache of the standard
        # library drops (run alone, this test saw two go).
        assert before - 100 <= gc.get_freeze_count() <= before
    finally:
        gc.unfreeze()
