"""Saving, loading and predicting with model directories."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_model import build_tiny_model

from monitor.errors import ModelNotFound
from monitor.model.artifact import Calibration, read_artifact, save_artifact
from monitor.model.predictor import WindowOptions, load_model, split_windows

SHIPPED = Path(__file__).resolve().parents[2] / "models" / "emomon-mtl-v3"


def test_save_then_load_gives_identical_outputs(tmp_path):
    from transformers import AutoTokenizer

    path = build_tiny_model(tmp_path / "m")
    _, network, tokenizer, _ = read_artifact(path)
    ids = torch.tensor([tokenizer.encode("i am so sad today").ids])
    mask = torch.ones_like(ids)
    with torch.no_grad():
        before = network(ids, mask)
    save_artifact(
        tmp_path / "copy",
        name="copy",
        model=network,
        tokenizer=AutoTokenizer.from_pretrained(path / "tokenizer"),
        calibration=Calibration(),
        window=32,
        fp16=False,
    )
    _, again, _, _ = read_artifact(tmp_path / "copy")
    with torch.no_grad():
        after = again(ids, mask)
    for key in before:
        assert torch.equal(before[key], after[key]), key


def test_weights_are_safetensors_and_nothing_is_pickled(tmp_path):
    path = build_tiny_model(tmp_path / "m")
    assert (path / "model.safetensors").read_bytes()[8:9] == b"{"  # safetensors header, not a zip/pickle
    assert not list(path.rglob("*.bin")) and not list(path.rglob("*.pt"))


def test_predict_output_shape_and_ranges(tmp_path):
    predictor = load_model(build_tiny_model(tmp_path / "m"), precision="fp32")
    [result] = predictor.predict(["i feel happy"])
    assert set(result) == {
        "text",
        "language",
        "carer",
        "carer_label",
        "goemotions",
        "goemotions_labels",
        "big5",
        "depression_index",
        "windows",
    }
    assert len(result["goemotions"]) == 28 and len(result["carer"]) == 6
    assert list(result["big5"]) == ["EXT", "NEU", "AGR", "CON", "OPN"]
    assert sum(result["carer"].values()) == pytest.approx(1.0, abs=1e-4)
    assert 0.0 <= result["depression_index"] <= 1.0


def test_long_text_is_windowed_not_truncated():
    ids = [101, *range(1000, 1070), 102]
    windows = split_windows(ids, 32, 15)
    assert all(len(w) <= 32 and w[0] == 101 and w[-1] == 102 for w in windows)
    covered = {t for w in windows for t in w[1:-1]}
    assert covered == set(range(1000, 1070))
    assert split_windows([101, 5, 102], 32, 15) == [[101, 5, 102]]


def test_missing_or_incomplete_model_names_the_fix(tmp_path):
    with pytest.raises(ModelNotFound, match="emomon train"):
        load_model(tmp_path / "nowhere")
    path = build_tiny_model(tmp_path / "m")
    (path / "calibration.json").unlink()
    with pytest.raises(ModelNotFound, match="calibration.json"):
        load_model(path)


def test_fp32_scores_do_not_depend_on_batch_composition(tmp_path):
    predictor = load_model(build_tiny_model(tmp_path / "m"), precision="fp32", options=WindowOptions(batch_tokens=64))
    alone = predictor.predict(["so sad today"])[0]
    mixed = predictor.predict(["a very long happy joy smile text " * 3, "so sad today", "i"])[1]
    assert np.allclose(list(alone["goemotions"].values()), list(mixed["goemotions"].values()), atol=1e-5)


@pytest.mark.skipif(not SHIPPED.exists(), reason="the shipped model directory models/emomon-mtl-v3 is not present")
def test_shipped_model_ranks_clear_sentences():
    predictor = load_model(SHIPPED)
    config = json.loads((SHIPPED / "config.json").read_text())
    assert config["format"] == "emomon-model/1"
    assert sum(f.stat().st_size for f in SHIPPED.rglob("*") if f.is_file()) < 50 * 1024 * 1024
    sentences = {
        "sadness": "i feel so sad and empty since she left, i cried all night",
        "joy": "i am so happy today, everything went wonderfully and i feel great",
        "anger": "i am furious, they lied to me again and i am so angry about it",
        "fear": "i am terrified and scared something awful will happen tonight",
    }
    results = predictor.predict(list(sentences.values()))
    for (label, _), result in zip(sentences.items(), results):
        assert result["carer_label"] == label, result
    index = [r["depression_index"] for r in results]
    assert index[0] > index[1] and index[3] > index[1]


def test_encode_gives_the_transformers_tokenizers_ids_without_truncation():
    from transformers import AutoTokenizer

    predictor = load_model(SHIPPED, precision="fp32")
    texts = ["I can't sleep again tonight 😭 #sad @friend", "", "word " * 400, "Je me sens seule."]
    reference = AutoTokenizer.from_pretrained(SHIPPED / "tokenizer", local_files_only=True)
    expected = reference(texts, add_special_tokens=True, truncation=False)["input_ids"]
    assert predictor.encode(texts) == expected
    assert len(expected[2]) > predictor.max_length  # not truncated
    assert predictor.pad_id == reference.pad_token_id
