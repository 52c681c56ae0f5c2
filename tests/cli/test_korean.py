"""Korean posts through ``emomon ingest``, ``score`` and ``predict --json`` (monitor/cli)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from tiny_model import add_tiny_korean, build_tiny_model

from monitor.cli import cli
from monitor.labels import KOREAN_LABELS

# Our own posts: one source mixing Korean (with emoji, a link, English words) and English.
POSTS = [
    {"id": "1", "text": "오늘 너무 슬퍼서 눈물이 났어 😭", "author": "min"},
    {"id": "2", "text": "내일 면접이 있어서 걱정돼 https://example.com", "author": "min"},
    {"id": "3", "text": "i am so sad today", "author": "ann"},
    {"id": "4", "text": "I love 김치 so much", "author": "ann"},
    {"id": "5", "text": "Ich bin heute so müde und traurig, alles ist mir zu viel.", "author": "cem"},
]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return add_tiny_korean(build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", window=32))


@pytest.fixture
def project(tmp_path: Path, model: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "config.toml").write_text(
        f'[database]\nurl = "sqlite:///emomon.db"\n[model]\npath = "{model}"\n'
        '[scoring]\ndevice = "cpu"\nprecision = "fp32"\nchunk_size = 2\n',
        encoding="utf-8",
    )
    (tmp_path / "posts.jsonl").write_text("".join(json.dumps(p) + "\n" for p in POSTS), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    for name in ("EMOMON_CONFIG", "EMOMON_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--config", "config.toml", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout


def test_score_and_predict_agree_on_korean_posts(project: Path) -> None:
    from monitor.settings import load_settings
    from monitor.store import scores as score_store
    from monitor.store.engine import make_engine, session_scope

    assert invoke("ingest", "posts.jsonl")[0] == 0
    code, out = invoke("score", "--json")
    assert code == 0
    summary = json.loads(out)
    assert (summary["scored"], summary["korean"], summary["skipped"]) == (4, 2, 1)
    code, out = invoke("predict", "--json", POSTS[0]["text"], POSTS[3]["text"])
    assert code == 0
    korean, english = (json.loads(line) for line in out.splitlines())
    assert korean["language"] == "ko" and list(korean["korean"]) == list(KOREAN_LABELS)
    assert korean["korean_label"] == "sadness" and korean["depression_index"] > 0.9
    assert english["language"] == "en" and "carer" in english
    engine = make_engine(load_settings(project / "config.toml", {}).database.url)
    with session_scope(engine) as s:
        frame = score_store.read_scores(s)
    row = frame.filter(language="ko").sort("post_id").row(0, named=True)
    stored = np.asarray([row[f"ko_{label}"] for label in KOREAN_LABELS], dtype=np.float32)
    predicted = np.asarray(list(korean["korean"].values()), dtype=np.float16).astype(np.float32)
    assert np.array_equal(stored, predicted)
    assert row["depression_index"] == pytest.approx(korean["depression_index"], abs=0)
