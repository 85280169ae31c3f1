"""Supervised fine-tuning with TRL's SFTTrainer: LoRA (PEFT) or full, checkpoints kept for sampling.

Data is TRL's conversational prompt-completion form ({"prompt": [messages], "completion": [messages]}),
so the loss falls on the completion only (TRL's completion_only_loss, on by default for that form) and
the model's chat template renders both. Under `accelerate launch` the Trainer spreads the same run over
several GPUs: data parallel by default, or sharded by the DeepSpeed ZeRO or FSDP config named in
`accelerate_config` (recipes/accelerate/).

Precision (docs/method.md, "Mixed precision"): on GPUs the arithmetic is bf16, but the weights a full
fine-tuning updates are fp32 (bf16 rounds away most updates at the recipes' learning rates); LoRA trains
fp32 adapters over a bf16 base. On CPUs everything is fp32.

Checkpoints are sized for their use. A run writes `checkpoint-N/` folders (HF Trainer layout) at
`checkpoints` evenly spaced steps, the last at the final step. Only the newest holds what resuming needs
(optimizer, scheduler and RNG states, fp32 weights); when a newer one is written, and when the run ends,
a checkpoint keeps its weights in the compute dtype (what sampling loads) and trainer_state.json. A killed
run resumes from its newest checkpoint. `keep_optimizer` keeps every checkpoint's optimizer.pt: gradient
influence reads each checkpoint's Adam moments.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal, Sequence

from harness.files import write_atomically

CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


@dataclass(frozen=True)
class SFTSettings:
    """Defaults follow Magicoder's instruction tuning (arXiv 2312.02120, Sec. 3: 2 epochs, linear schedule,
    lr 5e-5 for full fine-tuning) and LESS's LoRA warm-up (arXiv 2402.04333, Sec. 4: dropout 0.1, lr 2e-5,
    warm-up ratio 0.03); the LoRA rank and alpha are smaller than LESS's 128/512, which was sized for
    7B models, and are set per recipe."""
    method: Literal["lora", "full"] = "lora"
    epochs: float = 2.0
    learning_rate: float = 5e-5
    batch_size: int = 8  # per device
    gradient_accumulation: int = 1
    max_length: int = 1024  # tokens; longer examples are truncated (TRL)
    warmup_ratio: float = 0.03
    checkpoints: int = 1  # evenly spaced checkpoints kept (SCoder samples from 5)
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.1
    lora_target: str = "all-linear"  # PEFT's shorthand, or comma-separated module names
    gradient_checkpointing: bool = False  # saves memory on large models; costs ~30% time (TRL turns it on by default)
    seed: int = 0
    processes: int = 1  # more: the run is started under `accelerate launch --num_processes N` (one per GPU)
    accelerate_config: str | None = None  # an accelerate config file (recipes/accelerate/: ZeRO-2, ZeRO-3, FSDP) for that launch
    # The arithmetic's dtype. auto: bf16 on CUDA (fp16 where the GPU lacks bf16), fp32 on CPUs (measured:
    # 3 LoRA steps of the embedded model took 161 s in bf16 and 17 s in fp32 on this project's 2-core
    # machine, though it has AVX512-BF16). Full fine-tuning keeps fp32 weights whatever this says.
    compute_dtype: Literal["auto", "bfloat16", "float32"] = "auto"
    # Batches of similar lengths (transformers' LengthGroupedSampler): almost no padding, so a GPU's time
    # goes to real tokens; the examples are seen in another order than plain shuffling gives.
    group_by_length: bool = False
    # False: checkpoints hold the weights only, written straight in the compute dtype: no optimizer state and
    # no fp32 copy (at 7B: 15 GB per checkpoint, where the newest of a resumable full run holds 91 GB), for
    # disks too small for that; a killed run then starts over.
    resumable: bool = True


    def __post_init__(self):
        if self.epochs <= 0 or self.learning_rate <= 0:
            raise ValueError("epochs and learning_rate must be positive")
        if min(self.batch_size, self.gradient_accumulation, self.max_length, self.checkpoints, self.lora_r, self.processes) < 1:
            raise ValueError("batch_size, gradient_accumulation, max_length, checkpoints, lora_r and processes must be at least 1")
        if not 0 <= self.warmup_ratio < 1 or not 0 <= self.lora_dropout < 1:
            raise ValueError("warmup_ratio and lora_dropout must be in [0, 1)")
        if self.accelerate_config is not None and not os.path.isfile(self.accelerate_config):
            raise ValueError(f"accelerate_config: no such file {self.accelerate_config!r}")


def total_steps(examples: int, settings: SFTSettings, devices: int = 1) -> int:
    per_epoch = math.ceil(examples / (settings.batch_size * devices)) // settings.gradient_accumulation
    return max(1, math.ceil(max(1, per_epoch) * settings.epochs))


def checkpoint_steps(steps: int, count: int) -> list[int]:
    """`count` evenly spaced steps ending at the last one (fewer when there are fewer steps)."""
    return sorted({max(1, round(steps * (index + 1) / count)) for index in range(count)})


def checkpoints_in(folder: Path) -> list[Path]:
    """The checkpoint folders of a run, oldest first."""
    if not folder.is_dir():
        return []
    found = [(int(match.group(1)), path) for path in folder.iterdir() if (match := CHECKPOINT.match(path.name)) and path.is_dir()]
    return [path for _, path in sorted(found)]


def train(model: str, examples: list[dict], output_dir: str | Path, settings: SFTSettings, progress: bool = True,
          keep_optimizer: bool = False, callbacks: Sequence = ()) -> list[Path]:
    """Fine-tune `model` (a spec as harness.generation.models.resolve takes it) on `examples`; returns the
    checkpoint folders, oldest first. An existing checkpoint in `output_dir` is resumed from.
    `keep_optimizer`: every checkpoint keeps its optimizer state (else only the newest, while training);
    `callbacks`: more transformers TrainerCallbacks (in this process only, not under `accelerate launch`)."""
    if not examples:
        raise ValueError("no training examples")
    output_dir = Path(output_dir)
    if (settings.processes > 1 or settings.accelerate_config) and "WORLD_SIZE" not in os.environ:
        return _launch(model, examples, output_dir, settings, keep_optimizer)
    return _train_here(model, examples, output_dir, settings, progress, keep_optimizer, callbacks)


def precision(settings: SFTSettings, device: str, sharding_engine: bool = False):
    """(the dtype the weights are loaded in, the dtype the arithmetic runs in) for a run on `device`.

    Full fine-tuning updates weights by lr x Adam's normalised step, ~1e-5 at the recipes' rates, below
    half the bf16 spacing of a typical weight (~6e-5 at 0.02): in bf16 most updates round away. So its
    weights stay fp32 and only the arithmetic is bf16 (autocast), unless a DeepSpeed or FSDP engine
    (`sharding_engine`) takes the model: both keep fp32 master weights of their own, and loading in bf16
    halves the host memory each process needs. LoRA's base is frozen and loads in the compute dtype; PEFT
    makes the adapters fp32 (its autocast_adapter_dtype, on by default)."""
    import torch

    from harness.generation.models import best_dtype

    if settings.compute_dtype != "auto":
        compute = getattr(torch, settings.compute_dtype)
    else:
        compute = best_dtype(device) if device.startswith("cuda") else torch.float32
    weights = torch.float32 if settings.method == "full" and not sharding_engine else compute
    return weights, compute


def _train_here(model: str, examples: list[dict], output_dir: Path, settings: SFTSettings, progress: bool,
                keep_optimizer: bool, callbacks: Sequence = ()) -> list[Path]:
    """This process's part of the run (all of it, unless started by `accelerate launch`)."""
    import torch
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import SFTConfig, SFTTrainer

    from harness.generation.models import load_causal_lm, load_tokenizer, resolve

    device = "cuda" if torch.cuda.is_available() else "cpu"
    sharding_engine = any(os.environ.get(name, "").lower() == "true" for name in ("ACCELERATE_USE_DEEPSPEED", "ACCELERATE_USE_FSDP"))
    weights_dtype, compute_dtype = precision(settings, device, sharding_engine)
    source = resolve(model)
    tokenizer = load_tokenizer(source)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    # Under `accelerate launch` every process would put a whole copy on the first GPU ("cuda" is cuda:0
    # until the Trainer sets the device); from the CPU the Trainer (data parallel) or the DeepSpeed / FSDP
    # engine moves or shards it onto each process's own GPU.
    launched = "LOCAL_RANK" in os.environ
    network = load_causal_lm(source, weights_dtype, "cpu" if launched else device).train()
    devices = int(os.environ.get("WORLD_SIZE", "1"))
    save_at = set(checkpoint_steps(total_steps(len(examples), settings, devices), settings.checkpoints))
    # What sampling loads: the compute dtype (a full run's fp32 weights are kept only for resuming).
    sampling_dtype = compute_dtype if settings.method == "full" and compute_dtype != weights_dtype else None
    trainer_class = SFTTrainer if settings.resumable or sampling_dtype is None else _saving_in(SFTTrainer, sampling_dtype)

    class SaveAtChosenSteps(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            control.should_save = state.global_step in save_at
            return control

    class KeepOnlyWhatIsUsed(TrainerCallback):
        """Slims every checkpoint but the newest once a newer one is on disk, and all of them at the end."""
        def on_save(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                for checkpoint in checkpoints_in(output_dir)[:-1]:
                    slim_checkpoint(checkpoint, keep_optimizer, sampling_dtype)

        def on_train_end(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                for checkpoint in checkpoints_in(output_dir):
                    slim_checkpoint(checkpoint, keep_optimizer, sampling_dtype)

    config = SFTConfig(
        output_dir=str(output_dir),
        num_train_epochs=settings.epochs,
        learning_rate=settings.learning_rate,
        per_device_train_batch_size=settings.batch_size,
        gradient_accumulation_steps=settings.gradient_accumulation,
        max_length=settings.max_length,
        warmup_steps=settings.warmup_ratio,  # transformers 5: a float below 1 is a ratio of the total steps
        lr_scheduler_type="linear",
        gradient_checkpointing=settings.gradient_checkpointing,
        bf16=compute_dtype == torch.bfloat16,  # autocast over the weights' dtype (TRL would turn bf16 on even on CPUs)
        fp16=compute_dtype == torch.float16,
        train_sampling_strategy="group_by_length" if settings.group_by_length else "random",
        save_strategy="no",  # SaveAtChosenSteps decides
        save_only_model=not settings.resumable,
        logging_steps=1,
        report_to=[],
        seed=settings.seed,
        disable_tqdm=not progress,
        use_cpu=device == "cpu",
        dataset_num_proc=None,
    )
    trainer = trainer_class(
        model=network,
        args=config,
        train_dataset=Dataset.from_list([{"prompt": example["prompt"], "completion": example["completion"]} for example in examples]),
        processing_class=tokenizer,
        peft_config=_lora_config(settings) if settings.method == "lora" else None,
        callbacks=[SaveAtChosenSteps(), KeepOnlyWhatIsUsed(), *callbacks],
    )
    resume = checkpoints_in(output_dir) if settings.resumable else []  # else a killed run starts over
    trainer.train(resume_from_checkpoint=str(resume[-1]) if resume else None)
    if trainer.is_world_process_zero():
        for checkpoint in checkpoints_in(output_dir):
            tokenizer.save_pretrained(checkpoint)  # a full-model checkpoint loads on its own, GGUF origin or not
    return checkpoints_in(output_dir)


def _saving_in(trainer_class, dtype):
    """The trainer class, writing a checkpoint's weights in `dtype` (a full run that is not resumable: its fp32
    weights never reach the disk). Each tensor is cast on its way to host memory, so the GPU holds no copy."""
    class SavingIn(trainer_class):
        def _save(self, output_dir=None, state_dict=None):  # the Trainer's one place where a model is written
            if state_dict is None:
                state_dict = {name: tensor.to("cpu", dtype) if tensor.is_floating_point() else tensor
                              for name, tensor in self.model.state_dict().items()}
            super()._save(output_dir, state_dict)
    return SavingIn


# What only resuming reads: the Trainer's optimizer, scheduler, scaler and RNG states, and DeepSpeed's
# partitioned states (its global_stepN folder; the 16-bit weights are saved beside it).
RESUME_STATE = ("optimizer.pt", "scheduler.pt", "scaler.pt", "rng_state*.pth", "global_step*")


def slim_checkpoint(checkpoint: Path, keep_optimizer: bool, weights_dtype=None) -> None:
    """Drops a checkpoint's resume state (all of it but optimizer.pt with `keep_optimizer`) and, given
    `weights_dtype`, rewrites its fp32 weights in that dtype. Each file is replaced whole (written, then
    renamed), so a run killed meanwhile leaves a checkpoint that loads."""
    for pattern in RESUME_STATE:
        for path in checkpoint.glob(pattern):
            if keep_optimizer and path.name == "optimizer.pt":
                continue
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    if weights_dtype is not None:
        _cast_weights(checkpoint, weights_dtype)


def _cast_weights(checkpoint: Path, dtype) -> None:
    """Rewrites the fp32 tensors of each model*.safetensors in `dtype` (a file without one is not read), and
    the index's total size and config.json's dtype to match; every file is replaced whole."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    saved = 0  # bytes the index's total_size loses
    for path in sorted(checkpoint.glob("model*.safetensors")):
        with safe_open(str(path), "pt") as reader:
            if all(reader.get_slice(name).get_dtype() != "F32" for name in reader.keys()):
                continue
            metadata = reader.metadata() or {"format": "pt"}
            tensors = {name: reader.get_tensor(name) for name in reader.keys()}
        cast = {name: tensor.to(dtype) for name, tensor in tensors.items() if tensor.dtype == torch.float32}
        saved += sum(tensor.numel() * (4 - tensor.element_size()) for tensor in cast.values())
        partial = path.with_name(path.name + ".partial")
        save_file({**tensors, **cast}, str(partial), metadata=metadata)
        os.replace(partial, path)
    index = checkpoint / "model.safetensors.index.json"
    if saved and index.is_file():
        layout = json.loads(index.read_text())
        layout["metadata"]["total_size"] -= saved
        write_atomically(index, json.dumps(layout, indent=2).encode())
    config = checkpoint / "config.json"
    if config.is_file():
        fields = json.loads(config.read_text())
        fields["dtype"] = str(dtype).removeprefix("torch.")
        fields.pop("torch_dtype", None)
        write_atomically(config, json.dumps(fields, indent=2).encode())


def _lora_config(settings: SFTSettings):
    from peft import LoraConfig

    target = settings.lora_target if settings.lora_target == "all-linear" else [name.strip() for name in settings.lora_target.split(",")]
    return LoraConfig(r=settings.lora_r, lora_alpha=settings.lora_alpha, lora_dropout=settings.lora_dropout,
                      target_modules=target, task_type="CAUSAL_LM")


def _launch(model: str, examples: list[dict], output_dir: Path, settings: SFTSettings, keep_optimizer: bool) -> list[Path]:
    """Run this module under `accelerate launch`: one process per GPU, the Trainer splits the batches."""
    output_dir.mkdir(parents=True, exist_ok=True)
    data = output_dir / "train.jsonl"
    data.write_text("".join(json.dumps(example) + "\n" for example in examples))
    command = launch_command(model, data, output_dir, settings, keep_optimizer)
    if subprocess.run(command).returncode != 0:
        raise RuntimeError(f"training under accelerate failed: {' '.join(command)}")
    return checkpoints_in(output_dir)


def launch_command(model: str, data: Path, output_dir: Path, settings: SFTSettings, keep_optimizer: bool = False) -> list[str]:
    """`accelerate launch` of this module; the settings' process count overrides the config file's."""
    config = ["--config_file", settings.accelerate_config] if settings.accelerate_config else []
    return ([sys.executable, "-m", "accelerate.commands.launch", *config, "--num_processes", str(settings.processes),
             "-m", "scoder.sft", model, str(data), str(output_dir), json.dumps(asdict(settings))]
            + (["--keep-optimizer"] if keep_optimizer else []))


if __name__ == "__main__":  # one process of a run started by _launch
    model_spec, data_path, folder, settings_json = sys.argv[1:5]
    rows = [json.loads(line) for line in Path(data_path).read_text().splitlines() if line.strip()]
    _train_here(model_spec, rows, Path(folder), SFTSettings(**json.loads(settings_json)), progress=os.environ.get("LOCAL_RANK", "0") == "0",
                keep_optimizer="--keep-optimizer" in sys.argv[5:])
