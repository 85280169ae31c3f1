"""The embedded model is de-quantized once into the user cache: loading the copy gives what loading the GGUF
file gives (every weight to the bit, the config, the tokenizer), it is made once per file and versions, and a
cache that cannot be written costs time, not the load."""

import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer

from harness.generation import dequantized
from harness.generation.models import EMBEDDED_DEFAULT, load_causal_lm, load_tokenizer, resolve
from tests.conftest import REPO

TEXTS = ["def add(a, b):\n    return a + b\n", "  tabs\tand  spaces \n\n", "naïve café – “quotes” 中文 😀",
         "<|im_start|>user\nhi<|im_end|>", "x" * 300, ""]
LOAD = """
import torch
from harness.generation.models import EMBEDDED_DEFAULT, load_causal_lm, resolve
assert load_causal_lm(resolve(EMBEDDED_DEFAULT), torch.float32, "cpu").state_dict()["model.norm.weight"].abs().sum() > 0
print("loaded")
"""
CHAT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Write a function."}]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SCODER_CACHE_DIR", str(folder))
        yield folder


@pytest.fixture(scope="module")
def embedded():
    return resolve(EMBEDDED_DEFAULT)


def the_copy(cache: Path) -> Path:
    [copy] = [path for path in (cache / "models").iterdir() if not path.name.startswith(".")]
    return copy


def test_the_copy_loads_what_the_gguf_file_gives(cache, embedded, tmp_path):
    tokenizer, model = load_tokenizer(embedded), load_causal_lm(embedded, torch.float32, "cpu")
    assert the_copy(cache).name.startswith("SmolLM2-135M-Instruct.Q4_1-")
    assert model.name_or_path == tokenizer.name_or_path == str(the_copy(cache))
    # The same file given by its path is not the embedded model: it loads from the file, every time
    gguf_path = Path(embedded.location) / embedded.gguf_file
    direct = load_causal_lm(resolve(str(gguf_path)), torch.float32, "cpu")
    assert [path.name for path in (cache / "models").iterdir()] == [the_copy(cache).name]
    direct.save_pretrained(tmp_path / "saved")  # refused while the model keeps its GGUF origin's marker
    assert "quantization_config" not in json.loads((tmp_path / "saved" / "config.json").read_text())
    theirs, ours = direct.state_dict(), model.state_dict()
    assert theirs.keys() == ours.keys() and len(ours) > 100
    for name, weights in theirs.items():
        assert ours[name].dtype == weights.dtype == torch.float32 and torch.equal(ours[name], weights), name
    assert ours["lm_head.weight"].data_ptr() == ours["model.embed_tokens.weight"].data_ptr()  # still tied
    # save_pretrained adds the class it saved (`architectures`); the GGUF load's config has no such entry
    unset = {"quantization_config": None, "architectures": None}
    assert model.config.to_diff_dict() | unset == direct.config.to_diff_dict() | unset
    assert model.config.architectures == [type(direct).__name__]
    assert model.generation_config.to_dict() == direct.generation_config.to_dict()
    bf16 = load_causal_lm(embedded, torch.bfloat16, "cpu").state_dict()
    assert all(torch.equal(bf16[name], weights.to(torch.bfloat16)) for name, weights in theirs.items())

    gguf_tokenizer = AutoTokenizer.from_pretrained(embedded.location, gguf_file=embedded.gguf_file)
    assert type(tokenizer) is type(gguf_tokenizer) and len(tokenizer) == len(gguf_tokenizer) == 49152
    for text in TEXTS:
        assert tokenizer(text)["input_ids"] == gguf_tokenizer(text)["input_ids"], text
        assert tokenizer.decode(tokenizer(text)["input_ids"]) == gguf_tokenizer.decode(gguf_tokenizer(text)["input_ids"])
    assert tokenizer.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=True) == \
           gguf_tokenizer.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=True)
    for attribute in ("bos_token", "eos_token", "pad_token", "unk_token", "padding_side", "model_max_length"):
        assert getattr(tokenizer, attribute) == getattr(gguf_tokenizer, attribute), attribute


def test_the_copy_is_made_once_and_again_for_other_versions_by_two_processes_after_a_killed_one(cache, embedded):
    load_tokenizer(embedded)  # made by the test above, or now
    copy = the_copy(cache)
    made = (copy / "model.safetensors").stat().st_mtime_ns
    load_causal_lm(embedded, torch.float32, "cpu")
    assert (copy / "model.safetensors").stat().st_mtime_ns == made

    made_by = json.loads((copy / dequantized.MADE_BY).read_text())
    (copy / dequantized.MADE_BY).write_text(json.dumps({**made_by, "transformers": "0.0.1"}))
    (copy / "model.safetensors").write_bytes(b"")  # whatever the old copy holds, it is not read
    killed = subprocess.Popen([sys.executable, "-c", LOAD], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert "de-quantizing" in killed.stderr.readline()
    # Its work folder, once renamed from the hidden name it is made under (harness.files.ScratchFolder)
    while not any(path.name.startswith(f".{copy.name}.") for path in (cache / "models").iterdir()):
        time.sleep(0.1)
    killed.kill()
    killed.wait()
    assert len([path for path in (cache / "models").iterdir() if path.is_dir()]) == 2  # its work folder is left
    # As `scoder ablations --jobs 2` on a fresh machine: each process makes a copy, one of them is kept
    loads = [subprocess.Popen([sys.executable, "-W", "error::UserWarning:harness.generation.models", "-c", LOAD], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    for load in loads:
        output = load.communicate(timeout=600)[0]
        assert load.returncode == 0 and "loaded" in output, output[-2000:]
    assert json.loads((copy / dequantized.MADE_BY).read_text()) == made_by
    assert load_causal_lm(embedded, torch.float32, "cpu").state_dict()["model.norm.weight"].abs().sum() > 0
    left = {path.name for path in (cache / "models").iterdir()}
    assert left == {copy.name}  # the old copy and the work folders went, the killed one's too


def test_a_cache_that_cannot_be_written_loads_the_gguf_file(tmp_path, monkeypatch, embedded):
    if os.geteuid() == 0:
        blocked = tmp_path / "a-file"  # root writes into read-only folders: a path under a file cannot be made
        blocked.write_text("")
        monkeypatch.setenv("SCODER_CACHE_DIR", str(blocked / "cache"))
    else:
        tmp_path.chmod(0o500)
        monkeypatch.setenv("SCODER_CACHE_DIR", str(tmp_path / "cache"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tokenizer = load_tokenizer(embedded)
    assert len(tokenizer) == 49152
    assert any("cannot keep a de-quantized copy of SmolLM2-135M-Instruct.Q4_1.gguf" in str(warning.message) for warning in caught)
