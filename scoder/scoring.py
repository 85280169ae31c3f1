"""Multi-aspect scoring of synthesized samples: a judge model rates 10 aspects 0-9, the sandbox adds
execution signals, a weighted sum ranks the samples and the top fraction is kept.

SCoder rates each sample on 10 aspects with integer scores 0-9 combined by a weighted sum; the paper's
rubric text is not available to us, so the aspects below are ours (named in the method issue) and the
weights default to equal. The judge answers all aspects in one reply, one line each ("name: score -
reason"); an aspect it leaves out scores 0, so a judge that cannot follow the format ranks nothing high.
Execution signals are computed by the harness sandbox, never trusted from the program: the solution
parses, runs to the end, and passes the tests it ships with (asserts or zero-argument test_* functions).
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from harness.generation.backend import Decoding
from harness.generation.prompts import Prompt
from harness.journal import Journal

ASPECTS = {
    "problem_clarity": "Is the problem statement unambiguous, with inputs, outputs and constraints stated?",
    "self_containedness": "Can the problem be solved from its text alone, without the snippet or outside context?",
    "difficulty": "Does solving it need real reasoning or algorithmic thought (0 trivial, 9 hard but fair)?",
    "snippet_relevance": "Is the problem clearly inspired by the given code snippet's ideas or techniques?",
    "solution_correctness": "Does the solution correctly solve the problem as stated, including edge cases?",
    "consistency": "Do the problem and the solution agree (names, signatures, input and output formats)?",
    "code_quality": "Is the solution readable, idiomatic, and well structured?",
    "efficiency": "Does the solution use a sensible algorithm and data structures for the problem's scale?",
    "test_coverage": "Does the sample include tests or examples that exercise normal and edge cases?",
    "educational_value": "Would a programmer learn something useful from this problem and solution?",
}
EXECUTION_SIGNALS = ("parses", "runs", "passes_own_tests")
MAX_SCORE = 9


@dataclass(frozen=True)
class ScoringConfig:
    """enabled false keeps every parsed sample (the no-scorer ablation). keep_fraction: SCoder keeps the
    best by score before the influence filter; 0.5 is our default, not the paper's (not stated there)."""
    enabled: bool = True
    judge: str | None = None  # a model spec; None: the synthesizer's base model judges
    weights: dict[str, float] = field(default_factory=dict)  # aspect or execution signal -> weight; missing: 1.0
    execution: bool = True  # add the sandbox signals (scored 0 or 9)
    keep_fraction: float = 0.5
    max_new_tokens: int = 512
    temperature: float = 0.0  # greedy: a judge should be deterministic

    def __post_init__(self):
        unknown = set(self.weights) - set(ASPECTS) - set(EXECUTION_SIGNALS)
        if unknown:
            raise ValueError(f"weights name unknown aspects {sorted(unknown)}; known: {', '.join([*ASPECTS, *EXECUTION_SIGNALS])}")
        if any(weight < 0 for weight in self.weights.values()):
            raise ValueError("weights must be >= 0")
        if not 0 < self.keep_fraction <= 1:
            raise ValueError("keep_fraction must be in (0, 1]")

    def weight(self, name: str) -> float:
        return self.weights.get(name, 1.0)


def judge_prompt(sample: dict) -> str:
    rubric = "\n".join(f"- {name}: {question}" for name, question in ASPECTS.items())
    lines = "\n".join(f"{name}: <0-{MAX_SCORE}> - <one short reason>" for name in ASPECTS)
    return (f"You are reviewing a programming exercise written from a code snippet.\n\n"
            f"Snippet:\n```python\n{sample['snippet']}\n```\n\nProblem:\n{sample['problem']}\n\n"
            f"Solution:\n```python\n{sample['solution']}\n```\n\n"
            f"Rate each aspect with an integer from 0 (worst) to {MAX_SCORE} (best):\n{rubric}\n\n"
            f"Answer with exactly these {len(ASPECTS)} lines and nothing else:\n{lines}\n")


_LINE = re.compile(r"^[\s*#>\-\d.)]*`?\**(?P<name>[A-Za-z_ -]+?)\**`?\s*[:=]\s*\**\s*(?P<score>\d+)(?:\s*/\s*\d+)?\**\s*(?:[-:–—]\s*)?(?P<reason>.*)$")


def parse_judgement(text: str) -> dict[str, dict]:
    """{aspect: {"score": 0-9, "reason": str}} for each aspect the reply rates; names are matched
    case- and separator-insensitively; out-of-range scores are clipped."""
    found: dict[str, dict] = {}
    wanted = {name.replace("_", ""): name for name in ASPECTS}
    for line in text.splitlines():
        match = _LINE.match(line.strip())
        if not match:
            continue
        name = wanted.get(re.sub(r"[\s_-]", "", match["name"]).lower())
        if name and name not in found:
            found[name] = {"score": min(int(match["score"]), MAX_SCORE), "reason": match["reason"].strip()[:300]}
    return found


def total(aspects: dict[str, dict], signals: dict[str, bool] | None, config: ScoringConfig) -> float:
    """The weighted mean on the 0-9 scale; an aspect the judge did not rate counts 0."""
    parts = [(config.weight(name), aspects.get(name, {}).get("score", 0)) for name in ASPECTS]
    if signals is not None:
        parts += [(config.weight(name), MAX_SCORE if signals[name] else 0) for name in EXECUTION_SIGNALS]
    weight = sum(weight for weight, _ in parts)
    return sum(weight * score for weight, score in parts) / weight if weight else 0.0


