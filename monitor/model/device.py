"""The one switch for hardware: device choice and autocast precision."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from monitor.choices import DEVICES, PRECISIONS


def choose_device(requested: str = "auto") -> torch.device:
    """ "auto" picks CUDA when present, else the CPU; "cuda" without a GPU is an error."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but no CUDA GPU is available; set the device to cpu or auto")
    if requested not in DEVICES:
        raise ValueError(f"unknown device {requested!r}; use {', '.join(DEVICES)}")
    return torch.device(requested)


def cpu_supports_bf16() -> bool:
    """True when the CPU has native bf16 instructions (AVX512-BF16 or AMX)."""
    try:
        flags = open("/proc/cpuinfo", encoding="ascii", errors="replace").read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def choose_autocast(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """bf16 where the hardware runs it natively, else None (plain fp32)."""
    if precision == "fp32":
        return None
    if precision not in ("auto", "bf16"):
        raise ValueError(f"unknown precision {precision!r}; use auto, bf16 or fp32")
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    if precision == "bf16" or cpu_supports_bf16():
        return torch.bfloat16
    return None


def choose_precision(device: torch.device, requested: str = "auto") -> str:
    """The precision a model runs in for scoring: "bf16", "int8" or "fp32".

    "auto" is bf16 on a CUDA GPU with bf16 and on a CPU with native bf16 (AVX512-BF16 or AMX),
    int8 on other CPUs (ONNX Runtime, see :mod:`monitor.model.int8`), fp32 on an older GPU.

    Raises:
        ValueError: An unknown precision, or int8 on a GPU.
    """
    if requested not in PRECISIONS:
        raise ValueError(f"unknown precision {requested!r}; use {', '.join(PRECISIONS)}")
    if requested == "int8" and device.type != "cpu":
        raise ValueError("precision 'int8' runs on the CPU only; set the device to cpu or the precision to bf16/auto")
    if requested != "auto":
        return requested
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if cpu_supports_bf16() else "int8"


@contextlib.contextmanager
def autocast(device: torch.device, dtype: torch.dtype | None) -> Iterator[None]:
    """Autocast to `dtype` on `device`, or nothing when dtype is None."""
    if dtype is None:
        yield
        return
    with torch.autocast(device_type=device.type, dtype=dtype):
        yield
