#!/usr/bin/env bash
# The GPU path, verified in one run (<= 5 minutes on one H200), from the repository root:
#   OUT=/some/dir bash bench/gpu-check.sh
# 1. environment: on a machine that can fetch nothing (the device tool's), the image's python3
#    with its CUDA torch, plus the wheels and datasets that `bash bench/gpu-prepare.sh` wrote to
#    .gpu/ (carry it); elsewhere, a fresh virtual environment with PyPI's Linux torch (the CUDA
#    build) and the project;
# 2. the GPU tests (tests/model/test_gpu.py: device choice, bf16, pinned memory, non-blocking
#    copies, the same scores as the CPU within tolerance; they skip without CUDA);
# 3. bench/score.py on 200,000 posts (bf16, 64k-token batches) with the peak-memory child and
#    the seconds per step (which one bounds the throughput).
# Everything it prints is also written under $OUT (gpu.txt, tests.txt, bench.txt, check.log).
set -euo pipefail
OUT="${OUT:-$PWD/gpu-check-out}"
mkdir -p "$OUT"
exec > >(tee "$OUT/check.log") 2>&1
started=$(date +%s)
step() { echo "== $(( $(date +%s) - started ))s: $*"; }

step "environment"
GPU_DIR="${GPU_DIR:-.gpu}"
if [ -d "$GPU_DIR/wheels" ]; then
    wanted="$(cat "$GPU_DIR/python-version")"
    have="$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
    if [ "$wanted" != "$have" ]; then
        echo "the wheels in $GPU_DIR are for Python $wanted, python3 here is $have:" \
             "run PYTHON_VERSION=$have bash bench/gpu-prepare.sh and carry $GPU_DIR again" >&2
        exit 2
    fi
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/emomon-site \
        "$GPU_DIR"/wheels/*.whl
    export PYTHONPATH="/tmp/emomon-site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
    mkdir -p /tmp/emomon-datasets
    tar -xzf "$GPU_DIR/datasets.tar.gz" -C /tmp/emomon-datasets
    DATASETS="${DATASETS:-/tmp/emomon-datasets}"
else
    python3 -m venv /tmp/emomon-gpu-venv
    # shellcheck disable=SC1091
    . /tmp/emomon-gpu-venv/bin/activate
    pip install -q --upgrade pip
    pip install -q torch
    pip install -q -e ".[dev]"
    DATASETS="${DATASETS:-../shared/datasets}"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch; assert torch.cuda.is_available(), 'no CUDA'; print('torch', torch.__version__, 'CUDA', torch.version.cuda, torch.cuda.get_device_name())" | tee -a "$OUT/gpu.txt"
python3 -c "import monitor.score.stage, monitor.settings, monitor.model.configured; print('emomon imports')"

step "GPU tests"
timeout 150 python3 -m pytest -q -p no:cacheprovider tests/model/test_gpu.py 2>&1 | tee "$OUT/tests.txt"

step "benchmark, 200,000 posts"
timeout 300 python3 bench/score.py --datasets "$DATASETS" --posts 200000 --baseline-posts 2000 \
    --rss-posts 200000 --repeats 1 --precisions bf16 --batch-tokens 65536 --json 2>&1 | tee "$OUT/bench.txt"
step "done"
