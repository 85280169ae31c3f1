"""CRUXEval's official prompts, and how a model's output becomes the answer that is scored.

Sources (github.com/facebookresearch/cruxeval at commit 190faf1), quoted as facts:
- prompts.py: make_direct_output_prompt (lines 48-75), make_cot_output_prompt (18-46), make_direct_input_prompt
  (77-108), make_cot_input_prompt (110-133); the templates below are theirs character for character. (Lines 3-16,
  a prompt for Phind's model alone, are left out.)
- Base models (inference/): the prompt as plain text, generation stopped at "[/ANSWER]" (tasks/output_prediction.py
  line 28, tasks/input_prediction.py line 23), the answer cut out by postprocess_generation (output_prediction.py
  lines 50-60, input_prediction.py lines 40-52); up to 1024 tokens with the prompt, 2048 with chain of thought
  (scripts/run_*_prediction*.sh, --max_length_generation).
- Chat models (openai/): the same prompt as the user message after a system message (openai_prompt.py line 90),
  stopped at "[/ANSWER]" (openai_run.py line 38), the answer cut out by extract_answer_* (openai_prompt.py lines
  22-52); 100 new tokens, 1000 with chain of thought (openai_run.py lines 20-23).
The two extractions differ only for chain of thought without an [ANSWER] tag: base models' rule reads the whole
text, chat models' its last line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.generation.prompts import Extraction, Prompt, cut_at_stops
from harness.generation.sanitize import without_reasoning

OUTPUT, INPUT = "output", "input"  # what is predicted; upstream's --mode
STOP = "[/ANSWER]"
SYSTEM_MESSAGE = "You are an expert at Python programming, code execution, test case generation, and fuzzing."
# The command line fixes the token budget before the model, and so the prompt form, is known: one budget per
# kind of prompt, upstream's larger (base models'). Upstream counts the prompt in it too; the answer ends far sooner.
MAX_NEW_TOKENS = {False: 1024, True: 2048}  # by chain of thought

# Two lines of the chain-of-thought input prompt end in a space upstream: written \x20 so no editor drops it.
TEMPLATES = {
    (OUTPUT, False): """You are given a Python function and an assertion containing an input to the function. Complete the assertion with a literal (no unsimplified expressions, no function calls) containing the output when executing the provided code on the given input, even if the function is incorrect or incomplete. Do NOT output any extra information. Provide the full assertion with the correct output in [ANSWER] and [/ANSWER] tags, following the examples.

[PYTHON]
def f(n):
    return n
assert f(17) == ??
[/PYTHON]
[ANSWER]
assert f(17) == 17
[/ANSWER]

[PYTHON]
def f(s):
    return s + "a"
assert f("x9j") == ??
[/PYTHON]
[ANSWER]
assert f("x9j") == "x9ja"
[/ANSWER]

[PYTHON]
{code}
assert f({input}) == ??
[/PYTHON]
[ANSWER]
""",
    (OUTPUT, True): """You are given a Python function and an assertion containing an input to the function. Complete the assertion with a literal (no unsimplified expressions, no function calls) containing the output when executing the provided code on the given input, even if the function is incorrect or incomplete. Do NOT output any extra information. Execute the program step by step before arriving at an answer, and provide the full assertion with the correct output in [ANSWER] and [/ANSWER] tags, following the examples.

[PYTHON]
def f(s):
    s = s + s
    return "b" + s + "a"
assert f("hi") == ??
[/PYTHON]
[THOUGHT]
Let's execute the code step by step:

1. The function f is defined, which takes a single argument s.
2. The function is called with the argument "hi", so within the function, s is initially "hi".
3. Inside the function, s is concatenated with itself, so s becomes "hihi".
4. The function then returns a new string that starts with "b", followed by the value of s (which is now "hihi"), and ends with "a".
5. The return value of the function is therefore "bhihia".
[/THOUGHT]
[ANSWER]
assert f("hi") == "bhihia"
[/ANSWER]

[PYTHON]
{code}
assert f({input}) == ??
[/PYTHON]
[THOUGHT]
""",
    (INPUT, False): """You will be given a function f and an output in the form f(??) == output. Find any input such that executing f on the input leads to the given output. There may be multiple answers, but you should only output one. In [ANSWER] and [/ANSWER] tags, complete the assertion with one such input that will produce the output when executing the function.

[PYTHON]
def f(my_list):
    count = 0
    for i in my_list:
        if len(i) % 2 == 0:
            count += 1
    return count
assert f(??) == 3
[/PYTHON]
[ANSWER]
assert f(["mq", "px", "zy"]) == 3
[/ANSWER]

[PYTHON]
def f(s1, s2):
    return s1 + s2
assert f(??) == "banana"
[/PYTHON]
[ANSWER]
assert f("ba", "nana") == "banana"
[/ANSWER]

