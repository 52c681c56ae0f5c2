"""Classification metrics in plain numpy: accuracy, F1, confusion, thresholds, calibration."""

from __future__ import annotations

import numpy as np

from monitor.model.activations import sigmoid, softmax

EKMAN_GROUPS: dict[str, tuple[str, ...]] = {
    "anger": ("anger", "annoyance", "disapproval"),
    "disgust": ("disgust",),
    "fear": ("fear", "nervousness"),
    "joy": (
        "joy",
        "amusement",
        "approval",
        "excitement",
        "gratitude",
        "love",
        "optimism",
        "relief",
        "pride",
        "admiration",
        "desire",
        "caring",
    ),
    "sadness": ("sadness", "disappointment", "embarrassment", "grief", "remorse"),
    "surprise": ("surprise", "realization", "confusion", "curiosity"),
    "neutral": ("neutral",),
}


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Rows true class, columns predicted class."""
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return matrix


def f1_from_counts(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    """Per-class F1; 0 where a class has no true and no predicted examples."""
    denom = 2 * tp + fp + fn
    return np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> float:
    """Macro-F1 of single-label predictions."""
    m = confusion_matrix(y_true, y_pred, n_classes)
    tp = np.diag(m)
    return float(f1_from_counts(tp, m.sum(0) - tp, m.sum(1) - tp).mean())


def multilabel_f1(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Per-label F1 of {0,1} matrices [N, L]."""
    t, p = np.asarray(y_true).astype(bool), np.asarray(y_pred).astype(bool)
    tp = (t & p).sum(0)
    return f1_from_counts(tp, (~t & p).sum(0), (t & ~p).sum(0))


def tune_thresholds(y_true: np.ndarray, probs: np.ndarray, grid: np.ndarray | None = None) -> np.ndarray:
    """Per-label threshold maximising that label's F1 (fit on validation only)."""
    grid = np.arange(0.05, 0.96, 0.01) if grid is None else grid
    best = np.full(probs.shape[1], 0.5)
    best_f1 = np.full(probs.shape[1], -1.0)
    for threshold in grid:
        f1 = multilabel_f1(y_true, probs >= threshold)
        better = f1 > best_f1
        best[better], best_f1[better] = threshold, f1[better]
    return best


def group_labels(matrix: np.ndarray, labels: list[str], groups: dict[str, tuple[str, ...]]) -> np.ndarray:
    """OR together label columns into groups (e.g. Ekman): [N, L] -> [N, G]."""
    index = {name: i for i, name in enumerate(labels)}
    return np.stack([matrix[:, [index[n] for n in members]].max(axis=1) for members in groups.values()], axis=1)


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 15) -> float:
    """ECE with equal-width confidence bins."""
    confidence, correct = np.asarray(confidence, dtype=float), np.asarray(correct, dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            ece += in_bin.mean() * abs(confidence[in_bin].mean() - correct[in_bin].mean())
    return float(ece)


def fit_temperature(
    logits: np.ndarray, targets: np.ndarray, *, multilabel: bool, grid: np.ndarray | None = None
) -> float:
    """Temperature minimising validation negative log-likelihood (grid search, robust)."""
    grid = np.exp(np.linspace(np.log(0.25), np.log(8.0), 121)) if grid is None else grid
    best_t, best_nll = 1.0, np.inf
    for t in grid:
        if multilabel:
            p = np.clip(sigmoid(logits / t), 1e-7, 1 - 1e-7)
            nll = -(targets * np.log(p) + (1 - targets) * np.log(1 - p)).mean()
        else:
            p = softmax(logits, t)[np.arange(len(targets)), targets]
            nll = -np.log(np.clip(p, 1e-12, None)).mean()
        if nll < best_nll:
            best_t, best_nll = float(t), float(nll)
    return best_t


def auroc(y_true: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve by the rank statistic (ties averaged)."""
    y = np.asarray(y_true) > 0.5
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(len(score))
    sorted_scores = np.asarray(score)[order]
    ranks[order] = np.arange(1, len(score) + 1)
    # average ranks of ties
    _, inverse, counts = np.unique(sorted_scores, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=np.arange(1, len(score) + 1))
    ranks[order] = (sums / counts)[inverse]
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
