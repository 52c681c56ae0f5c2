"""Writing and reading self-contained model directories (safetensors + JSON, never pickle).

Layout of models/<name>/:
    model.safetensors   network weights (encoder included), fp16 or fp32
    config.json         format, name, version, network config, window length
    encoder/config.json Hugging Face config that rebuilds the encoder without its package
    tokenizer/          tokenizer files
    labels.json         label names per head
    calibration.json    GoEmotions thresholds, temperatures, depression-index weights + Platt
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safetensors.torch import load_file, save_file

from monitor.errors import ModelNotFound
from monitor.model.index import DepressionIndex
from monitor.model.network import MultitaskNetwork, NetworkConfig

FORMAT = "emomon-model/1"
REQUIRED = ("model.safetensors", "config.json", "encoder/config.json", "tokenizer", "labels.json", "calibration.json")


@dataclass(frozen=True)
class Calibration:
    """Decision and calibration settings chosen on validation data."""

    goemotions_thresholds: dict[str, float] = field(default_factory=dict)
    temperatures: dict[str, float] = field(default_factory=lambda: {"goemotions": 1.0, "carer": 1.0, "big5": 1.0})
    depression_index: DepressionIndex = field(default_factory=DepressionIndex)

    def to_dict(self) -> dict[str, Any]:
        return {"goemotions_thresholds": self.goemotions_thresholds, "temperatures": self.temperatures,
                "depression_index": self.depression_index.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        return cls(dict(data.get("goemotions_thresholds", {})),
                   {"goemotions": 1.0, "carer": 1.0, "big5": 1.0, **data.get("temperatures", {})},
                   DepressionIndex.from_dict(data.get("depression_index", {})))


def save_artifact(directory: Path, *, name: str, model: MultitaskNetwork, tokenizer, calibration: Calibration,
                  window: int, fp16: bool = True, extra: dict[str, Any] | None = None) -> str:
    """Write a model directory; returns its version string (name + short weight hash)."""
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: (v.half() if fp16 and v.is_floating_point() else v).contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(directory / "model.safetensors"), metadata={"format": FORMAT})
    digest = hashlib.sha256((directory / "model.safetensors").read_bytes()).hexdigest()[:10]
    version = f"{name}+{digest}"
    (directory / "encoder").mkdir(exist_ok=True)
    encoder: Any = model.encoder  # a transformers model
    encoder.config.to_json_file(str(directory / "encoder" / "config.json"))
    tok_dir = directory / "tokenizer"
    if tok_dir.exists():
        shutil.rmtree(tok_dir)
    tokenizer.save_pretrained(str(tok_dir))
    config = {"format": FORMAT, "name": name, "version": version, "window": window,
              "network": model.config.to_dict(), **(extra or {})}
    (directory / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    labels = {"goemotions": list(model.config.goemotions_labels), "carer": list(model.config.carer_labels),
              "big5": list(model.config.big5_traits)}
    (directory / "labels.json").write_text(json.dumps(labels, indent=2), encoding="utf-8")
    write_calibration(directory, calibration)
    return version


def write_calibration(directory: Path, calibration: Calibration) -> None:
    """(Re)write a model directory's calibration.json; weights and version are untouched."""
    (directory / "calibration.json").write_text(json.dumps(calibration.to_dict(), indent=2), encoding="utf-8")


def check_artifact(directory: Path) -> None:
    """Raise ModelNotFound naming the missing part and the fix."""
    if not directory.is_dir():
        raise ModelNotFound(
            f"model directory {str(directory)!r} not found; set [model] path in config.toml or pass --model, "
            "or train one with `emomon train`")
    missing = [p for p in REQUIRED if not (directory / p).exists()]
    if missing:
        raise ModelNotFound(f"model directory {str(directory)!r} is incomplete (missing {', '.join(missing)}); "
                            "re-export it with `emomon train --export`")


@dataclass(frozen=True)
class ModelInfo:
    """What a model directory's JSON files say, read without loading weights or tokenizer."""

    config: dict[str, Any]
    calibration: Calibration
    goemotions_labels: tuple[str, ...]
    carer_labels: tuple[str, ...]

    @property
    def version(self) -> str:
        return str(self.config["version"])


def read_model_info(directory: Path) -> ModelInfo:
    """Config, calibration and labels of a model directory (milliseconds; no torch work)."""
    check_artifact(directory)
    config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    if config.get("format") != FORMAT:
        raise ModelNotFound(f"model directory {str(directory)!r} has format {config.get('format')!r}, expected {FORMAT!r}")
    labels = json.loads((directory / "labels.json").read_text(encoding="utf-8"))
    calibration = Calibration.from_dict(json.loads((directory / "calibration.json").read_text(encoding="utf-8")))
    return ModelInfo(config, calibration, tuple(labels["goemotions"]), tuple(labels["carer"]))


def read_artifact(directory: Path) -> tuple[dict[str, Any], MultitaskNetwork, Any, Calibration]:
    """Rebuild (config, network in fp32, tokenizer, calibration) from a model directory."""
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    info = read_model_info(directory)
    config = info.config
    encoder = AutoModel.from_config(AutoConfig.from_pretrained(str(directory / "encoder"), local_files_only=True))
    network = MultitaskNetwork(encoder, NetworkConfig.from_dict(config["network"]))
    state = load_file(str(directory / "model.safetensors"))
    network.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    tokenizer = AutoTokenizer.from_pretrained(str(directory / "tokenizer"), local_files_only=True)
    return config, network.eval(), tokenizer, info.calibration
