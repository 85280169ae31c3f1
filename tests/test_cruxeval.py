"""CRUXEval (harness/benchmarks/cruxeval/): its data, upstream's prompts and answer extraction, upstream's grading rules
run in our sandbox (hostile answers included), the conformance with upstream's own verdicts, and the command line,
report and export it reaches through the registry alone."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import numpy as np
import pytest

from harness.benchmarks.registry import get_benchmark, parse_options, resolve
from harness.benchmarks.cruxeval import CRUXEVAL_I, CRUXEVAL_O
from harness.benchmarks.cruxeval.prompts import INPUT, OUTPUT, prompt_set, question
from harness.benchmarks.cruxeval.tasks import DATA, load_tasks
from harness.benchmarks.data import DataError
from harness.cli import main
from harness.evaluation import Execution
from harness.execution.sandbox import LAYERS, works
from harness.metrics import mean_pass_at_k
from harness.report.runs import _tasks
from tests.conftest import SHARED

UPSTREAM = SHARED / "conformance" / "cruxeval" / "codellama-7b_temp0.2_input.scored.json.gz"
# A fixed tenth of the 800 tasks (sample_2, sample_10, ... sample_794): the full file takes 80 s at parallel 2 on the
# project's machine, 37 s of it re-checking the 12 distinct answers that time out; this slice holds 2 of them
# (sample_210) and runs in seconds. benchmarks/cruxeval_vs_upstream.py runs all 800.
CONFORMANCE_TASKS = [f"sample_{number}" for number in range(2, 800, 8)]
# sample_0: def f(nums) counting each number, sorted; every permutation of its input gives its output.
SAMPLE_0_INPUT = "[1, 1, 3, 1, 3, 1]"
SAMPLE_0_OUTPUT = "[(4, 1), (4, 1), (4, 1), (4, 1), (2, 3), (2, 3)]"


def upstream_pass_at_k(n: int, c: int, k: int) -> float:
    """evaluation/utils_general.py lines 6-8 at commit 190faf1, as written there."""
    if n - c < k: return 1.0  # noqa: E701
    return 1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1))


def write_samples(path: Path, answers: list[tuple[str, str]], generation: dict | None = None) -> Path:
    path.write_text("".join(json.dumps({"task_id": task_id, "solution": answer, **({"generation": generation} if generation else {})}) + "\n"
                            for task_id, answer in answers))
    return path


@pytest.fixture(scope="module")
def tasks(data_dir):
    return load_tasks(str(data_dir))


# ------------------------------------------------------------------------------------------------------------- data

def test_the_800_tasks_load_in_upstreams_order(tasks):
    assert list(tasks) == [f"sample_{number}" for number in range(800)]
    first = tasks["sample_0"]
    assert first.code.startswith("def f(nums):") and (first.input, first.output) == (SAMPLE_0_INPUT, SAMPLE_0_OUTPUT)


def test_the_data_is_pinned_by_the_published_checksum(data_dir, tmp_path):
    readme = (SHARED / "benchmarks" / "README.md").read_text()
    assert re.search(r"\| cruxeval\.jsonl\.gz \|.*sha256 (\w+)", readme).group(1) == DATA.sha256
    plain = gzip.decompress((data_dir / "cruxeval.jsonl.gz").read_bytes())
    (tmp_path / "cruxeval.jsonl").write_bytes(plain)  # as upstream publishes it, found as well as the gzipped copy
    assert len(load_tasks(str(tmp_path))) == 800
    (tmp_path / "cruxeval.jsonl").write_bytes(plain.replace(b"def f(nums)", b"def f(xs)", 1))
    with pytest.raises(DataError, match="pinned to"):
        load_tasks(str(tmp_path))


# ---------------------------------------------------------------------------------------------------------- prompts

SAMPLE_0_OUTPUT_PROMPT = '''You are given a Python function and an assertion containing an input to the function. Complete the assertion with a literal (no unsimplified expressions, no function calls) containing the output when executing the provided code on the given input, even if the function is incorrect or incomplete. Do NOT output any extra information. Provide the full assertion with the correct output in [ANSWER] and [/ANSWER] tags, following the examples.

[PYTHON]
def f(n):
    return n
assert f(17) == ??
[/PYTHON]
[ANSWER]
assert f(17) == 17
[/ANSWER]

[PYTHON]
def f(s):
    return s + "a"
assert f("x9j") == ??
[/PYTHON]
[ANSWER]
assert f("x9j") == "x9ja"
[/ANSWER]

[PYTHON]
def f(nums):
    output = []
    for n in nums:
        output.append((nums.count(n), n))
    output.sort(reverse=True)
    return output
assert f([1, 1, 3, 1, 3, 1]) == ??
[/PYTHON]
[ANSWER]
'''

SAMPLE_0_INPUT_PROMPT = '''You will be given a function f and an output in the form f(??) == output. Find any input such that executing f on the input leads to the given output. There may be multiple answers, but you should only output one. In [ANSWER] and [/ANSWER] tags, complete the assertion with one such input that will produce the output when executing the function.

[PYTHON]
def f(my_list):
    count = 0
    for i in my_list:
        if len(i) % 2 == 0:
            count += 1
    return count
assert f(??) == 3
[/PYTHON]
[ANSWER]
assert f(["mq", "px", "zy"]) == 3
[/ANSWER]

[PYTHON]
def f(s1, s2):
    return s1 + s2
assert f(??) == "banana"
[/PYTHON]
[ANSWER]
assert f("ba", "nana") == "banana"
[/ANSWER]

[PYTHON]
def f(nums):
    output = []
    for n in nums:
        output.append((nums.count(n), n))
    output.sort(reverse=True)
    return output
assert f(??) == [(4, 1), (4, 1), (4, 1), (4, 1), (2, 3), (2, 3)]
[/PYTHON]
[ANSWER]
'''


def test_prompts_are_upstreams_text(tasks):
    assert question(tasks["sample_0"], OUTPUT, False) == SAMPLE_0_OUTPUT_PROMPT
    assert question(tasks["sample_0"], INPUT, False) == SAMPLE_0_INPUT_PROMPT
    cot = question(tasks["sample_0"], INPUT, True)
    # Upstream's chain-of-thought example has two lines ending in a space, and the prompt ends inviting the thought.
    assert "We know that f(??) == 17. \n\nSince" in cot and "the value of ?? should be 16. \n[/THOUGHT]" in cot
    assert cot.endswith("assert f(??) == [(4, 1), (4, 1), (4, 1), (4, 1), (2, 3), (2, 3)]\n[/PYTHON]\n[THOUGHT]\n")
    assert question(tasks["sample_0"], OUTPUT, True).endswith("assert f([1, 1, 3, 1, 3, 1]) == ??\n[/PYTHON]\n[THOUGHT]\n")


def test_base_and_chat_forms(tasks):
    base, chat = prompt_set(tasks, OUTPUT, False, chat=False), prompt_set(tasks, OUTPUT, False, chat=True)
    assert (base.format, chat.format, len(base.prompts)) == ("cruxeval-output-base", "cruxeval-output-chat", 800)
    assert base.prompts[0].text == SAMPLE_0_OUTPUT_PROMPT and base.prompts[0].stop == ("[/ANSWER]",)
    system, user = chat.prompts[0].messages
    assert system == {"role": "system", "content": "You are an expert at Python programming, code execution, test case generation, and fuzzing."}
    assert user == {"role": "user", "content": SAMPLE_0_OUTPUT_PROMPT} and chat.prompts[0].stop == ("[/ANSWER]",)
    assert prompt_set(tasks, INPUT, True, chat=False).format == "cruxeval-input-cot-base"
    assert (base.default_max_new_tokens, prompt_set(tasks, INPUT, True, chat=True).default_max_new_tokens) == (1024, 2048)


# ------------------------------------------------------------------------------------------------------- extraction

@pytest.mark.parametrize("mode, cot, chat, output, answer", [
    # direct: the assertion's right side (output prediction) or its call (input prediction), cut at the stop
    (OUTPUT, False, False, f"assert f({SAMPLE_0_INPUT}) == {SAMPLE_0_OUTPUT}\n[/ANSWER]\n\n[PYTHON]", SAMPLE_0_OUTPUT),
    (INPUT, False, False, f"assert f({SAMPLE_0_INPUT}) == {SAMPLE_0_OUTPUT}\n[/ANSWER]", f"f({SAMPLE_0_INPUT})"),
    (INPUT, False, True, f"assert f([3, 1]) == {SAMPLE_0_OUTPUT}", "f([3, 1])"),
    (OUTPUT, False, True, "no assertion at all", "no assertion at all"),
    # upstream cuts at the first ==, also one inside the answer
    (OUTPUT, False, False, "assert f('a') == 'a==b'", "'a"),
    # chain of thought: what follows [ANSWER]; without one, base models' rule reads it all, chat models' the last line
    (OUTPUT, True, False, "s becomes 'ab'.\n[/THOUGHT]\n[ANSWER]\nassert f('a') == 'ab'\n[/ANSWER]", "'ab'"),
    (INPUT, True, True, "so ?? is 16\n[/THOUGHT]\n[ANSWER]\nassert f(16) == 17\n", "f(16)"),
    (OUTPUT, True, False, "it returns 3, so\nassert f(1) == 3", "3"),
    (OUTPUT, True, True, "it returns 3, so\nassert f(1) == 3\nthat is all", "that is all"),
    # a tab inside a string is part of the answer, not indentation
    (OUTPUT, False, True, "assert f(1) == 'a\tb'", "'a\tb'"),
])
def test_answers_are_cut_out_as_upstream_does(tasks, mode, cot, chat, output, answer):
    prompts = prompt_set(tasks, mode, cot, chat)
    solution, raw = prompts.program(prompts.prompts[0], output)
    assert solution == answer
    assert raw == (output.split("[/ANSWER]")[0] if chat else prompts.prompts[0].text + output.split("[/ANSWER]")[0])


def test_sanitize_cuts_the_answer_out_of_raw_outputs(tasks, data_dir, tmp_path, capsys):
    """A base model's raw output holds its prompt: sanitize, which reads it with the chat prompts, drops it first."""
    base = prompt_set(tasks, INPUT, False, chat=False)
    raw = base.prompts[0].text + f"assert f([1, 3, 1, 3, 1, 1]) == {SAMPLE_0_OUTPUT}\n"
    samples = tmp_path / "raw.jsonl"
    samples.write_text(json.dumps({"task_id": "sample_0", "solution": raw}) + "\n"
                       + json.dumps({"task_id": "sample_1", "solution": "[ANSWER]\nassert f('x') == 'y'\n"}) + "\n")
    assert main(["sanitize", "--benchmark", "cruxeval-i", "--samples", str(samples), "--data-dir", str(data_dir)]) == 0
    sanitized = [json.loads(line) for line in (tmp_path / "raw-sanitized.jsonl").read_text().splitlines()]
    assert [line["solution"] for line in sanitized] == ["f([1, 3, 1, 3, 1, 1])", "f('x')"]
    assert sanitized[0]["sanitized"]["extraction"] == "cruxeval-input"


