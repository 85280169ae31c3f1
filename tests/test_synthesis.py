"""The synthesis task format, training examples, dedup and decontamination (real benchmark data where it
is available: SCODER_DATA_DIR, else ../shared/benchmarks)."""

import os
import random
import re
from pathlib import Path

import pytest

from scoder.snippets import SnippetConfig, load_snippets
from scoder.synthesis import (
    DecontaminationConfig,
    DedupConfig,
    SynthesisOutput,
    SynthesisTemplate,
    benchmark_texts,
    decontaminate,
    deduplicate,
    instruction_example,
    parse_response,
    render_response,
    request_messages,
    synthesizer_example,
)

REPO = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("SCODER_DATA_DIR") or REPO.parent / "shared" / "benchmarks")
LCB_FIXTURES = REPO / "tests" / "fixtures" / "livecodebench"
needs_benchmark_data = pytest.mark.skipif(
    not (DATA_DIR / "HumanEvalPlus-v0.1.10.jsonl.gz").is_file(),
    reason=f"benchmark data not found in {DATA_DIR}: set SCODER_DATA_DIR to the folder of upstream files",
)

MERGE_PROBLEM = (
    "Write a function `merge_intervals(intervals)` that takes a list of `[start, end]` pairs of integers and "
    "returns a new list in which all overlapping intervals have been merged into one. The returned list must be "
    "sorted by start. Intervals that only touch, such as `[1, 2]` and `[2, 3]`, count as overlapping and are "
    "merged into `[1, 3]`. The input list must not be modified, and an empty input gives an empty list."
)
MERGE_SOLUTION = """def merge_intervals(intervals):
    merged = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged"""
PREFIX_PROBLEM = (
    "Given a list of strings, return the longest string that is a prefix of every one of them. Return an empty "
    "string when the list is empty or the strings share no first character. Implement `common_prefix(words)`."
)
PREFIX_SOLUTION = """def common_prefix(words):
    if not words:
        return ""
    shortest = min(words, key=len)
    for index, char in enumerate(shortest):
        if any(word[index] != char for word in words):
            return shortest[:index]
    return shortest"""


# ------------------------------------------------------------------------------------------- the format

def test_request_shows_the_snippet_and_names_both_sections():
    snippet = "def area(r):\n    return {'pi': 3.14}['pi'] * r * r"
    system, user = request_messages(snippet)
    assert system["role"] == "system" and user["role"] == "user"
    assert snippet in user["content"]  # braces in the snippet survive formatting
    assert "[Problem Description]" in user["content"] and "[Solution]" in user["content"]
    assert "```python" in user["content"]
    with pytest.raises(ValueError):
        SynthesisTemplate(user="no place for the snippet")


@pytest.mark.parametrize("problem, solution, code", [
    (MERGE_PROBLEM, MERGE_SOLUTION, MERGE_SOLUTION),
    ("\n  " + PREFIX_PROBLEM + "\n", "\n\n" + PREFIX_SOLUTION + "\n\n", PREFIX_SOLUTION),
    # A problem with its own code block, a comment and a sentence that look like headers; indented code.
    ("Complete the stub below.\n\nSolution: keep it short.\n\n```python\ndef f(x):\n    # Solution goes here\n```",
     "    def f(x):\n        return x\n", "def f(x):\n    return x"),
])
def test_parse_inverts_render(problem, solution, code):
    assert parse_response(render_response(problem, solution)) == SynthesisOutput(problem.strip(), code)


def test_a_custom_template_round_trips():
    template = SynthesisTemplate(problem_header="[Problem]", solution_header="[Answer]")
    text = render_response(PREFIX_PROBLEM, PREFIX_SOLUTION, template)
    assert text.startswith("[Problem]\n") and "\n[Answer]\n```python\n" in text
    assert parse_response(text, template) == SynthesisOutput(PREFIX_PROBLEM, PREFIX_SOLUTION)
    assert parse_response(text) is None  # the default headers are not there


