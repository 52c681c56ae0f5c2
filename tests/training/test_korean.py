"""Training, calibrating and exporting the Korean network (monitor/training/korean.py) on a tiny
corpus we write here, and ``emomon train-korean`` over it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from tiny_model import KOREAN_SENTENCES, build_tiny_model

from monitor.cli import cli
from monitor.labels import KOREAN_LABELS
from monitor.model.artifact import read_model_info
from monitor.model.predictor import load_model
from monitor.training.card import ENGLISH_ONLY_LIMIT, KOREAN_LIMIT
from monitor.training.korean import KoreanTrainConfig, candidate_figures, export_korean, train_korean

ENDINGS = ["", " 정말", " 진짜", " 오늘도", " 요즘", " 또"]


def write_corpus(root: Path) -> Path:
    """korean_emotion/{train,validation,test}.jsonl from our own sentences with varied endings."""
    folder = root / "korean_emotion"
    folder.mkdir(parents=True)
    for split, endings in (("train", ENDINGS), ("validation", ENDINGS[:3]), ("test", ENDINGS[3:])):
        rows = [
            {"id": f"{split}-{i}-{j}", "text": text + end, "label": label, "label_ko": label}
            for i, (text, label) in enumerate(KOREAN_SENTENCES.items())
            for j, end in enumerate(endings)
        ]
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return root


@pytest.mark.parametrize("kind", ["bag", "cnn"])
def test_a_candidate_learns_the_corpus_and_keeps_its_best_epoch(kind: str, tmp_path: Path) -> None:
    datasets = write_corpus(tmp_path / "data")
    config = KoreanTrainConfig(kind=kind, epochs=12, batch_size=8, lr=1e-2, width=16, min_count=1)  # type: ignore[arg-type]
    history = train_korean(datasets, config, tmp_path / kind, log=lambda _: None)
    scores = [e["validation"]["macro_f1"] for e in history["epochs"]]
    assert history["best"]["validation"]["macro_f1"] == max(scores) > 0.6
    assert (tmp_path / kind / "best.safetensors").is_file()


def test_export_calibrates_writes_hashed_files_and_reads_test_once(tmp_path: Path) -> None:
    datasets = write_corpus(tmp_path / "data")
    runs = []
    for loss in ("combined", "ce"):
        config = KoreanTrainConfig(loss=loss, epochs=10, batch_size=8, lr=1e-2, width=16, min_count=1)
        train_korean(datasets, config, tmp_path / f"bag-{loss}", log=lambda _: None)
        runs.append(tmp_path / f"bag-{loss}")
    model = build_tiny_model(tmp_path / "model")
    (model / "MODEL_CARD.md").write_text(
        "# tiny\n\n## Data and licences\n\n- CARER: research.\n\nThis model is released for research and "
        f"monitoring use under those terms.\n\n## Limits\n\n{ENGLISH_ONLY_LIMIT}\n",
        encoding="utf-8",
    )
    before = read_model_info(model).version
    figures = export_korean(runs[0], model, datasets, candidates=candidate_figures(runs), log=lambda _: None)
    assert set(figures["candidates"]) == {"bag-combined", "bag-ce"}
    assert figures["candidates"]["bag-ce"]["loss"] == "ce"
    assert figures["test"]["n"] == len(KOREAN_SENTENCES) * 3 and set(figures["test"]["f1"]) == set(KOREAN_LABELS)
    assert 0.0 <= figures["test"]["index"]["ece"] <= 1.0
    assert json.loads((model / "metrics.json").read_text())["korean"] == figures["test"]
    assert json.loads((model / "korean" / "training.json").read_text())["validation"] == figures["validation"]
    card = (model / "MODEL_CARD.md").read_text()
    assert card.index("## Korean") < card.index("## Limits") and KOREAN_LIMIT in card and ENGLISH_ONLY_LIMIT not in card
    assert f"macro-F1 **{figures['test']['macro_f1']:.4f}**" in card and "| bag-ce | ce |" in card
    assert "- CARER: research.\n- Korean emotional-dialogue" in card
    export_korean(runs[0], model, datasets, candidates=candidate_figures(runs), log=lambda _: None)
    assert (model / "MODEL_CARD.md").read_text().count("## Korean") == 1  # written again, not twice
    assert read_model_info(model).version != before
    predictor = load_model(model, device="cpu", precision="fp32")
    assert predictor.korean is not None and predictor.korean.calibration.temperature > 0


def test_train_korean_command_exports_into_the_model_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    datasets = write_corpus(tmp_path / "data")
    model = build_tiny_model(tmp_path / "model")
    (tmp_path / "config.toml").write_text(
        f'[database]\nurl = "sqlite:///emomon.db"\n[model]\npath = "{model}"\ndatasets = "{datasets}"\n',
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EMOMON_CONFIG", raising=False)
    args = ["--config", "config.toml", "train-korean", "--run-dir", str(tmp_path / "run"), "--kind", "bag"]
    result = CliRunner().invoke(cli, [*args, "--epochs", "3", "--export"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["korean"]["test"]["n"] == len(KOREAN_SENTENCES) * 3
    assert (model / "korean" / "model.safetensors").is_file()
    bad = CliRunner().invoke(cli, [*args, "--ratios", "0.5,x"])
    assert bad.exit_code == 2 and "--ratios" in bad.output