# ----------------------------------------------------------------------------------------------------- grading rules

OUTPUT_RULES = {  # answer to sample_0's output prediction -> (passed, status, why)
    SAMPLE_0_OUTPUT: (True, "pass", "right"),
    "[(4, 1)]": (False, "fail", "wrong: the assert fails"),
    f"f({SAMPLE_0_INPUT})": (False, "fail", "holds the call on the input: not run (it would pass)"),
    f"sorted(f({SAMPLE_0_INPUT}), reverse=True)": (False, "fail", "holds the call on the input: not run"),
    "f([1,1,3,1,3,1])": (True, "pass", "the rule is upstream's, textual: the call written otherwise runs, and passes"),
    "[(4, 1)": (False, "fail", "a syntax error"),
    "[] or True": (True, "pass", "upstream pastes the answer into its assert: `assert o == [] or True` holds"),
    "[(4, 1)], 'a message'": (False, "fail", "an assert message: the comparison still decides"),
    "1 / 0": (False, "fail", "raises"),
}
INPUT_RULES = {  # answer to sample_0's input prediction -> (passed, status, why)
    f"f({SAMPLE_0_INPUT})": (True, "pass", "the task's input"),
    "f([3, 3, 1, 1, 1, 1])": (True, "pass", "any input giving the output passes"),
    "f([1])": (False, "fail", "wrong"),
    SAMPLE_0_INPUT: (False, "fail", "no call of f: not run"),
    "f(": (False, "fail", "a syntax error"),
}


