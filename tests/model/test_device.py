"""The hardware switch: device and autocast choice."""

from __future__ import annotations

import pytest
import torch

from monitor.model import device as device_module
from monitor.model.device import choose_autocast, choose_device, choose_precision


def test_auto_device_follows_whether_a_gpu_is_present(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert choose_device("auto").type == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert choose_device("auto").type == "cuda"
    assert choose_device("cpu").type == "cpu"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_a_clear_error():
    with pytest.raises(ValueError, match="no CUDA GPU"):
        choose_device("cuda")


def test_fp32_switch_turns_autocast_off():
    assert choose_autocast(torch.device("cpu"), "fp32") is None
    assert choose_autocast(torch.device("cpu"), "bf16") is torch.bfloat16
    with pytest.raises(ValueError, match="precision"):
        choose_autocast(torch.device("cpu"), "fp8")


def test_auto_precision_is_bf16_with_native_bf16_else_int8_on_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    cpu = torch.device("cpu")
    monkeypatch.setattr(device_module, "cpu_supports_bf16", lambda: True)
    assert choose_precision(cpu, "auto") == "bf16"
    monkeypatch.setattr(device_module, "cpu_supports_bf16", lambda: False)
    assert choose_precision(cpu, "auto") == "int8"
    assert [choose_precision(cpu, p) for p in ("bf16", "int8", "fp32")] == ["bf16", "int8", "fp32"]
    with pytest.raises(ValueError, match="auto, bf16, int8, fp32"):
        choose_precision(cpu, "fp16")


def test_int8_on_a_gpu_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="CPU only"):
        choose_precision(torch.device("cuda"), "int8")
