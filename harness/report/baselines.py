"""Published baselines: other people's numbers, each with its source, dataset version and protocol.

The files in results/baselines/ are lists of groups; a group is one column of one source (a leaderboard
data file, a model card) and maps model names to scores in percent:

    - source: https://github.com/evalplus/evalplus.github.io/blob/<commit>/results.json
      benchmark: humaneval+
      version: v0.1.10
      protocol: greedy pass@1        # optional, this is the default
      note: why this column is what it is   # optional
      scores:
        DeepSeek-Coder-6.7B-base: 39.6
        Magicoder-S-DS-6.7B: {value: 71.3, note: a remark on this number only}

A model the source has no number for is left out, never written as 0 or null. LiveCodeBench groups name
their contest window ("2024-08-01..2025-02-01") and their release as the version.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Sequence

import yaml

from harness.benchmarks.registry import column_titles, windowed_columns
from harness.report.model import GREEDY

BASELINES_DIR = Path(__file__).resolve().parents[2] / "results" / "baselines"

_GROUP_FIELDS = {"source", "benchmark", "version", "protocol", "window", "note", "scores"}
_SCORE_FIELDS = {"value", "note"}


@dataclass(frozen=True)
class PublishedScore:
    model: str
    benchmark: str  # a report column key (harness.benchmarks.column_titles)
    version: str  # dataset version, or the LiveCodeBench release
    protocol: str
    value: float  # percent
    source: str
    window: str = ""  # LiveCodeBench contest dates "START..END"
    note: str = ""

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        """What one number is a measurement of: two scores with the same key must agree."""
        return self.model, self.benchmark, self.version, self.protocol, self.window


class BaselineError(ValueError):
    """A baseline file or entry that cannot be trusted as written; the message names the file, entry and field."""


def load_baselines(paths: Sequence[Path] | None = None) -> list[PublishedScore]:
    """Every score in the given YAML files (default: every *.yaml in results/baselines), validated.

    The same measurement may appear in several files only with the same value; it is returned once."""
    if paths is None:
        paths = sorted(BASELINES_DIR.glob("*.yaml"))
    scores: list[PublishedScore] = []
    seen: dict[tuple, tuple[PublishedScore, str]] = {}
    for path in paths:
        for where, score in _read(Path(path)):
            if score.key in seen:
                earlier, earlier_where = seen[score.key]
                if earlier.value != score.value:
                    raise BaselineError(f"{where}: value: {score.value} contradicts {earlier.value} for the same "
                                        f"model, benchmark, version, protocol and window at {earlier_where}")
                continue
            seen[score.key] = (score, where)
            scores.append(score)
    return scores


def _read(path: Path) -> list[tuple[str, PublishedScore]]:
    try:
        with path.open() as stream:
            groups = yaml.load(stream, Loader=_UniqueKeyLoader)
    except (OSError, yaml.YAMLError) as error:
        raise BaselineError(f"{path}: cannot be read as YAML: {error}") from None
    if not isinstance(groups, list) or not groups:
        raise BaselineError(f"{path}: expected a non-empty list of groups (source, benchmark, version, scores)")
    return [scored for number, group in enumerate(groups, 1) for scored in _group(group, f"{path}: group {number}")]


def _group(group, where: str) -> list[tuple[str, PublishedScore]]:
    if not isinstance(group, dict):
        raise BaselineError(f"{where}: expected a mapping with source, benchmark, version and scores")
    unknown = sorted(map(str, set(group) - _GROUP_FIELDS))
    if unknown:
        raise BaselineError(f"{where}: {unknown[0]}: unknown field; known: {', '.join(sorted(_GROUP_FIELDS))}")
    benchmark = _text(group, "benchmark", where)
    titles = column_titles()
    if benchmark not in titles:
        raise BaselineError(f"{where}: benchmark: unknown benchmark {benchmark!r}; known: {', '.join(titles)}")
    where = f"{where} ({benchmark})"
    source, version = _text(group, "source", where), _text(group, "version", where)
    protocol = _text(group, "protocol", where) if "protocol" in group else GREEDY
    note = _text(group, "note", where) if "note" in group else ""
    window = _window(group, benchmark, where)
    scores = group.get("scores")
    if not isinstance(scores, dict) or not scores:
        raise BaselineError(f"{where}: scores: expected a non-empty mapping of model name to score in percent")
    read = []
    for model, entry in scores.items():
        value, model_note = _score(model, entry, where)
        notes = "; ".join(part for part in (note, model_note) if part)
        read.append((f"{where}, model {model!r}", PublishedScore(model, benchmark, version, protocol, value, source, window, notes)))
    return read


def _text(group: dict, name: str, where: str) -> str:
    value = group.get(name)
    if value is not None and not isinstance(value, str):
        raise BaselineError(f"{where}: {name}: {value!r} is not text (quote it in the YAML)")
    if not value or not value.strip():
        raise BaselineError(f"{where}: {name}: missing or empty")
    return value.strip()


def _window(group: dict, benchmark: str, where: str) -> str:
    if "window" not in group:
        return ""
    if benchmark not in windowed_columns():
        raise BaselineError(f"{where}: window: {benchmark} scores have no contest window "
                            f"(only {', '.join(sorted(windowed_columns()))} scores have one)")
    window = _text(group, "window", where)
    start, separator, end = window.partition("..")
    problem = f"{where}: window: {window!r} is not a window like 2024-08-01..2025-02-01"
    if not separator:
        raise BaselineError(f"{problem}: expected START..END")
    try:
        first, last = (datetime.strptime(day, "%Y-%m-%d") for day in (start, end))
    except ValueError:
        raise BaselineError(f"{problem}: its days are dates like 2024-08-01 (YYYY-MM-DD)") from None
    if first > last:
        raise BaselineError(f"{problem}: the start is after the end")
    return window


def _score(model, entry, where: str) -> tuple[float, str]:
    if not isinstance(model, str) or not model.strip():
        raise BaselineError(f"{where}: scores: model names must be non-empty text, got {model!r}")
    where = f"{where}, model {model!r}"
    note = ""
    if isinstance(entry, dict):
        unknown = sorted(map(str, set(entry) - _SCORE_FIELDS))
        if unknown:
            raise BaselineError(f"{where}: {unknown[0]}: unknown field; known: value, note")
        note = _text(entry, "note", where) if "note" in entry else ""
        entry = entry.get("value")
    if entry is None:
        raise BaselineError(f"{where}: value: missing; leave a model out when the source has no number for it")
    if isinstance(entry, bool) or not isinstance(entry, (int, float)):
        raise BaselineError(f"{where}: value: {entry!r} is not a number")
    if not 0 <= entry <= 100:
        raise BaselineError(f"{where}: value: {entry} is outside 0..100 (scores are in percent)")
    return float(entry), note


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys silently; a model listed twice in one group is a mistake."""

    def construct_mapping(self, node, deep=False):
        keys = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in keys:
                raise yaml.constructor.ConstructorError(None, None, f"{key!r} appears twice in one mapping",
                                                        key_node.start_mark)
            keys.add(key)
        return super().construct_mapping(node, deep)