def evaluated(benchmark, answers, tmp_path: Path, data_dir, name: str, isolation: str = "auto") -> dict:
    """The results of `answers` to sample_0, evaluated through the benchmark as `scoder eval` does."""
    samples = write_samples(tmp_path / f"{name}.jsonl", [("sample_0", answer) for answer in answers])
    return benchmark.evaluate(str(samples), str(tmp_path / f"{name}.results.json"), parse_options(["--data-dir", str(data_dir)]),
                              Execution(parallel=2, isolation=isolation), progress=False)


@pytest.mark.parametrize("benchmark, rules", [(CRUXEVAL_O, OUTPUT_RULES), (CRUXEVAL_I, INPUT_RULES)], ids=["output", "input"])
def test_each_grading_rule(benchmark, rules, tmp_path, data_dir):
    results = evaluated(benchmark, rules, tmp_path, data_dir, benchmark.name)
    entries = results["eval"]["sample_0"]
    got = {entry["solution"]: (entry["passed"], entry["status"]) for entry in entries}
    assert got == {answer: (passed, status) for answer, (passed, status, _) in rules.items()}
    refused = [entry["solution"] for entry in entries if (entry["reason"] or "").startswith("not run")]
    assert refused == [answer for answer, (*_, why) in rules.items() if "not run" in why]
    n, c = len(rules), sum(passed for passed, _, _ in rules.values())
    assert results["pass_at_k"] == pytest.approx({"pass@1": upstream_pass_at_k(n, c, 1), "pass@5": upstream_pass_at_k(n, c, 5)})


