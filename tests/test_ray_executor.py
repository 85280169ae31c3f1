"""The ray executor: real model outputs (Meta-Llama-3-8B-Instruct's HumanEval+ programs, with evalplus'
official verdicts, from ../shared/conformance) and hostile programs, evaluated on this machine and through
a Ray cluster of two nodes with one worker each (two raylets on this machine), give the same verdict
records and the same expected outputs; no program brings a node's sandbox down."""

import functools
import gzip
import json

import pytest

ray = pytest.importorskip("ray", reason="the ray executor needs Ray (pip install 'scoder-harness[ray]')")
from ray.cluster_utils import Cluster  # noqa: E402

from harness.benchmarks.bigcodebench import BIGCODEBENCH  # noqa: E402
from harness.benchmarks.evalplus import HUMANEVAL_PLUS  # noqa: E402
from harness.benchmarks.evalplus.groundtruth import GroundTruth  # noqa: E402
from harness.benchmarks.bigcodebench.scoring import BigCodeBenchSettings  # noqa: E402
from harness.benchmarks.bigcodebench.scoring import evaluate as evaluate_bigcodebench  # noqa: E402
from harness.benchmarks.livecodebench.scoring import LiveCodeBenchSettings  # noqa: E402
from harness.benchmarks.livecodebench.scoring import evaluate as evaluate_livecodebench  # noqa: E402
from harness.cli import main  # noqa: E402
from harness.benchmarks.evalplus.scoring import EvalSettings, evaluate  # noqa: E402
from harness.evaluation import journal_path, unconfirmed_key  # noqa: E402
from harness.evaluation_runs import Execution  # noqa: E402
from harness.execution.executor import Executor  # noqa: E402
from harness.execution.function_calls import ReferenceRecorder  # noqa: E402
from harness.execution.limits import Limits  # noqa: E402
from harness.execution.pool import Run  # noqa: E402
from harness.execution.ray_pool import RayPool  # noqa: E402
from harness.execution.sandbox import Sandbox, SandboxError, choose  # noqa: E402
from harness.execution.task_env import EnvironmentMissing  # noqa: E402
from tests.conftest import SHARED  # noqa: E402
from tests.test_hostile import hostile_programs, program  # noqa: E402
from tests.test_livecodebench_eval import CHEATS, CORRECT, FIXTURES, WRONG, write_samples  # noqa: E402

TASKS = 40
HOSTILE = ("kill the parent and its process group", "os._exit(0) before the tests", "sys.exit(0) inside the function",
           "fork bomb", "daemon left behind", "segfault through ctypes", "__eq__ always true")
# Aimed at Ray itself: the program looks for Ray's processes and kills every one it can see. It answers
# correctly only if it found none, so "pass" means the sandbox hid them.
KILL_RAY = program(
    "import ctypes, io, os\nlibc = ctypes.CDLL(None)\n"
    "def has_close_elements(n, t):\n    killed = 0\n"
    "    for pid in filter(str.isdigit, os.listdir('/proc')):\n"
    "        try:\n            command = io.open(f'/proc/{pid}/cmdline', 'rb').read()\n        except OSError:\n            continue\n"
    "        if b'ray' in command and libc.kill(int(pid), 9) == 0:\n            killed += 1\n"
    "    return 'KILLED RAY' if killed else _correct(n, t)\n")


@pytest.fixture(scope="module")
def cluster():
    nodes = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    nodes.add_node(num_cpus=1)
    nodes.wait_for_nodes()
    yield nodes.address
    nodes.shutdown()


def _samples(conformance_dir, tmp_path, layer: str):
    official = json.loads(gzip.decompress((conformance_dir / "humaneval_Meta-Llama-3-8B-Instruct.eval_results.json.gz").read_bytes()))
    entries = [entry for task_id in list(official["eval"])[:TASKS] for entry in official["eval"][task_id]]
    hostile = hostile_programs(tmp_path, tmp_path / "no-secret", 9, layer)
    hostile = {name: hostile[name] for name in HOSTILE} | {"kill every Ray process": (KILL_RAY, {"pass"})}
    lines = [{"task_id": entry["task_id"], "solution": entry["solution"]} for entry in entries]
    lines += [{"task_id": "HumanEval/0", "solution": solution} for solution, _ in hostile.values()]
    path = tmp_path / "samples.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path, official, hostile


def _journal(output) -> dict:
    """The journal's final verdict records without the CPU seconds and the margins made of them, which differ between
    any two runs (the first verdicts of a timed-out sample, kept while it waits for its re-check, are timings too)."""
    entries = map(json.loads, journal_path(output).read_text().splitlines()[1:])
    return {entry["key"]: _untimed(entry["record"]) for entry in entries if not entry["key"].endswith(unconfirmed_key(""))}


