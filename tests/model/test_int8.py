"""The int8 CPU path: built once into the cache, reproducible, checked at load, fp32 on failure."""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest
from tiny_model import build_tiny_model

from monitor.model.activations import sigmoid
from monitor.model.artifact import read_model_info
from monitor.model.int8 import (
    CHECK_MAX_TOLERANCE,
    CHECK_TOLERANCE,
    FORMAT,
    PROBE_TEXTS,
    cache_dir,
    head_nodes,
    head_probabilities,
)
from monitor.model.predictor import load_model

TEXTS = ["i am so sad today", "happy joy love", "afraid scared " * 30]


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EMOMON_CACHE_DIR", str(tmp_path / "cache"))
    return build_tiny_model(tmp_path / "m")


@pytest.fixture
def tiny_distress(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EMOMON_CACHE_DIR", str(tmp_path / "cache"))
    return build_tiny_model(tmp_path / "d", distress=True)


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


def test_the_int8_graph_is_fused_and_keeps_the_heads_in_fp32(tiny_distress: Path) -> None:
    """Fusion before quantisation: one quantised attention per layer, fused residual LayerNorms and
    GELUs; the heads and the distress head's token evidence stay fp32, and every head (distress
    included) stays within the load-time check's tolerances of fp32 on posts of every length."""
    int8 = load_model(tiny_distress, device="cpu", precision="int8")
    assert (int8.precision, int8.encoder_path) == ("int8", "onnxruntime-int8")
    path = built(tiny_distress) / "model.onnx"
    graph = onnx.load(str(path)).graph
    kinds = Counter(node.op_type for node in graph.node)
    layers = json.loads((tiny_distress / "encoder" / "config.json").read_text(encoding="utf-8"))["num_hidden_layers"]
    assert kinds["QAttention"] == layers and kinds["Attention"] == 0
    assert kinds["SkipLayerNormalization"] == 2 * layers and kinds["BiasGelu"] == layers
    assert json.loads((built(tiny_distress) / "int8.json").read_text(encoding="utf-8"))["format"] == FORMAT
    heads = set(head_nodes(path))
    head_kinds = Counter(node.op_type for node in graph.node if node.name in heads)
    assert head_kinds["ScatterElements"] == 1 and head_kinds["MatMul"] >= 1  # token evidence, fp32
    assert not {"MatMulInteger", "DynamicQuantizeLinear", "QAttention"} & set(head_kinds)
    fp32 = load_model(tiny_distress, device="cpu", precision="fp32")
    texts = [*PROBE_TEXTS, *TEXTS]
    a = int8.post_logits(texts)
    b = fp32.post_logits(texts)
    assert set(a) == {"goemotions", "carer", "big5", "distress"}
    gap = np.abs(head_probabilities(a) - head_probabilities(b))
    assert gap.mean() <= CHECK_TOLERANCE and gap.max() <= CHECK_MAX_TOLERANCE
    assert np.abs(sigmoid(a["distress"]) - sigmoid(b["distress"])).max() <= CHECK_MAX_TOLERANCE
