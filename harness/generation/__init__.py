"""Generation: model backends, the benchmarks' official prompts, and program extraction from outputs."""