def _untimed(entry: dict) -> dict:
    return {name: value for name, value in entry.items() if not name.endswith(("_cpu_s", "_margin"))}


def _eval(results: dict) -> dict:
    return {task_id: [_untimed(entry) for entry in entries] for task_id, entries in results["eval"].items()}


def _expected_outputs(cache, dataset, monkeypatch) -> dict:
    """The reference solutions' outputs as cached in `cache` (without their times, which differ between runs)."""
    monkeypatch.setenv("SCODER_CACHE_DIR", str(cache))
    truth = GroundTruth(dataset)
    return {task_id: {kind: (expected.outputs, expected.first_float) for kind, expected in truth.get(task_id).items()}
            for task_id in dataset.problems if not truth.missing([task_id])}


def test_ray_verdicts_equal_local_ones(cluster, data_dir, conformance_dir, tmp_path, monkeypatch):
    layer = choose().layer
    samples, official, hostile = _samples(conformance_dir, tmp_path, layer)
    monkeypatch.setenv("SCODER_CACHE_DIR", str(tmp_path / "local-cache"))
    local = evaluate(HUMANEVAL_PLUS, samples, tmp_path / "local.json", data_dir, EvalSettings(), progress=False, execution=Execution(parallel=2))
    monkeypatch.setenv("SCODER_CACHE_DIR", str(tmp_path / "ray-cache"))  # the reference solutions run on the cluster too
    assert main(["eval", "--benchmark", "humaneval+", "--samples", str(samples), "--output", str(tmp_path / "ray.json"),
                 "--data-dir", str(data_dir), "--executor", "ray", "--ray-address", cluster, "--parallel", "1",
                 "--no-progress"]) == 0
    through_ray = json.loads((tmp_path / "ray.json").read_text())

    assert _eval(through_ray) == _eval(local)
    assert through_ray["pass_at_k"] == local["pass_at_k"]
    assert through_ray["scoder"]["isolation"] == local["scoder"]["isolation"]
    assert _journal(tmp_path / "ray.json") == _journal(tmp_path / "local.json")
    assert through_ray["scoder"]["worker_restarts"] == local["scoder"]["worker_restarts"] == 0, "a program brought a worker down"
    dataset = HUMANEVAL_PLUS.load(data_dir)
    expected = _expected_outputs(tmp_path / "ray-cache", dataset, monkeypatch)
    assert len(expected) == TASKS and expected == _expected_outputs(tmp_path / "local-cache", dataset, monkeypatch)
    # The verdicts are the real ones: evalplus' on the model's programs (HumanEval/0 also holds the hostile ones)...
    for task_id, entries in official["eval"].items():
        if task_id in through_ray["eval"]:
            ours = through_ray["eval"][task_id][:len(entries)]
            assert [(e["base_status"], e["plus_status"]) for e in ours] == [(e["base_status"], e["plus_status"]) for e in entries], task_id
    # ...and the right ones for the attacks.
    attacks = through_ray["eval"]["HumanEval/0"][-len(hostile):]
    wrong = {name: (entry["base_status"], entry["plus_status"], entry["base_error"]) for (name, (_, right)), entry
             in zip(hostile.items(), attacks, strict=True) if {entry["base_status"], entry["plus_status"]} - right}
    assert not wrong


def test_bigcodebench_verdicts_through_ray(cluster, data_dir, tmp_path):
    """Real Qwen2.5-Coder-1.5B programs for BigCodeBench/1-12 (../shared/conformance): unittest suites and
    waiting runs (idle workers per core) go through the cluster unchanged. BigCodeBench/0 is left out: its
    program shuffles without a seed, so even which of its tests fail changes from one run to the next."""
    try:
        BIGCODEBENCH.task_environment.python()
    except EnvironmentMissing as missing:
        pytest.skip(str(missing))
    lines = gzip.decompress((SHARED / "conformance" / "bigcodebench" / "qwen2.5-coder-1.5b-base.full.complete.samples.jsonl.gz")
                            .read_bytes()).decode().splitlines()[1:13]
    samples = tmp_path / "samples.jsonl"
    samples.write_text("\n".join(lines) + "\n")
    local = evaluate_bigcodebench(BIGCODEBENCH, samples, tmp_path / "local.json", str(data_dir),
                                  BigCodeBenchSettings(version="v0.1.0_hf"), progress=False, execution=Execution(parallel=2))
    through_ray = evaluate_bigcodebench(BIGCODEBENCH, samples, tmp_path / "ray.json", str(data_dir), BigCodeBenchSettings(version="v0.1.0_hf"),
                                        progress=False, execution=Execution(parallel=1, executor=Executor("ray", cluster)))
    # Statuses and failing tests; tracebacks may quote values that a program draws at random.
    def outcomes(results):
        return {task_id: [(entry["status"], sorted(entry["details"])) for entry in entries] for task_id, entries in results["eval"].items()}

    assert outcomes(through_ray) == outcomes(local) and through_ray["pass_at_k"] == local["pass_at_k"]
    assert {entries[0]["status"] for entries in local["eval"].values()} == {"pass", "fail"}


