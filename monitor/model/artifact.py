"""Writing and reading self-contained model directories (safetensors + JSON, never pickle).

Layout of models/<name>/:
    model.safetensors   network weights (encoder included), fp16 or fp32
    config.json         format, name, version, network config, window length, and the SHA-256 of
                        every weight file ("weights"), checked on load; the version is derived
                        from it (name + the first 10 hex digits of model.safetensors' hash)
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

import torch
from safetensors.torch import load as load_weights
from safetensors.torch import save_file
from tokenizers import Tokenizer

from monitor.errors import ModelNotFound
from monitor.model.bert import BertConfig, BertEncoder
from monitor.model.index import DepressionIndex
from monitor.model.network import MultitaskNetwork, NetworkConfig

FORMAT = "emomon-model/1"
#: The weight files of a model directory, whose SHA-256 config.json records under "weights".
WEIGHT_FILES = ("model.safetensors",)
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
    weights = {f: hashlib.sha256((directory / f).read_bytes()).hexdigest() for f in WEIGHT_FILES}
    version = derive_version(name, weights)
    (directory / "encoder").mkdir(exist_ok=True)
    encoder: Any = model.encoder  # a BertEncoder or a transformers model: both have config.to_json_file
    encoder.config.to_json_file(str(directory / "encoder" / "config.json"))
    tok_dir = directory / "tokenizer"
    if tok_dir.exists():
        shutil.rmtree(tok_dir)
    tokenizer.save_pretrained(str(tok_dir))
    config = {"format": FORMAT, "name": name, "version": version, "window": window,
              "network": model.config.to_dict(), "weights": weights, **(extra or {})}
    (directory / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    labels = {"goemotions": list(model.config.goemotions_labels), "carer": list(model.config.carer_labels),
              "big5": list(model.config.big5_traits)}
    (directory / "labels.json").write_text(json.dumps(labels, indent=2), encoding="utf-8")
    write_calibration(directory, calibration)
    return version


def derive_version(name: str, weights: dict[str, str]) -> str:
    """The version scores are stored under: the name and the start of model.safetensors' SHA-256."""
    return f"{name}+{weights['model.safetensors'][:10]}"


def recorded_weights(directory: Path, config: dict[str, Any]) -> dict[str, str]:
    """The SHA-256 per weight file recorded in config.json.

    Raises:
        ModelNotFound: config.json records no hash for a weight file.
    """
    weights = config.get("weights")
    missing = [f for f in WEIGHT_FILES if not isinstance(weights, dict) or not isinstance(weights.get(f), str)]
    if missing:
        raise ModelNotFound(f"model directory {str(directory)!r} records no SHA-256 of {', '.join(missing)} "
                            "(config.json \"weights\"); re-export it with `emomon train --export`")
    return {f: str(weights[f]) for f in WEIGHT_FILES}  # type: ignore[index]


def read_weights(directory: Path, name: str, expected: dict[str, str]) -> bytes:
    """The bytes of weight file ``name``, after checking them against their recorded SHA-256.

    Raises:
        ModelNotFound: The file's hash differs from the one recorded when it was exported.
    """
    data = (directory / name).read_bytes()
    if hashlib.sha256(data).hexdigest() != expected[name]:
        raise ModelNotFound(f"model file {str(directory / name)!r} does not match the SHA-256 recorded in "
                            "config.json (changed or corrupted since export): restore the model directory "
                            "or re-export it with `emomon train --export`")
    return data


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

    weights: dict[str, str]

    @property
    def version(self) -> str:
        """Derived from the recorded weight hashes, so it names the weights that are loaded."""
        return derive_version(str(self.config["name"]), self.weights)


def read_model_info(directory: Path) -> ModelInfo:
    """Config, calibration and labels of a model directory (milliseconds; no torch work)."""
    check_artifact(directory)
    config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    if config.get("format") != FORMAT:
        raise ModelNotFound(f"model directory {str(directory)!r} has format {config.get('format')!r}, expected {FORMAT!r}")
    labels = json.loads((directory / "labels.json").read_text(encoding="utf-8"))
    calibration = Calibration.from_dict(json.loads((directory / "calibration.json").read_text(encoding="utf-8")))
    return ModelInfo(config, calibration, tuple(labels["goemotions"]), tuple(labels["carer"]),
                     recorded_weights(directory, config))


def read_artifact(directory: Path) -> tuple[dict[str, Any], MultitaskNetwork, Tokenizer, Calibration]:
    """Rebuild (config, network in fp32, tokenizer, calibration) from a model directory.

    The weights are checked against the SHA-256 recorded in config.json before they are read.

    Raises:
        ModelNotFound: A part is missing, or a weight file differs from its recorded hash.
    """
    info = read_model_info(directory)
    data = read_weights(directory, "model.safetensors", info.weights)
    state = {k: v.float() if v.is_floating_point() else v for k, v in load_weights(data).items()}
    with torch.device("meta"):  # no random initialisation: every weight is assigned below
        encoder = build_encoder(directory / "encoder" / "config.json")
        network = MultitaskNetwork(encoder, NetworkConfig.from_dict(info.config["network"]))
    if isinstance(encoder, BertEncoder):
        state = {k: v for k, v in state.items()
                 if not k.removeprefix("encoder.").startswith(BertEncoder.UNUSED_PREFIXES)}
    network.load_state_dict(state, assign=True)
    return info.config, network.eval(), read_tokenizer(directory / "tokenizer"), info.calibration


def build_encoder(config_path: Path) -> torch.nn.Module:
    """The encoder of ``config_path``: :class:`BertEncoder` for BERT, else a ``transformers`` model."""
    config = BertConfig.from_file(config_path)
    if config is not None:
        return BertEncoder(config)
    from transformers import AutoConfig, AutoModel

    return AutoModel.from_config(AutoConfig.from_pretrained(str(config_path.parent), local_files_only=True))


def read_tokenizer(directory: Path) -> Tokenizer:
    """The fast tokenizer in ``directory`` (tokenizer.json) with truncation and padding off.

    Raises:
        ModelNotFound: The directory has no tokenizer.json.
    """
    if not (directory / "tokenizer.json").is_file():
        raise ModelNotFound(f"model tokenizer {str(directory / 'tokenizer.json')!r} not found; "
                            "re-export the model with `emomon train --export`")
    tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def pad_token_id(directory: Path, tokenizer: Tokenizer) -> int:
    """The id of the tokenizer's padding token (tokenizer_config.json "pad_token"; 0 when unset)."""
    path = directory / "tokenizer_config.json"
    config = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    token = config.get("pad_token")
    token_id = tokenizer.token_to_id(token) if isinstance(token, str) else None
    return token_id if token_id is not None else 0
