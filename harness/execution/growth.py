"""Whether a program's cost may grow much faster with its inputs than its short runs show: a function that calls
itself, a `while` loop, or loops nested three deep. The run order (harness.benchmarks.evalplus.scoring) starts such a
program's plus run before the ones predicted as short, with no bearing on any verdict. A plus run is predicted from
its base run, and the base inputs are small: a naive recursive fib, a prime search in a `while True` or four nested
loops over range(n) take milliseconds there and time out on the plus inputs. Queued last, as predicted, such runs
ended HumanEval+ Llama-3's evaluations alone, 0.6-1.4 s after the other worker."""

from __future__ import annotations

import ast

NESTED_LOOPS = 3  # loops nested this deep: O(n^3) or worse
COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
MAX_CODE_CHARS = 100_000  # longer programs are not parsed here (a parse of megabytes takes seconds and gigabytes)


def may_grow_fast(code: str) -> bool:
    """Whether `code` has a function that calls itself, a `while` loop, or loops nested NESTED_LOOPS deep (each `for` of
    a comprehension is one). False for code that does not parse (it fails at once), that the parser gives up on (nested
    thousands deep, written to make it raise MemoryError or RecursionError), or over MAX_CODE_CHARS: samples are
    untrusted, and this runs on the harness's main thread, for every one. One pass over the tree, with no recursion."""
    if len(code) > MAX_CODE_CHARS:
        return False
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    stack: list[tuple[ast.AST, int, tuple[str, ...]]] = [(tree, 0, ())]  # node, loops around it, functions around it
    while stack:
        node, loops, functions = stack.pop()
        if isinstance(node, ast.While):
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in functions:
            return True
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            functions += (node.name,)
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            loops += 1
        elif isinstance(node, COMPREHENSIONS):
            loops += len(node.generators)
        if loops >= NESTED_LOOPS:
            return True
        stack.extend((child, loops, functions) for child in ast.iter_child_nodes(node))
    return False
