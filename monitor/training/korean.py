"""Training the Korean network (the seed study's six depressed-emotion classes) on korean_emotion.

Candidates (:class:`monitor.model.korean.KoreanConfig` ``kind``): ``bag`` (word and character
n-gram vectors, fastText-style) and ``cnn`` (a character CNN), both from scratch. Both train with
the study's loss, w_ce·CE + w_triplet·Triplet + w_arcface·ArcFace
(:class:`~monitor.training.losses.CombinedMetricLoss`), or CE alone for the ablation. Epochs are
chosen on validation (the best validation macro-F1 is kept); the test split is read only by the
export, once, for the chosen run.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from monitor.labels import KOREAN_LABELS
from monitor.model.korean import (
    KoreanCalibration,
    KoreanConfig,
    KoreanKind,
    KoreanModel,
    KoreanNetwork,
    KoreanVocab,
    index_raw,
    pad_ids,
)
from monitor.training.losses import CombinedMetricLoss
from monitor.training.metrics import auroc, expected_calibration_error, fit_temperature, macro_f1


@dataclass(frozen=True)
class KoreanSplit:
    """Texts and label indices of one split."""

    texts: list[str]
    labels: np.ndarray


def read_korean(datasets: Path, split: str, labels: Sequence[str] = KOREAN_LABELS) -> KoreanSplit:
    """``korean_emotion/<split>.jsonl`` -> texts and label indices."""
    path = datasets / "korean_emotion" / f"{split}.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    index = {label: i for i, label in enumerate(labels)}
    return KoreanSplit([r["text"] for r in rows], np.asarray([index[r["label"]] for r in rows], dtype=np.int64))


@dataclass(frozen=True)
class KoreanTrainConfig:
    """One training run (every choice here is made on validation)."""

    kind: KoreanKind = "bag"
    loss: str = "combined"  # combined | ce
    w_ce: float = 0.15
    w_triplet: float = 0.30
    w_arcface: float = 0.55
    triplet_margin: float = 0.3
    arcface_scale: float = 8.0
    arcface_margin: float = 0.3
    epochs: int = 20
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 0.0
    warmup_fraction: float = 0.06
    min_count: int = 2
    width: int = 96
    dropout: float = 0.2
    seed: int = 13
    threads: int = 1  # one thread per run: on a shared CPU two threads wait on each other

    def loss_settings(self) -> dict[str, float]:
        """The :class:`CombinedMetricLoss` settings of this run (CE alone for ``loss = "ce"``)."""
        if self.loss not in ("combined", "ce"):
            raise ValueError(f"unknown Korean loss {self.loss!r}; use combined or ce")
        weights = (1.0, 0.0, 0.0) if self.loss == "ce" else (self.w_ce, self.w_triplet, self.w_arcface)
        return {
            "w_ce": weights[0],
            "w_triplet": weights[1],
            "w_arcface": weights[2],
            "triplet_margin": self.triplet_margin,
            "arcface_scale": self.arcface_scale,
            "arcface_margin": self.arcface_margin,
        }


def build_network(texts: Sequence[str], config: KoreanTrainConfig) -> tuple[KoreanNetwork, KoreanVocab]:
    """A fresh network and its vocabulary fitted to the training texts."""
    vocab = KoreanVocab.fit(texts, config.kind, config.min_count)
    network = KoreanNetwork(
        KoreanConfig(kind=config.kind, vocab_size=len(vocab), width=config.width, dropout=config.dropout)
    )
    return network, vocab


def batches(
    ids: Sequence[Sequence[int]], labels: np.ndarray | None, size: int, order: Sequence[int]
) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]]:
    """Padded (ids, mask, labels) batches of the posts in ``order``."""
    for start in range(0, len(order), size):
        chunk = list(order[start : start + size])
        x, m = pad_ids([ids[i] for i in chunk])
        yield x, m, torch.as_tensor(labels[chunk]) if labels is not None else None


@torch.no_grad()
def korean_logits(network: KoreanNetwork, vocab: KoreanVocab, texts: Sequence[str]) -> np.ndarray:
    """Class logits [N, C] of ``texts`` (batched by length, returned in order)."""
    network.eval()
    ids = [vocab.encode(text) for text in texts]
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out = np.zeros((len(ids), len(network.config.labels)), dtype=np.float32)
    done = 0
    for x, m, _ in batches(ids, None, 256, order):
        out[order[done : done + len(x)]] = network(x, m)["korean"].float().numpy()
        done += len(x)
    return out


def split_scores(labels: np.ndarray, pred: np.ndarray, names: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1 and per-class F1."""
    per_class = {}
    for c, name in enumerate(names):
        tp = int(((pred == c) & (labels == c)).sum())
        wrong = int(((pred == c) & (labels != c)).sum()) + int(((pred != c) & (labels == c)).sum())
        per_class[name] = 2 * tp / max(2 * tp + wrong, 1)
    return {
        "accuracy": float((pred == labels).mean()),
        "macro_f1": macro_f1(labels, pred, len(names)),
        "f1": per_class,
    }


