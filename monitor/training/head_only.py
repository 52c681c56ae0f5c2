"""Add the personal-distress head to a shipped model without touching what it already does.

The encoder and the gated branches of the starting model stay frozen: their outputs for the
distress training texts (Dreaddit train posts and the training headlines) are computed once, and
only the new head, a linear layer over both branches, is fitted on them. Every other head keeps
its weights, so the CARER, GoEmotions, Big Five and index figures are the starting model's by
construction. The weight decay and the number of epochs are chosen on validation (Dreaddit's
held-out posts and the validation headlines) with :func:`selection_score`.

The result is written as a run directory (``best.safetensors``, ``best.json``,
``train_config.json``, ``encoder_dir.txt``) that :func:`monitor.training.export.export_run`
turns into a model directory, as it does for a full training run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from monitor.model.network import MultitaskNetwork
from monitor.model.predictor import load_model
from monitor.training.big5_cv import encode_features
from monitor.training.data import read_headlines, read_task
from monitor.training.run import load_encoder, start_from_model
from monitor.training.trainer import TrainConfig, build_network
from monitor.training.validation import selection_score, validation_summary

WEIGHT_DECAYS: tuple[float, ...] = (0.0, 1e-4, 1e-3, 1e-2, 1e-1)
MAX_EPOCHS = 400
EVAL_EVERY = 10


@torch.no_grad()  # not inference_mode: the head is trained on these tensors
def branch_features(network: MultitaskNetwork, pooled: np.ndarray) -> torch.Tensor:
    """What the distress head reads: both branches' outputs, concatenated, [N, 2D]."""
    network.eval()
    h_e, h_p = network.branches(torch.as_tensor(pooled, dtype=torch.float32))
    return torch.cat([h_e, h_p], dim=-1)


def fit_head(
    x: torch.Tensor, y: torch.Tensor, evaluate: Callable[[torch.nn.Linear], float], *, weight_decay: float, seed: int
) -> tuple[torch.nn.Linear, float, int]:
    """Full-batch AdamW on a linear head; returns the head, its best validation score and epoch."""
    torch.manual_seed(seed)
    head = torch.nn.Linear(x.shape[1], 1)
    optimiser = torch.optim.AdamW(head.parameters(), lr=1e-2, weight_decay=weight_decay)
    best = (-float("inf"), 0, {k: v.clone() for k, v in head.state_dict().items()})
    for epoch in range(1, MAX_EPOCHS + 1):
        optimiser.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(head(x), y)
        loss.backward()
        optimiser.step()
        if epoch % EVAL_EVERY == 0:
            score = evaluate(head)
            if score > best[0]:
                best = (score, epoch, {k: v.clone() for k, v in head.state_dict().items()})
    head.load_state_dict(best[2])
    return head, best[0], best[1]


def train_distress_head(
    start_from: Path,
    run_dir: Path,
    *,
    datasets: Path,
    encoder_dir: Path,
    seed: int = 13,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Fit the distress head on ``start_from``'s frozen features and write ``run_dir``."""
    predictor = load_model(start_from, device="cpu", precision="fp32", fused=False)
    network = predictor.network
    train = read_task(datasets, "distress", "train", seed)
    val = read_task(datasets, "distress", "validation", seed)
    val_headlines, _ = read_headlines(datasets, "validation")
    cache = run_dir / "features.safetensors"  # the frozen encoder's vectors: computed once per run directory
    if cache.exists():
        pooled = load_file(str(cache))
    else:
        log(
            f"encoding {len(train)} training and {len(val) + len(val_headlines)} validation texts with the frozen "
            "encoder"
        )
        pooled = {
            name: torch.as_tensor(encode_features(predictor, texts))
            for name, texts in (("train", train.texts), ("validation", val.texts), ("headlines", val_headlines))
        }
        run_dir.mkdir(parents=True, exist_ok=True)
        save_file(pooled, str(cache))
    x_train, x_val, x_head = (
        branch_features(network, pooled[name].numpy()) for name in ("train", "validation", "headlines")
    )
    y_train = torch.as_tensor(train.targets, dtype=torch.float32)
    val_data = {
        "distress": val,
        "distress_headlines": replace(val, texts=val_headlines, targets=np.zeros((len(val_headlines), 1), np.float32)),
    }

    @torch.inference_mode()
    def summary_of(head: torch.nn.Linear) -> dict[str, float]:
        logits = {
            "distress": {"distress": head(x_val).numpy()},
            "distress_headlines": {"distress": head(x_head).numpy()},
        }
        return validation_summary(logits, val_data)

    ablation = []
    chosen: tuple[float, torch.nn.Linear, float, int] | None = None
    for decay in WEIGHT_DECAYS:
        head, score, epoch = fit_head(
            x_train, y_train, lambda h: selection_score(summary_of(h)), weight_decay=decay, seed=seed
        )
        ablation.append({"weight_decay": decay, "epoch": epoch, "score": score, **summary_of(head)})
        log(f"weight decay {decay}: validation score {score:.4f} at epoch {epoch} {json.dumps(summary_of(head))}")
        if chosen is None or score > chosen[2]:
            chosen = (decay, head, score, epoch)
    assert chosen is not None
    decay, head, score, epoch = chosen
    config = network.config
    train_config = TrainConfig(
        tasks=("goemotions", "carer", "big5", "distress"),
        seed=seed,
        steps=epoch,
        task_probs={"distress": 1.0},
        init_from=str(start_from.resolve()),
        gate=config.gate,
        gate_levels=config.gate_levels,
        device="cpu",
        precision="fp32",
    )
    # The network a training run of this config builds (the base encoder's own layout), holding the
    # starting model's weights and the fitted head: what export reads from a run directory.
    tokenizer, encoder = load_encoder(encoder_dir)
    full = build_network(encoder, train_config, encoder.config.hidden_size)
    start_from_model(full, start_from)
    assert full.distress_head is not None
    full.distress_head.load_state_dict(head.state_dict())
    run_dir.mkdir(parents=True, exist_ok=True)
    save_file(
        {k: v.detach().float().contiguous() for k, v in full.state_dict().items()}, str(run_dir / "best.safetensors")
    )
    record = {
        "step": epoch,
        "score": score,
        "summary": summary_of(head),
        "head_only": True,
        "weight_decay": decay,
        "ablation": ablation,
    }
    (run_dir / "train_config.json").write_text(json.dumps(asdict(train_config), indent=2), encoding="utf-8")
    (run_dir / "best.json").write_text(json.dumps(record, indent=2), encoding="utf-8")
    (run_dir / "encoder_dir.txt").write_text(str(encoder_dir), encoding="utf-8")
    return record
