#!/usr/bin/env bash
# One run of benchmarks/gpu_paper_shape.py from source on a lent GPU machine, after benchmarks/device/prepare.sh
# here (its .device/ folder is carried). Usage: bash benchmarks/device/run.sh [benchmark args]
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
python -m pip install -q --no-deps --no-index .device/wheels/*.whl 2>&1 | tail -2
python -c "import torch, transformers, trl, peft, accelerate, datasets; print('torch', torch.__version__, 'transformers', transformers.__version__, 'trl', trl.__version__, 'peft', peft.__version__, 'accelerate', accelerate.__version__, 'datasets', datasets.__version__)"
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv 2>/dev/null; df -h /tmp | tail -1; nproc
export PYTHONPATH=$PWD HF_HUB_OFFLINE=1 SCODER_OFFLINE=1 PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True TOKENIZERS_PARALLELISM=false
start=$(date +%s)
python benchmarks/gpu_paper_shape.py --tokenizer .device/tokenizer --work /tmp/gps --output "$OUT/gpu_paper_shape.json" "$@" 2>&1 \
  | grep --line-buffered -v -E "it/s\]|s/it\]|examples/s\]|Warning|warnings.warn|^\{'loss'" | tee "$OUT/log.txt"
echo "total $(( $(date +%s) - start )) s"