def train_korean(
    datasets: Path, config: KoreanTrainConfig, out: Path, *, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """Train one candidate; keep the epoch with the best validation macro-F1 under ``out``.

    Writes ``out/best.safetensors``, ``out/config.json`` (network), ``out/vocab.json`` and
    ``out/history.json`` (validation only); returns the history.
    """
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    out.mkdir(parents=True, exist_ok=True)
    train, val = read_korean(datasets, "train"), read_korean(datasets, "validation")
    network, vocab = build_network(train.texts, config)
    loss_fn = CombinedMetricLoss(network.config.embedding_size, len(network.config.labels), **config.loss_settings())
    # The bag's feature table is most of the weights and a batch touches few rows of it: sparse
    # gradients and SparseAdam update only those rows.
    table = network.encoder.embed
    table.sparse = config.kind == "bag"
    dense = [p for p in network.parameters() if p is not table.weight] + list(loss_fn.parameters())
    optimizers: list[torch.optim.Optimizer] = [
        torch.optim.AdamW(dense, lr=config.lr, weight_decay=config.weight_decay),
        torch.optim.SparseAdam([table.weight], lr=config.lr)
        if table.sparse
        else torch.optim.AdamW([table.weight], lr=config.lr),
    ]
    ids = [vocab.encode(text) for text in train.texts]
    steps = config.epochs * math.ceil(len(ids) / config.batch_size)
    warmup = max(1, int(config.warmup_fraction * steps))
    schedulers = [
        torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup)))
        )
        for optimizer in optimizers
    ]
    (out / "config.json").write_text(json.dumps(network.config.to_dict(), indent=2), encoding="utf-8")
    (out / "vocab.json").write_text(json.dumps(vocab.to_dict(), ensure_ascii=False), encoding="utf-8")
    history: dict[str, Any] = {"config": asdict(config), "steps": steps, "epochs": [], "best": None}
    best, step, started = -1.0, 0, time.monotonic()
    rng = np.random.default_rng(config.seed)
    for epoch in range(1, config.epochs + 1):
        network.train()
        for x, m, y in batches(ids, train.labels, config.batch_size, rng.permutation(len(ids)).tolist()):
            assert y is not None
            output = network(x, m)
            loss = loss_fn(output["korean"], output["embedding"], y)
            for optimizer in optimizers:
                optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(dense, 1.0)
            for optimizer, scheduler in zip(optimizers, schedulers):
                optimizer.step()
                scheduler.step()
            step += 1
        pred = korean_logits(network, vocab, val.texts).argmax(axis=1)
        scores = split_scores(val.labels, pred, network.config.labels)
        entry = {"epoch": epoch, "step": step, "seconds": round(time.monotonic() - started, 1), "validation": scores}
        history["epochs"].append(entry)
        log(f"{out.name} epoch {epoch} step {step}: validation macro-F1 {scores['macro_f1']:.4f} ({entry['seconds']}s)")
        if scores["macro_f1"] > best:
            best = scores["macro_f1"]
            history["best"] = entry
            save_file({k: v.contiguous() for k, v in network.state_dict().items()}, str(out / "best.safetensors"))
        (out / "history.json").write_text(json.dumps(history, indent=2), encoding="utf-8")
    return history


def load_run(out: Path) -> tuple[KoreanNetwork, KoreanVocab]:
    """The best checkpoint of a run written by :func:`train_korean`, in eval mode."""
    config = KoreanConfig.from_dict(json.loads((out / "config.json").read_text(encoding="utf-8")))
    network = KoreanNetwork(config)
    network.load_state_dict(load_file(str(out / "best.safetensors")))
    vocab = KoreanVocab.from_dict(json.loads((out / "vocab.json").read_text(encoding="utf-8")))
    return network.eval(), vocab


