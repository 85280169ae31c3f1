"""HumanEval+ and MBPP+ prompts as evalplus 0.3.1 writes them (codegen.py: the instruction and response prefixes,
`prompt.strip() + "\\n"`; provider/utility.py: the EOS lists), and its sanitizer as the extraction."""

from __future__ import annotations

from harness.generation.prompts import COMMON_STOPS, INSTRUCTION_PREFIX, Prompt, PromptSet, fenced_chat, sanitized
from harness.generation.sanitize import EVALPLUS

# provider/utility.py EOS for direct completion, per dataset
DIRECT_COMPLETION_STOPS = {
    "humaneval": ("\ndef ", "\nclass ", "\nimport ", "\nfrom ", "\nassert "),
    "mbpp": ('\n"""', "\nassert"),
}
EXTRACTION = sanitized(EVALPLUS)
MAX_NEW_TOKENS = 768  # codegen.py's default


def evalplus_prompts(dataset, chat: bool) -> PromptSet:
    """HumanEval+ / MBPP+ (a harness.benchmarks.evalplus.tasks Dataset)."""
    family = dataset.benchmark.family
    prompts = []
    for task_id, problem in dataset.problems.items():
        text = problem.prompt.strip() + "\n"
        if chat:
            prompts.append(fenced_chat(task_id, f"{INSTRUCTION_PREFIX}\n```\n{text.strip()}\n```\n", problem.entry_point))
        else:
            prompts.append(Prompt(task_id, text=text, stop=COMMON_STOPS + DIRECT_COMPLETION_STOPS[family], entry_point=problem.entry_point))
    return PromptSet(f"evalplus-{'chat' if chat else 'base'}", prompts, default_max_new_tokens=MAX_NEW_TOKENS, extraction=EXTRACTION)
