"""Cross-domain figures on a tiny model and a hand-written GoEmotions folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tiny_model import build_tiny_model

from monitor.labels import CARER_LABELS, GOEMOTIONS_LABELS
from monitor.model.index import DepressionIndex
from monitor.model.predictor import load_model
from monitor.training.crossdomain import crossdomain_figures

# text, GoEmotions label indices (sadness 25, joy 17, love 18, anger 2, fear 14, surprise 26,
# grief 16, remorse 24, admiration 0, neutral 27). Eligible for CARER = exactly one label among
# CARER's six; depression positive = any of the index's GoEmotions labels.
ROWS = [
    ("i am so sad", "25"),  # eligible sadness, positive
    ("happy joy", "17"),  # eligible joy
    ("love you", "18"),  # eligible love
    ("so angry", "2"),  # eligible anger
    ("afraid", "14"),  # eligible fear, positive
    ("sad and afraid", "25,14"),  # two labels: not eligible; positive
    ("the", "27"),  # neutral
    ("grief", "16"),  # not a CARER label; positive
    ("surprise", "26"),  # eligible surprise
    ("so happy", "17,0"),  # two labels: not eligible
    (" ".join(["sad tears cry lonely"] * 15), "24"),  # long (several windows), remorse: positive
    ("happy joy", "17"),  # a duplicate text: eligible joy again
]
ELIGIBLE, POSITIVE, NEGATIVE = 7, 5, 7


@pytest.fixture()
def datasets(tmp_path: Path) -> Path:
    root = tmp_path / "datasets" / "goemotions"
    root.mkdir(parents=True)
    (root / "labels.txt").write_text("\n".join(GOEMOTIONS_LABELS) + "\n", encoding="utf-8")
    body = "".join(f"{text}\t{labels}\tid{i}\n" for i, (text, labels) in enumerate(ROWS))
    for name in ("train.tsv", "dev.tsv", "test.tsv"):
        (root / name).write_text(body, encoding="utf-8")
    return root.parent


@pytest.fixture()
def model_dir(tmp_path: Path) -> Path:
    return build_tiny_model(tmp_path / "model", window=32)


def test_figures_have_the_keys_and_hand_counted_sizes(datasets, model_dir):
    predictor = load_model(model_dir, precision="fp32")
    assert max(predictor.plan(predictor.encode([ROWS[10][0]])).windows) > 1
    figures = crossdomain_figures(predictor, datasets, "test")
    assert figures["split"] == "test" and figures["model"] == "tiny-test"
    carer = figures["carer_on_goemotions"]
    assert carer["n"] == ELIGIBLE
    assert 0.0 <= carer["accuracy"] <= 1.0
    assert set(carer["per_class_recall"]) == set(CARER_LABELS)
    assert carer["support"] == {"sadness": 1, "joy": 2, "love": 1, "anger": 1, "fear": 1, "surprise": 1}
    assert carer["majority_class"] == "joy" and carer["majority_accuracy"] == pytest.approx(2 / 7)
    index = figures["depression_index_on_goemotions"]
    assert (index["n_pos"], index["n_neg"]) == (POSITIVE, NEGATIVE)
    assert index["positive_labels"] == [
        "sadness",
        "grief",
        "remorse",
        "disappointment",
        "nervousness",
        "fear",
        "embarrassment",
    ]
    assert 0.0 <= index["auroc"] <= 1.0
    json.dumps(figures, allow_nan=False)  # JSON-safe


def test_positives_follow_the_models_own_index_weights(datasets, model_dir):
    index = DepressionIndex({"grief": 1.0, "sadness": 0.0}, {"sadness": 1.0})
    figures = crossdomain_figures(load_model(model_dir, precision="fp32", index=index), datasets, "validation")
    result = figures["depression_index_on_goemotions"]
    assert result["positive_labels"] == ["grief"]
    assert (result["n_pos"], result["n_neg"]) == (1, len(ROWS) - 1)


def test_unknown_split_is_refused(datasets, model_dir):
    with pytest.raises(ValueError, match="unknown split"):
        crossdomain_figures(load_model(model_dir, precision="fp32"), datasets, "dev")
