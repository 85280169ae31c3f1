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


class Killed(Exception):
    pass


def test_lora_training_keeps_checkpoints_and_resumes(tmp_path):
    from transformers import TrainerCallback

    rows = [json.loads(line) for line in SEED.read_text().splitlines()[:4]]
    examples = [synthesis.synthesizer_example(row["snippet"], row["problem"], row["solution"]) for row in rows]
    settings = SFTSettings(epochs=1, batch_size=2, checkpoints=2, learning_rate=3e-4, lora_r=4, lora_alpha=8, max_length=384)

    class KillAfterFirstCheckpoint(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            raise Killed  # the process dies once checkpoint-1 is on disk

    with pytest.raises(Killed):
        train("smollm2-135m-instruct", examples, tmp_path, settings, progress=False, callbacks=[KillAfterFirstCheckpoint()])
    newest = checkpoints_in(tmp_path)
    assert [path.name for path in newest] == ["checkpoint-1"]
    assert {"optimizer.pt", "scheduler.pt", "adapter_model.safetensors"} <= {p.name for p in newest[0].iterdir()}  # what resuming needs
    first_losses = [entry["loss"] for entry in json.loads((newest[0] / "trainer_state.json").read_text())["log_history"] if "loss" in entry]

    resumed = train("smollm2-135m-instruct", examples, tmp_path, settings, progress=False)
    assert [path.name for path in resumed] == ["checkpoint-1", "checkpoint-2"]
    history = json.loads((resumed[-1] / "trainer_state.json").read_text())["log_history"]
    losses = [entry["loss"] for entry in history if "loss" in entry]
    assert len(losses) == 2 and losses[0] == first_losses[0]  # step 1 came from the checkpoint, not a new run
    for path in resumed:  # finished: the adapters for sampling, no resume state
        names = {p.name for p in path.iterdir()}
        assert {"adapter_model.safetensors", "trainer_state.json", "tokenizer.json"} <= names
        assert not names & {"optimizer.pt", "scheduler.pt"} and not any(name.startswith("rng_state") for name in names)
    assert checkpoints_in(tmp_path / "nothing") == []


def test_influence_checkpoints_keep_their_optimizer_state(tmp_path):
    rows = [json.loads(line) for line in SEED.read_text().splitlines()[:4]]
    examples = [synthesis.synthesizer_example(row["snippet"], row["problem"], row["solution"]) for row in rows]
    settings = SFTSettings(epochs=1, batch_size=2, checkpoints=2, learning_rate=3e-4, lora_r=4, lora_alpha=8, max_length=384)
    for path in train("smollm2-135m-instruct", examples, tmp_path, settings, progress=False, keep_optimizer=True):
        names = {p.name for p in path.iterdir()}
        assert "optimizer.pt" in names and "scheduler.pt" not in names


def test_a_full_checkpoint_is_slimmed_to_weights_in_the_compute_dtype(tmp_path):
    """The fp32 weights and resume state of a full run become bf16 weights once a newer checkpoint exists
    (a random-weight tiny Llama, labelled: only the files matter)."""
    import torch
    from safetensors.torch import load_file

    from harness.generation.random_models import random_model
    from scoder.sft import slim_checkpoint

    checkpoint = tmp_path / "checkpoint-3"
    model = random_model("tiny-llama", dtype="float32")
    model.save_pretrained(checkpoint)
    (checkpoint / "optimizer.pt").write_bytes(b"x" * 1000)
    (checkpoint / "rng_state.pth").write_bytes(b"x")
    (checkpoint / "global_step3").mkdir()
    fp32 = load_file(checkpoint / "model.safetensors")
    slim_checkpoint(checkpoint, keep_optimizer=False, weights_dtype=torch.bfloat16)
    assert sorted(p.name for p in checkpoint.iterdir()) == ["config.json", "generation_config.json", "model.safetensors"]
    bf16 = load_file(checkpoint / "model.safetensors")
    assert {tensor.dtype for tensor in bf16.values()} == {torch.bfloat16}
    assert all(torch.equal(bf16[name], fp32[name].to(torch.bfloat16)) for name in fp32)
    assert json.loads((checkpoint / "config.json").read_text())["dtype"] == "bfloat16"


def test_a_run_that_is_not_resumable_writes_weights_only_in_the_compute_dtype(tmp_path):
    """resumable: false (disks too small for a 7B run's resume state): every checkpoint, the newest too, is
    bf16 weights from the moment it is written. A random-weight tiny Llama, labelled: only the files matter."""
    from safetensors import safe_open
    from transformers import TrainerCallback

    from harness.generation.random_models import write_random_model

    model = write_random_model("tiny-llama", tmp_path / "model")
    rows = [json.loads(line) for line in SEED.read_text().splitlines()[:4]]
    examples = [synthesis.synthesizer_example(row["snippet"], row["problem"], row["solution"]) for row in rows]
    seen = []

    class LookAtTheNewest(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            newest = checkpoints_in(tmp_path / "run")[-1]
            with safe_open(str(newest / "model.safetensors"), "pt") as reader:
                seen.append(({reader.get_slice(name).get_dtype() for name in reader.keys()}, {p.name for p in newest.iterdir()}))

    settings = SFTSettings(method="full", epochs=1, batch_size=2, checkpoints=2, compute_dtype="bfloat16", resumable=False, max_length=256)
    checkpoints = train(str(model), examples, tmp_path / "run", settings, progress=False, callbacks=[LookAtTheNewest()])
    assert [path.name for path in checkpoints] == ["checkpoint-1", "checkpoint-2"]
    assert len(seen) == 2
    for dtypes, names in seen:
        assert dtypes == {"BF16"} and not names & {"optimizer.pt", "scheduler.pt"}
    assert json.loads((checkpoints[-1] / "config.json").read_text())["dtype"] == "bfloat16"