def test_pass_at_5_needs_five_answers_per_task(tmp_path, data_dir):
    results = evaluated(CRUXEVAL_O, [SAMPLE_0_OUTPUT], tmp_path, data_dir, "one")
    assert results["pass_at_k"] == {"pass@1": 1.0}  # upstream would also say pass@5 = 100 for a task of one answer


def hostile_answers(canary: Path) -> dict[str, str]:
    """Output predictions for sample_0 that attack; none may pass, and the harness must not notice them otherwise."""
    return {
        "loops forever": "[x for x in iter(int, 1)]",
        "writes a file outside": f"__import__('pathlib').Path({str(canary / 'written')!r}).write_text('x')",
        "kills its parent": "__import__('ctypes').CDLL(None).kill(__import__('os').getppid(), 9)",
        "starts a process": f"__import__('ctypes').CDLL(None).system(b'touch {canary / 'started'}')",
        "ends before the assert": "__import__('os')._exit(0)",
        "exits cleanly": "exit(0)",
        "fills memory": "' ' * (1 << 40)",
        "reads stdin": "input()",
    }


@pytest.mark.parametrize("layer", [layer for layer in LAYERS if works(layer)])
def test_hostile_answers_are_contained(layer, tmp_path, data_dir):
    canary = tmp_path / "outside"
    canary.mkdir()
    answers = hostile_answers(canary)
    results = evaluated(CRUXEVAL_O, list(answers.values()), tmp_path, data_dir, "hostile", isolation=layer)
    verdicts = dict(zip(answers, results["eval"]["sample_0"], strict=True))
    assert {name for name, entry in verdicts.items() if entry["passed"]} == set()
    # Still running at twice its 3 s: final in that one run, since no machine twice as fast would finish it.
    assert verdicts["loops forever"]["status"] == "timeout"
    assert verdicts["loops forever"]["margin"]["ratio"] >= 2 and verdicts["loops forever"]["margin"]["final"]
    assert results["scoder"]["timeouts"] == {"rechecked": 0, "confirmed": 0}
    [layers] = results["scoder"]["isolation"]  # the layer with seccomp and Landlock where they apply: "bwrap+seccomp+landlock"
    assert results["scoder"]["worker_restarts"] == 0 and layers.split("+")[0] == layer
    assert list(canary.iterdir()) == []


