"""The reference solutions' cached outputs and times (harness.benchmarks.evalplus.groundtruth): computed once, read
once per evaluation however the samples are ordered, a damaged file refused with what to do, the caches of an
older format freed, and a large output that compares as encoded judged by its digest, with the verdict its value
would get."""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import json
import weakref

import pytest

from harness.benchmarks.data import DataError
from harness.benchmarks.evalplus import HUMANEVAL_PLUS
from harness.benchmarks.evalplus.groundtruth import DIGEST_ABOVE_BYTES, FORMAT, GroundTruth, reference_run
from harness.benchmarks.evalplus.scoring import EvalSettings, _runs
from harness.cli import main
from harness.execution import values
from harness.execution.function_calls import PASS, Digest, OutputJudge
from harness.execution.pool import WorkerPool
from tests.test_file_safety import GREEDY, samples_file

# More tasks than a bounded cache of 16 held (HumanEval/15's 141 MB of outputs left out: the test needs no large one).
TASKS = [f"HumanEval/{number}" for number in range(24) if number != 15]


@pytest.fixture(scope="module")
def cached(tmp_path_factory, data_dir):
    cache = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SCODER_CACHE_DIR", str(cache))
        dataset = HUMANEVAL_PLUS.load(data_dir)
        folder = GroundTruth(dataset).folder
        older = folder.with_name(folder.name.replace(f"-v{FORMAT}", "-v1"))
        (older / "HumanEval_0.json").parent.mkdir(parents=True)
        (older / "HumanEval_0.json").write_text("{}")  # a cache of the older format, of no more use
        with WorkerPool(2) as pool:
            GroundTruth(dataset).compute(TASKS, pool, progress=False)
        yield dataset, older  # the cache directory stays patched while this module's tests run


def test_a_task_is_read_once_however_the_samples_are_ordered(cached):
    """Samples in rounds over every task (as a file of n samples per task may be ordered): each task's outputs are read
    once, and every run of its samples shares them (a bounded cache read them again for each round, a copy each)."""
    dataset, _ = cached
    truth = GroundTruth(dataset)
    first = {task_id: truth.get(task_id) for task_id in TASKS}
    for _ in range(2):
        assert all(truth.get(task_id) is first[task_id] for task_id in TASKS)
    expected = first["HumanEval/0"]["base"]
    assert len(expected.outputs) == len(expected.seconds) == len(dataset.problems["HumanEval/0"].inputs["base"])
    assert all(isinstance(output, memoryview) for output in expected.outputs)  # slices of the file as read, not copies


def test_a_damaged_cache_file_is_refused_with_what_to_do(cached):
    dataset, _ = cached
    truth = GroundTruth(dataset)
    path = truth._path("HumanEval/1")
    whole = path.read_bytes()
    try:
        path.write_bytes(whole[:-3])  # cut short, as a full disk might leave a copy made by hand
        with pytest.raises(DataError, match="damaged .*delete the file, and the next evaluation computes them again"):
            GroundTruth(dataset).get("HumanEval/1")
        for damaged in (b"not a header\n" + whole, b""):
            path.write_bytes(damaged)
            with pytest.raises(DataError, match="damaged"):
                GroundTruth(dataset).get("HumanEval/1")
    finally:
        path.write_bytes(whole)
    assert GroundTruth(dataset).get("HumanEval/1")["plus"].outputs == truth.get("HumanEval/1")["plus"].outputs


def test_the_expected_outputs_cost_the_cycle_collector_nothing(cached):
    """HumanEval+'s expected outputs were 124,000 memoryviews, which the cycle collector scanned in full as the runs
    were queued, and the ground truth was a reference cycle (a cache of its own bound method) that only the collector
    frees: a fifth of a second at exit. Now a task's outputs are offsets until one is asked for, and the ground truth
    goes with its last reference."""
    dataset, _ = cached
    gc.collect()
    gc.disable()  # no collection between the two counts
    try:
        tracked = len(gc.get_objects())
        truth = GroundTruth(dataset)
        expected = truth.get("HumanEval/0")
        assert len(expected["plus"].outputs) > 500 and len(gc.get_objects()) - tracked < 50
    finally:
        gc.enable()
    outputs = expected["plus"].outputs
    assert bytes(outputs[-1]) == bytes(outputs[len(outputs) - 1]) and values.decode(outputs[0]) in (True, False)
    with pytest.raises(IndexError):
        outputs[len(outputs)]
    gone = weakref.ref(truth)
    del truth, expected, outputs
    assert gone() is None  # freed at once, with no collection


