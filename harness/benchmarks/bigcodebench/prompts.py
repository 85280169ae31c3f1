"""BigCodeBench prompts as bigcodebench 0.2.5 writes them (generate.py: the prefixes, 1280 new tokens, sanitize with
the entry point; provider/utility.py: make_raw_chat_prompt per split, the EOS lists; base models only for `complete`)."""

from __future__ import annotations

from harness.generation.prompts import COMMON_STOPS, INSTRUCTION_PREFIX, Prompt, PromptSet, fenced_chat, sanitized
from harness.generation.sanitize import BIGCODEBENCH

DIRECT_COMPLETION_STOPS = ("\ndef ", "\nclass ", "\nimport ", "\nfrom ", "\nassert ")  # provider/utility.py EOS
EXTRACTION = sanitized(BIGCODEBENCH)
MAX_NEW_TOKENS = 1280  # generate.py's default


def bigcodebench_prompts(dataset, split: str, chat: bool) -> PromptSet:
    """BigCodeBench full or hard (a harness.benchmarks.bigcodebench.tasks Dataset), split complete or instruct."""
    if not chat and split == "instruct":
        raise ValueError("the instruct split needs a chat prompt: base models only answer the complete split "
                         "(as bigcodebench's generate refuses); drop --base-prompt or use --split complete")
    prompts = []
    for task_id, problem in dataset.problems.items():
        if not chat:
            prompts.append(Prompt(task_id, text=problem.complete_prompt, stop=COMMON_STOPS + DIRECT_COMPLETION_STOPS,
                                  entry_point=problem.entry_point))
            continue
        task = problem.complete_prompt if split == "complete" else problem.instruct_prompt
        instruction = (f"{INSTRUCTION_PREFIX}\n```\n{task.strip()}\n```\n" if split == "complete"
                       else f"{INSTRUCTION_PREFIX}\n{task.strip()}\n")
        prompts.append(fenced_chat(task_id, instruction, problem.entry_point))
    return PromptSet(f"bigcodebench-{split}-{'chat' if chat else 'base'}", prompts, default_max_new_tokens=MAX_NEW_TOKENS, extraction=EXTRACTION)
