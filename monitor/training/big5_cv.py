"""Author-disjoint k-fold cross-validation of a Big Five probe on the shared encoder's features.

Over all myPersonality authors (the 70/15/15 author split ignored): each status is encoded to the
predictor's mean-pooled encoder vector (mean over a long status's windows), each author is the
mean of their statuses' vectors, and per trait a standardised logistic regression is trained on
k-1 folds of authors and scored on the held-out fold. C is chosen by an inner stratified CV
(AUROC) on the training folds only. Figures are pooled over the out-of-fold predictions, with
95% percentile-bootstrap intervals over authors.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from monitor.model.inference import forward_batches
from monitor.model.network import BIG5_TRAITS
from monitor.model.predictor import Predictor, reduce_windows
from monitor.training.data import SPLITS, read_mypersonality
from monitor.training.metrics import auroc

C_GRID: tuple[float, ...] = tuple(float(c) for c in np.logspace(-3, 2, 11))
FIXED_C = 1.0  # used only where a training fold has too few authors of a class for the inner CV
BOOTSTRAP = 1000


def author_folds(authors: Sequence[str], k: int = 5, seed: int = 13) -> list[list[str]]:
    """The test-fold authors of each of `k` folds: KFold(shuffle, seed) over the sorted unique ids.
    Every author is in exactly one fold; each fold's list is sorted."""
    unique = np.asarray(sorted(set(authors)))
    if len(unique) < k:
        raise ValueError(f"{len(unique)} authors cannot fill {k} folds")
    splitter = KFold(n_splits=k, shuffle=True, random_state=seed)
    return [sorted(str(a) for a in unique[test]) for _, test in splitter.split(unique)]


@torch.inference_mode()
def encode_features(predictor: Predictor, texts: Sequence[str]) -> np.ndarray:
    """Mean-pooled encoder vectors [N, H] (fp32) through the predictor's windows and batches; a post
    split into windows gets the mean of its windows' vectors."""
    plan = predictor.plan(predictor.encode(texts))
    network = predictor.network
    out = forward_batches(
        network,
        plan.batches,
        plan.n_windows,
        device=predictor.device,
        heads=("pooled",),
        call=lambda ids, mask: {"pooled": network.pooled(ids, mask)},
    ).get("pooled")
    if out is None:
        return np.zeros((0, network.config.hidden_size), dtype=np.float32)
    if plan.n_windows == plan.posts:
        return out
    starts = plan.starts
    return reduce_windows(out, starts, plan.windows, "mean")


def _fit_predict(
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, seed: int, c_grid: Sequence[float] = C_GRID
) -> tuple[np.ndarray, float]:
    """Test-fold probabilities of a scaler + logistic regression, C by inner CV on the training fold."""
    model = make_pipeline(StandardScaler(), LogisticRegression(C=FIXED_C, max_iter=5000))
    inner = min(5, int(np.bincount(y_train, minlength=2).min()))
    if inner >= 2:
        search = GridSearchCV(
            model,
            {"logisticregression__C": list(c_grid)},
            scoring="roc_auc",
            cv=StratifiedKFold(inner, shuffle=True, random_state=seed),
        )
        search.fit(x_train, y_train)
        return search.predict_proba(x_test)[:, 1], float(search.best_params_["logisticregression__C"])
    if len(np.unique(y_train)) < 2:  # one class only: predict it
        return np.full(len(x_test), float(y_train[0])), float("nan")
    model.fit(x_train, y_train)
    return model.predict_proba(x_test)[:, 1], FIXED_C


def _finite(value: float) -> float | None:
    """JSON-safe float: NaN (undefined) becomes None."""
    return None if np.isnan(value) else float(value)


def _interval(values: np.ndarray) -> list[float | None]:
    """2.5th and 97.5th percentiles, ignoring undefined (NaN) resamples."""
    finite = values[np.isfinite(values)]
    if not len(finite):
        return [None, None]
    low, high = np.percentile(finite, [2.5, 97.5])
    return [float(low), float(high)]


