"""Evaluation of a model on a dataset split, and calibration fitted on validation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from monitor.model.activations import sigmoid, softmax
from monitor.model.artifact import Calibration
from monitor.model.index import DepressionIndex, fit_platt
from monitor.model.network import BIG5_TRAITS, CARER_LABELS, GOEMOTIONS_LABELS
from monitor.model.predictor import Predictor
from monitor.training.crossdomain import crossdomain_figures
from monitor.training.data import TaskData, read_headlines, read_task
from monitor.training.metrics import (
    EKMAN_GROUPS,
    auroc,
    confusion_matrix,
    expected_calibration_error,
    fit_temperature,
    group_labels,
    macro_f1,
    multilabel_f1,
    tune_thresholds,
)

DEPRESSION_CARER = (0, 4)  # sadness, fear


def binary_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Accuracy and macro-F1 of one binary decision, plus the split's majority-class accuracy."""
    y_true, y_pred = y_true.astype(int), y_pred.astype(int)
    positive_share = float(y_true.mean()) if len(y_true) else 0.0
    return {
        "accuracy": float((y_true == y_pred).mean()),
        "macro_f1": macro_f1(y_true, y_pred, 2),
        "majority": max(positive_share, 1 - positive_share),
        "n": int(len(y_true)),
    }


def depression_target(task: str, data: TaskData) -> np.ndarray:
    """Whether each example's gold label is a depression-related emotion."""
    if task == "carer":
        return np.isin(data.targets, DEPRESSION_CARER).astype(float)
    related = [GOEMOTIONS_LABELS.index(l) for l in DepressionIndex().goemotions]
    return data.targets[:, related].max(axis=1)


def fit_calibration(logits: dict[str, dict[str, np.ndarray]], data: dict[str, TaskData]) -> Calibration:
    """Temperatures, GoEmotions thresholds and the depression-index Platt scaling, on validation."""
    temperatures = {
        "carer": fit_temperature(logits["carer"]["carer"], data["carer"].targets, multilabel=False),
        "goemotions": fit_temperature(logits["goemotions"]["goemotions"], data["goemotions"].targets, multilabel=True),
        "big5": fit_temperature(logits["big5"]["big5"], data["big5"].targets, multilabel=True),
    }
    probs = sigmoid(logits["goemotions"]["goemotions"] / temperatures["goemotions"])
    thresholds = tune_thresholds(data["goemotions"].targets, probs)
    base = DepressionIndex()
    raws, targets = [], []
    for task in ("carer", "goemotions"):
        g = sigmoid(logits[task]["goemotions"] / temperatures["goemotions"])
        c = softmax(logits[task]["carer"], temperatures["carer"])
        raws.append(base.raw(g, c, GOEMOTIONS_LABELS, CARER_LABELS))
        targets.append(depression_target(task, data[task]))
    a, b = fit_platt(np.concatenate(raws), np.concatenate(targets))
    index = DepressionIndex(base.goemotions, base.carer, a, b)
    if "distress" in data:
        temperatures["distress"] = fit_temperature(
            logits["distress"]["distress"], data["distress"].targets, multilabel=True
        )
    return Calibration({l: round(float(t), 2) for l, t in zip(GOEMOTIONS_LABELS, thresholds)}, temperatures, index)


