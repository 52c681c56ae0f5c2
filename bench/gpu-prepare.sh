#!/usr/bin/env bash
# What bench/gpu-check.sh needs on a GPU machine that can fetch nothing, written to .gpu/
# (git-ignored through .git/info/exclude). Run here, from the repository root, where pip
# reaches the registry and ../shared/datasets is beside the checkout:
#   bash bench/gpu-prepare.sh
# then carry `.gpu` to the GPU machine. It holds:
# - wheels/: the project's runtime dependencies that the GPU tests and the benchmark import and
#   that the machine's image lacks (it has CUDA torch, transformers, tokenizers, safetensors,
#   numpy, onnx, onnxruntime, click, rich, pytest), at this environment's installed versions, so
#   the GPU run tests what CI tests;
# - datasets.tar.gz: the three training files bench/score.py reads its posts from.
# Together with the tracked files it stays under the 64 MiB a device call carries.
set -euo pipefail
OUT_DIR="${OUT_DIR:-.gpu}"
DATASETS="${DATASETS:-../shared/datasets}"
PYTHON_VERSION="${PYTHON_VERSION:-3.12}"
mkdir -p "$OUT_DIR/wheels"
exclude="$(git rev-parse --git-path info/exclude)"
case "$OUT_DIR" in
    /*) ;;  # outside the work tree: nothing to ignore
    *) grep -qx "/$OUT_DIR/" "$exclude" 2>/dev/null || echo "/$OUT_DIR/" >> "$exclude" ;;
esac
version() { python -c "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" "$1"; }
pins=()
for name in SQLAlchemy alembic Mako MarkupSafe APScheduler tzlocal pydantic pydantic_core \
            annotated-types typing-inspection typing_extensions; do
    pins+=("$name==$(version "$name")")
done
platforms=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64; do
    platforms+=(--platform "$p")
done
python -m pip download -q --no-deps --only-binary=:all: --python-version "$PYTHON_VERSION" --implementation cp \
    "${platforms[@]}" -d "$OUT_DIR/wheels" "${pins[@]}"
# langid is published as a source archive only: build its (pure-Python) wheel here.
python -m pip wheel -q --no-deps -w "$OUT_DIR/wheels" "langid==$(version langid)"
echo "$PYTHON_VERSION" > "$OUT_DIR/python-version"  # the wheels' Python: gpu-check.sh checks it
tar -czf "$OUT_DIR/datasets.tar.gz" -C "$DATASETS" goemotions/train.tsv carer_emotion/train.jsonl \
    mypersonality/mypersonality.csv
du -sh "$OUT_DIR"/*
