"""The harness's modules form layers, read from their source: every import counts, the ones inside functions too
(an import deferred into a function is still a dependency, and hid a 12-module cycle once).

- No cycle between harness modules.
- A benchmark family's package imports nothing above it: its data, prompts, scoring and export use the execution
  layer, generation, the evaluation skeleton and the report's submission helpers, never the registry, the command
  line, containers or another family (importing any module of a family loads its adapter, the package's __init__).
- Only the registry imports the families' Benchmark objects (their package's __init__).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HARNESS = ROOT / "harness"
FAMILIES = sorted(path.parent.name for path in (HARNESS / "benchmarks").glob("*/__init__.py"))
# What a family's package may import from the rest of the harness: the layers below the registry.
BELOW_FAMILIES = ("harness.execution", "harness.generation", "harness.benchmarks.data", "harness.benchmarks.benchmark",
                  "harness.evaluation", "harness.evaluation_runs", "harness.journal", "harness.samples", "harness.files",
                  "harness.metrics", "harness.arguments", "harness.output_paths", "harness.report.console",
                  "harness.report.submission")
PACKAGES = ("harness", "harness.benchmarks", "harness.report")  # their __init__ holds a docstring only


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in HARNESS.rglob("*.py")}


def imports_of(name: str) -> set[str]:
    """The harness modules `name` imports anywhere in its source, with the packages Python loads on the way
    (importing a.b.c runs a/__init__ and a/b/__init__), but not the module's own packages."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            targets = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in MODULES else node.module
                       for alias in node.names]
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            continue
        for target in targets:
            parts = target.split(".")
            found.update(".".join(parts[:depth]) for depth in range(2, len(parts) + 1))
    own_packages = {".".join(name.split(".")[:depth]) for depth in range(1, name.count(".") + 1)}
    return {module for module in found if module in MODULES and module != name and module not in own_packages}


GRAPH = {name: imports_of(name) for name in MODULES}


def cycle_through(start: str) -> list[str] | None:
    """A shortest import path from `start` back to itself, if there is one."""
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for module in frontier:
            for imported in sorted(GRAPH[module]):
                if imported == start:
                    return paths[module] + [start]
                if imported not in paths:
                    paths[imported] = paths[module] + [imported]
                    following.append(imported)
        frontier = following
    return None


def test_the_graph_is_read_from_every_import():
    # A deferred import is seen: the family packages' scoring modules import the skeleton, and the registry imports
    # each family.
    assert "harness.evaluation" in GRAPH["harness.benchmarks.evalplus.scoring"]
    assert {f"harness.benchmarks.{family}" for family in FAMILIES} <= GRAPH["harness.benchmarks.registry"]
    assert len(FAMILIES) >= 4


def test_a_cycle_is_found_where_there_is_one(monkeypatch):
    """The check itself: a function-level import from the skeleton back to a family makes a cycle it reports."""
    monkeypatch.setitem(GRAPH, "harness.evaluation", GRAPH["harness.evaluation"] | {"harness.benchmarks.evalplus.scoring"})
    assert cycle_through("harness.evaluation") == ["harness.evaluation", "harness.benchmarks.evalplus.scoring", "harness.evaluation"]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_import_cycle(module):
    assert cycle_through(module) is None


@pytest.mark.parametrize("family", FAMILIES)
def test_a_family_imports_only_the_layers_below_it(family):
    package = f"harness.benchmarks.{family}"
    for module in (name for name in MODULES if name == package or name.startswith(package + ".")):
        above = {imported for imported in GRAPH[module] if not imported.startswith(package) and imported not in PACKAGES
                 and not any(imported == below or imported.startswith(below + ".") for below in BELOW_FAMILIES)}
        assert above == set(), f"{module} imports {sorted(above)}: another family, or a layer above the families"


def test_only_the_registry_imports_the_benchmark_objects():
    adapters = {f"harness.benchmarks.{family}" for family in FAMILIES}
    importers = {name for name, imported in GRAPH.items() if imported & adapters and not name.startswith(tuple(adapters))}
    assert importers == {"harness.benchmarks.registry"}