def fit_korean_calibration(
    logits: np.ndarray,
    labels: np.ndarray,
    names: Sequence[str],
    classes: Sequence[str] = ("anxiety", "hurt", "sadness"),
) -> KoreanCalibration:
    """Temperature (validation NLL) and the index's Platt scaling (validation logistic fit of
    ``logit(p)`` of the summed probability of ``classes`` to whether the gold class is one of them)."""
    from sklearn.linear_model import LogisticRegression

    temperature = fit_temperature(logits, labels, multilabel=False)
    probe = KoreanCalibration(temperature, tuple(classes))
    raw = index_raw(_softmax(logits / temperature), names, classes)
    z = np.log(np.clip(raw, 1e-6, 1 - 1e-6) / np.clip(1 - raw, 1e-6, None))[:, None]
    target = np.isin(labels, [list(names).index(c) for c in classes])
    fit = LogisticRegression(C=1e4, max_iter=1000).fit(z, target)
    return KoreanCalibration(probe.temperature, probe.index_classes, (float(fit.coef_[0, 0]), float(fit.intercept_[0])))


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def korean_figures(model: KoreanModel, split: KoreanSplit) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class F1, the confusion matrix and the index's AUROC and ECE on one split."""
    probs = model.probabilities(model.logits(split.texts))
    out = split_scores(split.labels, probs.argmax(axis=1), model.labels)
    confusion = np.zeros((len(model.labels),) * 2, dtype=np.int64)
    np.add.at(confusion, (split.labels, probs.argmax(axis=1)), 1)
    out["confusion"] = confusion.tolist()
    index = model.index(probs)
    target = np.isin(split.labels, [model.labels.index(c) for c in model.calibration.index_classes])
    out["index"] = {
        "classes": list(model.calibration.index_classes),
        "auroc": auroc(target, index),
        "ece": expected_calibration_error(index, target),
        "positive_share": float(target.mean()),
    }
    out["n"] = len(split.texts)
    return out


def candidate_figures(runs: Sequence[Path]) -> dict[str, dict[str, Any]]:
    """The best validation figures of each run directory (by name): kind, loss, ratios, epochs."""
    out = {}
    for run in runs:
        history = json.loads((run / "history.json").read_text(encoding="utf-8"))
        c, best = history["config"], history["best"]
        ratios = "" if c["loss"] == "ce" else f" {c['w_ce']}/{c['w_triplet']}/{c['w_arcface']}"
        out[run.name] = {
            "kind": c["kind"],
            "loss": c["loss"] + ratios,
            "macro_f1": best["validation"]["macro_f1"],
            "accuracy": best["validation"]["accuracy"],
            "epochs": f"{best['epoch']} of {len(history['epochs'])}",
        }
    return out


def write_korean(directory: Path, network: KoreanNetwork, vocab: KoreanVocab, calibration: KoreanCalibration) -> str:
    """Write ``directory/korean/`` (weights in fp32 safetensors, config, vocabulary, calibration)
    and seal the model directory again; returns its new version."""
    from monitor.model.artifact import seal

    target = directory / "korean"
    target.mkdir(parents=True, exist_ok=True)
    save_file(
        {k: v.detach().float().contiguous() for k, v in network.state_dict().items()}, str(target / "model.safetensors")
    )
    (target / "config.json").write_text(json.dumps(network.config.to_dict(), indent=2), encoding="utf-8")
    (target / "vocab.json").write_text(json.dumps(vocab.to_dict(), ensure_ascii=False), encoding="utf-8")
    (target / "calibration.json").write_text(json.dumps(calibration.to_dict(), indent=2), encoding="utf-8")
    return seal(directory)


def export_korean(
    run: Path,
    directory: Path,
    datasets: Path,
    *,
    candidates: dict[str, Any] | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Calibrate a run's best checkpoint on validation, write it into the model directory, then
    read the test split once: the test figures go to ``metrics.json`` under ``"korean"`` (as
    ``emomon evaluate`` reports them), the training record, validation figures and candidates to
    ``korean/training.json``.

    Args:
        run: A run directory of :func:`train_korean` (the chosen candidate).
        directory: The model directory to add ``korean/`` to.
        datasets: The datasets folder.
        candidates: The validation figures of every candidate compared (recorded beside the test figures).
    """
    network, vocab = load_run(run)
    val, test = read_korean(datasets, "validation"), read_korean(datasets, "test")
    calibration = fit_korean_calibration(korean_logits(network, vocab, val.texts), val.labels, network.config.labels)
    version = write_korean(directory, network, vocab, calibration)
    model = KoreanModel(network, vocab, calibration)
    history = json.loads((run / "history.json").read_text(encoding="utf-8"))
    size = sum((directory / "korean" / f).stat().st_size for f in ("model.safetensors", "vocab.json"))
    record = {
        "model": f"{network.config.kind} ({sum(p.numel() for p in network.parameters()):,} parameters)",
        "training": history["config"] | {"steps": history["steps"], "best_epoch": history["best"]["epoch"]},
        "calibration": calibration.to_dict(),
        "bytes": size,
        "validation": korean_figures(model, val),
        "candidates": candidates or {},
    }
    # How the network was chosen: beside the scored files, not one of them (like metrics.json).
    (directory / "korean" / "training.json").write_text(json.dumps(record, indent=2), encoding="utf-8")
    path = directory / "metrics.json"
    metrics = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    metrics["korean"] = korean_figures(model, test)  # what `emomon evaluate --split test` reports
    path.write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    figures = record | {"test": metrics["korean"]}
    from monitor.training.card import write_korean_section

    if (directory / "MODEL_CARD.md").is_file():
        write_korean_section(directory)
    log(f"Korean network written to {directory / 'korean'}; model version {version}")
    return figures