# Hand-written imitations of model outputs (not real model samples): the layouts models produce.
MESSY = {
    "chatty, markdown headers, explanation after the code": (
        "Sure! Here is a problem inspired by the snippet.\n\n## Problem Description\n"
        "Write `double(xs)` returning every number of `xs` doubled.\n\n## Solution\n"
        "Here is one way to do it:\n\n```python\ndef double(xs):\n    return [2 * x for x in xs]\n```\n\n"
        "This runs in linear time.\n",
        "Write `double(xs)` returning every number of `xs` doubled.",
        "def double(xs):\n    return [2 * x for x in xs]",
    ),
    "bold bracketed headers with colons, text on the header line, py tag": (
        "**[Problem Description]:** Write `is_even(n)`.\n\n---\n\n**[Solution]:**\n```py\ndef is_even(n):\n"
        "    return n % 2 == 0\n```",
        "Write `is_even(n)`.",
        "def is_even(n):\n    return n % 2 == 0",
    ),
    "lower case headers, numbered, unclosed fence": (
        "1. [problem description]\nReturn the sum of a list.\n\n2. [SOLUTION]\n```python\ndef total(xs):\n"
        "    return sum(xs)\n",
        "Return the sum of a list.",
        "def total(xs):\n    return sum(xs)",
    ),
    "bare headers with colons, a shell block before the code": (
        "Problem Description:\nParse a port number from text.\n\nSolution:\n```bash\npip install nothing\n```\n"
        "```python\ndef port(text):\n    return int(text)\n```",
        "Parse a port number from text.",
        "def port(text):\n    return int(text)",
    ),
    "no fence at all": (
        "[Problem Description]\nReturn x squared.\n[Solution]\ndef square(x):\n    return x * x\n",
        "Return x squared.",
        "def square(x):\n    return x * x",
    ),
    "a small model starting over after its solution": (
        "[Problem Description]\nReverse a string.\n[Solution]\n```python\ndef rev(s):\n    return s[::-1]\n```\n"
        "[Problem Description]\nReverse a string again.\n[Solution]\n```python\npass\n```",
        "Reverse a string.",
        "def rev(s):\n    return s[::-1]",
    ),
}


@pytest.mark.parametrize("name", MESSY)
def test_parse_handles_messy_answers(name):
    text, problem, solution = MESSY[name]
    assert parse_response(text) == SynthesisOutput(problem, solution)


@pytest.mark.parametrize("text", [
    "Here is a nice problem: reverse a string.\n```python\ndef rev(s):\n    return s[::-1]\n```",  # no sections
    "[Problem Description]\nReverse a string.\n",  # no solution
    "[Problem Description]\n\n[Solution]\n```python\ndef rev(s):\n    return s[::-1]\n```",  # empty problem
    "[Problem Description]\nReverse a string.\n[Solution]\n```python\n```",  # empty code
    "[Problem Description]\nReverse a string.\n[Solution]\n```javascript\nconst rev = s => s;\n```",  # wrong language
    "[Solution]\n```python\nx = 1\n```\n[Problem Description]\nSet x.",  # solution before the problem
])
def test_parse_rejects_answers_without_both_parts(text):
    assert parse_response(text) is None


def test_training_examples_are_trl_conversational_prompt_completion():
    snippet = "def area(r):\n    return 3.14 * r * r"
    example = synthesizer_example(snippet, MERGE_PROBLEM, MERGE_SOLUTION)
    assert example["prompt"] == request_messages(snippet)
    [answer] = example["completion"]
    assert answer["role"] == "assistant"
    assert parse_response(answer["content"]) == SynthesisOutput(MERGE_PROBLEM, MERGE_SOLUTION)

    instruction = instruction_example(MERGE_PROBLEM, MERGE_SOLUTION)
    assert instruction == {"prompt": [{"role": "user", "content": MERGE_PROBLEM}],
                           "completion": [{"role": "assistant", "content": f"```python\n{MERGE_SOLUTION}\n```"}]}
    data_utils = pytest.importorskip("trl.data_utils")
    assert data_utils.is_conversational(example) and data_utils.is_conversational(instruction)


# ------------------------------------------------------------------------------------------------ dedup

def _record(problem: str, solution: str, name: str) -> dict:
    return {"id": name, "problem": problem, "solution": solution}