def _figures(y: np.ndarray, prob: np.ndarray, majority: np.ndarray, rng: np.random.Generator) -> dict[str, Any]:
    """Accuracy at 0.5, majority accuracy and AUROC of fixed out-of-fold predictions, with 95%
    percentile-bootstrap intervals over the rows (BOOTSTRAP resamples; paired for the difference)."""
    if not len(y):
        return {"n": 0}
    resamples = rng.integers(0, len(y), size=(BOOTSTRAP, len(y)))
    correct = ((prob >= 0.5).astype(np.int64) == y).astype(float)
    base = (majority == y).astype(float)
    boot_acc, boot_base = correct[resamples].mean(axis=1), base[resamples].mean(axis=1)
    accuracy, baseline = float(correct.mean()), float(base.mean())
    difference = _interval(boot_acc - boot_base)
    score = auroc(y, prob)
    return {
        "n": int(len(y)),
        "accuracy": accuracy,
        "accuracy_ci95": _interval(boot_acc),
        "majority_accuracy": baseline,
        "majority_accuracy_ci95": _interval(boot_base),
        "auroc": _finite(score),
        "auroc_ci95": _interval(np.asarray([auroc(y[r], prob[r]) for r in resamples])),
        "accuracy_minus_majority_ci95": difference,
        "above_majority": accuracy > baseline,
        "above_majority_ci": difference[0] is not None and difference[0] > 0,
        "positive_share": float(y.mean()),
    }


