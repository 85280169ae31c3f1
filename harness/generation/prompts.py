"""The official prompt of each benchmark, in its chat form and its base (direct completion) form, and the
post-processing that turns an output into the program that is run.

A chat prompt is a list of messages plus an optional response prefix that is prefilled as the start of
the assistant's reply (evalplus and bigcodebench end it with an open ```python fence). A base prompt is
plain text that the model continues. Sources, quoted as facts:
- evalplus 0.3.1: codegen.py (prefixes, `prompt.strip() + "\\n"`), provider/utility.py (EOS lists,
  make_raw_chat_prompt), provider/hf.py (chat stop "\\n```\\n", outputs cut at the first stop, tabs to
  four spaces, solution = prompt + output for direct completion, then sanitize).
- bigcodebench 0.2.5: generate.py (prefixes, 1280 new tokens, sanitize with the entry point) and
  provider/utility.py (make_raw_chat_prompt per split, EOS lists); base models only for `complete`.
- lcb_runner (LiveCodeBench, prompts/code_generation.py at 4fa1594): the generic chat format (system
  message and the ### Question / ### Format / ### Answer user message); its base format is one few-shot
  example from the repository's few_shot_examples files, which are not distributed with the dataset:
  point $SCODER_LCB_FEWSHOT_DIR at a folder with its func.json and stdin.json, or the base prompt is
  zero-shot (recorded as such in the samples' prompt format).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from harness.generation.sanitize import BIGCODEBENCH, EVALPLUS, last_fenced_block, sanitize

FENCED = "fenced"  # an extraction: the last fenced code block of the reply, as lcb_runner extracts

# evalplus / bigcodebench provider/utility.py EOS: a stop for every prompt form.
COMMON_STOPS = ("<|endoftext|>", "<|endofmask|>", "</s>", "\nif __name__", "\ndef main(", "\nprint(")
CHAT_CODE_STOP = "\n```\n"  # the prefilled fence closes: the program is complete
INSTRUCTION_PREFIX = "Please provide a self-contained Python script that solves the following problem in a markdown code block:"
RESPONSE_PREFIX = "Below is a Python script with a self-contained function that solves the problem and passes corresponding tests:"
_DIRECT_COMPLETION_STOPS = {
    "humaneval": ("\ndef ", "\nclass ", "\nimport ", "\nfrom ", "\nassert "),
    "mbpp": ('\n"""', "\nassert"),
    "bigcodebench": ("\ndef ", "\nclass ", "\nimport ", "\nfrom ", "\nassert "),
}

LCB_SYSTEM_MESSAGE = ("You are an expert Python programmer. You will be given a question (problem specification) and will "
                      "generate a correct Python program that matches the specification and passes all tests. You will NOT "
                      "return anything except for the program.")
LCB_WITH_STARTER = "You will use the following starter code to write the solution to the problem and enclose your code within delimiters."
LCB_WITHOUT_STARTER = ("Read the inputs from stdin solve the problem and write the answer to stdout (do not directly test on the "
                       "sample inputs). Enclose your code within delimiters as follows.")
LCB_FEWSHOT_VARIABLE = "SCODER_LCB_FEWSHOT_DIR"
LCB_STOPS = ("###",)  # lcb_runner's --stop default, for every model style


@dataclass(frozen=True)
class Prompt:
    task_id: str
    messages: tuple[dict, ...] = ()  # chat form
    response_prefix: str = ""  # chat form: the start of the assistant's reply, prefilled
    text: str = ""  # base form
    stop: tuple[str, ...] = ()
    entry_point: str | None = None  # what the sanitizer keeps reachable

    @property
    def is_chat(self) -> bool:
        return bool(self.messages)


