"""`emomon train`, `emomon evaluate` and `emomon predict` end to end on a tiny encoder and
datasets we write ourselves."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from model_fixtures import SENTENCES
from tiny_model import build_tiny_encoder, build_tiny_model, build_tiny_tokenizer

from monitor.cli import cli

GOEMO_OF_CARER = {0: 25, 1: 17, 2: 18, 3: 2, 4: 14, 5: 26}


def write_datasets(root: Path) -> Path:
    (root / "carer_emotion").mkdir(parents=True)
    (root / "goemotions").mkdir()
    (root / "mypersonality").mkdir()
    rows = [(t, label) for label, texts in SENTENCES.items() for t in texts]
    for split in ("train", "validation", "test"):
        with (root / "carer_emotion" / f"{split}.jsonl").open("w") as fh:
            for text, label in rows:
                fh.write(json.dumps({"text": text, "label": label}) + "\n")
    for name in ("train.tsv", "dev.tsv", "test.tsv"):
        with (root / "goemotions" / name).open("w") as fh:
            for i, (text, label) in enumerate(rows):
                fh.write(f"{text}\t{GOEMO_OF_CARER[label]}\tc{i}\n")
    with (root / "mypersonality" / "mypersonality.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["#AUTHID", "STATUS", "cEXT", "cNEU", "cAGR", "cCON", "cOPN"])
        for i, (text, _label) in enumerate(rows * 2):
            author = f"author{i % 20}"
            flags = ["y" if (i % 20 + k) % 2 else "n" for k in range(5)]
            writer.writerow([author, text, *flags])
    return root


def write_encoder(directory: Path) -> Path:
    tokenizer = build_tiny_tokenizer(directory)
    build_tiny_encoder(tokenizer.vocab_size).save_pretrained(str(directory))
    tokenizer.save_pretrained(str(directory))
    return directory


@pytest.fixture()
def runner() -> CliRunner:
    return CliRunner()


def test_train_exports_a_loadable_model_with_test_metrics(tmp_path, runner, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.toml").write_text("# every setting at its default\n", encoding="utf-8")
    data = write_datasets(tmp_path / "data")
    encoder = write_encoder(tmp_path / "encoder")
    args = [
        "train",
        "--encoder",
        str(encoder),
        "--datasets",
        str(data),
        "--steps",
        "6",
        "--batch-size",
        "8",
        "--run-dir",
        str(tmp_path / "run"),
        "--model",
        str(tmp_path / "out"),
        "--precision",
        "fp32",
    ]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["split"] == "test" and set(metrics["big5"]["author"]) == {"EXT", "NEU", "AGR", "CON", "OPN"}
    assert (tmp_path / "out" / "mypersonality_authors.json").exists()
    card = (tmp_path / "out" / "MODEL_CARD.md").read_text()
    assert "not a diagnostic instrument" in card and "research use only" in card
    assert f"{metrics['carer']['accuracy'] * 100:.2f}%" in card
    # A second run into the same run directory refuses without --resume, and resumes with it.
    again = runner.invoke(cli, args)
    assert again.exit_code == 1 and "--resume" in again.output
    resumed = runner.invoke(cli, [*args, "--resume", "--no-export"])
    assert resumed.exit_code == 0, resumed.output
    # A re-export regenerates the measured sections and keeps the hand-written ones, saying so.
    (tmp_path / "out" / "MODEL_CARD.md").write_text(
        card.replace("## Limits", "## Field notes\n\nWritten by hand.\n\n## Limits")
    )
    exported = runner.invoke(cli, [*args, "--resume"])
    assert exported.exit_code == 0, exported.output
    again_card = (tmp_path / "out" / "MODEL_CARD.md").read_text()
    assert again_card.count("## Field notes\n\nWritten by hand.") == 1 and again_card.count("## Metrics") == 1
    assert again_card.index("## Field notes") < again_card.index("## Limits")
    assert "kept the card sections 'Field notes' of the previous card" in exported.output

    evaluated = runner.invoke(
        cli, ["evaluate", "--model", str(tmp_path / "out"), "--datasets", str(data), "--split", "test", "--json"]
    )
    assert evaluated.exit_code == 0, evaluated.output
    doc = json.loads(evaluated.output)
    assert set(doc) >= {"model", "carer", "goemotions", "big5", "ece"}
    assert set(doc["carer"]) >= {"accuracy", "macro_f1"} and set(doc["goemotions"]) >= {"macro_f1", "macro_f1_ekman"}
    assert set(doc["big5"]["status"]["EXT"]) >= {"accuracy", "macro_f1", "majority"}


def test_task_probs_reach_the_run_config_and_bad_shares_are_usage_errors(tmp_path, runner):
    data = write_datasets(tmp_path / "data")
    encoder = write_encoder(tmp_path / "encoder")
    base = [
        "train",
        "--encoder",
        str(encoder),
        "--datasets",
        str(data),
        "--steps",
        "2",
        "--batch-size",
        "4",
        "--precision",
        "fp32",
        "--no-export",
    ]
    result = runner.invoke(cli, [*base, "--run-dir", str(tmp_path / "run"), "--task-probs", "carer=0.7, big5=0.3"])
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "run" / "train_config.json").read_text())
    assert saved["task_probs"] == {"carer": 0.7, "big5": 0.3}
    from monitor.cli.model import DEFAULT_TASK_PROBS, parse_task_probs
    from monitor.training.trainer import TrainConfig

    assert parse_task_probs(DEFAULT_TASK_PROBS) == TrainConfig().task_probs
    assert parse_task_probs(" carer = 2 ") == {"carer": 2.0}
    for bad, says in [
        ("carer=-1", "must be a number >= 0"),
        ("carer=nan", "must be a number >= 0"),
        ("carer=x", "must be a number >= 0"),
        ("carer=1,carer=2", "carer is given twice"),
        ("sadness=1", "TASK one of goemotions, carer, big5"),
        ("carer", "not TASK=SHARE"),
        ("carer=0,big5=0", "must not all be 0"),
        ("carer=inf", "must be a number >= 0"),
    ]:
        refused = runner.invoke(cli, [*base, "--run-dir", str(tmp_path / bad), "--task-probs", bad])
        assert refused.exit_code == 2 and says in refused.output, (bad, refused.output)
        assert not (tmp_path / bad).exists()


def test_predict_prints_one_json_line_per_text(tmp_path, runner):
    model = build_tiny_model(tmp_path / "m")
    result = runner.invoke(cli, ["predict", "--model", str(model), "--json", "so sad", "so happy"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.strip().splitlines()]
    assert [line["text"] for line in lines] == ["so sad", "so happy"]
    assert all(0.0 <= line["depression_index"] <= 1.0 for line in lines)
    from_stdin = runner.invoke(cli, ["predict", "--model", str(model), "--file", "-"], input="one\n\ntwo\n")
    assert from_stdin.exit_code == 0 and "one" in from_stdin.output


def test_predict_without_a_model_names_the_fix(tmp_path, runner):
    result = runner.invoke(cli, ["predict", "--model", str(tmp_path / "missing"), "hi"])
    assert result.exit_code == 1
    assert "not found" in result.output and "emomon train" in result.output
    assert "Traceback" not in result.output


def test_evaluate_without_datasets_names_the_fix(tmp_path, runner):
    result = runner.invoke(cli, ["evaluate", "--datasets", str(tmp_path / "nope"), "--model", str(tmp_path)])
    assert result.exit_code == 1 and "--datasets" in result.output