[PYTHON]
{code}
assert f(??) == {output}
[/PYTHON]
[ANSWER]
""",
    (INPUT, True): """You will be given a function f and an output in the form f(??) == output. Your task is to find any input such that executing f on the input leads to the given output. There may be multiple answers, but only output one. First, think step by step. You MUST surround the answer with [ANSWER] and [/ANSWER] tags. Express your answer as a passing assertion containing the input and the given output.

[PYTHON]
def f(x):
    return x + 1
assert f(??) == 17
[/PYTHON]
[THOUGHT]
To find an input such that executing f on the input leads to the given output, we can work backwards from the given assertion. We know that f(??) == 17.\x20

Since the function f(x) returns x + 1, for f(??) to be equal to 17, the value of ?? should be 16.\x20
[/THOUGHT]
[ANSWER]
assert f(16) == 17
[/ANSWER]

[PYTHON]
{code}
assert f(??) == {output}
[/PYTHON]
[THOUGHT]
""",
}


def question(task, mode: str, cot: bool) -> str:
    """Upstream's prompt for one task (a harness.benchmarks.cruxeval.tasks.Task)."""
    return TEMPLATES[mode, cot].format(code=task.code, input=task.input, output=task.output)


def answer_in_assertion(text: str, mode: str) -> str:
    """The predicted output (right of ==) or the call (left of ==, from `f` on), as upstream cuts both: at the
    first ==, so an answer holding one is cut there too."""
    if mode == OUTPUT:
        return text.split("==")[1].strip() if "==" in text else text.strip()
    if "==" in text:
        text = text.split("==")[0].strip()
    if "assert f" in text:
        text = "f" + text.split("assert f")[1].strip()
    return text.strip()


def answer_from_completion(text: str, mode: str, cot: bool) -> str:
    """A base model's answer: what followed the prompt (postprocess_generation)."""
    if cot and "[ANSWER]" in text:
        text = text.split("[ANSWER]")[1].strip()
    return answer_in_assertion(text, mode)


def answer_from_reply(text: str, mode: str, cot: bool) -> str:
    """A chat model's answer: its reply (extract_answer_*)."""
    if not cot:
        return answer_in_assertion(text, mode)
    if "[ANSWER]" not in text:
        return text.split("\n")[-1].strip()
    return answer_in_assertion(text.split("[ANSWER]")[1].strip(), mode)


@dataclass(frozen=True)
class AnswerPrompts:
    """CRUXEval's prompts in one form, offering what `scoder generate` and `scoder sanitize` ask of a prompt set
    (the members of harness.generation.prompts.PromptSet). PromptSet's extractions make programs of outputs, tabs
    turned into spaces; here an output holds a Python expression, whose strings keep their tabs, as upstream's."""
    format: str  # recorded in the samples, e.g. "cruxeval-output-base"
    prompts: list[Prompt] = field(repr=False)
    default_max_new_tokens: int
    mode: str
    cot: bool

    @property
    def extraction(self) -> Extraction:
        """The answer's extraction, under the name `scoder sanitize` records."""
        return Extraction(f"cruxeval-{self.mode}{'-cot' if self.cot else ''}", self.extract)

    def program(self, prompt: Prompt, output: str) -> tuple[str, str]:
        """(answer, raw output) for one output as the model gave it, cut at the stop."""
        output = cut_at_stops(output, prompt.stop)
        return self.extract(prompt, output), output if prompt.is_chat else prompt.text + output

    def extract(self, prompt: Prompt, output: str) -> str:
        """The answer in a chat reply or in what follows a base prompt, also when the prompt is in front of it (a
        base model's raw output, which `scoder sanitize` gets with the chat prompts): upstream then drops it."""
        output = without_reasoning(output)
        text = prompt.text or prompt.messages[-1]["content"]
        if output.startswith(text):
            return answer_from_completion(output[len(text):], self.mode, self.cot)
        if prompt.is_chat:
            return answer_from_reply(output, self.mode, self.cot)
        return answer_from_completion(output, self.mode, self.cot)


def prompt_set(tasks: dict, mode: str, cot: bool, chat: bool) -> AnswerPrompts:
    """The prompts of every task (harness.benchmarks.cruxeval.tasks.load_tasks) in chat or base form."""
    if chat:
        prompts = [Prompt(task.id, ({"role": "system", "content": SYSTEM_MESSAGE}, {"role": "user", "content": question(task, mode, cot)}),
                          stop=(STOP,)) for task in tasks.values()]
    else:
        prompts = [Prompt(task.id, text=question(task, mode, cot), stop=(STOP,)) for task in tasks.values()]
    form = f"cruxeval-{mode}{'-cot' if cot else ''}-{'chat' if chat else 'base'}"
    return AnswerPrompts(form, prompts, MAX_NEW_TOKENS[cot], mode, cot)


def is_chain_of_thought(prompt_format: str) -> bool:
    """Whether samples of this recorded prompt format were asked to think first (upstream names such runs +cot)."""
    return prompt_format.startswith("cruxeval-") and "-cot-" in prompt_format
