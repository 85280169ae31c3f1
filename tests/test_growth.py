"""harness.execution.growth: which programs' cost may grow much faster than their base runs show (the run order starts
their plus runs early). The programs are written for this test."""

import pytest

from harness.execution.growth import may_grow_fast

GROWS = {
    "recursion": "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n",
    "recursion in a nested function": "def f(n):\n    def walk(k):\n        return 0 if k == 0 else walk(k - 1)\n    return walk(n)\n",
    "while loop": "def f(x):\n    while x > 1:\n        x //= 2\n    return x\n",
    "three nested for loops": "def f(n):\n    for a in range(n):\n        for b in range(n):\n            for c in range(n):\n"
                              "                pass\n",
    "a comprehension of three": "def f(n):\n    return [a for a in range(n) for b in range(n) for c in range(n)]\n",
    "two loops around a generator": "def f(n):\n    for a in range(n):\n        for b in range(n):\n"
                                    "            total = sum(c for c in range(n))\n",
}
BOUNDED = {
    "straight line": "def f(x):\n    return x + 1\n",
    "two nested for loops": "def f(n):\n    for a in range(n):\n        for b in range(n):\n            pass\n",
    "a call to another function": "def g(x):\n    return f(x)\ndef f(x):\n    return x\n",
    "does not parse": "def f(:\n",
}
# Hostile: the first two make the parser itself raise (MemoryError, RecursionError); the third is over the length parsed.
UNTOLD = {
    "unary minus 20,000 deep": "x = " + "-" * 20000 + "1\n",
    "a sum of 40,000 terms": "x = " + "1 + " * 40000 + "1\n",
    "a while loop, then 100,000 characters": "def f(n):\n    while n:\n        n -= 1\n" + "#" * 100_000 + "\n",
}


@pytest.mark.parametrize("name", GROWS)
def test_constructs_whose_cost_may_grow_fast(name):
    assert may_grow_fast(GROWS[name])


@pytest.mark.parametrize("name", BOUNDED)
def test_constructs_that_show_their_cost_on_small_inputs(name):
    assert not may_grow_fast(BOUNDED[name])


@pytest.mark.parametrize("name", UNTOLD)
def test_code_the_parser_gives_up_on_is_not_flagged_and_nothing_raises(name):
    assert not may_grow_fast(UNTOLD[name])
