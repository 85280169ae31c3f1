"""Evaluation harness for code LLMs: HumanEval(+), MBPP(+), with verdicts equal to the official evaluators."""

__version__ = "0.1.0"
