"""Writing and reading self-contained model directories (safetensors + JSON, never pickle).

Layout of models/<name>/:
    model.safetensors   network weights (encoder included), fp16 or fp32
    config.json         format, name, version, network config, window length, and the SHA-256 of
                        every file that changes a score ("files": :data:`SCORED_FILES`)
    encoder/config.json Hugging Face config that rebuilds the encoder without its package
    tokenizer/          tokenizer files
    labels.json         label names per head
    calibration.json    GoEmotions thresholds, temperatures, depression-index weights + Platt
    korean/             optional: the Korean network (model.safetensors, config.json, vocab.json,
                        calibration.json; :mod:`monitor.model.korean`), hashed like the rest

The version scores are stored under is derived from config.json, hashes included (see
:func:`derive_version`), so it names every byte a score depends on. Every load checks
config.json against the version it records and each scored file against its hash before the
file is read; a changed file is refused with one line naming it. :func:`seal` records the hashes
and the version; ``emomon train --export`` calls it.
"""

from __future__ import annotations

import hashlib
import json
import math
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
from monitor.model.korean import KoreanCalibration, KoreanConfig, KoreanModel, KoreanNetwork, KoreanVocab
from monitor.model.network import MultitaskNetwork, NetworkConfig

FORMAT = "emomon-model/1"
#: The files of a model directory that change a score, whose SHA-256 config.json records under
#: "files". tokenizer_config.json (the padding token) is optional: where a directory has none
#: when it is sealed, none is read.
SCORED_FILES = (
    "model.safetensors",
    "encoder/config.json",
    "tokenizer/tokenizer.json",
    "tokenizer/tokenizer_config.json",
    "labels.json",
    "calibration.json",
    "korean/model.safetensors",
    "korean/config.json",
    "korean/vocab.json",
    "korean/calibration.json",
)
#: The Korean network (:mod:`monitor.model.korean`): all four or none.
KOREAN_FILES = ("korean/model.safetensors", "korean/config.json", "korean/vocab.json", "korean/calibration.json")
OPTIONAL_FILES = ("tokenizer/tokenizer_config.json", *KOREAN_FILES)
REQUIRED = ("model.safetensors", "config.json", "encoder/config.json", "tokenizer", "labels.json", "calibration.json")
#: The shortest usable window: [CLS], one token of text, [SEP].
MIN_WINDOW = 3
#: What every refusal of a changed or damaged model directory ends with.
FIX = "restore the model directory or re-export it with `emomon train --export`"


