"""The snippet pool: real code that inspires each synthesized problem (OSS-Instruct, arXiv 2312.02120).

Sources, chosen by `SnippetConfig.source`:
  - "stdlib": functions and methods of the Python standard library's own source files. Every machine
    has them, so the pipeline runs offline with real code and no download;
  - a path: a `.py` file, a `.jsonl` file, or a folder holding either (searched recursively). Python files
    give their functions and methods; each JSONL row gives one snippet, its text in `field`;
  - "hf:<name or local path>": a dataset through `datasets.load_dataset`, one snippet per row's `field`.

A snippet is a whole function or method rather than Magicoder's 1-15 random consecutive lines: a complete
unit of meaning gives a small synthesizer something coherent to build a problem around. Snippets are
kept raw (docstrings and comments included), as OSS-Instruct fed its seeds: the docstring is the
natural-language half of the inspiration. Records: {"id", "source", "code"}; ids are content hashes,
so the same code has the same id on every machine and duplicates collapse into one snippet.
"""

from __future__ import annotations

import ast
import hashlib
import os
import random
import sysconfig
import textwrap
import warnings
from dataclasses import dataclass
from pathlib import Path

from harness.files import numbered_rows

HUB_PREFIX = "hf:"

# Standard-library folders and files that are not seeds: test suites (assertion lists, and a third of the
# library), GUI code that needs a display to run (a problem built on it cannot be checked in the sandbox),
# generated or vendored code (codec tables repeat one method a hundred times; ensurepip carries wheels),
# lib2to3's deliberately broken grammar samples, and installed third-party packages, which differ per machine.
STDLIB_SKIPPED = frozenset({
    "test", "tests", "idle_test", "idlelib", "tkinter", "turtledemo", "turtle.py", "lib2to3", "encodings",
    "ensurepip", "pydoc_data", "site-packages", "dist-packages", "__pycache__",
})


class SnippetError(RuntimeError):
    """A snippet source that cannot be read; the message says what to pass instead."""


@dataclass(frozen=True)
class SnippetConfig:
    """Where snippets come from and which are kept.

    The line range keeps functions with some substance (below 5 lines they are mostly accessors and
    one-line delegations) yet close to OSS-Instruct's 1-15-line seeds, and leaves room in sft.SFTSettings'
    1024-token default: measured with SmolLM2's tokenizer, 28-30-line standard-library functions are 272
    tokens at the median (455 at most) and the request around them 150, so the problem and solution get
    about 600. `field` defaults to the snippet column of ise-uiuc/Magicoder-OSS-Instruct-75K ("seed")."""
    source: str = "stdlib"  # "stdlib", a path, or "hf:<dataset name or local path>"
    field: str = "seed"  # the text field of JSONL rows and dataset rows
    split: str = "train"  # dataset split, for "hf:" sources
    min_lines: int = 5
    max_lines: int = 30
    limit: int | None = None  # keep this many after the seeded shuffle; None keeps all
    seed: int = 0

    def __post_init__(self):
        if not 1 <= self.min_lines <= self.max_lines:
            raise ValueError("need 1 <= min_lines <= max_lines")
        if self.limit is not None and self.limit < 1:
            raise ValueError("limit must be at least 1 (or None for all snippets)")


def load_snippets(config: SnippetConfig) -> list[dict]:
    """The snippets of `config.source` within the line range, without duplicates, shuffled by `seed`, cut
    to `limit`. The order depends only on the source's content and the seed."""
    if config.source == "stdlib":
        candidates = stdlib_snippets()
    elif config.source.startswith(HUB_PREFIX):
        candidates = dataset_snippets(config.source[len(HUB_PREFIX):], config.field, config.split)
    else:
        candidates = path_snippets(Path(config.source), config.field)
    kept, seen = [], set()
    for item in candidates:
        if config.min_lines <= line_count(item["code"]) <= config.max_lines and item["id"] not in seen:
            seen.add(item["id"])
            kept.append(item)
    random.Random(config.seed).shuffle(kept)
    return kept[:config.limit]


def snippet_record(code: str, source: str) -> dict:
    return {"id": hashlib.sha256(code.encode("utf-8")).hexdigest()[:16], "source": source, "code": code}


def line_count(code: str) -> int:
    return code.count("\n") + 1


