"""From a training run to a shipped model directory: calibrate on validation, evaluate on test."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from safetensors.torch import load_file

from monitor.model.artifact import Calibration, save_artifact, write_calibration
from monitor.model.predictor import load_model
from monitor.training.big5_cv import big5_cross_validation
from monitor.training.card import write_model_card
from monitor.training.data import split_authors
from monitor.training.evaluate import evaluate_predictor, fit_calibration, read_splits
from monitor.training.run import load_encoder
from monitor.training.trainer import TrainConfig, build_network


def base_encoder_cv(encoder_dir: Path, datasets: Path, config: TrainConfig) -> dict[str, Any]:
    """Big Five CV on the untouched base encoder's features: the shipped encoder was fine-tuned on
    the train-split authors' traits, so its features leak their labels into any CV over them."""
    import tempfile

    tokenizer, encoder = load_encoder(encoder_dir)
    with tempfile.TemporaryDirectory(prefix="emomon-base-encoder-") as scratch:
        save_artifact(
            Path(scratch),
            name="base-encoder",
            model=build_network(encoder, config, encoder.config.hidden_size),
            tokenizer=tokenizer,
            calibration=Calibration(),
            window=128,
            fp16=False,
        )
        return big5_cross_validation(
            load_model(scratch, device=config.device, precision=config.precision), datasets, seed=config.seed
        )


def export_run(
    run_dir: Path, out_dir: Path, *, datasets: Path, name: str, window: int = 128, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """Write `out_dir` from the run's validation-selected weights; returns the test metrics."""
    config = TrainConfig.from_dict(json.loads((run_dir / "train_config.json").read_text(encoding="utf-8")))
    encoder_dir = Path((run_dir / "encoder_dir.txt").read_text(encoding="utf-8").strip())
    tokenizer, encoder = load_encoder(encoder_dir)
    network = build_network(encoder, config, encoder.config.hidden_size)
    network.load_state_dict(load_file(str(run_dir / "best.safetensors")))
    best = json.loads((run_dir / "best.json").read_text(encoding="utf-8"))
    training = {
        "train_config": asdict(config),
        "selected_step": best["step"],
        "validation_at_selection": best.get("summary", {}),
    }
    if best.get("head_only"):
        training["distress_selection"] = {k: best[k] for k in ("dense_scale", "inverse_regularisation", "ablation")}
    old_card = out_dir / "MODEL_CARD.md"
    old_text = old_card.read_text(encoding="utf-8") if old_card.exists() else ""
    # Written uncalibrated first, so calibration is fitted on the shipped (fp16) weights through the
    # same inference path that scores posts; then only calibration.json is written again (and the
    # directory sealed again: the calibration is part of the version).
    save_artifact(
        out_dir,
        name=name,
        model=network,
        tokenizer=tokenizer,
        calibration=Calibration(),
        window=window,
        fp16=True,
        extra={"training": training},
    )
    log("fitting temperatures, thresholds and the index calibration on validation")
    val = read_splits(datasets, "validation", config.seed, distress="distress" in config.tasks)
    uncalibrated = load_model(out_dir, device=config.device, precision=config.precision)
    logits = {task: uncalibrated.post_logits(d.texts) for task, d in val.items()}
    version = write_calibration(out_dir, fit_calibration(logits, val))
    import csv

    rows = csv.DictReader((datasets / "mypersonality" / "mypersonality.csv").open(encoding="utf-8", errors="replace"))
    splits = split_authors([r["#AUTHID"] for r in rows], config.seed)
    (out_dir / "mypersonality_authors.json").write_text(
        json.dumps({"seed": config.seed, **splits}, indent=1), encoding="utf-8"
    )
    log(f"exported {version}; evaluating on test")
    predictor = load_model(out_dir, device=config.device, precision=config.precision)
    metrics = evaluate_predictor(predictor, datasets, "test", seed=config.seed, log=log)
    log("author-disjoint 5-fold cross-validation of the Big Five head on the encoder's features")
    metrics["big5_cv"] = big5_cross_validation(predictor, datasets, seed=config.seed)
    log("the same cross-validation on the base encoder, which never saw a myPersonality label")
    metrics["big5_cv_base_encoder"] = base_encoder_cv(encoder_dir, datasets, config)
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    # Optional documents in the run directory: baselines.json, ablation.json, and previous.json (the
    # previous model's `emomon evaluate --split test --json`, shown beside this model).
    extras = {
        name: json.loads((run_dir / f"{name}.json").read_text(encoding="utf-8"))
        for name in ("baselines", "ablation", "previous")
        if (run_dir / f"{name}.json").exists()
    }
    kept = write_model_card(out_dir, **extras, old_card=old_text)
    if kept:
        titles = ", ".join(repr(title) for title in kept)
        log(f"kept the card sections {titles} of the previous card: check their figures against the new weights")
    return metrics
