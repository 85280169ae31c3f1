"""recipes/accelerate/: the DeepSpeed ZeRO-2, ZeRO-3 and FSDP configs are read by accelerate's own config
classes and launch code, and scoder.sft builds the `accelerate launch` command that names them. Nothing is
launched: these machines have no GPU (and no DeepSpeed); what is checked is what accelerate would start."""

import json
import os
import sys
from pathlib import Path

import pytest

import accelerate.commands.launch as accelerate_launch
from accelerate.commands.config.config_args import ClusterConfig, load_config_from_file
from accelerate.utils import DistributedType, FullyShardedDataParallelPlugin
from accelerate.utils.launch import prepare_deepspeed_cmd_env, prepare_multi_gpu_env

from scoder import sft
from scoder.config_loading import RecipeError
from scoder.recipe import load_recipe
from tests.conftest import REPO

CONFIGS = REPO / "recipes" / "accelerate"
EXAMPLE = {"prompt": [{"role": "user", "content": "add"}], "completion": [{"role": "assistant", "content": "+"}]}


def launch_options() -> set[str]:
    return {action.dest for action in accelerate_launch.launch_command_parser()._actions}


@pytest.mark.parametrize("name, kind, nested", [("zero2", DistributedType.DEEPSPEED, "deepspeed_config"),
                                                ("zero3", DistributedType.DEEPSPEED, "deepspeed_config"),
                                                ("fsdp", DistributedType.FSDP, "fsdp_config")])
def test_configs_are_accelerate_configs(name, kind, nested):
    config = load_config_from_file(str(CONFIGS / f"{name}.yaml"))  # refuses unknown top-level keys
    assert isinstance(config, ClusterConfig) and config.distributed_type == kind
    assert config.mixed_precision == "bf16" and config.num_machines == 1
    # Nested keys become `accelerate launch` options; one it does not have would be silently ignored.
    unknown = set(getattr(config, nested)) - launch_options()
    assert not unknown, f"{name}.yaml: {nested} keys accelerate launch does not know: {unknown}"


def launched(command: list[str], monkeypatch) -> tuple:
    """What `accelerate launch` would start for our command line: its own parsing and launcher choice,
    with the launcher replaced by accelerate's function that prepares the processes' environment."""
    assert command[:3] == [sys.executable, "-m", "accelerate.commands.launch"]
    seen = {}
    monkeypatch.setattr(accelerate_launch, "deepspeed_launcher",
                        lambda args: seen.update(args=args, launcher="deepspeed", env=prepare_deepspeed_cmd_env(args)[1]))
    monkeypatch.setattr(accelerate_launch, "multi_gpu_launcher",
                        lambda args: seen.update(args=args, launcher="multi_gpu", env=prepare_multi_gpu_env(args)))
    accelerate_launch.launch_command(accelerate_launch.launch_command_parser().parse_args(command[3:]))
    return seen["launcher"], seen["args"], seen["env"]


@pytest.mark.parametrize("stage", [2, 3])
def test_deepspeed_launch(stage, tmp_path, monkeypatch):
    settings = sft.SFTSettings(method="full", processes=8, accelerate_config=str(CONFIGS / f"zero{stage}.yaml"))
    command = sft.launch_command("deepseek-ai/deepseek-coder-6.7b-base", tmp_path / "train.jsonl", tmp_path, settings)
    launcher, args, env = launched(command, monkeypatch)
    assert launcher == "deepspeed" and args.num_processes == 8
    assert args.module and args.training_script == "scoder.sft"
    model, data, output, settings_json = args.training_script_args
    assert (model, data, output) == ("deepseek-ai/deepseek-coder-6.7b-base", str(tmp_path / "train.jsonl"), str(tmp_path))
    assert sft.SFTSettings(**json.loads(settings_json)) == settings  # what each process trains with
    assert env["ACCELERATE_USE_DEEPSPEED"] == "true" and env["ACCELERATE_DEEPSPEED_ZERO_STAGE"] == str(stage)
    assert env["ACCELERATE_MIXED_PRECISION"] == "bf16" and env["ACCELERATE_DEEPSPEED_OFFLOAD_PARAM_DEVICE"] == "none"
    if stage == 3:  # checkpoints must be whole HF folders for the sampling stage
        assert env["ACCELERATE_DEEPSPEED_ZERO3_SAVE_16BIT_MODEL"] == "true"


def test_fsdp_launch_is_full_shard_with_transformer_layer_wrapping(tmp_path, monkeypatch):
    settings = sft.SFTSettings(processes=4, accelerate_config=str(CONFIGS / "fsdp.yaml"))
    launcher, args, env = launched(sft.launch_command("m", tmp_path / "d.jsonl", tmp_path, settings), monkeypatch)
    assert launcher == "multi_gpu" and args.num_processes == 4  # settings' processes over the file's 8
    # The plugin each process builds from that environment (accelerate's own reading of it).
    for key, value in env.items():
        if key.startswith(("ACCELERATE_", "FSDP_")):
            monkeypatch.setenv(key, value)
    plugin = FullyShardedDataParallelPlugin()
    assert plugin.fsdp_version == 2 and plugin.reshard_after_forward is True  # FSDP2's full shard
    assert plugin.auto_wrap_policy.__name__ == "transformer_auto_wrap_policy"
    assert plugin.transformer_cls_names_to_wrap is None  # accelerate takes the model's _no_split_modules
    assert plugin.state_dict_type.name == "FULL_STATE_DICT" and not plugin.cpu_ram_efficient_loading


def test_plain_multi_gpu_launch_has_no_config_file(tmp_path):
    command = sft.launch_command("m", tmp_path / "d.jsonl", tmp_path, sft.SFTSettings(processes=2))
    assert "--config_file" not in command and command[command.index("--num_processes") + 1] == "2"


def test_train_goes_through_accelerate_when_a_config_is_named(tmp_path, monkeypatch):
    """Also with one process (e.g. ZeRO-3 with offload on one GPU); the launched process trains in place."""
    commands = []
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.setattr(sft.subprocess, "run", lambda command: commands.append(command) or sft.subprocess.CompletedProcess(command, 0))
    settings = sft.SFTSettings(accelerate_config=str(CONFIGS / "zero3.yaml"))
    assert sft.train("m", [EXAMPLE], tmp_path / "out", settings) == []
    [command] = commands
    assert command[command.index("--config_file") + 1] == str(CONFIGS / "zero3.yaml")
    assert json.loads((tmp_path / "out" / "train.jsonl").read_text()) == EXAMPLE


def test_recipes_name_accelerate_configs_relative_to_themselves(tmp_path):
    recipe = tmp_path / "eight-gpus.yaml"
    relative = os.path.relpath(CONFIGS / "zero3.yaml", tmp_path)
    recipe.write_text(f"base: {REPO / 'recipes' / 'smoke.yaml'}\nname: eight-gpus\n"
                      f"target:\n  sft: {{method: full, processes: 8, accelerate_config: {relative}}}\n")
    loaded = load_recipe(recipe)
    assert Path(loaded.target.sft.accelerate_config) == CONFIGS / "zero3.yaml"
    assert loaded.target.sft.processes == 8
    recipe.write_text(recipe.read_text().replace("zero3.yaml", "zero4.yaml"))
    with pytest.raises(RecipeError, match=r"target\.sft: accelerate_config: no such file"):
        load_recipe(recipe)
