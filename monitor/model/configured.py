"""The configured model: [model] path and [scoring] device, precision, windows and index
weights turned into one loaded :class:`Predictor`, and the version its scores are stored under.

Every command that scores (``predict``, ``evaluate``, ``score``, the benchmarks) loads the model
here, so they all use the same settings.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from safetensors import SafetensorError

from monitor.errors import ConfigError, ModelNotFound
from monitor.model.artifact import read_model_info
from monitor.model.index import DepressionIndex

if TYPE_CHECKING:
    from monitor.model.predictor import Predictor
    from monitor.settings import ScoringSettings, Settings


#: What a damaged model directory raises while it loads: JSON that does not parse or has the
#: wrong shape, a truncated or foreign weights file (safetensors never unpickles), weights that
#: do not fit the network, tokenizer files that do not load.
MODEL_DAMAGE: tuple[type[Exception], ...] = (
    OSError,
    json.JSONDecodeError,
    UnicodeDecodeError,
    LookupError,
    TypeError,
    AttributeError,
    RuntimeError,
    SafetensorError,
)
#: What reading a model directory's JSON files raises when it is missing, changed or damaged.
UNREADABLE: tuple[type[Exception], ...] = (ModelNotFound, ValueError, *MODEL_DAMAGE)


def model_path(settings: Settings, override: Path | None = None) -> Path:
    """The model directory: ``override`` or ``[model] path`` relative to the config file."""
    path = Path(override) if override is not None else Path(settings.model.path).expanduser()
    return path if path.is_absolute() else settings.base_dir / path


def index_from_settings(
    sc: ScoringSettings, base: DepressionIndex, goemotions_labels: Sequence[str], carer_labels: Sequence[str]
) -> DepressionIndex | None:
    """The [scoring.index] weights over the model's own, or None when that table is empty.

    The model's Platt calibration (a, b) is kept; a head whose table is empty keeps the
    model's weights.

    Raises:
        ConfigError: A weight names a label the model does not have.
    """
    if not sc.index.goemotions and not sc.index.carer:
        return None
    index = DepressionIndex(
        goemotions=dict(sc.index.goemotions or base.goemotions),
        carer=dict(sc.index.carer or base.carer),
        a=base.a,
        b=base.b,
    )
    try:
        index.validate(goemotions_labels, carer_labels)
    except ValueError as exc:
        raise ConfigError(f"[scoring.index]: {exc}; use the model's labels") from exc
    return index


def with_index(version: str, index: DepressionIndex | None) -> str:
    """A model version with ``+idx<hash>`` appended when custom index weights are in use."""
    if index is None:
        return version
    weights = json.dumps(index.to_dict(), sort_keys=True).encode()
    return f"{version}+idx{hashlib.sha256(weights).hexdigest()[:6]}"


def scores_version(predictor: Predictor) -> str:
    """The model version stored with scores: the name and the start of the SHA-256 of config.json
    with every scored file's recorded hash (checked at load, see
    :func:`monitor.model.artifact.derive_version`); custom index weights add ``+idx<hash>``.
    Precision is not part of it: bf16, int8 and fp32 scores of the same weights agree within the
    model card's tolerances."""
    if predictor.index is predictor.calibration.depression_index:
        return predictor.version
    return with_index(predictor.version, predictor.index)


def configured_version(settings: Settings, model: Path | None = None) -> str | None:
    """The version a run would store, read from the model's JSON files without its weights.

    None when the model directory is missing or unreadable: a run with nothing to do needs no
    model, so that is not an error there.
    """
    try:
        info = read_model_info(model_path(settings, model))
    except UNREADABLE:
        return None
    return with_index(
        info.version,
        index_from_settings(
            settings.scoring, info.calibration.depression_index, info.goemotions_labels, info.carer_labels
        ),
    )


def damaged_model(path: Path, exc: BaseException) -> str:
    """One line naming the damaged file of model directory ``path`` (when known) and the fix."""
    part = _damaged_part(path, exc)
    where = repr(str(path / part)) if part else f"model directory {str(path)!r}"
    detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    return (
        f"cannot load model: {where} is damaged or not an emomon model ({type(exc).__name__}"
        f"{': ' + detail if detail else ''}); fix: copy the model directory again or re-export it "
        "with `emomon train --export`, or point [model] path (the model argument) at another model"
    )


def _damaged_part(path: Path, exc: BaseException) -> Path | None:
    """The file of the model directory that ``exc`` came from, if it can be told."""
    if isinstance(exc, SafetensorError):
        return Path("model.safetensors")
    if isinstance(exc, OSError) and exc.filename:
        return Path(os.path.relpath(exc.filename, path))
    for file in sorted(path.rglob("*.json")):  # JSON or UTF-8 that does not decode?
        try:
            json.loads(file.read_bytes())
        except ValueError:
            return file.relative_to(path)
    return None


def load_predictor(
    settings: Settings,
    *,
    model: Path | None = None,
    device: str | None = None,
    batch_tokens: int | None = None,
    fused: bool = True,
    precision: str | None = None,
) -> Predictor:
    """Load the configured model with the [scoring] device, precision, windows and index weights
    (``device``, ``batch_tokens`` and ``precision`` override theirs).

    Raises:
        ModelNotFound: The model directory is missing, incomplete or damaged.
        ConfigError: A device, window setting or index weight is not usable.
    """
    from monitor.model.predictor import WindowOptions, load_model

    sc = settings.scoring
    path = model_path(settings, model)
    if not path.is_dir():
        raise ModelNotFound(
            f"model directory {str(path)!r} not found: set [model] path in the config "
            "(e.g. train one with `emomon train`)",
            argument="model",
        )
    options = WindowOptions(
        stride=sc.window_stride,
        emotions=sc.window_emotions,
        traits=sc.window_traits,
        batch_tokens=batch_tokens or sc.batch_tokens,
    )
    try:
        predictor = load_model(
            path, device=device or sc.device, precision=precision or sc.precision, fused=fused, options=options
        )
    except MODEL_DAMAGE as exc:
        raise ModelNotFound(damaged_model(path, exc)) from exc
    except ValueError as exc:
        raise ConfigError(f"cannot load model {str(path)!r}: {exc}") from exc
    except Exception as exc:
        if type(exc) is not Exception:  # the tokenizers library raises a bare Exception on a bad file
            raise
        raise ModelNotFound(damaged_model(path, exc)) from exc
    override = index_from_settings(sc, predictor.index, predictor.goemotions_labels, predictor.carer_labels)
    if override is not None:
        predictor.index = override
    return predictor