def test_the_inputs_come_from_the_cache_as_the_reference_was_given_them(cached, data_dir):
    """Every run of a sample is given the bytes its task's reference solution was given, read with its expected outputs:
    encoding them again cost MBPP+ half a second of the harness's CPU per evaluation."""
    dataset, _ = cached
    fresh = HUMANEVAL_PLUS.load(data_dir)  # as an evaluation loads it: no inputs encoded yet
    problem = fresh.problems["HumanEval/2"]
    checks = _runs(fresh, EvalSettings()).checks("HumanEval/2", problem.reference_code)
    assert "inputs_lines" not in vars(problem)  # the cached property was never computed
    for kind in ("base", "plus"):
        assert checks[kind].run.inputs_line == dataset.problems["HumanEval/2"].inputs_lines[kind]
        assert len(values.decode(checks[kind].run.inputs_line)) == len(problem.inputs[kind])


def test_a_cache_of_an_older_format_is_freed(cached):
    dataset, older = cached
    assert not older.exists() and GroundTruth(dataset).folder.is_dir()


def test_the_large_outputs_that_compare_as_encoded_are_kept_with_their_digest(cached):
    """HumanEval/14 (all_prefixes) returns lists of strings; its longest plus inputs make outputs of megabytes."""
    dataset, _ = cached
    expected = GroundTruth(dataset).get("HumanEval/14")
    assert not expected["base"].digests and len(expected["plus"].digests) >= 5
    for kind in ("base", "plus"):
        for index, output in enumerate(expected[kind].outputs):
            large = len(output) > DIGEST_ABOVE_BYTES
            assert (index in expected[kind].digests) == large  # lists of strings, all of them
            if large:
                digest = expected[kind].digests[index]
                assert (digest.sha256, digest.size) == (hashlib.sha256(output).hexdigest(), len(output))


def test_the_outputs_matched_by_digest_are_read_only_when_asked_for(cached):
    """They were half of what a HumanEval+ evaluation read (HumanEval/15's 141 MB), for the rare program whose output
    comes whole. Asked for, one is read from the file as it was written; from a file cut short since, it is refused. A
    program's output that comes as a digest is judged without it, and its size is known without it."""
    dataset, _ = cached
    truth = GroundTruth(dataset)
    path = truth._path("HumanEval/14")
    whole = path.read_bytes()
    plus = truth.get("HumanEval/14")["plus"]
    unread = sum(plus.digests[index].size for index in plus.digests)
    assert unread > 2 * DIGEST_ABOVE_BYTES and len(plus.outputs.blob) == len(whole) - (whole.index(b"\n") + 1) - unread
    last = max(plus.digests)
    assert hashlib.sha256(plus.outputs[last]).hexdigest() == plus.digests[last].sha256
    try:
        path.write_bytes(whole[:plus.outputs.unread[last][0] + 1])
        judge = OutputJudge(plus.outputs, lambda index, output: output == values.decode(plus.outputs[index]),
                            lambda index: True, lambda index: 1 << 30, digests=plus.digests)
        for index in range(last + 1):  # each output as the reference's child sends it
            digest = plus.digests.get(index)
            judge.on_line(f"H {index} 0.0 {digest.sha256} {digest.size} 0".encode() if digest else
                          f"O {index} 0.0 ".encode() + bytes(plus.outputs[index]))
        assert judge.verdict is None and judge.checked == last + 1
        assert plus.size(last) == plus.digests[last].size  # known without reading it, for the judge's size bound
        with pytest.raises(DataError, match="cut short after it was read.*delete the file"):
            plus.outputs[last]
    finally:
        path.write_bytes(whole)


