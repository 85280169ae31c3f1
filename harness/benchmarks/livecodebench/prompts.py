"""LiveCodeBench code generation prompts, as lcb_runner writes them (prompts/code_generation.py at 4fa1594): the
generic chat format (system message and the ### Question / ### Format / ### Answer user message); its base format is
one few-shot example from the repository's few_shot_examples files, which are not distributed with the dataset:
point $SCODER_LCB_FEWSHOT_DIR at a folder with its func.json and stdin.json, or the base prompt is zero-shot
(recorded as such in the samples' prompt format). The program is the reply's last fenced block, as lcb_runner
extracts it."""

from __future__ import annotations

import json
import os
from pathlib import Path

from harness.generation.prompts import Extraction, Prompt, PromptSet
from harness.generation.sanitize import last_fenced_block

EXTRACTION = Extraction("fenced", lambda prompt, output: last_fenced_block(output))
MAX_NEW_TOKENS = 2000  # lcb_runner's --max_tokens default
LCB_SYSTEM_MESSAGE = ("You are an expert Python programmer. You will be given a question (problem specification) and will "
                      "generate a correct Python program that matches the specification and passes all tests. You will NOT "
                      "return anything except for the program.")
LCB_WITH_STARTER = "You will use the following starter code to write the solution to the problem and enclose your code within delimiters."
LCB_WITHOUT_STARTER = ("Read the inputs from stdin solve the problem and write the answer to stdout (do not directly test on the "
                       "sample inputs). Enclose your code within delimiters as follows.")
LCB_FEWSHOT_VARIABLE = "SCODER_LCB_FEWSHOT_DIR"
LCB_STOPS = ("###",)  # lcb_runner's --stop default, for every model style


def _lcb_question(problem) -> str:
    text = f"### Question:\n{problem.question_content}\n\n"
    if problem.starter_code:
        text += f"### Format: {LCB_WITH_STARTER}\n```python\n{problem.starter_code}\n```\n\n"
    else:
        text += f"### Format: {LCB_WITHOUT_STARTER}\n```python\n# YOUR CODE HERE\n```\n\n"
    return text + "### Answer: (use the provided format with backticks)\n\n"


def _lcb_fewshot_examples() -> dict[str, dict] | None:
    folder = os.environ.get(LCB_FEWSHOT_VARIABLE)
    if not folder:
        return None
    try:
        return {kind: json.loads((Path(folder) / f"{kind}.json").read_text())[0] for kind in ("func", "stdin")}
    except (OSError, ValueError, IndexError, KeyError) as error:
        raise ValueError(f"${LCB_FEWSHOT_VARIABLE}={folder}: expected lcb_runner's func.json and stdin.json there ({error})")


def _lcb_base_block(question: str, starter_code: str, answer: str, with_starter: bool) -> str:
    block = f"### Question\n{question}\n\n"
    if with_starter:
        block += f"### Starter Code\n{starter_code}\n\n"
    block += f"### Answer\n\n{answer}"
    return block + ("\n\n" if answer else "")


def livecodebench_prompts(problems, chat: bool) -> PromptSet:
    """LiveCodeBench code generation (harness.benchmarks.livecodebench.tasks Problems)."""
    if chat:
        prompts = [Prompt(problem.question_id, ({"role": "system", "content": LCB_SYSTEM_MESSAGE},
                                                {"role": "user", "content": _lcb_question(problem)}), stop=LCB_STOPS)
                   for problem in problems]
        return PromptSet("livecodebench-chat", prompts, default_max_new_tokens=MAX_NEW_TOKENS, extraction=EXTRACTION)
    examples = _lcb_fewshot_examples()
    prompts = []
    for problem in problems:
        with_starter = bool(problem.starter_code)
        text = ""
        if examples:
            example = examples["func" if with_starter else "stdin"]
            text = _lcb_base_block(example["question"], example["sample_code"], example["answer"], with_starter)
        text += _lcb_base_block(problem.question_content, problem.starter_code, "", with_starter)
        prompts.append(Prompt(problem.question_id, text=text, stop=LCB_STOPS))
    return PromptSet(f"livecodebench-base{'' if examples else '-zero-shot'}", prompts, default_max_new_tokens=MAX_NEW_TOKENS, extraction=EXTRACTION)
