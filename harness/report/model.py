"""What a comparison table is made of: columns that name exactly what was measured, cells, rows.

A column is one benchmark at one dataset version, one protocol, one LiveCodeBench date window and one
task set; two scores share a column only if all of these are equal, so a table never sets numbers side
by side that were measured differently.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.benchmarks.registry import column_titles

GREEDY = "greedy pass@1"
SIGNIFICANT = "\u2020"  # dagger: marks a difference to the reference row that the paired test finds significant


class ColumnMismatch(ValueError):
    """A score was offered to a column that measures something else (version, protocol, window, tasks)."""


@dataclass(frozen=True)
class Column:
    benchmark: str  # a column key of a registered benchmark (harness.benchmarks.column_titles)
    version: str  # dataset version ("v0.1.10", "v0.2.0", "v0.1.4"), or the LiveCodeBench release
    protocol: str = GREEDY
    window: str = ""  # LiveCodeBench contest dates "2024-08-01..2025-02-01"; "" = the whole release
    tasks: str = ""  # "" = the whole benchmark; else which part of it, e.g. "first 10 of 164 tasks"

    def __post_init__(self):
        titles = column_titles()
        if self.benchmark not in titles:
            raise ValueError(f"unknown benchmark {self.benchmark!r}; known: {', '.join(titles)}")
        if not self.version:
            raise ValueError(f"{self.benchmark}: a column needs a dataset version")

    @property
    def title(self) -> str:
        where = " ".join(part for part in (column_titles()[self.benchmark], self.version, self.window) if part)
        return ", ".join(part for part in (where, self.tasks, self.protocol) if part)

    def differences(self, other: "Column") -> list[str]:
        """What makes `other` a different measurement, e.g. ["version v0.1.9, not v0.1.10"]."""
        return [f"{name} {getattr(other, name) or '(none)'!s}, not {getattr(self, name) or '(none)'!s}"
                for name in ("benchmark", "version", "protocol", "window", "tasks") if getattr(self, name) != getattr(other, name)]


@dataclass(frozen=True)
class Cell:
    value: float  # percent
    low: float | None = None  # 95% bootstrap interval over tasks, percent (our runs only)
    high: float | None = None
    delta: float | None = None  # value minus the reference row's in the same column
    p_value: float | None = None  # McNemar against the reference row on paired per-task verdicts
    significant: bool = False  # p_value < the table's alpha


@dataclass
class Row:
    name: str
    kind: str  # "run", "baseline" (a leaderboard's number) or "self-reported" (the model's authors')
    source: str  # the run directory, or where a published number comes from
    cells: dict[Column, Cell] = field(default_factory=dict)

    def put(self, column: Column, measured: Column, cell: Cell) -> None:
        """Set the cell of `column` to a score that was measured as `measured`; refuses any other measurement."""
        if measured != column:
            raise ColumnMismatch(f"{self.name}: a {measured.title} score cannot go in the column "
                                 f"{column.title!r}: {'; '.join(column.differences(measured))}")
        if column in self.cells:
            raise ColumnMismatch(f"{self.name}: two scores for the column {column.title!r} ({self.source})")
        self.cells[column] = cell


@dataclass
class Table:
    title: str
    columns: list[Column]
    rows: list[Row]
    reference: str | None = None  # the row that deltas and paired tests are against
    notes: list[str] = field(default_factory=list)  # marker legend, what was left out and why
