"""The benchmarks: one package per family (its data, prompts, evaluation, grading and export), the Benchmark
interface (benchmark.py), dataset files (data.py), and the registry (registry.py), the only module that imports
the families' Benchmark objects."""
