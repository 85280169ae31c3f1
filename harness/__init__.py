"""Evaluation harness for code LLMs: HumanEval(+), MBPP(+), with verdicts equal to the official evaluators."""

__version__ = "0.2.0"  # 0.2: verdict rules changed, so journals written by 0.1 are not reused
