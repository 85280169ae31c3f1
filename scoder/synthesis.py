"""The synthesis task: a code snippet in, a programming problem and its solution out (OSS-Instruct).

The format follows Magicoder's OSS-Instruct (arXiv 2312.02120; github ise-uiuc/magicoder, data/prompt.txt):
the synthesizer is shown a snippet and answers in two sections, "[Problem Description]" and "[Solution]".
The wording of our request is our own. This module also turns synthesized pairs into training examples
(TRL's conversational prompt-completion form), removes exact and near duplicates, and removes records
that share word n-grams with the evaluation benchmarks.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import re
import textwrap
from dataclasses import dataclass, field

import numpy as np

from harness.benchmarks.registry import benchmark_options, decontamination_benchmarks, resolve
from harness.benchmarks.data import DataError

# ------------------------------------------------------------------------------------------- the task format

DEFAULT_SYSTEM = (
    "You are an expert programming instructor. You write self-contained programming exercises together "
    "with correct, idiomatic reference solutions."
)
DEFAULT_USER = """Use the code snippet below as inspiration for a new, high-quality programming problem, then solve it.

Code snippet:
```
{snippet}
```

Answer with exactly two sections:

{problem_header}
A complete, self-contained problem statement. State everything needed to solve it (context, inputs, \
outputs, constraints, and the name and signature of any function to write) without referring to the snippet.