def _summary(per_trait: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Traits above majority (point estimate and interval) and the mean AUROC over traits."""
    aurocs = [m["auroc"] for m in per_trait.values() if m.get("auroc") is not None]
    return {
        "traits_above_majority": sum(m.get("above_majority", False) for m in per_trait.values()),
        "traits_above_majority_ci": sum(m.get("above_majority_ci", False) for m in per_trait.values()),
        "of": len(per_trait),
        "mean_auroc": float(np.mean(aurocs)) if aurocs else None,
    }


def cross_validate_authors(
    features: np.ndarray,
    labels: np.ndarray,
    authors: Sequence[str],
    k: int = 5,
    seed: int = 13,
    traits: Sequence[str] = BIG5_TRAITS,
    c_grid: Sequence[float] = C_GRID,
    groups: Mapping[str, Sequence[bool]] | None = None,
) -> dict[str, Any]:
    """Author-level k-fold CV of one logistic regression per trait on precomputed features.

    features [A, D] and labels {0,1} [A, T] are one row per author (`authors`, unique). Accuracy at
    0.5, the majority baseline (each training fold's majority label applied to its test fold) and
    AUROC are pooled over the out-of-fold predictions; intervals are percentile bootstraps over
    authors (1000 resamples, seeded), paired for accuracy minus majority. `groups` (name -> mask
    over authors) adds the same figures on each group's out-of-fold predictions (no refitting)."""
    authors = list(authors)
    if len(set(authors)) != len(authors):
        raise ValueError("cross_validate_authors wants one row per author")
    labels = np.asarray(labels).astype(np.int64)
    masks = {name: np.asarray(mask, dtype=bool) for name, mask in (groups or {}).items()}
    folds = author_folds(authors, k, seed)
    position = {a: i for i, a in enumerate(authors)}
    fold_rows = [np.asarray([position[a] for a in fold], dtype=np.int64) for fold in folds]
    rng = np.random.default_rng(seed)
    result: dict[str, Any] = {}
    by_group: dict[str, dict[str, Any]] = {name: {} for name in masks}
    for j, trait in enumerate(traits):
        y = labels[:, j]
        prob = np.empty(len(authors))
        majority = np.empty(len(authors), dtype=np.int64)
        chosen, fold_auroc = [], []
        for test in fold_rows:
            train = np.setdiff1d(np.arange(len(authors)), test)
            prob[test], c = _fit_predict(features[train], y[train], features[test], seed, c_grid)
            majority[test] = int(y[train].mean() >= 0.5)
            chosen.append(c)
            fold_auroc.append(auroc(y[test], prob[test]))
        result[trait] = {
            **_figures(y, prob, majority, rng),
            "fold_auroc": [_finite(a) for a in fold_auroc],
            "fold_C": [_finite(c) for c in chosen],
        }
        for name, mask in masks.items():
            by_group[name][trait] = _figures(y[mask], prob[mask], majority[mask], rng)
    out: dict[str, Any] = {"traits": result, "summary": _summary(result)}
    if masks:
        out["groups"] = {
            name: {"authors": int(masks[name].sum()), "traits": per, "summary": _summary(per)}
            for name, per in by_group.items()
        }
    return {
        **out,
        "authors": len(authors),
        "folds": k,
        "seed": seed,
        "fold_sizes": [len(f) for f in folds],
        "method": {
            "classifier": "StandardScaler + LogisticRegression per trait; C from "
            f"{[round(c, 4) for c in c_grid]} by inner stratified CV (AUROC; 5 folds, fewer if a class has "
            f"under 5 training authors) on the training folds only "
            f"(fixed C={FIXED_C} if a class has under 2 training authors)",
            "folds": "sklearn KFold(shuffle=True, random_state=seed) over the sorted unique author ids",
            "metrics": "pooled out-of-fold author predictions; accuracy at probability 0.5; majority = each "
            "training fold's majority label applied to its test fold",
            "intervals": f"95% percentile bootstrap over authors, {BOOTSTRAP} resamples, seed {seed} (fixed "
            "out-of-fold predictions; refitting variance not included); accuracy minus majority paired",
            "above_majority": "accuracy > majority_accuracy (point estimates); above_majority_ci: the paired "
            "interval of accuracy minus majority lies above 0",
        },
    }


def author_features(
    features: np.ndarray, targets: np.ndarray, authors: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Per-author mean of status features and the author's labels (constant per author), sorted ids."""
    ids = sorted(set(authors))
    index = {a: i for i, a in enumerate(ids)}
    which = np.asarray([index[a] for a in authors], dtype=np.int64)
    counts = np.bincount(which, minlength=len(ids)).astype(np.float64)
    sums = np.zeros((len(ids), features.shape[1]), dtype=np.float64)
    np.add.at(sums, which, features)
    _, first = np.unique(which, return_index=True)  # each author's first status
    return (sums / counts[:, None]).astype(np.float32), np.asarray(targets)[first], ids


def trained_authors(model_dir: Path) -> set[str] | None:
    """The myPersonality authors whose labels trained the model (its mypersonality_authors.json
    "train" list), or None when the model directory does not record them."""
    path = Path(model_dir) / "mypersonality_authors.json"
    if not path.is_file():
        return None
    return set(json.loads(path.read_text(encoding="utf-8")).get("train", []))


def big5_cross_validation(
    predictor: Predictor, datasets: Path, k: int = 5, seed: int = 13, *, c_grid: Sequence[float] = C_GRID
) -> dict[str, Any]:
    """Author-disjoint k-fold CV of a per-trait logistic probe on the predictor's pooled encoder
    features over every myPersonality author and status.

    If the model records the authors it was trained on, the encoder has seen those authors' labels,
    so their features leak them: the figures are also given per group ("encoder_trained_on",
    "encoder_not_trained_on"), and only the second is a held-out estimate."""
    parts = [read_mypersonality(datasets, split, seed) for split in SPLITS]  # the three splits = all authors
    texts = [t for p in parts for t in p.texts]
    authors = [a for p in parts for a in (p.authors or [])]
    targets = np.concatenate([p.targets for p in parts])
    status_features = encode_features(predictor, texts)
    features, labels, ids = author_features(status_features, targets, authors)
    seen = trained_authors(predictor.path)
    groups = None
    if seen is not None:
        mask = [a in seen for a in ids]
        groups = {"encoder_trained_on": mask, "encoder_not_trained_on": [not m for m in mask]}
    result = cross_validate_authors(features, labels, ids, k, seed, predictor.big5_traits, c_grid, groups)
    result.update(
        {
            "model": predictor.name,
            "model_version": predictor.version,
            "statuses": len(texts),
            "features": f"mean-pooled shared-encoder vectors [{features.shape[1]}] (mean over a status's "
            "windows), averaged over each author's statuses",
        }
    )
    if seen is not None and any(a in seen for a in ids):
        result["leakage"] = (
            "the encoder was fine-tuned on the Big Five labels of the authors in groups."
            "encoder_trained_on, so the pooled figures over all authors are optimistic; "
            "groups.encoder_not_trained_on is the held-out estimate"
        )
    return result
