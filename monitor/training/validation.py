"""Validation scoring used for model selection during training (validation split only)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from monitor.model.activations import sigmoid
from monitor.model.inference import logits_for_texts
from monitor.model.network import MultitaskNetwork
from monitor.training.data import TaskData
from monitor.training.metrics import auroc, macro_f1, multilabel_f1, tune_thresholds


def validation_summary(logits: dict[str, dict[str, np.ndarray]], data: dict[str, TaskData]) -> dict[str, float]:
    """Headline validation figures from per-task logits."""
    summary: dict[str, float] = {}
    if "carer" in data:
        pred = logits["carer"]["carer"].argmax(1)
        summary["carer_accuracy"] = float((pred == data["carer"].targets).mean())
        summary["carer_macro_f1"] = macro_f1(data["carer"].targets, pred, 6)
    if "carer_crossdomain" in data:
        pred = logits["carer_crossdomain"]["carer"].argmax(1)
        summary["carer_crossdomain_accuracy"] = float((pred == data["carer_crossdomain"].targets).mean())
    if "goemotions" in data:
        probs = sigmoid(logits["goemotions"]["goemotions"])
        thresholds = tune_thresholds(data["goemotions"].targets, probs)
        summary["goemotions_macro_f1_tuned"] = float(
            multilabel_f1(data["goemotions"].targets, probs >= thresholds).mean()
        )
    if "big5" in data:
        probs = sigmoid(logits["big5"]["big5"])
        summary["big5_status_macro_f1"] = float(
            np.mean(
                [
                    macro_f1(data["big5"].targets[:, j].astype(int), (probs[:, j] >= 0.5).astype(int), 2)
                    for j in range(5)
                ]
            )
        )
    if "distress" in data:
        probs = sigmoid(logits["distress"]["distress"][:, 0])
        truth = data["distress"].targets[:, 0].astype(int)
        summary["distress_f1"] = float(multilabel_f1(truth[:, None], (probs >= 0.5)[:, None]).mean())
        summary["distress_auroc"] = float(auroc(truth, probs))
    if "distress_headlines" in data:
        summary["distress_headline_rate"] = float(
            (sigmoid(logits["distress_headlines"]["distress"][:, 0]) >= 0.5).mean()
        )
    return summary


def selection_score(summary: dict[str, float]) -> float:
    """The single number that picks the best checkpoint: CARER macro-F1 + GoEmotions macro-F1
    + half the CARER head's accuracy on GoEmotions posts (robustness off CARER's style)
    + half the mean Big Five macro-F1 (the weakest, noisiest signal)
    + (with the distress head) its Dreaddit F1 and AUROC, less the share of validation headlines
    it reads as distress."""
    return (
        summary.get("carer_macro_f1", 0.0)
        + summary.get("goemotions_macro_f1_tuned", 0.0)
        + 0.5 * summary.get("carer_crossdomain_accuracy", 0.0)
        + 0.5 * summary.get("big5_status_macro_f1", 0.0)
        + summary.get("distress_f1", 0.0)
        + summary.get("distress_auroc", 0.0)
        - summary.get("distress_headline_rate", 0.0)
    )


def make_validator(
    tokenizer, data: dict[str, TaskData], *, max_length: int, device: torch.device, dtype: torch.dtype | None
) -> Callable[[MultitaskNetwork], dict[str, Any]]:
    """A closure the trainer calls to score the model on the validation splits."""

    def evaluate(model: MultitaskNetwork) -> dict[str, Any]:
        logits = {
            task: logits_for_texts(model, tokenizer, d.texts, max_length=max_length, device=device, dtype=dtype)
            for task, d in data.items()
        }
        summary = validation_summary(logits, data)
        return {"score": selection_score(summary), "summary": summary}

    return evaluate