{solution_header}
A correct solution to that problem, in one ```{language} code block."""


@dataclass(frozen=True)
class SynthesisTemplate:
    """What the synthesizer is asked and how its answer is laid out. Section headers are OSS-Instruct's
    (Magicoder data/prompt.txt). `user` is a format string with the fields {snippet}, {problem_header},
    {solution_header} and {language}; write other braces doubled."""
    system: str = DEFAULT_SYSTEM
    user: str = DEFAULT_USER
    problem_header: str = "[Problem Description]"
    solution_header: str = "[Solution]"
    language: str = "python"  # the solution's code-fence tag

    def __post_init__(self):
        if "{snippet}" not in self.user:
            raise ValueError("the user message template must contain {snippet}")
        if not self.problem_header.strip() or not self.solution_header.strip():
            raise ValueError("section headers must not be empty")


@dataclass(frozen=True)
class SynthesisOutput:
    problem: str
    solution: str  # code only


def request_messages(snippet_code: str, template: SynthesisTemplate = SynthesisTemplate()) -> list[dict]:
    """The chat messages that ask the synthesizer for a problem and solution inspired by `snippet_code`."""
    user = template.user.format(snippet=snippet_code, problem_header=template.problem_header,
                                solution_header=template.solution_header, language=template.language)
    return [{"role": "system", "content": template.system}, {"role": "user", "content": user}]


def render_response(problem: str, solution: str, template: SynthesisTemplate = SynthesisTemplate()) -> str:
    """The synthesizer's answer in the template's layout: its SFT target."""
    return (f"{template.problem_header}\n{problem.strip()}\n\n"
            f"{template.solution_header}\n{_fenced(solution, template.language)}")


def _fenced(code: str, language: str) -> str:
    return f"```{language}\n{_clean_code(code)}\n```"


def _clean_code(code: str) -> str:
    return textwrap.dedent(code.strip("\n")).rstrip()


# ---------------------------------------------------------------------------------------------------- parsing

# Fence tags that mean the template's language; an untagged fence is taken as it too.
_LANGUAGE_TAGS = {"python": {"python", "python3", "py"}}
_FENCE = re.compile(r"^[ \t]*```[ \t]*(?P<tag>[^\s`]*)[^\n]*\n(?P<code>.*?)(?:^[ \t]*```[ \t]*$|\Z)", re.MULTILINE | re.DOTALL)
_TRAILING_RULES = re.compile(r"(?:\s*^[ \t]*(?:-{3,}|\*{3,}|_{3,})[ \t]*$)+\s*\Z", re.MULTILINE)


def _header_pattern(header: str) -> re.Pattern:
    """A section header line as models write it: `[Name]`, `## Name`, `**Name:**`, `1. [Name]`, `name:`, in
    any case. Text after a marked-up header on its line starts the section."""
    words = r"[ \t]+".join(map(re.escape, header.strip().strip("[]").split()))
    return re.compile(
        rf"^[ \t>]*(?P<hashes>\#{{1,6}}[ \t]*)?(?:\d+[.)][ \t]*)?(?P<bold>\*\*|__)?[ \t]*(?P<open>\[)?[ \t]*{words}"
        rf"[ \t]*(?(open)\])[ \t]*:?[ \t]*(?:\*\*|__)?[ \t]*:?(?P<rest>[^\n]*)$",
        re.IGNORECASE | re.MULTILINE,
    )


def _headers(pattern: re.Pattern, text: str, fences: list[tuple[int, int]], start: int = 0):
    """Header matches outside code blocks (`# Solution goes here` in starter code is a comment). A bare
    name is a header only alone on its line: "Solution: use a stack" is a sentence, not a section."""
    for match in pattern.finditer(text, start):
        if any(begin <= match.start() < end for begin, end in fences):
            continue
        if match.group("hashes") or match.group("bold") or match.group("open") or not match.group("rest").strip():
            yield match


def parse_response(text: str, template: SynthesisTemplate = SynthesisTemplate()) -> SynthesisOutput | None:
    """The problem and the solution's code in a synthesizer's answer; None without either.

    Text before the problem header is ignored. The solution section runs to the end, or to a repeated
    problem header (small models start over). Its code is the first fenced block tagged with the
    template's language (or untagged), an unclosed block running to the end; a section without any
    fence is taken as code; one whose fences are all in other languages has no solution."""
    problem_pattern, solution_pattern = _header_pattern(template.problem_header), _header_pattern(template.solution_header)
    fences = [fence.span() for fence in _FENCE.finditer(text)]
    problem_header = next(_headers(problem_pattern, text, fences), None)
    if problem_header is None:
        return None
    solution_header = next(_headers(solution_pattern, text, fences, problem_header.end()), None)
    if solution_header is None:
        return None
    problem = problem_header.group("rest") + text[problem_header.end():solution_header.start()]
    problem = _TRAILING_RULES.sub("", problem).strip()
    repeated = next(_headers(problem_pattern, text, fences, solution_header.end()), None)
    section = solution_header.group("rest") + text[solution_header.end():repeated.start() if repeated else len(text)]
    solution = _solution_code(section, template.language)
    if not problem or not solution:
        return None
    return SynthesisOutput(problem, solution)


def _solution_code(section: str, language: str) -> str | None:
    tags = _LANGUAGE_TAGS.get(language.lower(), {language.lower()}) | {""}
    fences = list(_FENCE.finditer(section))
    if not fences:
        return _clean_code(_TRAILING_RULES.sub("", section)) or None
    for fence in fences:
        if fence.group("tag").lower() in tags:
            return _clean_code(fence.group("code")) or None
    return None


# --------------------------------------------------------------------------------------- training examples

def synthesizer_example(snippet_code: str, problem: str, solution: str,
                        template: SynthesisTemplate = SynthesisTemplate()) -> dict:
    """Teaches the synthesizer: snippet -> problem and solution (TRL conversational prompt-completion)."""
    return {"prompt": request_messages(snippet_code, template),
            "completion": [{"role": "assistant", "content": render_response(problem, solution, template)}]}


def instruction_example(problem: str, solution: str, language: str = "python") -> dict:
    """Teaches the final code model: problem -> solution. The answer is the code in one fenced block, as in
    Magicoder's instruction data, without prose: the synthesized solution is code only, and a fenced block
    is what the harness' sanitizer takes from a model's answer."""
    return {"prompt": [{"role": "user", "content": problem.strip()}],
            "completion": [{"role": "assistant", "content": _fenced(solution, language)}]}


# ------------------------------------------------------------------------------------------ word n-grams

_WORD = re.compile(r"\w+")
_NGRAM_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit constant (the golden ratio's bits)


class _WordHashes(dict):
    """word -> 64-bit hash of its bytes: a word hashes the same in every process and every batch."""

    def __missing__(self, word: str) -> int:
        value = self[word] = int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")
        return value


def ngram_hashes(texts: list[str], n: int) -> tuple[np.ndarray, np.ndarray]:
    """The 64-bit hashes of each text's word n-grams (lowercased \\w+ words), concatenated in text order,
    and how many each text has (none below n words)."""
    words = [_WORD.findall(text.lower()) for text in texts]
    lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
    counts = np.maximum(lengths - n + 1, 0)
    total = int(lengths.sum())
    if total < n:
        return np.empty(0, np.uint64), counts
    tokens = np.fromiter(map(_WordHashes().__getitem__, itertools.chain.from_iterable(words)), dtype=np.uint64, count=total)
    windows = total - n + 1
    hashes = tokens[:windows].copy()
    for offset in range(1, n):
        hashes *= _NGRAM_MULTIPLIER
        hashes += tokens[offset:offset + windows]
    # Windows run across text boundaries; keep those that end inside the text they start in.
    ends = np.repeat(np.cumsum(lengths), lengths)[:windows]
    return hashes[np.arange(windows) + n <= ends], counts


def _joined(record: dict, fields: tuple[str, ...]) -> str:
    try:
        return "\n".join(str(record[field]) for field in fields)
    except KeyError as error:
        raise KeyError(f"record {record.get('id', '')!r} has no field {error}; fields compared: {', '.join(fields)}") from None


# ------------------------------------------------------------------------------------------------ dedup

_PERMUTATION_SEED = 42  # fixed: which near-duplicates are found must not change between runs
_SIGNATURE_CHUNK = 1 << 15  # n-grams hashed at once: chunk x num_perm x 8 bytes (64 MiB at 256 permutations)


@dataclass(frozen=True)
class DedupConfig:
    """Exact duplicates (same text up to whitespace) and near duplicates (MinHash LSH). The near-duplicate
    parameters are BigCode's for The Stack and StarCoder (github bigcode-project/bigcode-dataset,
    near_deduplication/minhash_deduplication.py): 5-gram shingles, 256 permutations, Jaccard 0.7."""
    fields: tuple[str, ...] = ("problem", "solution")  # the record text compared
    near: bool = True
    ngram: int = 5
    num_perm: int = 256
    threshold: float = 0.7

    def __post_init__(self):
        if not self.fields:
            raise ValueError("fields must name at least one record field")
        if self.ngram < 1 or self.num_perm < 1 or not 0 < self.threshold <= 1:
            raise ValueError("need ngram >= 1, num_perm >= 1 and 0 < threshold <= 1")


def deduplicate(records: list[dict], config: DedupConfig = DedupConfig()) -> tuple[list[dict], dict[str, int]]:
    """The records without duplicates, the first of each group kept, in input order; and how many were
    removed as {"exact": n, "near": m}."""
    texts = [_joined(record, config.fields) for record in records]
    seen, unique = set(), []
    for index, text in enumerate(texts):
        key = hashlib.sha256(" ".join(text.split()).encode("utf-8")).digest()
        if key not in seen:
            seen.add(key)
            unique.append(index)
    kept = unique
    if config.near:
        kept = [unique[index] for index in _near_unique([texts[index] for index in unique], config)]
    return [records[index] for index in kept], {"exact": len(records) - len(unique), "near": len(unique) - len(kept)}


def _near_unique(texts: list[str], config: DedupConfig) -> list[int]:
    """Indices of the texts that remain when each cluster of near duplicates keeps its first member.

    Texts sharing a band of their MinHash signature are candidates; a candidate joins its bucket's first
    text when their signatures' agreement (the Jaccard estimate) reaches the threshold, which drops the
    bucket collisions that BigCode's script keeps. Texts shorter than `ngram` words have no shingles and
    are never near duplicates (the exact pass covers them)."""
    hashes, counts = ngram_hashes(texts, config.ngram)
    with_shingles = np.flatnonzero(counts > 0)
    if len(with_shingles) < 2:
        return list(range(len(texts)))
    signatures = _minhash(hashes, counts[with_shingles], config.num_perm)
    bands, rows = lsh_bands(config.threshold, config.num_perm)
    parent = list(range(len(texts)))

    def root(index: int) -> int:
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = parent[index]
        return index

    for band in range(bands):
        keys = signatures[:, band * rows]
        for column in range(band * rows + 1, (band + 1) * rows):
            keys = keys * _NGRAM_MULTIPLIER + signatures[:, column]
        order = np.argsort(keys, kind="stable")  # stable: each bucket's first member is its earliest text
        ordered = keys[order]
        bucket_starts = np.r_[True, ordered[1:] != ordered[:-1]]
        leaders = order[bucket_starts][np.cumsum(bucket_starts) - 1]
        members = np.flatnonzero(leaders != order)
        if not len(members):
            continue
        first, other = leaders[members], order[members]
        similar = (signatures[first] == signatures[other]).mean(axis=1) >= config.threshold
        for a, b in zip(with_shingles[first[similar]], with_shingles[other[similar]]):
            ra, rb = root(int(a)), root(int(b))
            parent[max(ra, rb)] = min(ra, rb)  # the earliest text represents the cluster
    return [index for index in range(len(texts)) if root(index) == index]


def _minhash(hashes: np.ndarray, counts: np.ndarray, num_perm: int) -> np.ndarray:
    """MinHash signatures (one row per text with counts > 0) under the hash family x -> a*x + b mod 2^64
    (a odd: a bijection of the 64-bit hashes), for `counts` consecutive hashes per text."""
    rng = np.random.default_rng(_PERMUTATION_SEED)
    a = rng.integers(0, 2**64, num_perm, dtype=np.uint64) | np.uint64(1)
    b = rng.integers(0, 2**64, num_perm, dtype=np.uint64)
    signatures = np.empty((num_perm, len(counts)), np.uint64)
    ends = np.cumsum(counts)
    first = 0
    while first < len(counts):
        start = ends[first] - counts[first]
        # As many whole texts as fit in a chunk, at least one.
        last = max(first + 1, int(np.searchsorted(ends, start + _SIGNATURE_CHUNK, side="right")))
        # Permutations along rows: each text's hashes are contiguous, which reduceat needs to be fast.
        chunk = np.multiply(a[:, None], hashes[None, start:ends[last - 1]])
        chunk += b[:, None]
        signatures[:, first:last] = np.minimum.reduceat(chunk, ends[first:last] - counts[first:last] - start, axis=1)
        first = last
    return np.ascontiguousarray(signatures.T)


@functools.lru_cache
def lsh_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) with bands x rows <= num_perm minimizing the false-positive probability mass below
    the threshold plus the false-negative mass above it, equally weighted (datasketch's MinHashLSH
    _optimal_param, which BigCode's script uses)."""
    below, above = np.linspace(0.0, threshold, 201), np.linspace(threshold, 1.0, 201)
    best, choice = float("inf"), (1, 1)
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            false_positive = np.trapezoid(1 - (1 - below**rows) ** bands, below)
            false_negative = np.trapezoid((1 - above**rows) ** bands, above)
            if false_positive + false_negative < best:
                best, choice = false_positive + false_negative, (bands, rows)
    return choice


# ---------------------------------------------------------------------------------------- decontamination

@dataclass(frozen=True)
class DecontaminationConfig:
    """A record is contaminated when it shares a word n-gram with a benchmark task's prompt or solution.
    13 words is GPT-3's test-overlap rule (arXiv 2005.14165, App. C: lowercased words), which phi-1 applied
    to HumanEval (arXiv 2306.11644, Sec. 5). Two refinements keep honest data, measured on hand-written
    data-science records that BigCodeBench would otherwise have removed: import lines are left out on
    both sides (a record importing what a task imports has not seen the task), and an n-gram of more than
    `max_tasks_per_ngram` tasks of one benchmark is its frame or stock code (BigCodeBench's "You should
    write self-contained code starting with", evalplus' is_prime helper in five HumanEval+ solutions),
    not evidence. Two, because benchmarks hold near-identical pairs of tasks (HumanEval/56 and /61, Mbpp/104
    and /569, BigCodeBench/1120 and /1121) whose n-grams are all shared by two. Measured: a record holding
    any task's prompt is caught, except the two MBPP+ prompts under 13 words (Mbpp/127, Mbpp/583)."""
    # What benchmark_texts loads; by default those the registry marks (Benchmark.decontaminate).
    benchmarks: tuple[str, ...] = field(default_factory=decontamination_benchmarks)
    fields: tuple[str, ...] = ("problem", "solution")  # the record text compared
    ngram: int = 13
    max_tasks_per_ngram: int = 2

    def __post_init__(self):
        if not self.fields or self.ngram < 1 or self.max_tasks_per_ngram < 1:
            raise ValueError("need at least one field, ngram >= 1 and max_tasks_per_ngram >= 1")
        for name in self.benchmarks:  # a misspelled name is refused now, not after the training
            resolve(name)


_BITMAP_BITS = 24  # 16 MiB of flags: the ~300K benchmark n-grams set under 2% of them

_IMPORT_LINE = re.compile(r"^[ \t]*(?:import[ \t]+\S|from[ \t]+\S+[ \t]+import[ \t]).*$", re.MULTILINE)


def _decontamination_ngrams(texts: list[str], n: int) -> tuple[np.ndarray, np.ndarray]:
    return ngram_hashes([_IMPORT_LINE.sub("", text) for text in texts], n)


def benchmark_texts(benchmarks: tuple[str, ...] | list[str], data_dir=None, **options) -> tuple[dict[str, list[str]], dict[str, str]]:
    """One text per task (its prompts and reference solution) for each benchmark, keyed by the registry's
    name, and the benchmarks skipped with the reason.

    A benchmark is named as in a recipe: `name` or `name:variant` ("livecodebench" is its default release,
    "livecodebench:release_v5" one release, as lcb_runner names them). `data_dir` is harness.benchmarks.data's
    folder (--data-dir / SCODER_DATA_DIR); `options`, more benchmark options by name (lcb_dir=FILE). Only a benchmark whose data lives on the hub alone is skipped when its data is missing;
    a missing evalplus or BigCodeBench file is an error."""
    texts, skipped = {}, {}
    for spec in benchmarks:
        benchmark, selected = benchmark_options(spec, data_dir=str(data_dir) if data_dir else None, **options)
        try:
            texts[benchmark.name] = benchmark.task_texts(selected)
        except DataError as error:
            if not benchmark.hub_only_data:
                raise
            skipped[benchmark.name] = f"{benchmark.name} data not found, so not decontaminated against it: {error}"
    return texts, skipped


def decontaminate(records: list[dict], texts: dict[str, list[str]],
                  config: DecontaminationConfig = DecontaminationConfig()) -> tuple[list[dict], dict[str, int]]:
    """The records sharing no n-gram with any benchmark's tasks (input order kept), and per benchmark how
    many records share one (a record can count for several benchmarks)."""
    hashes, counts_per_record = _decontamination_ngrams([_joined(record, config.fields) for record in records], config.ngram)
    owners = np.repeat(np.arange(len(records)), counts_per_record)
    indexes = {benchmark: _task_ngrams(tasks, config) for benchmark, tasks in texts.items()}
    # A bitmap of every benchmark n-gram's top bits lets the few record n-grams that may match through
    # to the exact search; searching all of them in the sorted index is most of the time otherwise.
    bitmap = np.zeros(1 << _BITMAP_BITS, bool)
    for index in indexes.values():
        bitmap[index >> np.uint64(64 - _BITMAP_BITS)] = True
    candidates = np.flatnonzero(bitmap[hashes >> np.uint64(64 - _BITMAP_BITS)])
    probes = hashes[candidates]
    contaminated = np.zeros(len(records), bool)
    counts = {}
    for benchmark, index in indexes.items():
        matched = np.zeros(len(records), bool)
        if len(index):
            found = np.searchsorted(index, probes).clip(max=len(index) - 1)
            matched[owners[candidates[index[found] == probes]]] = True
        counts[benchmark] = int(matched.sum())
        contaminated |= matched
    return [record for record, dirty in zip(records, contaminated) if not dirty], counts


def _task_ngrams(tasks: list[str], config: DecontaminationConfig) -> np.ndarray:
    """The sorted n-gram hashes of a benchmark's tasks, without those in more than max_tasks_per_ngram tasks."""
    hashes, counts = _decontamination_ngrams(tasks, config.ngram)
    task_of = np.repeat(np.arange(len(tasks)), counts)
    per_task = np.unique(np.stack([hashes, task_of.astype(np.uint64)]), axis=1)[0]  # each n-gram once per task
    ngrams, tasks_having = np.unique(per_task, return_counts=True)
    return ngrams[tasks_having <= config.max_tasks_per_ngram]
