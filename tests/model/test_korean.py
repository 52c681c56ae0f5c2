"""The Korean network in a model directory (monitor/model/korean.py) and through the predictor."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from tiny_model import KOREAN_SENTENCES, add_tiny_korean, build_tiny_model

from monitor.errors import ModelNotFound
from monitor.labels import KOREAN_LABELS
from monitor.model.artifact import read_model_info, seal
from monitor.model.korean import KoreanCalibration, KoreanVocab, features, platt_index
from monitor.model.predictor import load_model

ENGLISH = ["i am so sad today", "happy joy love", "afraid scared " * 30]
# Our own posts: Korean with an emoji, a link and an English word; English with a Korean word.
KOREAN = [
    "오늘 너무 슬퍼서 눈물이 났어 😭",
    "내일 면접이 있어서 걱정돼 https://example.com",
    "맛있는 저녁 먹어서 행복해 lol",
]
MIXED_ENGLISH = "I love 김치 so much"


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("plain") / "m")


@pytest.fixture(scope="module")
def with_korean(plain: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("ko") / "m"
    shutil.copytree(plain, target)
    return add_tiny_korean(target)


def test_predict_reads_korean_posts_with_the_korean_network(with_korean: Path) -> None:
    results = load_model(with_korean, device="cpu", precision="fp32").predict([*KOREAN, ENGLISH[0], MIXED_ENGLISH])
    assert [r["language"] for r in results] == ["ko", "ko", "ko", "en", "en"]
    for result in results[:3]:
        assert list(result["korean"]) == list(KOREAN_LABELS)
        assert sum(result["korean"].values()) == pytest.approx(1.0, abs=1e-5)
        assert "goemotions" not in result and "carer" not in result
        assert 0.0 <= result["depression_index"] <= 1.0
    assert [r["korean_label"] for r in results[:3]] == ["sadness", "anxiety", "joy"]
    sad, worried, happy = (r["depression_index"] for r in results[:3])
    assert sad > 0.9 and worried > 0.9 and happy < 0.1  # sadness and anxiety are index classes; joy is not
    assert "korean" not in results[3] and "carer" in results[3]


def test_english_scores_do_not_change_with_the_korean_network(plain: Path, with_korean: Path) -> None:
    before = load_model(plain, device="cpu", precision="fp32").predict(ENGLISH)
    after = load_model(with_korean, device="cpu", precision="fp32").predict(ENGLISH)
    assert after == before


def test_without_the_korean_network_korean_text_is_read_as_before(plain: Path) -> None:
    [result] = load_model(plain, device="cpu", precision="fp32").predict(KOREAN[:1])
    assert result["language"] == "en" and "carer" in result


def test_korean_files_are_hashed_and_part_of_the_version(plain: Path, with_korean: Path, tmp_path: Path) -> None:
    files = read_model_info(with_korean).files
    assert {"korean/model.safetensors", "korean/config.json", "korean/vocab.json", "korean/calibration.json"} <= set(
        files
    )
    assert read_model_info(with_korean).version != read_model_info(plain).version
    changed = shutil.copytree(with_korean, tmp_path / "changed")
    path = changed / "korean" / "calibration.json"
    path.write_text(json.dumps(KoreanCalibration(platt=(1.0, 3.0)).to_dict()), encoding="utf-8")
    with pytest.raises(ModelNotFound, match=r"korean/calibration\.json.*does not match the SHA-256"):
        load_model(changed, device="cpu", precision="fp32")


def test_a_model_directory_with_some_korean_files_is_refused(with_korean: Path, tmp_path: Path) -> None:
    partial = shutil.copytree(with_korean, tmp_path / "partial")
    (partial / "korean" / "vocab.json").unlink()
    seal(partial)
    with pytest.raises(ModelNotFound, match="only some Korean files"):
        read_model_info(partial)


def test_int8_keeps_the_korean_network_in_fp32(
    with_korean: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMOMON_CACHE_DIR", str(tmp_path / "cache"))
    int8 = load_model(with_korean, device="cpu", precision="int8")
    fp32 = load_model(with_korean, device="cpu", precision="fp32")
    assert int8.precision == "int8"
    a, b = int8.score_korean(KOREAN), fp32.score_korean(KOREAN)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_features_and_vocabulary() -> None:
    assert features("슬퍼 ok", "bag") == [
        "w:슬퍼",
        "<",
        "슬",
        "퍼",
        ">",
        "<슬",
        "슬퍼",
        "퍼>",
        "<슬퍼",
        "슬퍼>",
        "w:ok",
    ] + [
        "<",
        "o",
        "k",
        ">",
        "<o",
        "ok",
        "k>",
        "<ok",
        "ok>",
    ]
    vocab = KoreanVocab.fit(list(KOREAN_SENTENCES), "bag", min_count=1)
    assert vocab.encode("   ") == [0]  # no known feature: the padding id, a zero vector
    assert KoreanVocab.from_dict(vocab.to_dict()).encode("너무 슬퍼") == vocab.encode("너무 슬퍼")


def test_the_index_is_monotone_in_the_depressed_classes() -> None:
    raw = np.array([0.05, 0.3, 0.6, 0.95])
    out = platt_index(raw, (1.5, -0.2))
    assert np.all(np.diff(out) > 0) and out.min() > 0.0 and out.max() < 1.0
    with pytest.raises(ValueError, match="index_classes"):
        KoreanCalibration(index_classes=("grief",)).validate(KOREAN_LABELS)