def test_a_repeated_run_reuses_every_verdict_from_the_journal(tmp_path, data_dir, capsys):
    samples = write_samples(tmp_path / "s.jsonl", [("sample_0", SAMPLE_0_OUTPUT)] * 3 + [("sample_1", "'x'")])
    command = ["eval", "--benchmark", "cruxeval-o", "--samples", str(samples), "--data-dir", str(data_dir), "--no-progress",
               "--parallel", "2", "--allow-repeated-samples"]
    assert main(command) == 0
    first = capsys.readouterr().out
    assert "resumed" not in first  # a repeated answer runs once, and was reused from nowhere
    assert main(command) == 0
    assert "resumed: 4 of 4 samples' verdicts reused" in capsys.readouterr().out


def test_completions_are_refused_with_the_fix(tmp_path, data_dir, capsys):
    samples = tmp_path / "c.jsonl"
    samples.write_text(json.dumps({"task_id": "sample_0", "completion": "assert f(1) == 2"}) + "\n")
    assert main(["eval", "--benchmark", "cruxeval-o", "--samples", str(samples), "--data-dir", str(data_dir), "--no-progress"]) == 2
    assert "scoder sanitize --benchmark cruxeval-o" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------------ conformance

@pytest.fixture(scope="module")
def conformance(data_dir, tmp_path_factory):
    """Upstream's CodeLlama-7B input predictions of CONFORMANCE_TASKS scored by `scoder eval` in a run folder, the
    samples marked as upstream made them (its inference scripts: vLLM, base prompt, temperature 0.2, 10 per task)."""
    if not UPSTREAM.is_file():
        pytest.fail(f"CRUXEval conformance data not found: {UPSTREAM}")
    upstream = json.loads(gzip.decompress(UPSTREAM.read_bytes()))
    run = tmp_path_factory.mktemp("cruxeval-run")
    generation = {"model": "codellama/CodeLlama-7b-hf", "adapter": None, "backend": "vllm", "prompt_format": "cruxeval-input-base",
                  "decoding": {"n": 10, "temperature": 0.2, "top_p": 0.95}}
    samples = write_samples(run / "cruxeval-i.samples.jsonl",
                            [(task_id, answer) for task_id in CONFORMANCE_TASKS for answer in upstream["raw_generations"][task_id]],
                            generation)
    assert main(["eval", "--benchmark", "cruxeval-i", "--samples", str(samples), "--data-dir", str(data_dir), "--parallel", "2",
                 "--no-progress"]) == 0
    results = json.loads((run / "cruxeval-i.samples_cruxeval-i_eval_results.json").read_text())
    return upstream, results, run


def test_every_verdict_is_upstreams(conformance):
    upstream, results, _ = conformance
    ours = {task_id: [entry["passed"] for entry in entries] for task_id, entries in results["eval"].items()}
    assert ours == {task_id: upstream["raw_scored_generations"][task_id] for task_id in CONFORMANCE_TASKS}
    assert sum(map(len, ours.values())) == 10 * len(CONFORMANCE_TASKS)
    assert {entry["status"] for entries in results["eval"].values() for entry in entries} == {"pass", "fail", "timeout"}
    counts = [(len(verdicts), sum(verdicts)) for verdicts in ours.values()]
    assert results["pass_at_k"] == pytest.approx({f"pass@{k}": float(np.mean([upstream_pass_at_k(n, c, k) for n, c in counts]))
                                                  for k in (1, 5)})


def test_pass_at_k_of_upstreams_verdicts_is_upstreams_score():
    """Over all 800 tasks (their execution is benchmarks/cruxeval_vs_upstream.py's): upstream's 35.95 and 44.99."""
    upstream = json.loads(gzip.decompress(UPSTREAM.read_bytes()))
    scores = mean_pass_at_k([(len(verdicts), sum(verdicts)) for verdicts in upstream["raw_scored_generations"].values()], ks=(1, 5))
    assert (round(100 * scores["pass@1"], 2), round(100 * scores["pass@5"], 2)) == (35.95, 44.99)
    assert 100 * scores["pass@1"] == pytest.approx(upstream["pass_at_1"]) and 100 * scores["pass@5"] == pytest.approx(upstream["pass_at_5"])


# ---------------------------------------------------------------------------------------- command line, report, export