def evaluate_logits(
    logits: dict[str, dict[str, np.ndarray]], data: dict[str, TaskData], calibration: Calibration, name: str
) -> dict[str, Any]:
    """All reported metrics of one split, given its logits and the validation-fitted calibration."""
    t = calibration.temperatures
    result: dict[str, Any] = {"model": name}
    carer_logits, carer_true = logits["carer"]["carer"], data["carer"].targets
    carer_pred = carer_logits.argmax(1)
    result["carer"] = {
        "accuracy": float((carer_pred == carer_true).mean()),
        "macro_f1": macro_f1(carer_true, carer_pred, len(CARER_LABELS)),
        "labels": list(CARER_LABELS),
        "confusion": confusion_matrix(carer_true, carer_pred, len(CARER_LABELS)).tolist(),
    }
    g_true = data["goemotions"].targets
    thresholds = np.asarray([calibration.goemotions_thresholds.get(l, 0.5) for l in GOEMOTIONS_LABELS])
    g_probs = sigmoid(logits["goemotions"]["goemotions"] / t["goemotions"])
    g_pred = g_probs >= thresholds
    per_label = multilabel_f1(g_true, g_pred)
    ekman_true = group_labels(g_true, list(GOEMOTIONS_LABELS), EKMAN_GROUPS)
    ekman_pred = group_labels(g_pred.astype(float), list(GOEMOTIONS_LABELS), EKMAN_GROUPS)
    result["goemotions"] = {
        "macro_f1": float(per_label.mean()),
        "macro_f1_ekman": float(multilabel_f1(ekman_true, ekman_pred).mean()),
        "macro_f1_at_0.5": float(multilabel_f1(g_true, sigmoid(logits["goemotions"]["goemotions"]) >= 0.5).mean()),
        "per_label_f1": {l: round(float(f), 4) for l, f in zip(GOEMOTIONS_LABELS, per_label)},
    }
    b = data["big5"]
    b_probs = sigmoid(logits["big5"]["big5"] / t["big5"])
    authors = np.asarray(b.authors)
    unique = sorted(set(b.authors or []))
    status, author = {}, {}
    for j, trait in enumerate(BIG5_TRAITS):
        status[trait] = binary_scores(b.targets[:, j], b_probs[:, j] >= 0.5)
        mean_prob = np.asarray([b_probs[authors == a, j].mean() for a in unique])
        label = np.asarray([b.targets[authors == a, j][0] for a in unique])
        author[trait] = binary_scores(label, mean_prob >= 0.5)
    result["big5"] = {"status": status, "author": author, "authors": len(unique)}
    result["ece"] = calibration_errors(logits, data, t)
    if "distress" in data:
        result["distress"] = distress_figures(logits, data, t)
    idx, target = index_values(logits, data, calibration)
    result["depression_index"] = {
        "ece": expected_calibration_error(np.maximum(idx, 1 - idx), (idx >= 0.5) == (target > 0.5)),
        "accuracy_at_0.5": float(((idx >= 0.5) == (target > 0.5)).mean()),
        "auroc": auroc(target, idx),
    }
    return result


def distress_figures(
    logits: dict[str, dict[str, np.ndarray]], data: dict[str, TaskData], temperatures: dict[str, float]
) -> dict[str, Any]:
    """Dreaddit: positive-class F1 at 0.5, AUROC, ECE; headlines: the share read as distress."""
    truth = data["distress"].targets[:, 0] > 0.5
    probs = sigmoid(logits["distress"]["distress"][:, 0] / temperatures.get("distress", 1.0))
    pred = probs >= 0.5
    tp, fp, fn = int((truth & pred).sum()), int((~truth & pred).sum()), int((truth & ~pred).sum())
    out: dict[str, Any] = {
        "dreaddit": {
            "f1": 2 * tp / max(1, 2 * tp + fp + fn),
            "precision": tp / max(1, tp + fp),
            "recall": tp / max(1, tp + fn),
            "auroc": auroc(truth, probs),
            "accuracy": float((pred == truth).mean()),
            "n": int(len(truth)),
            "ece": expected_calibration_error(np.maximum(probs, 1 - probs), pred == truth),
        },
    }
    if "distress_headlines" in data:
        head = sigmoid(logits["distress_headlines"]["distress"][:, 0] / temperatures.get("distress", 1.0))
        sad = data["distress_headlines"].targets[:, 0] >= 50
        out["headlines"] = {
            "n": int(len(head)),
            "share_at_0.5": float((head >= 0.5).mean()),
            "sad_n": int(sad.sum()),
            "sad_share_at_0.5": float((head[sad] >= 0.5).mean()) if sad.any() else 0.0,
        }
    return out


def index_values(
    logits: dict[str, dict[str, np.ndarray]], data: dict[str, TaskData], calibration: Calibration
) -> tuple[np.ndarray, np.ndarray]:
    """The depression index of every CARER and GoEmotions example, and whether its gold label is
    depression-related."""
    t, index = calibration.temperatures, calibration.depression_index
    idx_rows, idx_true = [], []
    for task in ("carer", "goemotions"):
        g = sigmoid(logits[task]["goemotions"] / t["goemotions"])
        c = softmax(logits[task]["carer"], t["carer"])
        idx_rows.append(index(g, c, GOEMOTIONS_LABELS, CARER_LABELS))
        idx_true.append(depression_target(task, data[task]))
    return np.concatenate(idx_rows), np.concatenate(idx_true)


