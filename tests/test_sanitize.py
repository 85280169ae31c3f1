"""Program extraction from model outputs (harness/generation/sanitize.py).

The rules are evalplus' and bigcodebench's; benchmarks/sanitize_vs_official.py compares against the
official tools themselves on thousands of outputs. Here: each rule on a small case, and the fast
longest-block search against the plain double loop it replaces.
"""

import ast
import random

from harness.generation.sanitize import BIGCODEBENCH, EVALPLUS, code_extract, last_fenced_block, sanitize


def naive_code_extract(text: str) -> str:
    """Upstream's search, written out: every i < j, strictly more non-blank lines wins."""
    lines = text.split("\n")
    best, pair = 0, (0, 0)
    for i in range(len(lines)):
        for j in range(i + 1, len(lines)):
            try:
                ast.parse("\n".join(lines[i:j + 1]))
            except SyntaxError:
                continue
            count = sum(1 for line in lines[i:j + 1] if line.strip())
            if count > best:
                best, pair = count, (i, j)
    return "\n".join(lines[pair[0]:pair[1] + 1])


def test_fast_longest_block_equals_the_double_loop_on_random_outputs():
    pieces = ["def f(x):", "    return x + 1", "", "Some prose here.", "```python", "```", "import os", "x = [1,",
              "    2]", "class A:", "    pass", "    y = 2", "print(f(1))", "  ", "if x:", "else:", '"""', "# comment"]
    generator = random.Random(7)
    for _ in range(400):
        text = "\n".join(generator.choice(pieces) for _ in range(generator.randint(0, 14)))
        assert code_extract(text) == naive_code_extract(text), text


def test_the_longest_parsing_block_is_kept():
    output = "Sure! First:\nimport math\nOops, let me redo that.\nimport math\n\ndef area(r):\n    return math.pi * r * r\nDone."
    assert code_extract(output) == "import math\n\ndef area(r):\n    return math.pi * r * r"


def test_imports_and_what_the_entry_point_reaches_are_kept():
    output = """Here you go:
```python
import re
from collections import Counter

LIMIT = 10
UNUSED = 3

def helper(s):
    return Counter(re.findall(r"\\w+", s))

def count_words(s):
    return helper(s).most_common(LIMIT)

def unrelated():
    return 1

print(count_words("a b a"))
assert count_words("") == []
```
It counts words."""
    assert sanitize(output, "count_words") == (
        "import re\nfrom collections import Counter\nLIMIT = 10\n"
        'def helper(s):\n    return Counter(re.findall(r"\\w+", s))\n'
        "def count_words(s):\n    return helper(s).most_common(LIMIT)"
    )


def test_flavours_differ_as_upstream_does():
    output = "def side_effect():\n    print('x')\n\ndef task_func():\n    side_effect()\n    return 1\n\ntask_func()\n"
    # evalplus keeps top-level functions only if they contain a return; bigcodebench keeps them all.
    assert "def side_effect" not in sanitize(output, "task_func", EVALPLUS)
    assert "def side_effect" in sanitize(output, "task_func", BIGCODEBENCH)


def test_decorated_definitions_are_dropped_as_upstream_does():
    output = "from functools import cache\n\n@cache\ndef fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n\ndef f(n):\n    return fib(n)\n"
    assert sanitize(output, "f") == "from functools import cache\ndef f(n):\n    return fib(n)"


def test_output_without_any_definition_falls_back_to_the_longest_block():
    assert sanitize("x = compute()\ny = x + 1\nThat is all.", "f") == "x = compute()\ny = x + 1"


def test_reasoning_sections_are_removed_first():
    output = "<think>Maybe:\ndef f(x):\n    return x * 100\n\ndef g():\n    return 0\n</think>\n```python\ndef f(x):\n    return x + 1\n```"
    assert sanitize(output, "f") == "def f(x):\n    return x + 1"


def test_livecodebench_takes_the_last_fenced_block():
    output = "Idea:\n```python\nprint(0)\n```\nFinal:\n```python\nn = int(input())\nprint(n * 2)\n```\n"
    assert last_fenced_block(output) == "n = int(input())\nprint(n * 2)"
    assert last_fenced_block("no code at all") == ""


def test_comments_that_end_a_definition_stay_with_it_as_in_tree_sitter():
    output = "def f(x):\n    y = x + 1\n    return y  # done\n\n    # trailing note\nz = 3  # not kept with z\nprint(f(z))\n"
    assert sanitize(output, "f") == "def f(x):\n    y = x + 1\n    return y  # done\n\n    # trailing note"
