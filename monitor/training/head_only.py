"""Add the personal-distress head to a shipped model without touching what it already does.

The encoder and the gated branches of the starting model stay frozen: their outputs for the
distress training texts (Dreaddit train posts and the training headlines) are computed once, and
only the new head is fitted on them: a logistic regression over both branches' outputs and the
post's token TF-IDF (:class:`~monitor.model.network.TokenEvidence`), rebuilt as a linear layer over
the branches plus token weights. Every other head keeps its weights, so the CARER, GoEmotions,
Big Five and index figures are the starting model's by construction. The dense part's scale and
the regularisation are chosen on validation (Dreaddit's held-out posts and the validation
headlines) with :func:`selection_score`.

The result is written as a run directory (``best.safetensors``, ``best.json``,
``train_config.json``, ``encoder_dir.txt``) that :func:`monitor.training.export.export_run`
turns into a model directory, as it does for a full training run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from monitor.model.batching import pad
from monitor.model.network import MultitaskNetwork, TokenEvidence, vocab_size
from monitor.model.predictor import load_model
from monitor.training.big5_cv import encode_features
from monitor.training.data import read_headlines, read_task
from monitor.training.run import load_encoder, start_from_model
from monitor.training.trainer import TrainConfig, build_network
from monitor.training.validation import selection_score, validation_summary

#: Validation grid: the dense part's scale against the token evidence, and the inverse
#: regularisation strength of the logistic regression fitted on both.
DENSE_SCALES: tuple[float, ...] = (0.3, 1.0, 3.0)
INVERSE_REGULARISATION: tuple[float, ...] = (0.3, 1.0, 3.0, 10.0)
#: Tokens in fewer training posts than this get no weight (idf 0), as do special tokens.
MIN_POSTS_PER_TOKEN = 2


@torch.no_grad()  # not inference_mode: the head is trained on these tensors
def branch_features(network: MultitaskNetwork, pooled: np.ndarray) -> torch.Tensor:
    """What the distress head reads: both branches' outputs, concatenated, [N, 2D]."""
    network.eval()
    h_e, h_p = network.branches(torch.as_tensor(pooled, dtype=torch.float32))
    return torch.cat([h_e, h_p], dim=-1)


def token_idf(posts: list[list[int]], vocab_size: int, special: set[int]) -> torch.Tensor:
    """Smoothed idf, ln((1 + n) / (1 + df)) + 1, of tokens in at least :data:`MIN_POSTS_PER_TOKEN`
    training posts; 0 for the others and for ``special`` tokens (they are ignored)."""
    df = np.zeros(vocab_size, dtype=np.float64)
    for ids in posts:
        df[np.unique(np.asarray(ids, dtype=np.int64))] += 1
    idf = np.log((1 + len(posts)) / (1 + df)) + 1.0
    idf[df < MIN_POSTS_PER_TOKEN] = 0.0
    idf[sorted(special)] = 0.0
    return torch.as_tensor(idf, dtype=torch.float32)


@torch.no_grad()
def token_features(evidence: TokenEvidence, posts: list[list[int]], batch: int = 256) -> sparse.csr_matrix:
    """Each post's TF-IDF row over all its tokens, computed by the shipped module, as a sparse matrix."""
    rows = []
    for start in range(0, len(posts), batch):
        ids, mask = pad(posts[start : start + batch], 0)
        rows.append(sparse.csr_matrix(evidence.tfidf(ids, mask).numpy()))
    return sparse.vstack(rows).tocsr()


