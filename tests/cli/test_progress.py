"""Progress that says what it does: the posts/s of the summary, and Ctrl-C marking the run interrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from tiny_model import build_tiny_model

from monitor.cli import cli

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", window=32)


def _site(tmp_path: Path, tiny_dir: Path, posts: int) -> Path:
    (tmp_path / "config.toml").write_text(
        f'[database]\nurl = "sqlite:///emomon.db"\n[model]\npath = "{tiny_dir}"\n'
        '[scoring]\ndevice = "cpu"\nprecision = "fp32"\nchunk_size = 4\n',
        encoding="utf-8",
    )
    (tmp_path / "posts.jsonl").write_text(
        "".join(
            json.dumps({"id": str(i), "text": f"i feel sad and tired today, post {i} " * 3, "author": f"a{i % 7}"})
            + "\n"
            for i in range(posts)
        ),
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        cli, ["--config", str(tmp_path / "config.toml"), "ingest", str(tmp_path / "posts.jsonl")]
    )
    assert result.exit_code == 0, result.output
    return tmp_path / "config.toml"


def test_posts_per_second_leaves_the_model_load_out(tmp_path: Path, tiny_dir: Path) -> None:
    cfg = _site(tmp_path, tiny_dir, 20)
    doc = json.loads(CliRunner().invoke(cli, ["--config", str(cfg), "score", "--json"]).output)
    scoring = doc["seconds"] - doc["load_seconds"]
    assert 0 < scoring <= doc["seconds"]
    assert doc["posts_per_second"] == pytest.approx(20 / scoring, rel=0.05)


def test_ctrl_c_during_score_leaves_the_run_interrupted(tmp_path: Path, tiny_dir: Path) -> None:
    cfg = _site(tmp_path, tiny_dir, 4000)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("EMOMON_DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-c", "from monitor.cli import cli; cli()", "--config", str(cfg), "score"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    db = create_engine(f"sqlite:///{tmp_path / 'emomon.db'}")
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:  # wait until scoring writes
            with db.connect() as conn:
                if conn.execute(text("SELECT count(*) FROM scores")).scalar():
                    break
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    with db.connect() as conn:
        status, message = conn.execute(text("SELECT status, message FROM runs WHERE command = 'score'")).one()
        written = conn.execute(text("SELECT count(*) FROM scores")).scalar()
    assert proc.returncode != 0 and "Traceback" not in err
    assert status == "interrupted" and "Ctrl-C" in message
    assert 0 < written < 4000
