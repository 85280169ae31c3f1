"""From a model's output to the program that is run: the official post-processing of each benchmark.

evalplus 0.3.1 (sanitize.py) and bigcodebench 0.2.5 (sanitize.py) do it the same way, with small
differences noted below: keep the longest run of lines that parses as Python, then keep its imports and
the top-level definitions the entry point reaches. They walk a tree-sitter parse; here Python's own
`ast` gives the same top-level statements. LiveCodeBench (lcb_runner extraction_utils.extract_code)
takes the last fenced code block instead.

Outputs of reasoning models first lose their `<think>...</think>` sections, which are prose that may
quote code the answer does not use.
"""

from __future__ import annotations

import ast
import re
import warnings

EVALPLUS, BIGCODEBENCH = "evalplus", "bigcodebench"
_REASONING = re.compile(r"<think>.*?</think>", re.DOTALL)


def without_reasoning(output: str) -> str:
    return _REASONING.sub("", output)


def _parses(code: str) -> bool:
    try:
        with warnings.catch_warnings():  # invalid escape sequences in model output are not our concern
            warnings.simplefilter("ignore")
            ast.parse(code)
        return True
    except (SyntaxError, MemoryError, ValueError, RecursionError):
        return False


def code_extract(text: str) -> str:
    """The lines i..j with the most non-blank lines that parse, the first such run on ties (upstream's
    double loop over every i < j, ordered by i then j; j starts at i + 1, so one line alone never counts).

    Same answer, fewer parses: for each start, the end is searched downwards and the first run that
    parses is the best for that start (more lines never mean fewer non-blank ones); trailing blank lines
    are then dropped, which is the earliest end with that count. Starts that cannot beat the best so far
    are skipped."""
    lines = text.split("\n")
    nonblank_after = [0] * (len(lines) + 1)  # non-blank lines in lines[i:]
    for i in range(len(lines) - 1, -1, -1):
        nonblank_after[i] = nonblank_after[i + 1] + bool(lines[i].strip())
    best, best_pair = 0, (0, 0)
    for i in range(len(lines)):
        if nonblank_after[i] <= best:
            break
        for j in range(len(lines) - 1, i, -1):
            count = nonblank_after[i] - nonblank_after[j + 1]
            if count <= best:
                break
            if _parses("\n".join(lines[i:j + 1])):
                while j > i + 1 and not lines[j].strip():
                    j -= 1
                best, best_pair = count, (i, j)
                break
    return "\n".join(lines[best_pair[0]:best_pair[1] + 1])


def _definition_name(node: ast.stmt) -> str | None:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return node.name
    # tree-sitter's get_definition_name: the assignment's first identifier child, i.e. a plain-name target.
    target = node.targets[0] if isinstance(node, ast.Assign) else node.target
    return target.id if isinstance(target, ast.Name) else None


def _identifiers(node: ast.AST) -> set[str]:
    """Every identifier written in the node, as tree-sitter's `identifier` leaves: names, attributes,
    parameters, keywords, definition names."""
    found = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Name):
            found.add(child.id)
        elif isinstance(child, ast.Attribute):
            found.add(child.attr)
        elif isinstance(child, ast.arg):
            found.add(child.arg)
        elif isinstance(child, ast.keyword) and child.arg:
            found.add(child.arg)
        elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.add(child.name)
        elif isinstance(child, (ast.Global, ast.Nonlocal)):
            found.update(child.names)
    return found


def _has_return(node: ast.AST) -> bool:
    return any(isinstance(child, ast.Return) for child in ast.walk(node))


def _reachable(entry_point: str, dependencies: dict[str | None, set[str]]) -> set[str]:
    seen, queue = {entry_point}, [entry_point]
    while queue:
        for name in dependencies.get(queue.pop(0), ()):
            if name not in seen:
                seen.add(name)
                queue.append(name)
    return seen


def _segment(code: str, node: ast.stmt) -> str:
    """The statement's source. A definition's block also holds the comments that end it (tree-sitter
    puts them in the block: a comment after its last statement, and the comment lines indented under
    it that follow), as upstream's byte ranges do."""
    lines = code.split("\n")
    last, end = node.end_lineno - 1, node.end_col_offset
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        if lines[last].encode()[end:].decode(errors="ignore").strip().startswith("#"):
            end = len(lines[last].encode())
        following = last + 1
        while following < len(lines):
            text = lines[following]
            if text.strip() and not (text.strip().startswith("#") and len(text) - len(text.lstrip()) > node.col_offset):
                break
            if text.strip():
                last, end = following, len(text.encode())
            following += 1
    kept = lines[node.lineno - 1:last + 1]
    kept[-1] = kept[-1].encode()[:end].decode(errors="ignore")
    kept[0] = kept[0].encode()[node.col_offset:].decode(errors="ignore")
    return "\n".join(kept)


def _target_code(code: str, entry_point: str | None, flavor: str) -> str:
    code = code_extract(code.strip() if flavor == BIGCODEBENCH else code)
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError):
        return ""
    imports, definitions, taken = [], [], set()
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            # tree-sitter calls `from __future__ import` another node type, which upstream drops.
            if not (isinstance(node, ast.ImportFrom) and node.module == "__future__"):
                imports.append(node)
            continue
        # Decorated definitions are another tree-sitter node type too: upstream drops them.
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.decorator_list:
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            wanted = flavor == BIGCODEBENCH or _has_return(node)  # evalplus keeps functions that return
        else:  # classes and assignments (`x: int` alone is one for tree-sitter too); not `x += 1`
            wanted = isinstance(node, (ast.ClassDef, ast.Assign, ast.AnnAssign))
        if not wanted:
            continue
        name = _definition_name(node)
        if name not in taken:
            taken.add(name)
            definitions.append((name, node))
    if entry_point:
        keep = _reachable(entry_point, {name: _identifiers(node) for name, node in definitions})
        definitions = [(name, node) for name, node in definitions if name in keep]
    output = "\n".join(_segment(code, node) for node in imports + [node for _, node in definitions])
    if flavor == BIGCODEBENCH and entry_point:
        output = _without_trailing_calls(output, entry_point)
    return output


def _without_trailing_calls(code: str, entry_point: str) -> str:
    """bigcodebench's last step: from the bottom up to the first indented line, drop everything from the
    highest unindented line that mentions the entry point (a stray top-level call or assignment)."""
    lines = code.splitlines()
    cut = None
    for index in range(len(lines) - 1, -1, -1):
        if lines[index].startswith(" "):
            break
        if entry_point in lines[index]:
            cut = index
    return "\n".join(lines[:cut]) if cut is not None else code


def sanitize(output: str, entry_point: str | None = None, flavor: str = EVALPLUS) -> str:
    """The program to run for one model output (the prompt already prepended for direct completion)."""
    output = without_reasoning(output)
    program = _target_code(output, entry_point, flavor).strip()
    return program or code_extract(output)


def last_fenced_block(output: str) -> str:
    """lcb_runner's extraction: the lines between the last two lines that contain ``` ("" without two)."""
    lines = without_reasoning(output).split("\n")
    fences = [index for index, line in enumerate(lines) if "```" in line]
    if len(fences) < 2:
        return ""
    return "\n".join(lines[fences[-2] + 1:fences[-1]])