@dataclass(frozen=True)
class FittedHead:
    """A logistic regression on [scaled dense features, token TF-IDF] and how to rebuild it as the
    network's distress head (linear over the branches) plus its token evidence weights."""

    model: LogisticRegression
    scaler: StandardScaler
    scale: float
    width: int

    def design(self, dense: np.ndarray, tokens: sparse.csr_matrix) -> sparse.csr_matrix:
        return sparse.hstack([sparse.csr_matrix(self.scaler.transform(dense) * self.factor), tokens]).tocsr()

    @property
    def factor(self) -> float:
        return self.scale / float(np.sqrt(self.width))

    def logits(self, dense: np.ndarray, tokens: sparse.csr_matrix) -> np.ndarray:
        return self.model.decision_function(self.design(dense, tokens)).astype(np.float32)[:, None]

    def dense_layer(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Weight [1, 2D] and bias [1] of the distress head on raw (unscaled) branch outputs."""
        coef = self.model.coef_[0, : self.width] * self.factor / self.scaler.scale_
        bias = self.model.intercept_[0] - float(coef @ self.scaler.mean_)
        return torch.as_tensor(coef, dtype=torch.float32)[None, :], torch.tensor([bias], dtype=torch.float32)

    def token_weights(self) -> torch.Tensor:
        return torch.as_tensor(self.model.coef_[0, self.width :], dtype=torch.float32)


def fit_head(
    dense: np.ndarray, tokens: sparse.csr_matrix, y: np.ndarray, *, scale: float, inverse_regularisation: float
) -> FittedHead:
    """L2-regularised logistic regression (lbfgs) on the dense and token features."""
    head = FittedHead(
        LogisticRegression(C=inverse_regularisation, max_iter=5000), StandardScaler(), scale, dense.shape[1]
    )
    head.scaler.fit(dense)
    head.model.fit(head.design(dense, tokens), y)
    return head


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
    features = {name: branch_features(network, pooled[name].numpy()).numpy() for name in pooled}
    vocab = vocab_size(network.encoder)
    evidence = TokenEvidence(vocab)
    special = {i for i in (predictor.pad_id, *predictor.encode([""])[0]) if i is not None}
    train_ids = predictor.encode(train.texts)
    evidence.idf.copy_(token_idf(train_ids, vocab, special))
    tokens = {
        name: token_features(evidence, ids)
        for name, ids in (
            ("train", train_ids),
            ("validation", predictor.encode(val.texts)),
            ("headlines", predictor.encode(val_headlines)),
        )
    }
    val_data = {
        "distress": val,
        "distress_headlines": replace(val, texts=val_headlines, targets=np.zeros((len(val_headlines), 1), np.float32)),
    }

    def summary_of(head: FittedHead) -> dict[str, float]:
        logits = {
            "distress": {"distress": head.logits(features["validation"], tokens["validation"])},
            "distress_headlines": {"distress": head.logits(features["headlines"], tokens["headlines"])},
        }
        return validation_summary(logits, val_data)

    ablation = []
    chosen: tuple[FittedHead, float] | None = None
    for scale in DENSE_SCALES:
        for c in INVERSE_REGULARISATION:
            head = fit_head(
                features["train"], tokens["train"], train.targets[:, 0], scale=scale, inverse_regularisation=c
            )
            summary = summary_of(head)
            score = selection_score(summary)
            ablation.append({"dense_scale": scale, "inverse_regularisation": c, "score": score, **summary})
            log(f"dense scale {scale}, C {c}: validation score {score:.4f} {json.dumps(summary)}")
            if chosen is None or score > chosen[1]:
                chosen = (head, score)
    assert chosen is not None
    head, score = chosen
    config = network.config
    train_config = TrainConfig(
        tasks=("goemotions", "carer", "big5", "distress"),
        seed=seed,
        steps=0,
        distress_tokens=True,
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
    assert full.distress_head is not None and full.distress_tokens is not None
    weight, bias = head.dense_layer()
    full.distress_head.load_state_dict({"weight": weight, "bias": bias})
    full.distress_tokens.load_state_dict({"weight": head.token_weights(), "idf": evidence.idf})
    run_dir.mkdir(parents=True, exist_ok=True)
    save_file(
        {k: v.detach().float().contiguous() for k, v in full.state_dict().items()}, str(run_dir / "best.safetensors")
    )
    record = {
        "step": 0,
        "score": score,
        "summary": summary_of(head),
        "head_only": True,
        "dense_scale": head.scale,
        "inverse_regularisation": head.model.C,
        "ablation": ablation,
    }
    (run_dir / "train_config.json").write_text(json.dumps(asdict(train_config), indent=2), encoding="utf-8")
    (run_dir / "best.json").write_text(json.dumps(record, indent=2), encoding="utf-8")
    (run_dir / "encoder_dir.txt").write_text(str(encoder_dir), encoding="utf-8")
    return record
