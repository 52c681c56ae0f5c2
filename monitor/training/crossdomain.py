"""Cross-domain figures: the CARER head on Reddit comments and the depression index on GoEmotions.

Both go through the predictor's one inference path (:meth:`Predictor.post_logits`, then
:meth:`Predictor.probabilities` with the stored temperatures); the GoEmotions split is scored once
and the CARER-eligible posts are looked up among its rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from monitor.model.predictor import Predictor
from monitor.training.data import SPLITS, goemotions_as_carer, read_goemotions
from monitor.training.metrics import auroc, macro_f1


def _nan_to_none(value: float) -> float | None:
    """JSON-safe float: NaN (an undefined figure) becomes None."""
    return None if np.isnan(value) else float(value)


def carer_head_figures(carer_probs: np.ndarray, labels: np.ndarray, carer_labels: list[str]) -> dict[str, Any]:
    """Accuracy, macro-F1 and per-class recall of argmax CARER predictions, beside the majority class's
    accuracy on the same posts (a constant prediction of the most frequent gold label)."""
    n = int(len(labels))
    k = len(carer_labels)
    pred = carer_probs.argmax(axis=1) if n else np.zeros(0, dtype=np.int64)
    support = np.bincount(labels, minlength=k) if n else np.zeros(k, dtype=np.int64)
    hits = np.bincount(labels[pred == labels], minlength=k) if n else np.zeros(k, dtype=np.int64)
    majority = int(support.argmax())
    return {
        "n": n,
        "accuracy": float((pred == labels).mean()) if n else None,
        "macro_f1": macro_f1(labels, pred, k) if n else None,
        "per_class_recall": {
            l: (float(hits[i] / support[i]) if support[i] else None) for i, l in enumerate(carer_labels)
        },
        "support": {l: int(support[i]) for i, l in enumerate(carer_labels)},
        "majority_class": carer_labels[majority] if n else None,
        "majority_accuracy": float(support[majority] / n) if n else None,
    }


def crossdomain_figures(
    predictor: Predictor, datasets: Path, split: str, *, goemotions_logits: dict[str, np.ndarray] | None = None
) -> dict[str, Any]:
    """(a) The CARER head on GoEmotions `split` posts whose only label is one of CARER's six emotions;
    (b) the depression index's AUROC on all GoEmotions `split` posts, positives = posts carrying any
    GoEmotions label with positive weight in the predictor's own index."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use one of {SPLITS}")
    goemotions = read_goemotions(datasets, split)
    # The one inference path; `emomon evaluate` passes the logits it already has for these posts.
    logits = goemotions_logits if goemotions_logits is not None else predictor.post_logits(goemotions.texts)
    probs = predictor.probabilities(logits)

    eligible = goemotions_as_carer(datasets, split)
    row_of = {text: i for i, text in enumerate(goemotions.texts)}  # same text, same ids, same logits
    rows = np.asarray([row_of[t] for t in eligible.texts], dtype=np.int64)
    carer = carer_head_figures(probs["carer"][rows], eligible.targets, predictor.carer_labels)
    carer["posts"] = f"GoEmotions {split} posts whose only label is one of CARER's six emotions, labelled as CARER"

    positive_labels = [l for l, w in predictor.index.goemotions.items() if w > 0]
    columns = [predictor.goemotions_labels.index(l) for l in positive_labels]
    target = goemotions.targets[:, columns].max(axis=1) if columns else np.zeros(len(goemotions))
    index = predictor.depression_index(probs["goemotions"], probs["carer"])
    n_pos = int((target > 0.5).sum())
    return {
        "model": predictor.name,
        "model_version": predictor.version,
        "split": split,
        "carer_on_goemotions": carer,
        "depression_index_on_goemotions": {
            "auroc": _nan_to_none(auroc(target, index)),
            "n_pos": n_pos,
            "n_neg": int(len(target) - n_pos),
            "positive_labels": positive_labels,
            "positives": "GoEmotions posts carrying any of positive_labels (the GoEmotions labels with "
            "positive weight in the model's depression index); negatives: all other posts",
        },
    }