@dataclass(frozen=True)
class Calibration:
    """Decision and calibration settings chosen on validation data."""

    goemotions_thresholds: dict[str, float] = field(default_factory=dict)
    temperatures: dict[str, float] = field(default_factory=lambda: {"goemotions": 1.0, "carer": 1.0, "big5": 1.0})
    depression_index: DepressionIndex = field(default_factory=DepressionIndex)

    def to_dict(self) -> dict[str, Any]:
        return {
            "goemotions_thresholds": self.goemotions_thresholds,
            "temperatures": self.temperatures,
            "depression_index": self.depression_index.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        return cls(
            dict(data.get("goemotions_thresholds", {})),
            {"goemotions": 1.0, "carer": 1.0, "big5": 1.0, **data.get("temperatures", {})},
            DepressionIndex.from_dict(data.get("depression_index", {})),
        )

    def validate(self) -> None:
        """Raises ValueError naming the first value no probability can be computed with."""
        for task in ("goemotions", "carer", "big5"):
            if not _finite(self.temperatures.get(task), above=0.0):
                raise ValueError(f"temperatures.{task} = {self.temperatures.get(task)!r}, not a number above 0")
        for label, threshold in self.goemotions_thresholds.items():
            if not _finite(threshold, low=0.0, high=1.0):
                raise ValueError(f"goemotions_thresholds.{label} = {threshold!r}, not a number from 0 to 1")
        index = self.depression_index
        for key, value in (("a", index.a), ("b", index.b)):
            if not _finite(value):
                raise ValueError(f"depression_index.{key} = {value!r}, not a finite number")
        for head, weights in (("goemotions", index.goemotions), ("carer", index.carer)):
            for label, weight in weights.items():
                if not _finite(weight, low=0.0):
                    raise ValueError(f"depression_index.{head}.{label} = {weight!r}, not a number >= 0")


def _finite(value: object, *, low: float | None = None, high: float | None = None, above: float | None = None) -> bool:
    """Whether ``value`` is a finite number (not a bool) within the given bounds."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return False
    return (low is None or value >= low) and (high is None or value <= high) and (above is None or value > above)


def save_artifact(
    directory: Path,
    *,
    name: str,
    model: MultitaskNetwork,
    tokenizer,
    calibration: Calibration,
    window: int,
    fp16: bool = True,
    extra: dict[str, Any] | None = None,
) -> str:
    """Write and seal a model directory; returns its version (see :func:`derive_version`).

    ``window`` is cut to the encoder's positions (``max_position_embeddings``): no window is
    longer than the encoder can read.
    """
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: (v.half() if fp16 and v.is_floating_point() else v).contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(directory / "model.safetensors"), metadata={"format": FORMAT})
    (directory / "encoder").mkdir(exist_ok=True)
    encoder: Any = model.encoder  # a BertEncoder or a transformers model: both have config.to_json_file
    window = min(window, int(getattr(encoder.config, "max_position_embeddings", window)))
    encoder.config.to_json_file(str(directory / "encoder" / "config.json"))
    tok_dir = directory / "tokenizer"
    if tok_dir.exists():
        shutil.rmtree(tok_dir)
    tokenizer.save_pretrained(str(tok_dir))
    config = {
        "format": FORMAT,
        "name": name,
        "version": None,
        "window": window,
        "network": model.config.to_dict(),
        **(extra or {}),
    }  # the version is derived when the directory is sealed
    (directory / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    labels = {
        "goemotions": list(model.config.goemotions_labels),
        "carer": list(model.config.carer_labels),
        "big5": list(model.config.big5_traits),
    }
    (directory / "labels.json").write_text(json.dumps(labels, indent=2), encoding="utf-8")
    return write_calibration(directory, calibration)


def content_digest(config: dict[str, Any]) -> str:
    """SHA-256 of config.json's content but its "version": the settings and, under "files", the
    hashes of every scored file (canonical JSON, so formatting does not count)."""
    sealed = {k: v for k, v in config.items() if k != "version"}
    text = json.dumps(sealed, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def derive_version(config: dict[str, Any]) -> str:
    """The version scores are stored under: the name and the start of :func:`content_digest`, so
    any change to a file that changes a score (weights, tokenizer, encoder config, labels,
    calibration, window) is a new version."""
    return f"{config['name']}+{content_digest(config)[:10]}"


def seal(directory: Path) -> str:
    """Record the SHA-256 of every scored file in config.json ("files") and the version derived
    from it; returns the version. Run after any file of the directory was (re)written."""
    path = directory / "config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config.pop("weights", None)  # the earlier record, of model.safetensors alone
    config["files"] = {
        f: hashlib.sha256((directory / f).read_bytes()).hexdigest() for f in SCORED_FILES if (directory / f).is_file()
    }
    config["version"] = version = derive_version(config)  # the digest leaves "version" out
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    return version


def recorded_files(directory: Path, config: dict[str, Any]) -> dict[str, str]:
    """The SHA-256 per scored file recorded in config.json (optional files only where recorded).

    Raises:
        ModelNotFound: config.json records no hash for a required file.
    """
    files = config.get("files")
    files = files if isinstance(files, dict) else {}
    missing = [f for f in SCORED_FILES if f not in OPTIONAL_FILES and not isinstance(files.get(f), str)]
    if missing:
        raise ModelNotFound(
            f"model directory {str(directory)!r} records no SHA-256 of {', '.join(missing)} "
            '(config.json "files"); re-export it with `emomon train --export`'
        )
    korean = [f for f in KOREAN_FILES if isinstance(files.get(f), str)]
    if korean and len(korean) != len(KOREAN_FILES):
        raise ModelNotFound(
            f"model directory {str(directory)!r} records the SHA-256 of only some Korean files "
            f'({", ".join(korean)}; config.json "files"): {FIX}'
        )
    return {f: str(files[f]) for f in SCORED_FILES if isinstance(files.get(f), str)}


def read_sealed(directory: Path, name: str, files: dict[str, str]) -> bytes:
    """The bytes of scored file ``name``, after checking them against their recorded SHA-256.

    Raises:
        ModelNotFound: The file's hash differs from the one recorded when it was exported.
    """
    data = (directory / name).read_bytes()
    if hashlib.sha256(data).hexdigest() != files[name]:
        raise ModelNotFound(
            f"model file {str(directory / name)!r} does not match the SHA-256 recorded in "
            f"config.json (changed or corrupted since export): {FIX}"
        )
    return data


def write_calibration(directory: Path, calibration: Calibration) -> str:
    """(Re)write a model directory's calibration.json and seal the directory again; returns the
    new version (the calibration changes scores, so it is part of the version)."""
    (directory / "calibration.json").write_text(json.dumps(calibration.to_dict(), indent=2), encoding="utf-8")
    return seal(directory)


def check_artifact(directory: Path) -> None:
    """Raise ModelNotFound naming the missing part and the fix."""
    if not directory.is_dir():
        raise ModelNotFound(
            f"model directory {str(directory)!r} not found; set [model] path in config.toml or name another "
            "model directory, or train one with `emomon train`",
            argument="model",
        )
    missing = [p for p in REQUIRED if not (directory / p).exists()]
    if missing:
        raise ModelNotFound(
            f"model directory {str(directory)!r} is incomplete (missing {', '.join(missing)}); "
            "re-export it with `emomon train --export`"
        )


@dataclass(frozen=True)
class ModelInfo:
    """What a model directory's JSON files say, checked against config.json's hashes and version
    and read without loading weights or tokenizer."""

    directory: Path
    config: dict[str, Any]
    calibration: Calibration
    goemotions_labels: tuple[str, ...]
    carer_labels: tuple[str, ...]
    #: SHA-256 per scored file (config.json "files").
    files: dict[str, str]
    #: The encoder's Hugging Face config (encoder/config.json).
    encoder: dict[str, Any]

    @property
    def digest(self) -> str:
        """SHA-256 of everything a score depends on (:func:`content_digest`)."""
        return content_digest(self.config)

    @property
    def version(self) -> str:
        """Derived from config.json and the recorded hashes, so it names every file that is loaded."""
        return derive_version(self.config)

    @property
    def window(self) -> int:
        """The model's window in tokens (checked at read)."""
        return int(self.config["window"])

    def read(self, name: str) -> bytes:
        """The bytes of scored file ``name`` (see :data:`SCORED_FILES`), checked against its hash."""
        return read_sealed(self.directory, name, self.files)


def read_model_info(directory: Path) -> ModelInfo:
    """Config, calibration and labels of a model directory (milliseconds; no torch work).

    Raises:
        ModelNotFound: A part is missing, config.json differs from the version it records, a
            scored JSON file differs from its recorded hash, or a setting is unusable.
    """
    check_artifact(directory)
    config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        found = config.get("format") if isinstance(config, dict) else type(config).__name__
        raise ModelNotFound(
            f"model directory {str(directory)!r} has format {found!r}, expected {FORMAT!r}; "
            "re-export it with `emomon train --export`"
        )
    files = recorded_files(directory, config)
    if not isinstance(config.get("name"), str) or not config["name"] or config.get("version") != derive_version(config):
        raise ModelNotFound(
            f"model file {str(directory / 'config.json')!r} does not match the version it records "
            f"({config.get('version')!r}; changed since export): {FIX}"
        )
    labels = json.loads(read_sealed(directory, "labels.json", files).decode("utf-8"))
    calibration = Calibration.from_dict(json.loads(read_sealed(directory, "calibration.json", files).decode("utf-8")))
    encoder = json.loads(read_sealed(directory, "encoder/config.json", files).decode("utf-8"))
    info = ModelInfo(
        directory, config, calibration, tuple(labels["goemotions"]), tuple(labels["carer"]), files, encoder
    )
    check_settings(info)
    return info


def check_settings(info: ModelInfo) -> None:
    """Refuse settings no score can be computed with: a window that cannot hold a token of text
    or is longer than the encoder's positions, calibration values that are not finite numbers.

    Raises:
        ModelNotFound: One line naming the file, the value and the fix.
    """
    window, positions = info.config.get("window"), info.encoder.get("max_position_embeddings")
    longest = positions if isinstance(positions, int) and not isinstance(positions, bool) else None
    if (
        not isinstance(window, int)
        or isinstance(window, bool)
        or window < MIN_WINDOW
        or (longest is not None and window > longest)
    ):
        upto = (
            f"{longest} (the encoder's max_position_embeddings)" if longest else "the encoder's max_position_embeddings"
        )
        raise ModelNotFound(
            f'model file {str(info.directory / "config.json")!r} has "window": {json.dumps(window)}, '
            f"not a whole number of tokens from {MIN_WINDOW} to {upto}: {FIX}"
        )
    try:
        info.calibration.validate()
    except ValueError as exc:
        raise ModelNotFound(f"model file {str(info.directory / 'calibration.json')!r} has {exc}: {FIX}") from None


def read_artifact(directory: Path) -> tuple[dict[str, Any], MultitaskNetwork, Tokenizer, Calibration]:
    """Rebuild (config, network in fp32, tokenizer, calibration) from a model directory.

    Every file is checked against the SHA-256 recorded in config.json before it is read.

    Raises:
        ModelNotFound: A part is missing, or a file differs from its recorded hash.
    """
    info = read_model_info(directory)
    return info.config, read_network(info), read_model_tokenizer(info)[0], info.calibration


def read_network(info: ModelInfo) -> MultitaskNetwork:
    """The network of a checked model directory, in fp32 and eval mode."""
    state = {
        k: v.float() if v.is_floating_point() else v for k, v in load_weights(info.read("model.safetensors")).items()
    }
    with torch.device("meta"):  # no random initialisation: every weight is assigned below
        encoder = build_encoder(info.directory / "encoder" / "config.json", info.encoder)
        network = MultitaskNetwork(encoder, NetworkConfig.from_dict(info.config["network"]))
    if isinstance(encoder, BertEncoder):
        state = {
            k: v for k, v in state.items() if not k.removeprefix("encoder.").startswith(BertEncoder.UNUSED_PREFIXES)
        }
    network.load_state_dict(state, assign=True)
    return network.eval()


def read_model_tokenizer(info: ModelInfo) -> tuple[Tokenizer, int]:
    """The checked model's fast tokenizer (truncation and padding off) and its padding token id."""
    tokenizer = Tokenizer.from_str(info.read("tokenizer/tokenizer.json").decode("utf-8"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    name = "tokenizer/tokenizer_config.json"
    config = json.loads(info.read(name).decode("utf-8")) if name in info.files else {}
    return tokenizer, pad_id(config, tokenizer)


def build_encoder(config_path: Path, data: dict[str, Any] | None = None) -> torch.nn.Module:
    """The encoder of ``config_path`` (already parsed: ``data``): :class:`BertEncoder` for BERT,
    else a ``transformers`` model."""
    config = BertConfig.from_dict(data) if data is not None else BertConfig.from_file(config_path)
    if config is not None:
        return BertEncoder(config)
    from transformers import AutoConfig, AutoModel

    if data is None:
        return AutoModel.from_config(AutoConfig.from_pretrained(str(config_path.parent), local_files_only=True))
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    return AutoModel.from_config(CONFIG_MAPPING[data["model_type"]].from_dict(data))


def pad_id(config: dict[str, Any], tokenizer: Tokenizer) -> int:
    """The id of the padding token named by a parsed tokenizer_config.json (0 when unset)."""
    token = config.get("pad_token")
    token_id = tokenizer.token_to_id(token) if isinstance(token, str) else None
    return token_id if token_id is not None else 0


def read_korean(info: ModelInfo) -> KoreanModel | None:
    """The Korean network of a checked model directory (fp32, eval mode), or None without one.

    Raises:
        ModelNotFound: A Korean file differs from its recorded hash or holds unusable values.
    """
    if "korean/model.safetensors" not in info.files:
        return None
    try:
        config = KoreanConfig.from_dict(json.loads(info.read("korean/config.json").decode("utf-8")))
        vocab = KoreanVocab.from_dict(json.loads(info.read("korean/vocab.json").decode("utf-8")))
        calibration = KoreanCalibration.from_dict(json.loads(info.read("korean/calibration.json").decode("utf-8")))
        with torch.device("meta"):
            network = KoreanNetwork(config)
        state = {
            k: v.float() if v.is_floating_point() else v
            for k, v in load_weights(info.read("korean/model.safetensors")).items()
        }
        network.load_state_dict(state, assign=True)
        return KoreanModel(network, vocab, calibration)
    except (ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise ModelNotFound(f"model directory {str(info.directory / 'korean')!r} is unusable ({exc}): {FIX}") from None
