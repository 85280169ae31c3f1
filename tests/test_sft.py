"""SFT through TRL on the embedded model: checkpoints where asked, and a killed run resumes from its
newest checkpoint instead of starting again."""

import json
import shutil
from pathlib import Path

import pytest

from scoder import synthesis
from scoder.sft import SFTSettings, checkpoint_steps, checkpoints_in, total_steps, train

SEED = Path(__file__).resolve().parent.parent / "recipes" / "data" / "seed_synthesis.jsonl"


def test_checkpoints_are_evenly_spaced_and_end_at_the_last_step():
    assert checkpoint_steps(10, 5) == [2, 4, 6, 8, 10]
    assert checkpoint_steps(3, 5) == [1, 2, 3]
    assert checkpoint_steps(7, 1) == [7]
    assert total_steps(12, SFTSettings(batch_size=4, epochs=2)) == 6
    assert total_steps(13, SFTSettings(batch_size=4, epochs=1, gradient_accumulation=2)) == 2
    with pytest.raises(ValueError, match="at least 1"):
        SFTSettings(checkpoints=0)


def test_lora_training_keeps_checkpoints_and_resumes(tmp_path):
    rows = [json.loads(line) for line in SEED.read_text().splitlines()[:4]]
    examples = [synthesis.synthesizer_example(row["snippet"], row["problem"], row["solution"]) for row in rows]
    settings = SFTSettings(epochs=1, batch_size=2, checkpoints=2, learning_rate=3e-4, lora_r=4, lora_alpha=8, max_length=384)
    checkpoints = train("smollm2-135m-instruct", examples, tmp_path, settings, progress=False)
    assert [path.name for path in checkpoints] == ["checkpoint-1", "checkpoint-2"]
    for path in checkpoints:
        assert {"adapter_model.safetensors", "optimizer.pt", "trainer_state.json", "tokenizer.json"} <= {p.name for p in path.iterdir()}
    first_losses = [entry["loss"] for entry in json.loads((checkpoints[-1] / "trainer_state.json").read_text())["log_history"] if "loss" in entry]

    shutil.rmtree(checkpoints[-1])  # killed after the first checkpoint
    resumed = train("smollm2-135m-instruct", examples, tmp_path, settings, progress=False)
    assert [path.name for path in resumed] == ["checkpoint-1", "checkpoint-2"]
    history = json.loads((resumed[-1] / "trainer_state.json").read_text())["log_history"]
    losses = [entry["loss"] for entry in history if "loss" in entry]
    assert len(losses) == 2 and losses[0] == first_losses[0]  # step 1 came from the checkpoint, not a new run
    assert checkpoints_in(tmp_path / "nothing") == []
