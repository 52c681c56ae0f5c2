"""Baselines in the same harness and splits: TF-IDF + logistic regression per task, and an
LSTM classifier on CARER like the seed project's. Thresholds are tuned on validation only."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from monitor.model.network import BIG5_TRAITS, CARER_LABELS
from monitor.training.data import TaskData
from monitor.training.evaluate import binary_scores, read_splits
from monitor.training.metrics import macro_f1, multilabel_f1, tune_thresholds


def tfidf_baselines(datasets: Path, *, seed: int = 13) -> dict[str, Any]:
    """TF-IDF (word 1-2 grams) + logistic regression for each task; test-split metrics."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    train, val, test = (read_splits(datasets, s, seed) for s in ("train", "validation", "test"))
    result: dict[str, Any] = {"model": "tfidf-logreg"}

    def features(task: str):
        vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=200_000)
        return vec.fit_transform(train[task].texts), vec.transform(val[task].texts), vec.transform(test[task].texts)

    xtr, _, xte = features("carer")
    clf = LogisticRegression(C=10.0, max_iter=2000).fit(xtr, train["carer"].targets)
    pred = clf.predict(xte)
    result["carer"] = {
        "accuracy": float((pred == test["carer"].targets).mean()),
        "macro_f1": macro_f1(test["carer"].targets, pred, len(CARER_LABELS)),
    }

    xtr, xva, xte = features("goemotions")
    probs_val = np.zeros_like(val["goemotions"].targets)
    probs_test = np.zeros_like(test["goemotions"].targets)
    for j in range(train["goemotions"].targets.shape[1]):
        clf = LogisticRegression(C=4.0, max_iter=1000).fit(xtr, train["goemotions"].targets[:, j])
        probs_val[:, j] = clf.predict_proba(xva)[:, 1]
        probs_test[:, j] = clf.predict_proba(xte)[:, 1]
    thresholds = tune_thresholds(val["goemotions"].targets, probs_val)
    result["goemotions"] = {
        "macro_f1": float(multilabel_f1(test["goemotions"].targets, probs_test >= thresholds).mean())
    }

    xtr, _, xte = features("big5")
    status, author = {}, {}
    authors = np.asarray(test["big5"].authors)
    unique = sorted(set(test["big5"].authors or []))
    for j, trait in enumerate(BIG5_TRAITS):
        clf = LogisticRegression(C=1.0, max_iter=1000).fit(xtr, train["big5"].targets[:, j])
        p = clf.predict_proba(xte)[:, 1]
        status[trait] = binary_scores(test["big5"].targets[:, j], p >= 0.5)
        mean_p = np.asarray([p[authors == a].mean() for a in unique])
        label = np.asarray([test["big5"].targets[authors == a, j][0] for a in unique])
        author[trait] = binary_scores(label, mean_p >= 0.5)
    result["big5"] = {"status": status, "author": author}
    return result


_TOKEN = re.compile(r"[a-z0-9']+")


class LSTMClassifier(nn.Module):
    """Embedding -> bidirectional LSTM -> max pool -> linear (the seed project's CARER baseline)."""

    def __init__(self, vocab_size: int, num_classes: int, embed: int = 128, hidden: int = 128) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed, padding_idx=0)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * hidden, num_classes)
        self.drop = nn.Dropout(0.3)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """ids [B, T] -> logits [B, C]."""
        h, _ = self.lstm(self.drop(self.embed(ids)))  # [B, T, 2H]
        h = h.masked_fill((ids == 0).unsqueeze(-1), -1e4)
        return self.out(self.drop(h.max(dim=1).values))


def _encode(texts: list[str], vocab: dict[str, int], max_len: int = 64) -> torch.Tensor:
    rows = [[vocab.get(w, 1) for w in _TOKEN.findall(t.lower())][:max_len] or [1] for t in texts]
    out = torch.zeros(len(rows), max(len(r) for r in rows), dtype=torch.long)
    for i, r in enumerate(rows):
        out[i, : len(r)] = torch.tensor(r)
    return out


def lstm_carer_baseline(
    datasets: Path, *, epochs: int = 8, seed: int = 13, log: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Train the LSTM on CARER train, pick the epoch on validation accuracy, report test."""
    torch.manual_seed(seed)
    data: dict[str, TaskData] = {s: read_splits(datasets, s, seed)["carer"] for s in ("train", "validation", "test")}
    counts = Counter(w for t in data["train"].texts for w in _TOKEN.findall(t.lower()))
    vocab = {w: i + 2 for i, (w, c) in enumerate(counts.most_common()) if c >= 2}
    x = {s: _encode(d.texts, vocab) for s, d in data.items()}
    y = {s: torch.as_tensor(d.targets) for s, d in data.items()}
    model = LSTMClassifier(len(vocab) + 2, len(CARER_LABELS))
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    best_val, best_state, best_epoch = -1.0, None, 0
    started = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(y["train"]))
        for i in range(0, len(perm), 64):
            rows = perm[i : i + 64]
            loss = nn.functional.cross_entropy(model(x["train"][rows]), y["train"][rows])
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            val_acc = float((model(x["validation"]).argmax(1) == y["validation"]).float().mean())
        if log:
            log(f"lstm epoch {epoch + 1}: validation accuracy {val_acc:.4f}")
        if val_acc > best_val:
            best_val, best_epoch = val_acc, epoch + 1
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
    assert best_state is not None  # at least one epoch ran
    model.load_state_dict(best_state)
    model.eval()
    with torch.no_grad():
        pred = model(x["test"]).argmax(1).numpy()
    return {
        "model": "bilstm",
        "carer": {
            "accuracy": float((pred == data["test"].targets).mean()),
            "macro_f1": macro_f1(data["test"].targets, pred, len(CARER_LABELS)),
            "epoch_chosen_on_validation": best_epoch,
            "train_seconds": round(time.perf_counter() - started, 1),
        },
    }
