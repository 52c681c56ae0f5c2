"""The int8 CPU path: built once into the cache, reproducible, checked at load, fp32 on failure."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from tiny_model import build_tiny_model

from monitor.model.artifact import read_model_info
from monitor.model.int8 import cache_dir
from monitor.model.predictor import load_model

TEXTS = ["i am so sad today", "happy joy love", "afraid scared " * 30]


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EMOMON_CACHE_DIR", str(tmp_path / "cache"))
    return build_tiny_model(tmp_path / "m")


def built(path: Path) -> Path:
    return cache_dir(read_model_info(path).digest)


def test_int8_scores_close_to_fp32_and_built_once(tiny: Path) -> None:
    int8 = load_model(tiny, device="cpu", precision="int8")
    assert (int8.precision, int8.encoder_path) == ("int8", "onnxruntime-int8")
    fp32 = load_model(tiny, device="cpu", precision="fp32")
    a, b = int8.score_ids(int8.encode(TEXTS)), fp32.score_ids(fp32.encode(TEXTS))
    assert np.abs(a.goemotions - b.goemotions).max() < 0.05 and np.abs(a.index - b.index).max() < 0.05
    model = built(tiny) / "model.onnx"
    stamp = model.stat().st_mtime_ns
    assert load_model(tiny, device="cpu", precision="int8").precision == "int8"
    assert model.stat().st_mtime_ns == stamp  # the cache is reused, not rebuilt


def test_the_int8_build_is_reproducible(tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    load_model(tiny, device="cpu", precision="int8")
    first = json.loads((built(tiny) / "int8.json").read_text(encoding="utf-8"))["model_sha256"]
    monkeypatch.setenv("EMOMON_CACHE_DIR", str(tmp_path / "other-cache"))
    load_model(tiny, device="cpu", precision="int8")
    assert json.loads((built(tiny) / "int8.json").read_text(encoding="utf-8"))["model_sha256"] == first


def test_a_changed_int8_file_falls_back_to_fp32_with_a_log_line(tiny: Path, caplog: pytest.LogCaptureFixture) -> None:
    load_model(tiny, device="cpu", precision="int8")
    model = built(tiny) / "model.onnx"
    model.write_bytes(model.read_bytes()[:-64] + bytes(64))
    with caplog.at_level(logging.WARNING, logger="monitor.model.int8"):
        predictor = load_model(tiny, device="cpu", precision="int8")
    assert predictor.precision == "fp32" and "SHA-256" in caplog.text


def test_a_graph_of_other_weights_falls_back(tiny: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The check compares with the fp32 forward of the loaded weights, not with numbers the cache holds."""
    other = build_tiny_model(tmp_path / "other", seed=1)
    load_model(other, device="cpu", precision="int8")
    built(tiny).parent.mkdir(parents=True, exist_ok=True)
    built(other).rename(built(tiny))  # the other model's graph and int8.json, where tiny's belong
    meta_path = built(tiny) / "int8.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["model_directory_sha256"] = read_model_info(tiny).digest
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="monitor.model.int8"):
        predictor = load_model(tiny, device="cpu", precision="int8")
    assert predictor.precision == "fp32" and "differs from the fp32 forward" in caplog.text
    fp32 = load_model(tiny, device="cpu", precision="fp32")
    assert predictor.predict(TEXTS) == fp32.predict(TEXTS)  # scoring goes on, with the genuine weights
