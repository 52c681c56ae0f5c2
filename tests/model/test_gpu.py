"""The GPU path (run by bench/gpu-check.sh on a CUDA machine; skipped without CUDA)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from monitor.model.device import choose_device, choose_precision
from monitor.model.predictor import load_model

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
SHIPPED = Path(__file__).resolve().parents[2] / "models" / "emomon-mtl-v3"
TEXTS = [
    "i feel so alone tonight and nothing helps",
    "best day ever, thank you all!",
    "ugh the train is late",
    "I'm scared about tomorrow's results. " * 20,
    "lol",
    "my grandmother passed away this morning",
]


def test_auto_picks_the_gpu_in_bf16():
    device = choose_device("auto")
    assert device.type == "cuda"
    assert choose_precision(device, "auto") == ("bf16" if torch.cuda.is_bf16_supported() else "fp32")


def test_the_model_runs_on_the_gpu_in_bf16_with_pinned_batches():
    predictor = load_model(SHIPPED, device="auto")
    assert predictor.device.type == "cuda" and predictor.precision == "bf16"
    assert next(predictor.network.encoder.parameters()).dtype == torch.bfloat16
    assert next(predictor.network.encoder.parameters()).is_cuda
    plan = predictor.plan(predictor.encode(TEXTS))
    assert all(ids.is_pinned() and mask.is_pinned() for _, ids, mask in plan.batches)  # non-blocking copies


def test_gpu_scores_equal_cpu_scores_within_tolerance():
    gpu = load_model(SHIPPED, device="cuda")
    cpu = load_model(SHIPPED, device="cpu", precision="fp32")
    a, b = gpu.score_ids(gpu.encode(TEXTS)), cpu.score_ids(cpu.encode(TEXTS))
    assert np.abs(a.goemotions - b.goemotions).max() < 0.05
    assert np.abs(a.carer - b.carer).max() < 0.05
    assert np.abs(a.index - b.index).max() < 0.05
    fp32 = load_model(SHIPPED, device="cuda", precision="fp32")
    c = fp32.score_ids(fp32.encode(TEXTS))
    assert np.abs(c.goemotions - b.goemotions).max() < 1e-3


def test_non_blocking_copies_give_the_same_scores_as_blocking_ones():
    predictor = load_model(SHIPPED, device="cuda")
    ids = predictor.encode(TEXTS)
    first = predictor.score_ids(ids)
    torch.cuda.synchronize()
    again = predictor.score_ids(ids)
    assert np.array_equal(first.index, again.index)
