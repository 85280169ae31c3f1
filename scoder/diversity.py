"""How varied a set of synthesized samples is, and how that changes over the self-distillation rounds: a
model trained on its own outputs may collapse onto a few kinds of problems (Shumailov et al. 2024,
"AI models collapse when trained on recursively generated data", Nature 631), which shows as fewer
distinct n-grams, lower token entropy and more near duplicates.

Tokens are code tokens: runs of word characters (identifiers, keywords, numbers) and each other
non-space character on its own, case kept. Whitespace splitting would glue names to punctuation
(`print(x)` is one token, `print(y)` another), so distinct-1 would count formatting; lowercased words
alone would drop the operators that tell `a + b` from `a * b`.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path

from scoder import synthesis
from scoder.iterations import iterations_of, rounds_started
from scoder.runner import RECORDS, read_records

_TOKEN = re.compile(r"\w+|[^\w\s]")
DISTINCT_N = (1, 2, 3)
FIELDS = ("problem", "solution")  # a sample's text: what the synthesizer wrote and the models train on


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def distinct_n(texts: list[str], n: int) -> float:
    """Distinct n-grams over all n-grams of the texts (corpus-level distinct-n of Li et al. 2016,
    arXiv 1510.03055); n-grams never span two texts. 0.0 when no text has n tokens. It falls as a set
    grows (common n-grams repeat), so compare sets of similar size."""
    grams = [tuple(words[i:i + n]) for words in map(tokens, texts) for i in range(len(words) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def token_entropy(texts: list[str]) -> float:
    """Shannon entropy (bits) of the token distribution over all texts."""
    counts = Counter(token for text in texts for token in tokens(text))
    total = sum(counts.values())
    return -sum(count / total * math.log2(count / total) for count in counts.values()) if total else 0.0


def near_duplicate_rate(records: list[dict], fields: tuple[str, ...] = FIELDS) -> float:
    """The fraction of records that the synthesis dedup would remove (exact or MinHash near duplicates of
    an earlier record, with BigCode's parameters)."""
    if not records:
        return 0.0
    _, removed = synthesis.deduplicate(records, synthesis.DedupConfig(fields=fields))
    return (removed["exact"] + removed["near"]) / len(records)


def measure(records: list[dict], fields: tuple[str, ...] = FIELDS) -> dict:
    """{"samples", "distinct-1", "distinct-2", "distinct-3", "entropy", "near-duplicates"} of the records
    that have every field (unparsed candidates have no problem or solution and are left out)."""
    usable = [record for record in records if all(record.get(field) for field in fields)]
    texts = ["\n".join(record[field] for field in fields) for record in usable]
    return {"samples": len(usable), **{f"distinct-{n}": distinct_n(texts, n) for n in DISTINCT_N},
            "entropy": token_entropy(texts), "near-duplicates": near_duplicate_rate(usable, fields)}


def per_iteration(run_dir: str | Path) -> list[dict]:
    """Diversity of each data set a pipeline run made, in order, one dict per set: measure()'s keys plus
    "iteration" and "data":

    - iteration 0, "seed": the hand-written cold-start samples;
    - iteration i, "candidates": what round i sampled (iteration-i/sample), and "selected": what it kept
      (iteration-i/select) for retraining;
    - iteration N+1, "synthesized": the final data (synthesize), drawn from the synthesizer after N
      rounds as a round N+1 would sample it.

    Sets whose stage has not written its records yet are left out, so a run can be watched as it goes."""
    run_dir = Path(run_dir)
    sets = [(0, "seed", run_dir / "seed")]
    sets += [(number, kind, run_dir / f"iteration-{number}" / stage) for number in rounds_started(run_dir)
             for kind, stage in (("candidates", "sample"), ("selected", "select"))]
    if (run_dir / "synthesize" / RECORDS).is_file():
        sets.append((iterations_of(run_dir) + 1, "synthesized", run_dir / "synthesize"))
    return [{"iteration": number, "data": kind, **measure(read_records(folder))}
            for number, kind, folder in sets if (folder / RECORDS).is_file()]