def test_the_registry_knows_both_and_their_variant():
    assert get_benchmark("CRUXEval-O") is CRUXEVAL_O and get_benchmark("cruxeval-i") is CRUXEVAL_I
    assert resolve("cruxeval-i:cot") == (CRUXEVAL_I, {"cot": True})
    with pytest.raises(ValueError, match="the one variant is cot"):
        resolve("cruxeval-o:fewshot")


def test_report_column(conformance, tmp_path):
    _, results, run = conformance
    assert main(["report", str(run), "--no-baselines", "--output", str(tmp_path / "report")]) == 0
    table = (tmp_path / "report" / "report.md").read_text()
    score = f"{100 * results['pass_at_k']['pass@1']:.1f}"
    assert "CRUXEval-I 190faf1, 100 of 800 tasks" in table and "pass@1, n=10, T=0.2, top-p 0.95" in table and score in table


def test_a_run_of_the_first_tasks_reads_as_such():
    """CRUXEval's ids are sample_N: in the order of their text, sample_9 came after sample_100, and a run of the first
    12 tasks read as a set of 12."""
    per_task = {f"sample_{number}": [] for number in range(12)}
    assert _tasks(per_task, {"missing_tasks": [f"sample_{number}" for number in range(12, 800)]}) == "first 12 of 800 tasks"
    gap = {f"sample_{number}": [] for number in range(13) if number != 3}
    assert _tasks(gap, {"missing_tasks": ["sample_3"] + [f"sample_{number}" for number in range(13, 800)]}).startswith("12 of 800 tasks (set ")


def test_export_in_upstreams_files(conformance, tmp_path, capsys):
    upstream, results, run = conformance
    out = tmp_path / "export"
    assert main(["export", "cruxeval", str(run), "--output", str(out)]) == 2
    assert "no CRUXEval export from a partial run" in capsys.readouterr().err
    assert main(["export", "cruxeval", str(run), "--output", str(out), "--allow-partial"]) == 0
    stem = "codellama--CodeLlama-7b-hf_temp0.2_input"
    generations = json.loads((out / "model_generations" / stem / "generations.json").read_text())
    scored = json.loads((out / "evaluation_results" / f"{stem}.json").read_text())
    assert generations == {task_id: upstream["raw_generations"][task_id] for task_id in CONFORMANCE_TASKS}
    assert scored["raw_generations"] == generations
    assert scored["raw_scored_generations"] == {task_id: upstream["raw_scored_generations"][task_id] for task_id in CONFORMANCE_TASKS}
    assert scored["pass_at_1"] == pytest.approx(100 * results["pass_at_k"]["pass@1"])
    assert scored["partial"] == ["cruxeval-i: 700 of 800 tasks have no samples"]
    manifest = json.loads((out / "scoder_export.json").read_text())
    assert manifest["leaderboard"] == "cruxeval" and manifest["model_name"] == "codellama/CodeLlama-7b-hf"


def test_data_command(data_dir, capsys):
    assert main(["data", "cruxeval-o", "--data-dir", str(data_dir)]) == 0
    assert "cruxeval-o: cruxeval.jsonl ok (800 tasks" in capsys.readouterr().out


def test_generate_and_eval_with_the_embedded_model(data_dir, tmp_path, capsys):
    """The usual generation path: the registry's prompts, the backend, the answer cut out, then eval."""
    from harness.generation.models import EMBEDDED_DEFAULT

    samples = tmp_path / "s.jsonl"
    assert main(["generate", "--benchmark", "cruxeval-o", "--model", EMBEDDED_DEFAULT, "--limit", "1", "--max-new-tokens", "16",
                 "--data-dir", str(data_dir), "--output", str(samples), "--no-progress"]) == 0
    lines = [json.loads(line) for line in samples.read_text().splitlines()]
    assert [line["task_id"] for line in lines] == ["sample_0"]
    assert lines[0]["generation"]["prompt_format"] == "cruxeval-output-chat"
    assert main(["eval", "--benchmark", "cruxeval-o", "--samples", str(samples), "--data-dir", str(data_dir), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "CRUXEval-O: 1 samples on 1 of 800 tasks (PARTIAL" in out and "pass@1" in out