def test_livecodebench_verdicts_through_ray(cluster, tmp_path):
    """The LiveCodeBench format fixtures (hand-written, NOT real LiveCodeBench data): right, wrong, looping
    and cheating programs of both styles."""
    samples = write_samples(tmp_path / "samples.jsonl", CORRECT)
    with open(samples, "a") as handle:
        handle.write("".join(json.dumps({"task_id": task_id, "solution": code}) + "\n" for task_id, code in {**WRONG, **CHEATS}.items()))
    settings = LiveCodeBenchSettings(release="release_v2", test_timeout_s=2)
    local = evaluate_livecodebench(samples, tmp_path / "local.json", str(FIXTURES), settings, progress=False, execution=Execution(parallel=1))
    through_ray = evaluate_livecodebench(samples, tmp_path / "ray.json", str(FIXTURES), settings, progress=False,
                                         execution=Execution(parallel=1, executor=Executor("ray", cluster)))
    # Equal but for the margins, which hold times measured in each run.
    def verdicts(results):
        return {task_id: [{key: value for key, value in entry.items() if key != "margin"} for entry in entries]
                for task_id, entries in results["eval"].items()}

    assert verdicts(through_ray) == verdicts(local) and through_ray["pass_at_k"] == local["pass_at_k"]
    assert {entry["status"] for entries in local["eval"].values() for entry in entries} == {"pass", "fail", "timeout"}


def test_journal_resumes_across_executors(cluster, data_dir, conformance_dir, tmp_path):
    """A run started on this machine finishes on the cluster: the journal is the same for both."""
    samples, _, _ = _samples(conformance_dir, tmp_path, choose().layer)
    lines = samples.read_text().splitlines(keepends=True)
    samples.write_text("".join(lines[:5]))  # the samples file as it was when the run started here
    output = tmp_path / "results.json"
    evaluate(HUMANEVAL_PLUS, samples, output, data_dir, EvalSettings(), progress=False, execution=Execution(parallel=1))
    samples.write_text("".join(lines))
    done = _journal(output)
    resumed = evaluate(HUMANEVAL_PLUS, samples, output, data_dir, EvalSettings(), progress=False,
                       execution=Execution(parallel=1, executor=Executor("ray", cluster)))
    after = _journal(output)
    assert {key: after[key] for key in done} == done
    assert len(after) == len({(line["task_id"], line["solution"]) for line in map(json.loads, lines)})
    assert resumed["scoder"]["n_samples"] == len(lines)


def test_pool_spans_the_nodes_and_says_so(cluster):
    # Each run burns 0.2 s of CPU and returns its input; which actor ran it is read off the pool's books.
    burn = "import time\ndef f(x):\n    start = time.process_time()\n    while time.process_time() - start < 0.2:\n        pass\n    return x\n"
    ray.init(address=cluster)
    try:
        with RayPool(None, choose(), Limits()) as pool:
            described = pool.describe()
            for number in range(8):
                pool.submit((number, Run(burn, "f", f"[[{number}]]".encode(), None, 10.0, 30.0), functools.partial(ReferenceRecorder, 1)))
            ran_on, results = {}, {}
            while len(results) < 8:  # at most two runs per node are in flight: look again after each result
                ran_on.update({reference: actor for reference, (_, _, actor) in pool.running.items()})
                number, recorder = pool.next_result()
                results[number] = recorder
        assert described["nodes"] == 2 and described["workers"] == 2
        assert described["isolation"] == choose().layer
        assert sorted(ran_on.values()) == [0, 0, 0, 0, 1, 1, 1, 1], "runs are spread over both nodes"
        assert {number: recorder.outputs for number, recorder in results.items()} == {n: [str(n).encode()] for n in range(8)}
        assert ray.is_initialized(), "a pool must not shut down a Ray connection it did not open"
    finally:
        ray.shutdown()


def test_a_node_without_the_sandbox_is_an_error(cluster, monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", cluster)  # also how a cluster is named without --ray-address
    with pytest.raises(SandboxError, match="did not start on a Ray node: .*nonexistent/python3"):
        RayPool(1, Sandbox("process", python="/nonexistent/python3"), Limits())
    assert not ray.is_initialized(), "the pool closes the connection it opened, also when it fails"


def test_executor_arguments_are_checked():
    with pytest.raises(ValueError, match="unknown executor"):
        Executor("dask")
    with pytest.raises(ValueError, match="needs the ray executor"):
        Executor("local", "ray://head:10001")
    assert main(["eval", "--benchmark", "humaneval+", "--samples", "x.jsonl", "--ray-address", "ray://head:10001"]) == 2
