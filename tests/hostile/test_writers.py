"""Item 7: all writers are serialised, on every backend.

Real ``emomon`` subprocesses race on one database: ``sources remove --purge`` during an ingest,
two ingests reaching one SQLite file through a symlink, and on PostgreSQL ingest and score at
once. None may print a traceback, and the counts must add up afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "models" / "emomon-mtl-v3"


def write_posts(path: Path, n: int, prefix: str = "p") -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(
                json.dumps(
                    {
                        "id": f"{prefix}{i}",
                        "text": f"post {prefix}{i}: some days weigh more than others",
                        "author": f"user{i % 97}",
                        "created_at": f"2025-03-{1 + i % 28:02d}T08:00:00Z",
                    }
                )
                + "\n"
            )
    return path


def emomon(args: list[str], url: str, config: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "EMOMON_DATABASE_URL": url, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-c", "from monitor.cli import cli; cli()", "--config", str(config), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str], timeout: float = 240) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    assert "Traceback" not in out + err, err
    return proc.returncode, out, err


def scalar(engine: Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar() or 0)


def wait_for_posts(engine: Engine, proc: subprocess.Popen[str]) -> None:
    """Return once ``proc`` (an ingest) has stored posts and so holds the run lock, still running."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if scalar(engine, "SELECT count(*) FROM posts") > 0:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "ingest finished before the second writer started; make the input bigger"


def test_remove_purge_during_ingest_waits_and_then_removes_everything(
    tmp_path: Path, engine: Engine, db_url: str
) -> None:
    feed = write_posts(tmp_path / "big.jsonl", 12_000)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[ingest]\nbatch_size = 500\n\n[[sources]]\nname = "big"\nkind = "jsonl"\nlocation = "{feed}"\n',
        encoding="utf-8",
    )
    ingest = emomon(["ingest", "--json"], db_url, config)
    wait_for_posts(engine, ingest)
    purge = emomon(["sources", "remove", "big", "--purge"], db_url, config)
    code, out, _ = finish(ingest)
    assert code == 0 and json.loads(out)["sources"][0]["inserted"] == 12_000
    assert finish(purge)[0] == 0
    assert scalar(engine, "SELECT count(*) FROM posts") == 0
    assert scalar(engine, "SELECT count(*) FROM sources") == 0
    assert scalar(engine, "SELECT count(*) FROM runs WHERE command = 'ingest' AND status = 'ok'") == 1
    assert "big" not in config.read_text(encoding="utf-8")


@pytest.mark.sqlite_only(reason="a symlink to a database file exists only for SQLite")
def test_two_ingests_through_a_symlinked_path_store_each_post_once(tmp_path: Path, engine: Engine, db_url: str) -> None:
    real = Path(db_url.removeprefix("sqlite:///"))
    link = tmp_path / "elsewhere" / "link.db"
    link.parent.mkdir()
    link.symlink_to(real)
    n = 8_000
    feed = write_posts(tmp_path / "posts.jsonl", n)
    config = tmp_path / "config.toml"
    config.write_text("[ingest]\nbatch_size = 500\n", encoding="utf-8")
    first = emomon(["ingest", str(feed), "--json"], db_url, config)
    wait_for_posts(engine, first)
    second = emomon(["ingest", str(feed), "--json"], f"sqlite:///{link}", config)
    reports = []
    for proc in (first, second):
        code, out, _ = finish(proc)
        assert code == 0
        reports.append(json.loads(out)["sources"][0])
    assert [r["inserted"] for r in reports] == [n, 0]
    assert reports[1]["duplicate"] == n
    assert scalar(engine, "SELECT count(*) FROM posts") == n
    assert scalar(engine, "SELECT count(*) FROM sources") == 1


@pytest.mark.slow
@pytest.mark.postgres_only(reason="ingest and scoring on different machines share a PostgreSQL database")
def test_ingest_and_score_at_once_score_every_post_once(tmp_path: Path, engine: Engine, db_url: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[model]\npath = "{MODEL}"\n\n[scoring]\ndevice = "cpu"\n\n[ingest]\nbatch_size = 50\n', encoding="utf-8"
    )
    first = write_posts(tmp_path / "first.jsonl", 60, "a")
    later = write_posts(tmp_path / "later.jsonl", 60, "b")
    assert finish(emomon(["ingest", str(first)], db_url, config))[0] == 0
    score = emomon(["score", "--json"], db_url, config)
    ingest = emomon(["ingest", str(later), "--json"], db_url, config)
    code, out, _ = finish(ingest)
    assert code == 0 and json.loads(out)["sources"][0]["inserted"] == 60
    code, out, _ = finish(score)
    assert code == 0
    runs = [json.loads(out)]
    code, out, _ = finish(emomon(["score", "--json"], db_url, config))  # whatever the first score did not see
    assert code == 0
    runs.append(json.loads(out))
    posts = scalar(engine, "SELECT count(*) FROM posts")
    assert posts == 120
    assert sum(r["scored"] + r["skipped"] for r in runs) == posts  # no post scored twice
    assert scalar(engine, "SELECT count(*) FROM scores") == posts
    assert scalar(engine, "SELECT count(DISTINCT model_version) FROM scores") == 1
    assert scalar(engine, "SELECT count(*) FROM runs WHERE status <> 'ok'") == 0
