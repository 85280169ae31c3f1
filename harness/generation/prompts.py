"""Prompts and the extraction of what is scored from an output, for every benchmark: a benchmark's package builds
its official prompts (harness.benchmarks.<family>.prompts) from these pieces.

A chat prompt is a list of messages plus an optional response prefix that is prefilled as the start of
the assistant's reply (evalplus and bigcodebench end it with an open ```python fence). A base prompt is
plain text that the model continues. Sources, quoted as facts:
- evalplus 0.3.1: codegen.py (prefixes, `prompt.strip() + "\\n"`), provider/utility.py (EOS lists,
  make_raw_chat_prompt), provider/hf.py (chat stop "\\n```\\n", outputs cut at the first stop, tabs to
  four spaces, solution = prompt + output for direct completion, then sanitize).
- bigcodebench 0.2.5: generate.py and provider/utility.py (the same chat form and EOS lists).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from harness.generation.sanitize import sanitize

# evalplus / bigcodebench provider/utility.py EOS: a stop for every prompt form.
COMMON_STOPS = ("<|endoftext|>", "<|endofmask|>", "</s>", "\nif __name__", "\ndef main(", "\nprint(")
CHAT_CODE_STOP = "\n```\n"  # the prefilled fence closes: the program is complete
INSTRUCTION_PREFIX = "Please provide a self-contained Python script that solves the following problem in a markdown code block:"
RESPONSE_PREFIX = "Below is a Python script with a self-contained function that solves the problem and passes corresponding tests:"


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
class Extraction:
    """How a benchmark turns one output into the program it runs. `name` is recorded with what `scoder sanitize`
    writes; `program(prompt, output)` gets a chat reply, or what follows a base prompt."""
    name: str
    program: Callable[[Prompt, str], str]


def sanitized(flavor: str) -> Extraction:
    """evalplus' or bigcodebench's sanitizer (harness.generation.sanitize, its `flavor`), which reads a base prompt's
    program from the prompt and the output together, and keeps what the entry point reaches."""
    def program(prompt: Prompt, output: str) -> str:
        return sanitize(output if prompt.is_chat else prompt.text + output, prompt.entry_point, flavor)
    return Extraction(flavor, program)


@dataclass(frozen=True)
class PromptSet:
    """The prompts of one benchmark in one form, and how outputs become programs."""
    format: str  # recorded in the samples, e.g. "evalplus-chat"
    prompts: list[Prompt] = field(repr=False)
    default_max_new_tokens: int
    extraction: Extraction

    def program(self, prompt: Prompt, output: str) -> tuple[str, str]:
        """(solution, raw_solution) for one output as the model gave it: cut at the first stop, tabs as spaces."""
        output = cut_at_stops(output, prompt.stop).replace("\t", "    ")
        return self.extract(prompt, output), output if prompt.is_chat else prompt.text + output

    def extract(self, prompt: Prompt, output: str) -> str:
        """The program in one output: a chat reply, or what follows a base prompt (which the program starts with)."""
        return self.extraction.program(prompt, output)


def cut_at_stops(output: str, stops: tuple[str, ...]) -> str:
    """The output up to its first stop string (which is not kept), as the official tools and the
    OpenAI API cut."""
    found = [output.index(stop) for stop in stops if stop in output]
    return output[:min(found)] if found else output


def fenced_chat(task_id: str, instruction: str, entry_point: str, extra_stops: tuple[str, ...] = ()) -> Prompt:
    return Prompt(task_id, ({"role": "user", "content": instruction},), f"{RESPONSE_PREFIX}\n```python\n",
                  stop=COMMON_STOPS + (CHAT_CODE_STOP,) + extra_stops, entry_point=entry_point)


