"""Author-disjoint Big Five cross-validation: folds, the CV on planted features, the encoder features."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_model import build_tiny_model

from monitor.model.predictor import load_model
from monitor.training.big5_cv import (
    author_features,
    author_folds,
    big5_cross_validation,
    cross_validate_authors,
    encode_features,
)

DATASETS = Path(__file__).resolve().parents[3] / "shared" / "datasets"
MODEL = Path(__file__).resolve().parents[2] / "models" / "emomon-mtl-v3"
needs_data = pytest.mark.skipif(not DATASETS.is_dir(), reason="../shared/datasets is not present beside the repo")
GRID = (0.1, 1.0)  # a short C grid keeps the tests quick; the default grid has 11 values
needs_model = pytest.mark.skipif(
    not (MODEL / "model.safetensors").is_file(), reason="models/emomon-mtl-v3 is not present"
)


def test_author_folds_partition_the_authors_and_follow_the_seed():
    authors = [f"a{i:03d}" for i in range(53)] * 4  # repeated ids, as statuses give them
    folds = author_folds(authors, k=5, seed=13)
    assert len(folds) == 5
    flat = [a for fold in folds for a in fold]
    assert sorted(flat) == sorted(set(authors))  # every author exactly once, so none in two folds
    assert all(not set(f) & set(g) for i, f in enumerate(folds) for g in folds[i + 1 :])
    assert sorted(len(f) for f in folds) == [10, 10, 11, 11, 11]
    assert author_folds(list(reversed(authors)), k=5, seed=13) == folds  # input order does not matter
    assert author_folds(authors, k=5, seed=14) != folds


def test_author_folds_refuse_too_few_authors():
    with pytest.raises(ValueError, match="cannot fill"):
        author_folds(["a", "b"], k=5)


def test_cv_recovers_a_planted_trait_and_not_a_random_one():
    rng = np.random.default_rng(0)
    n, d = 240, 20
    x = rng.normal(size=(n, d)).astype(np.float32)
    w = rng.normal(size=d)
    planted = (x @ w + rng.normal(scale=1.0, size=n) > 0).astype(int)
    labels = np.stack([planted, rng.integers(0, 2, size=n), *(planted for _ in range(3))], axis=1)
    authors = [f"u{i}" for i in range(n)]
    first_half = [i < n // 2 for i in range(n)]
    groups = {"first": first_half, "second": [not m for m in first_half]}
    result = cross_validate_authors(x, labels, authors, k=5, seed=13, c_grid=GRID, groups=groups)
    traits = result["traits"]
    assert traits["EXT"]["auroc"] > 0.8 and traits["EXT"]["above_majority"] and traits["EXT"]["above_majority_ci"]
    assert 0.35 < traits["NEU"]["auroc"] < 0.65
    low, high = traits["EXT"]["auroc_ci95"]
    assert low <= traits["EXT"]["auroc"] <= high
    assert result["fold_sizes"] == [48] * 5 and result["authors"] == n
    assert result["summary"]["of"] == 5 and result["summary"]["traits_above_majority"] >= 4
    assert [result["groups"][g]["traits"]["EXT"]["n"] for g in ("first", "second")] == [n // 2, n // 2]
    assert (
        result["groups"]["first"]["traits"]["EXT"]["auroc"] > 0.75 and result["groups"]["second"]["summary"]["of"] == 5
    )
    json.dumps(result, allow_nan=False)
    one = {"traits": ("EXT",), "c_grid": GRID, "k": 5, "seed": 13}
    assert cross_validate_authors(x, labels[:, :1], authors, **one)["traits"]["EXT"] == traits["EXT"]  # seeded


def test_cv_wants_one_row_per_author():
    with pytest.raises(ValueError, match="one row per author"):
        cross_validate_authors(np.zeros((2, 3)), np.zeros((2, 5)), ["a", "a"])


def test_author_features_average_statuses():
    feats = np.asarray([[1.0, 0.0], [3.0, 2.0], [5.0, 5.0]], dtype=np.float32)
    targets = np.asarray([[1, 0, 1, 0, 1], [1, 0, 1, 0, 1], [0, 1, 0, 1, 0]], dtype=np.float32)
    x, y, ids = author_features(feats, targets, ["b", "b", "a"])
    assert ids == ["a", "b"]
    assert x.tolist() == [[5.0, 5.0], [2.0, 1.0]] and y[:, 0].tolist() == [0.0, 1.0]


def test_encode_features_mean_over_windows(tmp_path):
    predictor = load_model(build_tiny_model(tmp_path / "m", window=32), precision="fp32")
    short = "i am so sad today"
    long = " ".join(["happy joy love smile"] * 20)  # > 32 tokens: several windows
    feats = encode_features(predictor, [short, long])
    assert feats.shape == (2, 32) and feats.dtype == np.float32
    plan = predictor.plan(predictor.encode([long]))
    assert plan.windows[0] > 1
    ids = predictor.encode([short])[0]
    with torch.inference_mode():
        direct = predictor.network.eval().pooled(torch.tensor([ids]), torch.ones(1, len(ids), dtype=torch.long))
    np.testing.assert_allclose(feats[0], direct[0].numpy(), atol=1e-5)


def test_big5_cross_validation_end_to_end_on_a_tiny_folder(tmp_path):
    root = tmp_path / "datasets"
    (root / "mypersonality").mkdir(parents=True)
    words = ["sad", "happy", "love", "afraid", "smile", "tears", "angry", "today"]
    with (root / "mypersonality" / "mypersonality.csv").open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(
            ["#AUTHID", "STATUS", "sEXT", "sNEU", "sAGR", "sCON", "sOPN", "cEXT", "cNEU", "cAGR", "cCON", "cOPN"]
        )
        for i in range(30):
            flags = ["y" if (i >> b) & 1 else "n" for b in range(5)]
            for s in range(2):
                out.writerow([f"author{i:02d}", f"i feel {words[(i + s) % 8]}", 3, 3, 3, 3, 3, *flags])
    model = build_tiny_model(tmp_path / "m", window=32)
    trained = [f"author{i:02d}" for i in range(20)]
    (model / "mypersonality_authors.json").write_text(json.dumps({"seed": 13, "train": trained}), encoding="utf-8")
    predictor = load_model(model, precision="fp32")
    result = big5_cross_validation(predictor, root, k=5, seed=13, c_grid=GRID)
    assert result["authors"] == 30 and result["statuses"] == 60 and sum(result["fold_sizes"]) == 30
    assert set(result["traits"]) == {"EXT", "NEU", "AGR", "CON", "OPN"}
    for m in result["traits"].values():
        assert 0.0 <= m["accuracy"] <= 1.0 and 0.0 <= m["majority_accuracy"] <= 1.0
    assert (
        result["groups"]["encoder_trained_on"]["authors"] == 20
        and result["groups"]["encoder_not_trained_on"]["authors"] == 10
    )
    assert "leakage" in result
    json.dumps(result, allow_nan=False)


@needs_data
def test_real_authors_fall_into_five_disjoint_folds():
    with (DATASETS / "mypersonality" / "mypersonality.csv").open(encoding="utf-8", errors="replace", newline="") as fh:
        authors = [row["#AUTHID"] for row in csv.DictReader(fh)]
    folds = author_folds(authors, k=5, seed=13)
    assert [len(f) for f in folds] == [50] * 5
    assert len({a for f in folds for a in f}) == 250


@needs_model
def test_shipped_encoder_features_are_384_wide():
    torch.set_num_threads(1)
    predictor = load_model(MODEL, precision="fp32")
    feats = encode_features(predictor, ["had a lovely day at the beach", "so tired of everything"])
    assert feats.shape == (2, 384) and np.isfinite(feats).all()
