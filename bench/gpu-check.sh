#!/usr/bin/env bash
# The GPU path, verified in one run (<= 5 minutes on one H200), from the repository root:
#   OUT=/some/dir DATASETS=../shared/datasets bash bench/gpu-check.sh
# 1. installs the project with the CUDA build of torch (PyPI's Linux x86-64 torch wheel is the
#    CUDA one) into a fresh virtual environment;
# 2. runs the GPU tests (tests/model/test_gpu.py: device choice, bf16, pinned memory,
#    non-blocking copies, the same scores as the CPU within tolerance; they skip without CUDA);
# 3. runs bench/score.py on 200,000 posts (bf16, 64k-token batches) and the peak-memory child.
# Everything it prints is also written under $OUT (gpu.txt, tests.txt, bench.txt, check.log).
# The texts come from $DATASETS (GoEmotions, CARER, myPersonality train files); on a machine
# without ../shared, copy that folder into the checkout (e.g. bench/.datasets, git-ignored) first.
set -euo pipefail
OUT="${OUT:-$PWD/gpu-check-out}"
DATASETS="${DATASETS:-../shared/datasets}"
mkdir -p "$OUT"
exec > >(tee "$OUT/check.log") 2>&1
started=$(date +%s)
step() { echo "== $(( $(date +%s) - started ))s: $*"; }

step "environment"
python3 -m venv /tmp/emomon-gpu-venv
# shellcheck disable=SC1091
. /tmp/emomon-gpu-venv/bin/activate
pip install -q --upgrade pip
pip install -q torch
pip install -q -e ".[dev]"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python -c "import torch; assert torch.cuda.is_available(), 'no CUDA'; print('torch', torch.__version__, 'CUDA', torch.version.cuda, torch.cuda.get_device_name())" | tee -a "$OUT/gpu.txt"

step "GPU tests"
timeout 150 python -m pytest -q -p no:cacheprovider tests/model/test_gpu.py 2>&1 | tee "$OUT/tests.txt"

step "benchmark, 200,000 posts"
timeout 300 python bench/score.py --datasets "$DATASETS" --posts 200000 --baseline-posts 2000 \
    --rss-posts 200000 --repeats 1 --precisions bf16 --batch-tokens 65536 2>&1 | tee "$OUT/bench.txt"
step "done"