def stdlib_snippets() -> list[dict]:
    root = Path(sysconfig.get_paths()["stdlib"])
    return [item for path in _python_files(root, STDLIB_SKIPPED)
            for item in file_snippets(path, f"stdlib:{path.relative_to(root).as_posix()}")]


def path_snippets(path: Path, field: str) -> list[dict]:
    if path.is_dir():
        files = sorted(found for found in path.rglob("*") if found.suffix in (".py", ".jsonl") and found.is_file()
                       and not any(part.startswith(".") or part == "__pycache__" for part in found.relative_to(path).parts))
        labels = {found: found.relative_to(path).as_posix() for found in files}
    elif path.is_file() and path.suffix in (".py", ".jsonl"):
        files, labels = [path], {path: path.name}
    else:
        raise SnippetError(f"snippet source {str(path)!r} is not a .py or .jsonl file or a folder; "
                           f"pass one, 'stdlib', or '{HUB_PREFIX}<dataset>'")
    snippets = []
    for found in files:
        if found.suffix == ".py":
            snippets += file_snippets(found, labels[found])
        else:
            snippets += jsonl_snippets(found, field, labels[found])
    return snippets


def _python_files(root: Path, skipped: frozenset[str]) -> list[Path]:
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(name for name in dirs if name not in skipped)  # sorted: the walk order is the record order
        found += [Path(folder) / name for name in sorted(files) if name.endswith(".py") and name not in skipped]
    return found


def file_snippets(path: Path, label: str) -> list[dict]:
    """Top-level functions and the methods of top-level classes, dedented, decorators included. A file that
    does not parse (another Python version's syntax, a deliberately broken sample) gives none."""
    try:
        source = path.read_text(encoding="utf-8")
        with warnings.catch_warnings():  # old modules' invalid escape sequences
            warnings.simplefilter("ignore")
            tree = ast.parse(source)
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return []
    # Whole lines sliced by line number: ast.get_source_segment re-splits the file for every node, which
    # makes large modules quadratic.
    lines = source.splitlines()
    functions = (ast.FunctionDef, ast.AsyncFunctionDef)
    found = []
    for node in tree.body:
        if isinstance(node, functions):
            found.append((node, node.name))
        elif isinstance(node, ast.ClassDef):
            found += [(item, f"{node.name}.{item.name}") for item in node.body if isinstance(item, functions)]
    snippets = []
    for node, name in found:
        first = min([node.lineno] + [decorator.lineno for decorator in node.decorator_list])
        if lines[first - 1][:node.col_offset].strip():  # `class A: def f(): ...` on one line: not a clean cut
            continue
        code = textwrap.dedent("\n".join(lines[first - 1:node.end_lineno])).rstrip()
        if code[:1].isspace():  # a method whose multi-line string reaches column 0: no dedent keeps that string
            continue
        snippets.append(snippet_record(code, f"{label}:{name}"))
    return snippets


def jsonl_snippets(path: Path, field: str, label: str) -> list[dict]:
    return [snippet_record(_text_field(row, field, f"{path}:{number}"), f"{label}:{number}")
            for number, row in numbered_rows(path, SnippetError)]


def dataset_snippets(name: str, field: str, split: str) -> list[dict]:
    try:
        import datasets
    except ImportError:
        raise SnippetError(f"snippet source {HUB_PREFIX}{name} needs the `datasets` package (the [train] extra); "
                           f"or pass a local .jsonl file or folder as the source") from None
    try:
        rows = datasets.load_dataset(name, split=split)
    except Exception as error:  # datasets raises many types (connection, not found, bad split); all mean "unusable"
        raise SnippetError(
            f"could not load dataset {name!r} (split {split!r}): {type(error).__name__}: {error}. Without the "
            f"Hugging Face hub, pass a local path: {HUB_PREFIX}/path/to/dataset (a folder or data file "
            f"`datasets` can read) or a .jsonl file or folder as the source") from error
    if field not in rows.column_names:
        raise SnippetError(f"dataset {name!r} has no field {field!r}; its fields: {', '.join(rows.column_names)}")
    return [snippet_record(_text_field(row, field, f"{name} row {index}"), f"{name}:{index}") for index, row in enumerate(rows)]


def _text_field(row, field: str, where: str) -> str:
    text = row.get(field) if isinstance(row, dict) else None
    if not isinstance(text, str):
        raise SnippetError(f"{where}: no text field {field!r} (set SnippetConfig.field to the snippet's field)")
    return text.strip("\n").rstrip()
