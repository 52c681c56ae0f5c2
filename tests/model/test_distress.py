"""The personal-distress output through every path: predict, int8, the score stage and the store.

A tiny random model with the distress head (tests/tiny_model.py) stands in for v3; a model
without the head (as v2) keeps working and stores no distress."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import torch
from sqlalchemy import Engine, select
from tiny_model import build_tiny_model

from monitor.model.batching import pad
from monitor.model.network import TokenEvidence
from monitor.model.predictor import Predictor, load_model
from monitor.score.stage import run_score
from monitor.settings import Settings
from monitor.store import posts as store
from monitor.store import scores
from monitor.store.engine import session_scope
from monitor.store.schema import Score

TEXTS = [
    "i feel so sad and alone today",
    "RT @friend: i feel so sad and alone today",
    "happy joy love",
    "i am afraid and i cry",
]
T0 = datetime(2025, 3, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def v3_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("v3") / "model", window=32, distress=True)


@pytest.fixture(scope="module")
def v3(v3_dir: Path) -> Predictor:
    return load_model(v3_dir, device="cpu", precision="fp32")


def test_predict_carries_distress_and_impersonal_posts_get_zero(v3: Predictor) -> None:
    results = v3.predict(TEXTS)
    personal, retweet = results[0], results[1]
    assert 0.0 < personal["distress"] < 1.0 and personal["impersonal"] is None
    assert retweet["distress"] == 0.0 and retweet["impersonal"] == "retweet"
    # the emotions of a retweet are still read: only distress is about the author
    assert retweet["depression_index"] > 0.0


def test_a_model_without_the_head_has_no_distress(tmp_path: Path) -> None:
    old = load_model(build_tiny_model(tmp_path / "v2", window=32), device="cpu", precision="fp32")
    result = old.predict(TEXTS[:1])[0]
    assert "distress" not in result
    assert old.score_ids(old.encode(TEXTS)).distress is None


def test_long_posts_take_the_largest_distress_of_their_windows(v3: Predictor) -> None:
    long_text = " ".join(["happy joy love"] * 20 + ["i feel so sad and alone today"] * 3)
    ids = v3.encode([long_text])
    plan = v3.plan(ids)
    assert plan.n_windows > 1
    windows = v3.probabilities(v3.window_logits(plan))["distress"][:, 0]
    assert v3.score_ids(ids).distress[0] == pytest.approx(float(windows.max()), abs=1e-6)


def test_int8_and_bf16_distress_close_to_fp32(v3_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMOMON_CACHE_DIR", str(tmp_path / "cache"))
    fp32 = load_model(v3_dir, device="cpu", precision="fp32").predict(TEXTS)
    for precision in ("int8", "bf16"):
        other = load_model(v3_dir, device="cpu", precision=precision)
        assert other.precision == precision
        got = other.predict(TEXTS)
        gaps = [abs(a["distress"] - b["distress"]) for a, b in zip(fp32, got)]
        assert max(gaps) < 0.05, (precision, gaps)


def test_the_score_stage_stores_distress(engine: Engine, make_settings: Callable[..., Settings], v3: Predictor) -> None:
    settings = make_settings()
    with session_scope(engine) as s:
        src = store.get_or_create_source(s, name="feed", kind="jsonl", location="x.jsonl")
        store.insert_posts(
            s,
            [
                {
                    "source_id": src.id,
                    "external_id": str(i),
                    "author_id": None,
                    "created_at": T0 + timedelta(hours=i),
                    "text": text,
                    "url": None,
                    "language": None,
                    "content_hash": hashlib.md5(text.encode()).hexdigest(),
                    "ingested_at": T0,
                }
                for i, text in enumerate(TEXTS)
            ],
        )
    run_score(engine, settings, predictor=v3)
    expected = v3.predict(TEXTS)
    with session_scope(engine) as s:
        stored = [row.distress for row in s.scalars(select(Score).order_by(Score.post_id))]
        frame = scores.read_scores(s).sort("post_id")
    np.testing.assert_allclose(stored, [r["distress"] for r in expected], atol=1e-5)
    np.testing.assert_allclose(frame["distress"].to_numpy(), [r["distress"] for r in expected], atol=1e-5)
    assert stored[1] == 0.0  # the retweet


def test_token_evidence_is_the_sublinear_l2_tfidf_of_the_window() -> None:
    evidence = TokenEvidence(6)
    with torch.no_grad():
        evidence.idf.copy_(torch.tensor([0.0, 1.0, 2.0, 1.5, 0.0, 3.0]))  # ids 0 and 4 are ignored
        evidence.weight.copy_(torch.tensor([9.0, 1.0, -1.0, 2.0, 9.0, 0.5]))
    ids = torch.tensor([[4, 2, 2, 3, 0, 0], [1, 5, 4, 0, 0, 0]])
    mask = torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 0, 0, 0]])
    first = np.array([0, 0, (1 + np.log(2)) * 2.0, 1.5, 0, 0])
    second = np.array([0, 1.0, 0, 0, 0, 3.0])
    expected = np.stack([first / np.linalg.norm(first), second / np.linalg.norm(second)])
    np.testing.assert_allclose(evidence.tfidf(ids, mask).numpy(), expected, rtol=1e-5)
    logits = evidence(ids, mask)[:, 0].detach().numpy()
    np.testing.assert_allclose(logits, expected @ evidence.weight.detach().numpy(), rtol=1e-5)


def test_the_distress_logit_is_the_dense_head_plus_the_token_evidence(v3: Predictor) -> None:
    network = v3.network
    assert network.distress_tokens is not None
    input_ids, mask = pad(v3.encode(TEXTS), v3.pad_id)
    with torch.inference_mode():
        full, pooled = network.outputs(input_ids, mask)
        dense = network.heads(pooled)["distress"]
        tokens = network.distress_tokens(input_ids, mask)
    np.testing.assert_allclose(full["distress"].numpy(), (dense + tokens).numpy(), rtol=1e-5, atol=1e-6)
    assert float(tokens.abs().max()) > 0.1  # the evidence moves the logit: the int8 check below covers it