def test_a_program_s_output_on_those_inputs_comes_as_a_digest_when_it_compares_as_encoded(cached):
    """The reference code itself, run as a sample is: where its output is a list of strings, the child sends the digest
    alone; where the program returns a subclass of str (which could equal the expected value without being encoded
    the same), the whole output."""
    dataset, _ = cached
    problem, plus = dataset.problems["HumanEval/14"], GroundTruth(dataset).get("HumanEval/14")["plus"]
    subclassed = problem.reference_code + "\nclass Text(str):\n    pass\n_plain = all_prefixes\n" \
        "def all_prefixes(string):\n    return [Text(prefix) for prefix in _plain(string)]\n"
    with WorkerPool(1) as pool:
        for code, kind in ((problem.reference_code, "H"), (subclassed, "O")):
            run = dataclasses.replace(reference_run(problem, "plus"), code=code, digest_inputs=tuple(plus.digests))
            [(_, recorder)] = pool.map([(None, run, lambda: Lines())])
            assert {recorder.kinds[index] for index in plus.digests} == {kind}
            assert recorder.sizes[max(plus.digests)] < 200 if kind == "H" else recorder.sizes[max(plus.digests)] > DIGEST_ABOVE_BYTES


class Lines:
    """Each output line's kind and size, by input (a listener for the pool)."""

    def __init__(self):
        self.kinds, self.sizes = {}, {}

    def on_line(self, line: bytes) -> bool:
        if line[:1] in (b"O", b"H"):
            index = int(line.split(b" ", 2)[1])
            self.kinds[index], self.sizes[index] = line[:1].decode(), len(line)
        return False

    def on_done(self, report: dict) -> None:
        pass


# Written for this test (labelled, not model outputs): HumanEval/14 answered right as plain strings and as a subclass
# of str, wrong as tuples of them (a list and a tuple are never equal in Python, so evalplus fails it), and wrong on
# long strings only, where the expected outputs are judged by their digest.
PROGRAMS = {
    "plain": "def all_prefixes(string):\n    return [string[:i + 1] for i in range(len(string))]\n",
    "subclass": "class Text(str):\n    pass\ndef all_prefixes(string):\n    return [Text(string[:i + 1]) for i in range(len(string))]\n",
    "tuple": "def all_prefixes(string):\n    return tuple(string[:i + 1] for i in range(len(string)))\n",
    "long wrong": "def all_prefixes(string):\n    return [string[:i + 1] for i in range(len(string) - (len(string) > 400))]\n",
}


def test_an_output_judged_by_its_digest_gets_the_verdict_its_value_would(cached, tmp_path, data_dir):
    verdicts = {}
    for name, program in PROGRAMS.items():
        samples = samples_file(tmp_path / f"{name}.jsonl".replace(" ", "-"), {"HumanEval/14": program}, GREEDY)
        output = tmp_path / f"{name}.json".replace(" ", "-")
        assert main(["eval", "--benchmark", "humaneval+", "--samples", str(samples), "--data-dir", str(data_dir),
                     "--output", str(output), "--no-progress"]) == 0
        [entry] = json.loads(output.read_text())["eval"]["HumanEval/14"]
        verdicts[name] = (entry["base_status"], entry["plus_status"])
    assert verdicts == {"plain": ("pass", "pass"), "subclass": ("pass", "pass"), "tuple": ("fail", "fail"),
                        "long wrong": ("pass", "fail")}
    assert values.compares_as_encoded(["a", ("b", None)]) and not values.compares_as_encoded(["a", 1])


def test_a_string_holding_nan_is_no_float_where_outputs_compare_as_encoded():
    """The child flags a digest whose text holds "NaN" (evalplus' float rules need it); in a list of strings it is only
    text, and the digest still matches. The expected output here is made up for the test (labelled)."""
    expected = values.encode(["BaNaN", "NaN"] * 20000).encode()
    wanted = Digest(hashlib.sha256(expected).hexdigest(), len(expected), False)
    judge = OutputJudge([expected], lambda index, output: False, lambda index: True, lambda index: 0, digests={0: wanted})
    judge.on_line(f"H 0 0.0 {wanted.sha256} {wanted.size} 1".encode())
    assert judge.verdict.status == PASS