def judge(backend, samples: list[dict], config: ScoringConfig, journal: Journal, batch_size: int, progress: bool) -> None:
    """Ask the judge about every sample not yet in the journal; records {"aspects", "judge_raw"}."""
    todo = [sample for sample in samples if "judge:" + sample["id"] not in journal.records]
    if not todo:
        return
    prompts = [Prompt(sample["id"], ({"role": "user", "content": judge_prompt(sample)},)) if backend.chat
               else Prompt(sample["id"], text=judge_prompt(sample)) for sample in todo]
    decoding = Decoding(temperature=config.temperature, max_new_tokens=config.max_new_tokens, batch_size=batch_size)
    bar = tqdm(total=len(todo), desc="judge", unit="sample", disable=not progress)
    for index, outputs, _ in backend.generate(prompts, decoding):
        journal.append("judge:" + todo[index]["id"], {"aspects": parse_judgement(outputs[0]), "judge_raw": outputs[0]})
        bar.update()
    bar.close()


def ships_tests(solution: str) -> bool:
    try:
        tree = ast.parse(solution)
    except SyntaxError:
        return False
    return any(isinstance(node, ast.Assert) or (isinstance(node, ast.FunctionDef) and node.name.startswith("test"))
               for node in ast.walk(tree))


# Appended to the solution in the sandbox: calls the zero-argument test_* functions it defines. The
# program cannot fake the result: the parent only reads whether the run reached the end.
_RUN_OWN_TESTS = """

def __scoder_run_own_tests__():
    for __name, __value in list(globals().items()):
        if __name.startswith("test") and callable(__value) and not isinstance(__value, type) \\
                and getattr(getattr(__value, "__code__", None), "co_argcount", 1) == 0:
            __value()
"""


def execution_signals(samples: list[dict], journal: Journal, seconds: float = 10.0, progress: bool = False) -> None:
    """Run every sample's solution in the sandbox (as __main__, so its own main-guarded tests run too)."""
    from harness.execution import values
    from harness.execution.executor import Executor
    from harness.execution.limits import Limits
    from harness.execution.pool import Run
    from harness.execution.sandbox import choose

    todo = [sample for sample in samples if "exec:" + sample["id"] not in journal.records]
    parsed = {sample["id"]: _parses(sample["solution"]) for sample in todo}
    for sample in todo:
        if not parsed[sample["id"]]:
            journal.append("exec:" + sample["id"], {"parses": False, "runs": False, "passes_own_tests": False})
    runnable = [sample for sample in todo if parsed[sample["id"]]]
    if not runnable:
        return
    runs = [(sample["id"], Run(sample["solution"] + _RUN_OWN_TESTS, "__scoder_run_own_tests__", values.encode([[]]).encode(),
                               [seconds], budget_cpu_s=seconds + 5, budget_wall_s=3 * seconds + 5, module_name="__main__",
                               devnull_stdin=True), _Outcome) for sample in runnable]
    by_id = {sample["id"]: sample for sample in runnable}
    bar = tqdm(total=len(runs), desc="execute", unit="sample", disable=not progress)
    with Executor().pool(None, choose(), Limits()) as pool:  # where every sandboxed run goes
        for key, outcome in pool.map(runs):
            ran = outcome.finished
            journal.append("exec:" + key, {"parses": True, "runs": ran, "passes_own_tests": ran and ships_tests(by_id[key]["solution"])})
            bar.update()
    bar.close()


def _parses(solution: str | None) -> bool:
    try:
        ast.parse(solution or "")
        return bool(solution and solution.strip())
    except (SyntaxError, ValueError):
        return False


class _Outcome:
    """Listens to one sandboxed run: it finished when the child reported the test call done ("D")."""

    def __init__(self):
        self.finished = False

    def on_line(self, line: bytes) -> bool:
        if line.startswith(b"D "):
            self.finished = True
        return line[:2] in (b"L ", b"E ")

    def on_done(self, report: dict) -> None:
        if report.get("killed"):
            self.finished = False


def score(samples: list[dict], config: ScoringConfig, judge_backend, batch_size: int, journal_path: Path,
          progress: bool = True) -> list[dict]:
    """Every parsed sample with its aspects, signals and total, best first."""
    parsed = [sample for sample in samples if sample.get("problem") and sample.get("solution")]
    fingerprint = hashlib.sha256(json.dumps([config.__dict__, judge_backend.describe() if judge_backend else None],
                                            sort_keys=True, default=str).encode()).hexdigest()
    journal = Journal(journal_path, fingerprint)
    try:
        judge(judge_backend, parsed, config, journal, batch_size, progress)
        if config.execution:
            execution_signals(parsed, journal, progress=progress)
    finally:
        journal.close()
    scored = []
    for sample in parsed:
        verdict = journal.records["judge:" + sample["id"]]
        signals = journal.records["exec:" + sample["id"]] if config.execution else None
        scored.append({**sample, "aspects": verdict["aspects"], "judge_raw": verdict["judge_raw"], "signals": signals,
                       "score": round(total(verdict["aspects"], signals, config), 4)})
    return sorted(scored, key=lambda sample: -sample["score"])


def keep_top(scored: list[dict], fraction: float) -> list[dict]:
    """The best `fraction` of the samples (at least one when there are any), in score order."""
    return scored[:max(1, round(len(scored) * fraction))] if scored else []
