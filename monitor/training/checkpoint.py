"""Training checkpoints in safetensors + JSON (never pickle): weights, optimiser state, progress."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file


def _atomic_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def _atomic_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp))
    os.replace(tmp, path)


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimiser state dict into flat tensors and JSON-able metadata."""
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    for index, slots in state["state"].items():
        for key, value in slots.items():
            tensors[f"{index}.{key}"] = value if torch.is_tensor(value) else torch.tensor(value)
    return tensors, {"param_groups": state["param_groups"]}


def restore_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """Inverse of :func:`optimizer_tensors`."""
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, value in tensors.items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def save_checkpoint(
    run_dir: Path,
    *,
    model: torch.nn.Module,
    losses: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    progress: dict[str, Any],
) -> None:
    """Write checkpoint files so that a crash at any moment leaves the previous one readable."""
    run_dir.mkdir(parents=True, exist_ok=True)
    weights = {f"model.{k}": v for k, v in model.state_dict().items()}
    weights.update({f"losses.{k}": v for k, v in losses.state_dict().items()})
    opt_tensors, opt_meta = optimizer_tensors(optimizer)
    _atomic_tensors(run_dir / "checkpoint.safetensors", weights)
    _atomic_tensors(run_dir / "optimizer.safetensors", opt_tensors)
    _atomic_json(run_dir / "checkpoint.json", {"progress": progress, "optimizer": opt_meta})


def load_checkpoint(
    run_dir: Path, *, model: torch.nn.Module, losses: torch.nn.Module, optimizer: torch.optim.Optimizer
) -> dict[str, Any]:
    """Restore a checkpoint written by :func:`save_checkpoint`; returns its progress record."""
    weights = load_file(str(run_dir / "checkpoint.safetensors"))
    model.load_state_dict({k[6:]: v for k, v in weights.items() if k.startswith("model.")})
    losses.load_state_dict({k[7:]: v for k, v in weights.items() if k.startswith("losses.")})
    meta = json.loads((run_dir / "checkpoint.json").read_text(encoding="utf-8"))
    restore_optimizer(optimizer, load_file(str(run_dir / "optimizer.safetensors")), meta["optimizer"])
    return meta["progress"]


def save_best(run_dir: Path, model: torch.nn.Module, record: dict[str, Any]) -> None:
    """Keep the weights chosen on validation apart from the rolling checkpoint."""
    _atomic_tensors(run_dir / "best.safetensors", model.state_dict())
    _atomic_json(run_dir / "best.json", record)
