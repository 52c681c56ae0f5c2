"""From a training run to a shipped model directory: calibrate on validation, evaluate on test."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from safetensors.torch import load_file

from monitor.model.artifact import save_artifact
from monitor.model.card import write_model_card
from monitor.model.data import split_authors
from monitor.model.device import choose_autocast, choose_device
from monitor.model.evaluate import evaluate_predictor, fit_calibration, read_splits, split_logits
from monitor.model.predictor import load_model
from monitor.model.train_run import load_encoder
from monitor.model.trainer import TrainConfig, build_network


def export_run(run_dir: Path, out_dir: Path, *, datasets: Path, name: str, window: int = 128,
               log: Callable[[str], None] = print) -> dict[str, Any]:
    """Write `out_dir` from the run's validation-selected weights; returns the test metrics."""
    config = TrainConfig.from_dict(json.loads((run_dir / "train_config.json").read_text(encoding="utf-8")))
    encoder_dir = Path((run_dir / "encoder_dir.txt").read_text(encoding="utf-8").strip())
    tokenizer, encoder = load_encoder(encoder_dir)
    network = build_network(encoder, config, encoder.config.hidden_size)
    network.load_state_dict(load_file(str(run_dir / "best.safetensors")))
    best = json.loads((run_dir / "best.json").read_text(encoding="utf-8"))
    device = choose_device(config.device)
    dtype = choose_autocast(device, config.precision)
    log("fitting temperatures, thresholds and the index calibration on validation")
    val = read_splits(datasets, "validation", config.seed)
    calibration = fit_calibration(split_logits(network.to(device), tokenizer, val, window=window, device=device,
                                               dtype=dtype), val)
    training = {"train_config": asdict(config), "selected_step": best["step"],
                "validation_at_selection": best.get("summary", {})}
    version = save_artifact(out_dir, name=name, model=network.cpu(), tokenizer=tokenizer, calibration=calibration,
                            window=window, fp16=True, extra={"training": training})
    import csv

    rows = csv.DictReader((datasets / "mypersonality" / "mypersonality.csv").open(encoding="utf-8", errors="replace"))
    splits = split_authors([r["#AUTHID"] for r in rows], config.seed)
    (out_dir / "mypersonality_authors.json").write_text(json.dumps({"seed": config.seed, **splits}, indent=1),
                                                        encoding="utf-8")
    log(f"exported {version}; evaluating on test")
    predictor = load_model(out_dir, device=config.device, precision=config.precision)
    metrics = evaluate_predictor(predictor, datasets, "test", seed=config.seed, log=log)
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    extras = {name: json.loads((run_dir / f"{name}.json").read_text(encoding="utf-8"))
              for name in ("baselines", "ablation") if (run_dir / f"{name}.json").exists()}
    write_model_card(out_dir, **extras)
    return metrics
