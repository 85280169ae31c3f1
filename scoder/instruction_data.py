"""Instruction datasets for the target model (SCoder adds evol-codealpaca-v1, whose rows are
{"instruction", "output"}: hub id theblackcat102/evol-codealpaca-v1), as prompt-completion examples."""

from __future__ import annotations

import json
from pathlib import Path


def load_instructions(source) -> list[dict]:
    """Examples from an InstructionSource: `hf:NAME` through `datasets`, or a local .jsonl/.json file
    or a dataset folder (`datasets` reads it without the network)."""
    rows = _rows(source)
    examples = []
    for number, row in enumerate(rows, 1):
        prompt, completion = row.get(source.prompt_field), row.get(source.completion_field)
        if not isinstance(prompt, str) or not isinstance(completion, str):
            raise ValueError(f"{source.source} row {number}: needs string fields {source.prompt_field!r} and {source.completion_field!r}")
        if prompt.strip() and completion.strip():
            examples.append({"prompt": [{"role": "user", "content": prompt}],
                             "completion": [{"role": "assistant", "content": completion}]})
        if source.limit is not None and len(examples) >= source.limit:
            break
    if not examples:
        raise ValueError(f"{source.source}: no instruction examples")
    return examples


def _rows(source):
    path = Path(source.source)
    if path.is_file() and path.suffix == ".jsonl":
        return (json.loads(line) for line in path.read_text().split("\n") if line.strip())
    if path.is_file() and path.suffix == ".json":
        data = json.loads(path.read_text())
        return data if isinstance(data, list) else data.get(source.split, [])
    name = source.source.removeprefix("hf:")
    if not source.source.startswith("hf:") and not path.exists():
        raise ValueError(f"{source.source}: no such file or folder (a hub dataset is written hf:NAME)")
    try:
        from datasets import load_dataset
    except ImportError:
        raise ValueError("instruction datasets need the datasets package: pip install 'scoder-harness[train]'") from None
    try:
        return load_dataset(name, split=source.split)
    except Exception as error:  # datasets raises many kinds for "not reachable / not found"
        raise ValueError(f"cannot load the dataset {name!r} ({type(error).__name__}: {str(error).splitlines()[0][:200]}); "
                         "offline, download it elsewhere and give its local path") from None