def calibration_errors(
    logits: dict[str, dict[str, np.ndarray]], data: dict[str, TaskData], temperatures: dict[str, float]
) -> dict[str, dict[str, float]]:
    """ECE of each head before (T = 1) and after temperature scaling."""
    out: dict[str, dict[str, float]] = {}
    for key in ("before", "after"):
        temp = 1.0 if key == "before" else temperatures["carer"]
        probs = softmax(logits["carer"]["carer"], temp)
        out.setdefault("carer", {})[key] = expected_calibration_error(
            probs.max(1), probs.argmax(1) == data["carer"].targets
        )
    for task in ("goemotions", "big5"):
        for key in ("before", "after"):
            temp = 1.0 if key == "before" else temperatures[task]
            p = sigmoid(logits[task][task] / temp).ravel()
            y = data[task].targets.ravel()
            out.setdefault(task, {})[key] = expected_calibration_error(np.maximum(p, 1 - p), (p >= 0.5) == (y > 0.5))
    out["temperatures"] = dict(temperatures)
    return out


def read_splits(datasets: Path, split: str, seed: int = 13, *, distress: bool = False) -> dict[str, TaskData]:
    """The tasks' data of one split; with ``distress``, Dreaddit and the split's headlines too
    (``distress_headlines``: targets hold each headline's sadness, 0-100)."""
    tasks = ("carer", "goemotions", "big5", "distress") if distress else ("carer", "goemotions", "big5")
    data = {task: read_task(datasets, task, split, seed) for task in tasks}
    if distress:
        texts, sadness = read_headlines(datasets, split)
        data["distress_headlines"] = TaskData("distress", split, texts, sadness[:, None])
    return data


def split_logits(predictor: Predictor, data: dict[str, TaskData]) -> dict[str, dict[str, np.ndarray]]:
    """Per-post logits of every task's texts through the predictor's one inference path."""
    return {task: predictor.post_logits(d.texts) for task, d in data.items()}


def evaluate_predictor(
    predictor: Predictor,
    datasets: Path,
    split: str,
    *,
    seed: int = 13,
    log: Callable[[str], None] | None = None,
    beside: Predictor | None = None,
) -> dict[str, Any]:
    """Evaluate a loaded model on `split` with its stored calibration, through the predictor's
    own windows, batches and precision (the numbers `emomon score` would store).

    With ``beside`` (the same model at another precision), the same texts are scored by it too
    and ``result["beside"]`` holds its headline metrics and the differences (this minus beside)."""
    data = read_splits(datasets, split, seed, distress=predictor.network.config.distress_head)
    if log:
        log(f"scoring {sum(len(d) for d in data.values())} {split} texts ({predictor.precision})")
    logits = split_logits(predictor, data)
    result = evaluate_logits(logits, data, predictor.calibration, predictor.name)
    result["split"] = split
    result["model_version"] = predictor.version
    result["precision"] = predictor.precision
    result["crossdomain"] = crossdomain_figures(predictor, datasets, split, goemotions_logits=logits["goemotions"])
    if predictor.korean is not None and (datasets / "korean_emotion").is_dir():
        from monitor.training.korean import korean_figures, read_korean

        if log:
            log(f"scoring the Korean {split} sentences (the Korean network)")
        result["korean"] = korean_figures(predictor.korean, read_korean(datasets, split))
    if beside is not None:
        if log:
            log(f"scoring the same texts beside it ({beside.precision})")
        other = split_logits(beside, data)
        result["beside"] = precision_differences(
            result,
            evaluate_logits(other, data, beside.calibration, beside.name),
            index_values(logits, data, predictor.calibration)[0],
            index_values(other, data, beside.calibration)[0],
            beside.precision,
        )
    return result


def precision_differences(
    result: dict[str, Any], other: dict[str, Any], index: np.ndarray, other_index: np.ndarray, precision: str
) -> dict[str, Any]:
    """Headline metrics of the same model at another precision, and the differences from it."""

    def headline(r: dict[str, Any]) -> dict[str, float]:
        return {
            "carer_accuracy": r["carer"]["accuracy"],
            "goemotions_macro_f1": r["goemotions"]["macro_f1"],
            "index_auroc": r["depression_index"]["auroc"],
        }

    ours, theirs = headline(result), headline(other)
    differences = {k: ours[k] - theirs[k] for k in ours}
    differences["index_mean_abs_difference"] = float(np.abs(index - other_index).mean())
    differences["index_max_abs_difference"] = float(np.abs(index - other_index).max(initial=0.0))
    return {"precision": precision, "metrics": theirs, "differences": differences, "posts": int(len(index))}