def _jaccard(first: str, second: str, n: int = 5) -> float:
    def shingles(text):
        words = re.findall(r"\w+", text.lower())
        return {tuple(words[index:index + n]) for index in range(len(words) - n + 1)}
    a, b = shingles(first), shingles(second)
    return len(a & b) / len(a | b)


def test_exact_and_near_duplicates_are_removed_distinct_records_kept():
    original = _record(MERGE_PROBLEM, MERGE_SOLUTION, "original")
    spaced = _record("  " + MERGE_PROBLEM.replace(". ", ".\n\n"), MERGE_SOLUTION.replace("\n", "  \n\n") + "\n", "spaced")
    renamed = _record(MERGE_PROBLEM, MERGE_SOLUTION.replace("(intervals)", "(spans)"), "renamed")
    assert _jaccard(MERGE_PROBLEM + MERGE_SOLUTION, renamed["problem"] + renamed["solution"]) > 0.8  # the premise
    other = _record(PREFIX_PROBLEM, PREFIX_SOLUTION, "other")
    same_problem_new_solution = _record(MERGE_PROBLEM, PREFIX_SOLUTION, "mixed")
    records = [original, spaced, other, renamed, same_problem_new_solution]

    kept, counts = deduplicate(records)
    assert [record["id"] for record in kept] == ["original", "other", "mixed"]
    assert counts == {"exact": 1, "near": 1}

    kept, counts = deduplicate(records, DedupConfig(near=False))
    assert [record["id"] for record in kept] == ["original", "other", "renamed", "mixed"]
    assert counts == {"exact": 1, "near": 0}

    kept, counts = deduplicate(records, DedupConfig(fields=("problem",)))  # keyed on the problem alone
    assert [record["id"] for record in kept] == ["original", "other"]
    assert counts == {"exact": 3, "near": 0}
    assert deduplicate([]) == ([], {"exact": 0, "near": 0})


