"""``emomon score`` and ``emomon predict`` through the CLI (monitor/cli/score.py), on real SQLite files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from tiny_model import build_tiny_model

from monitor.cli import cli
from monitor.errors import ExitStatus

POSTS = [
    {"id": "1", "text": "i am so sad today", "author": "ann"},
    {"id": "2", "text": "i feel happy and we smile", "author": "bob"},
    {"id": "3", "text": "Ich bin heute so müde und traurig, alles ist mir zu viel.", "author": "cem"},
    {"id": "4", "text": " ".join(["i am afraid and scared of the dark"] * 12), "author": "ann"},
]
KEYS = {
    "model_version",
    "scored",
    "skipped",
    "windowed",
    "korean",
    "seconds",
    "load_seconds",
    "posts_per_second",
    "stage_seconds",
}


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", window=32)


@pytest.fixture
def project(tmp_path: Path, tiny_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config that points at the tiny model (fp32 on the CPU) and a posts file."""
    (tmp_path / "config.toml").write_text(
        f'[database]\nurl = "sqlite:///emomon.db"\n[model]\npath = "{tiny_dir}"\n'
        '[scoring]\ndevice = "cpu"\nprecision = "fp32"\nchunk_size = 2\n',
        encoding="utf-8",
    )
    (tmp_path / "posts.jsonl").write_text("".join(json.dumps(p) + "\n" for p in POSTS), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    for name in ("EMOMON_CONFIG", "EMOMON_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--config", "config.toml", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_json_summary_then_nothing_to_do(project: Path) -> None:
    assert invoke("ingest", "posts.jsonl")[0] == 0
    code, out, _ = invoke("score", "--json")
    assert code == 0
    doc = json.loads(out)
    assert set(doc) == KEYS
    assert (doc["scored"], doc["skipped"], doc["windowed"]) == (3, 1, 1)
    assert doc["model_version"].startswith("tiny-test+") and doc["posts_per_second"] > 0

    code, out, err = invoke("score", "--json")
    again = json.loads(out)
    assert code == 0 and again["scored"] == again["skipped"] == 0
    assert again["model_version"] == doc["model_version"]
    assert "already scored" in err


def test_text_output_and_limit(project: Path) -> None:
    invoke("ingest", "posts.jsonl")
    code, out, _ = invoke("score", "--limit", "2")
    assert code == 0 and out.startswith("scored 2 posts with tiny-test+")
    code, out, _ = invoke("score", "--batch-tokens", "64")
    assert code == 0 and "scored 1 posts" in out and "1 skipped" in out and "1 windowed" in out


def test_empty_store_says_so(project: Path) -> None:
    code, out, _ = invoke("score")
    assert code == 0 and "no posts stored yet" in out


def test_rescore_with_another_model(project: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    other = build_tiny_model(tmp_path_factory.mktemp("other") / "model", window=32, seed=3)
    invoke("ingest", "posts.jsonl")
    invoke("score")
    code, out, _ = invoke("score", "--model", str(other))  # nothing new: the model is not loaded
    assert code == 0 and "already scored" in out and "4 by tiny-test+" in out and "--rescore" in out
    code, out, _ = invoke("score", "--model", str(other), "--rescore", "--json")
    assert code == 0 and json.loads(out)["scored"] == 3


def test_user_errors_are_one_line(project: Path) -> None:
    invoke("ingest", "posts.jsonl")
    code, _, err = invoke("score", "--model", "missing-dir")
    assert code == 1 and "model directory" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    code, _, err = invoke("score", "--batch-tokens", "8")
    assert code == ExitStatus.CONFIG and "smaller than the model window" in err
    if not torch.cuda.is_available():
        code, _, err = invoke("score", "--device", "cuda")
        assert code == ExitStatus.CONFIG and "cuda" in err.lower()


def test_progress_bar_shows_posts_per_second() -> None:
    import io

    from rich.console import Console

    from monitor.cli.app import AppContext, counted_progress

    out = io.StringIO()
    app = AppContext(config_path=None, config_explicit=False, db_url=None)
    app._consoles["err"] = Console(file=out, force_terminal=True, width=120)
    with counted_progress(app, "scoring", "posts", enabled=True) as bar:
        assert bar is not None
        on_total, advance = bar
        on_total(10)
        advance(4)
        advance(6)
    assert "posts/s" in out.getvalue() and "10/10" in out.getvalue()
    with counted_progress(app, "scoring", "posts", enabled=False) as bar:
        assert bar is None


def test_predict_and_score_give_identical_numbers_for_long_and_short_posts(project: Path) -> None:
    """The one inference path: `emomon predict --json` and the stored scores of `emomon score`
    agree exactly (the store keeps float16, so predict's values are compared at that precision),
    for a post split into windows and a post within one window."""
    import numpy as np
    from sqlalchemy import select

    from monitor.settings import load_settings
    from monitor.store import scores as score_store
    from monitor.store.engine import make_engine, session_scope
    from monitor.store.schema import SCORE_BIG5, SCORE_CARER, SCORE_GOEMOTIONS, Post

    (project / "config.toml").write_text(
        (project / "config.toml").read_text(encoding="utf-8")
        + "window_stride = 7\n[scoring.index]\ncarer = { sadness = 1.0 }\n",
        encoding="utf-8",
    )
    long_text, short_text = POSTS[3]["text"], POSTS[0]["text"]
    assert invoke("ingest", "posts.jsonl")[0] == 0
    assert invoke("score")[0] == 0
    code, out, _ = invoke("predict", "--json", long_text, short_text)
    assert code == 0
    predicted = [json.loads(line) for line in out.splitlines()]
    assert [p["windows"] for p in predicted][0] > 1 and predicted[1]["windows"] == 1

    settings = load_settings(project / "config.toml", {})
    engine = make_engine(settings.database.url)
    with session_scope(engine) as s:
        frame = score_store.read_scores(s)
        ids = {text: pid for pid, text in s.execute(select(Post.id, Post.text))}
    for p in predicted:
        row = frame.filter(post_id=ids[p["text"]]).row(0, named=True)
        for head, names in (("goemotions", SCORE_GOEMOTIONS), ("carer", SCORE_CARER), ("big5", SCORE_BIG5)):
            keys = {k.lower(): k for k in p[head]}
            prefix = {"goemotions": "goemo", "carer": "carer", "big5": "big5"}[head]
            got = np.asarray([row[f"{prefix}_{name}"] for name in names], dtype=np.float32)
            want = np.asarray([p[head][keys[name]] for name in names], dtype=np.float16).astype(np.float32)
            assert np.array_equal(got, want), head
        assert row["depression_index"] == pytest.approx(p["depression_index"], abs=0)