@dataclass(frozen=True)
class PromptSet:
    """The prompts of one benchmark in one form, and how outputs become programs."""
    format: str  # recorded in the samples, e.g. "evalplus-chat"
    prompts: list[Prompt] = field(repr=False)
    default_max_new_tokens: int
    extraction: str = EVALPLUS  # how an output becomes the program: sanitize's flavor (EVALPLUS, BIGCODEBENCH) or FENCED

    def program(self, prompt: Prompt, output: str) -> tuple[str, str]:
        """(solution, raw_solution) for one output as the model gave it: cut at the first stop, tabs as spaces."""
        output = cut_at_stops(output, prompt.stop).replace("\t", "    ")
        return self.extract(prompt, output), output if prompt.is_chat else prompt.text + output

    def extract(self, prompt: Prompt, output: str) -> str:
        """The program in one output: a chat reply, or what follows a base prompt (which the program starts with)."""
        if self.extraction == FENCED:
            return last_fenced_block(output)
        return sanitize(output if prompt.is_chat else prompt.text + output, prompt.entry_point, self.extraction)


def cut_at_stops(output: str, stops: tuple[str, ...]) -> str:
    """The output up to its first stop string (which is not kept), as the official tools and the
    OpenAI API cut."""
    found = [output.index(stop) for stop in stops if stop in output]
    return output[:min(found)] if found else output


def _fenced_chat(task_id: str, instruction: str, entry_point: str, extra_stops: tuple[str, ...] = ()) -> Prompt:
    return Prompt(task_id, ({"role": "user", "content": instruction},), f"{RESPONSE_PREFIX}\n```python\n",
                  stop=COMMON_STOPS + (CHAT_CODE_STOP,) + extra_stops, entry_point=entry_point)


def evalplus_prompts(dataset, chat: bool) -> PromptSet:
    """HumanEval+ / MBPP+ (a harness.benchmarks.evalplus Dataset)."""
    family = dataset.benchmark.family
    prompts = []
    for task_id, problem in dataset.problems.items():
        text = problem.prompt.strip() + "\n"
        if chat:
            prompts.append(_fenced_chat(task_id, f"{INSTRUCTION_PREFIX}\n```\n{text.strip()}\n```\n", problem.entry_point))
        else:
            prompts.append(Prompt(task_id, text=text, stop=COMMON_STOPS + _DIRECT_COMPLETION_STOPS[family], entry_point=problem.entry_point))
    return PromptSet(f"evalplus-{'chat' if chat else 'base'}", prompts, default_max_new_tokens=768)


def bigcodebench_prompts(dataset, split: str, chat: bool) -> PromptSet:
    """BigCodeBench full or hard (a harness.benchmarks.bigcodebench Dataset), split complete or instruct."""
    if not chat and split == "instruct":
        raise ValueError("the instruct split needs a chat prompt: base models only answer the complete split "
                         "(as bigcodebench's generate refuses); drop --base-prompt or use --split complete")
    prompts = []
    for task_id, problem in dataset.problems.items():
        if not chat:
            prompts.append(Prompt(task_id, text=problem.complete_prompt, stop=COMMON_STOPS + _DIRECT_COMPLETION_STOPS["bigcodebench"],
                                  entry_point=problem.entry_point))
            continue
        task = problem.complete_prompt if split == "complete" else problem.instruct_prompt
        instruction = (f"{INSTRUCTION_PREFIX}\n```\n{task.strip()}\n```\n" if split == "complete"
                       else f"{INSTRUCTION_PREFIX}\n{task.strip()}\n")
        prompts.append(_fenced_chat(task_id, instruction, problem.entry_point))
    return PromptSet(f"bigcodebench-{split}-{'chat' if chat else 'base'}", prompts, default_max_new_tokens=1280, extraction=BIGCODEBENCH)


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
    """LiveCodeBench code generation (harness.benchmarks.livecodebench Problems)."""
    if chat:
        prompts = [Prompt(problem.question_id, ({"role": "system", "content": LCB_SYSTEM_MESSAGE},
                                                {"role": "user", "content": _lcb_question(problem)}), stop=LCB_STOPS)
                   for problem in problems]
        return PromptSet("livecodebench-chat", prompts, default_max_new_tokens=2000, extraction=FENCED)
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
    return PromptSet(f"livecodebench-base{'' if examples else '-zero-shot'}", prompts, default_max_new_tokens=2000, extraction=FENCED)