def test_near_duplicates_follow_the_jaccard_threshold_on_real_code():
    # Variants of standard-library functions with lines deleted: their true 5-gram Jaccard similarity to
    # the original, computed here independently, decides what MinHash LSH must do away from the threshold.
    rng = random.Random(0)
    decided = {"removed": 0, "kept": 0}
    for snippet in load_snippets(SnippetConfig(min_lines=10, limit=300)):
        lines = snippet["code"].split("\n")
        keep = sorted(rng.sample(range(len(lines)), len(lines) - rng.randint(0, len(lines) // 2)))
        variant = "\n".join(lines[index] for index in keep) + "\nmarker_line = 1"
        similarity = _jaccard(snippet["code"], variant)
        if 0.55 < similarity < 0.85:
            continue
        kept, counts = deduplicate([_record("", snippet["code"], "a"), _record("", variant, "b")])
        if similarity >= 0.85:
            assert counts["near"] == 1, (snippet["source"], similarity)
            decided["removed"] += 1
        else:
            assert counts["near"] == 0, (snippet["source"], similarity)
            decided["kept"] += 1
    assert min(decided.values()) > 30, decided


def test_a_large_real_set_keeps_order_and_accounts_for_every_record():
    snippets = load_snippets(SnippetConfig(min_lines=1, max_lines=10_000))
    records = [_record("", item["code"], item["id"]) for item in snippets]
    records += [dict(record, id=record["id"] + "-copy") for record in records[:500]]
    kept, counts = deduplicate(records)
    assert len(kept) + counts["exact"] + counts["near"] == len(records)
    # The 500 copies, and the standard library's own functions that differ from another only in spacing.
    assert counts["exact"] == len(records) - len({" ".join(record["solution"].split()) for record in records}) >= 500
    positions = {record["id"]: index for index, record in enumerate(records)}
    assert [positions[record["id"]] for record in kept] == sorted(positions[record["id"]] for record in kept)
    assert not any(record["id"].endswith("-copy") for record in kept)


# ------------------------------------------------------------------------------------- decontamination

@pytest.fixture(scope="module")
def texts():
    found, skipped = benchmark_texts(("humaneval+", "mbpp+", "bigcodebench"), DATA_DIR)
    assert not skipped
    return found


@pytest.fixture(scope="module")
def tasks():
    from harness.benchmarks.registry import get_benchmark

    return {name: get_benchmark(name).load(DATA_DIR).problems for name in ("humaneval+", "mbpp+", "bigcodebench")}


@needs_benchmark_data
def test_records_holding_benchmark_text_are_removed_and_counted(texts, tasks):
    humaneval_prompt = tasks["humaneval+"]["HumanEval/0"].prompt
    records = [
        _record(MERGE_PROBLEM, MERGE_SOLUTION, "honest"),
        _record("Solve the following task.\n" + humaneval_prompt, "def f():\n    pass", "humaneval prompt"),
        _record(PREFIX_PROBLEM, tasks["bigcodebench"]["BigCodeBench/13"].canonical_solution, "bigcodebench solution"),
        _record(tasks["mbpp+"]["Mbpp/2"].prompt, PREFIX_SOLUTION, "mbpp prompt"),
        _record(PREFIX_PROBLEM, PREFIX_SOLUTION, "honest too"),
    ]
    kept, counts = decontaminate(records, texts)
    assert [record["id"] for record in kept] == ["honest", "honest too"]
    assert counts == {"humaneval+": 1, "mbpp+": 1, "bigcodebench": 1}

    only_solutions = DecontaminationConfig(fields=("solution",))
    kept, counts = decontaminate(records, texts, only_solutions)
    assert [record["id"] for record in kept] == ["honest", "humaneval prompt", "mbpp prompt", "honest too"]
    assert counts == {"humaneval+": 0, "mbpp+": 0, "bigcodebench": 1}


@needs_benchmark_data
def test_shared_imports_and_stock_code_are_not_contamination(texts):
    # Hand-written honest records: a data-science function importing exactly what some BigCodeBench tasks
    # import, and evalplus' is_prime one-liner, which five HumanEval+ reference solutions share.
    science = _record(
        "Write `standardize_and_plot(path)`: load a CSV file into a DataFrame, standardize its numeric columns and "
        "return the Axes of a histogram of the first one.",
        "import pandas as pd\nimport numpy as np\nimport matplotlib.pyplot as plt\nfrom sklearn.preprocessing import "
        "StandardScaler\n\ndef standardize_and_plot(path):\n    df = pd.read_csv(path)\n    columns = "
        "df.select_dtypes(include=np.number).columns\n    df[columns] = StandardScaler().fit_transform(df[columns])\n"
        "    _, ax = plt.subplots()\n    ax.hist(df[columns[0]])\n    return ax",
        "science",
    )
    primes = _record("Count the primes in a list.", "def is_prime(a):\n    return not (a < 2 or any(a % x == 0 for x "
                     "in range(2, int(a ** 0.5) + 1)))\n\ndef count_primes(xs):\n    return sum(map(is_prime, xs))", "primes")
    kept, counts = decontaminate([science, primes], texts)
    assert kept == [science, primes] and not any(counts.values())
    # The same records are removed when every shared n-gram counts: the refinements are what keeps them.
    kept, counts = decontaminate([science, primes], texts, DecontaminationConfig(max_tasks_per_ngram=10))
    assert kept == [science]


def test_livecodebench_from_local_shards():
    # The fixtures are hand-written problems in LiveCodeBench's format (tests/fixtures/livecodebench/README.md).
    texts, skipped = benchmark_texts(("livecodebench:release_v2",), lcb_dir=str(LCB_FIXTURES))
    assert not skipped and len(texts["livecodebench"]) == 4
    copied = _record("You are given an integer array nums and an integer target. Return the number of pairs "
                     "(i, j) with i < j and nums[i] + nums[j] == target.", "def count(nums, target):\n    ...", "copied")
    honest = _record(MERGE_PROBLEM, MERGE_SOLUTION, "honest")
    kept, counts = decontaminate([copied, honest], texts)
    assert kept == [honest] and counts == {"livecodebench": 1}


def test_missing_livecodebench_data_is_skipped_with_a_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("SCODER_OFFLINE", "1")
    monkeypatch.setenv("SCODER_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("SCODER_LCB_DIR", raising=False)
    texts, skipped = benchmark_texts(("livecodebench",))
    assert texts == {}
    assert "test.jsonl" in skipped["livecodebench"] and "SCODER_LCB_DIR" in skipped["livecodebench"]
