"""Secrets stay secret: a database password, webhook credentials and ``?token=`` in a webhook or
feed URL appear nowhere in stderr, stdout, ``runs.stats`` or ``runs.message``, even when the
thing they unlock fails.

The commands run as real subprocesses against loopback servers the tests start.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from hostile.conftest import config_here
from hostile.loopback import Answer, Loopback, loopback

from monitor.clock import utcnow
from monitor.errors import ExitStatus
from monitor.redact import redact, redact_url
from monitor.store.engine import ensure_schema, make_engine, session_scope
from monitor.store.schema import Author, Post, Score, Source

PASSWORD = "pw-Hunter2-secret"
TOKEN = "tok-9f8e7d6c5b4a"
USER = "hookuser-secret"


def emomon(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("EMOMON_")}
    return subprocess.run(
        [sys.executable, "-c", "from monitor.cli import cli; cli(prog_name='emomon')", *args],
        cwd=cwd,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )


def assert_secret_free(*texts: str) -> None:
    for text in texts:
        for secret in (PASSWORD, TOKEN, USER):
            assert secret not in text, text


def runs_rows(db: Path) -> list[str]:
    """Every runs row's stats and message, as text."""
    with sqlite3.connect(db) as conn:
        return [f"{stats} {message}" for stats, message in conn.execute("SELECT stats, message FROM runs")]


@pytest.fixture()
def server() -> Iterator[Loopback]:
    with loopback() as state:
        yield state


# -- the redaction function ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, shown",
    [
        ("postgresql+psycopg://bob:pw@db.example:5432/emomon", "postgresql+psycopg://***@db.example:5432/emomon"),
        ("https://hooks.example/in?token=abc&channel=ops", "https://hooks.example/in?token=***&channel=ops"),
        (
            "https://h.example/x?X-Amz-Signature=ff&X-Amz-Date=20250101",
            "https://h.example/x?X-Amz-Signature=***&X-Amz-Date=20250101",
        ),
        (
            "https://h.example/x?api_key=1&apiKey=2&access_token=3&sig=4&keyword=cats",
            "https://h.example/x?api_key=***&apiKey=***&access_token=***&sig=***&keyword=cats",
        ),
        ("https://h.example/cb#access_token=abc&state=1", "https://h.example/cb#access_token=***&state=1"),
        ("https://example.org/feed.xml", "https://example.org/feed.xml"),
        ("/var/data/feed.xml", "/var/data/feed.xml"),
    ],
)
def test_redact_url_masks_user_info_and_secret_parameters(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redact_finds_urls_inside_messages_and_keeps_the_sentence() -> None:
    message = "webhook 'https://u:p@h.example/x?token=abc' failed; see https://h.example/x?key=k."
    assert redact(message) == "webhook 'https://***@h.example/x?token=***' failed; see https://h.example/x?key=***."


# -- the database password ----------------------------------------------------------------------


@pytest.mark.parametrize("driver", ["pg8000", "MySQLdb"])
def test_a_missing_driver_error_does_not_print_the_database_password(tmp_path: Path, driver: str) -> None:
    if importlib.util.find_spec(driver) is not None:
        pytest.skip(f"{driver} is installed here: its missing-driver error cannot happen")
    scheme = {"pg8000": "postgresql+pg8000", "MySQLdb": "mysql+mysqldb"}[driver]
    url = f"{scheme}://bob:{PASSWORD}@127.0.0.1/emomon?token={TOKEN}"
    (tmp_path / "config.toml").write_text(f'[database]\nurl = "{url}"\n', encoding="utf-8")
    for result in (
        emomon(tmp_path, "--db", url, "sources", "list"),
        emomon(tmp_path, "sources", "list"),  # from ./config.toml
        emomon(tmp_path, "-v", "sources", "list", env={"EMOMON_DATABASE_URL": url}),
    ):
        assert result.returncode == ExitStatus.CONFIG and "Traceback" not in result.stderr
        assert "needs the driver" in result.stderr and "bob" not in result.stderr
        assert_secret_free(result.stderr, result.stdout)


def test_an_invalid_database_url_does_not_print_the_password(tmp_path: Path) -> None:
    config_here(tmp_path)
    result = emomon(tmp_path, "--db", f"postgresql://bob:{PASSWORD}@db:notaport/x", "sources", "list")
    assert (
        result.returncode == ExitStatus.CONFIG
        and "Traceback" not in result.stderr
        and "[database] url" in result.stderr
    )
    assert_secret_free(result.stderr, result.stdout)


# -- a failing webhook --------------------------------------------------------------------------


def seed_alert(db: Path) -> None:
    """One author with high depression-index scores in the last day: a level alert."""
    engine = make_engine(f"sqlite:///{db}")
    ensure_schema(engine)
    now = utcnow()
    with session_scope(engine) as s:
        source = Source(name="feed-a", kind="jsonl", location="x", paused=False, created_at=now)
        author = Author(platform="p", handle="someone", pseudonym="a-000000000001")
        s.add_all([source, author])
        s.flush()
        for i in range(4):
            post = Post(
                source_id=source.id,
                external_id=str(i),
                author_id=author.id,
                created_at=now - timedelta(hours=6 * (i + 1)),
                text="invented",
                content_hash=f"h{i}",
                ingested_at=now,
            )
            s.add(post)
            s.flush()
            s.add(
                Score(
                    post_id=post.id,
                    model_version="test-v1",
                    status="scored",
                    depression_index=0.95,
                    probs=np.zeros(39, dtype="<f2").tobytes(),
                    windows=1,
                    text_hash="h",
                    scored_at=now,
                )
            )
    engine.dispose()


def test_a_failing_webhook_with_credentials_and_a_token_keeps_both_secret(tmp_path: Path, server: Loopback) -> None:
    server.answer("/hook", Answer(500, b"internal error"))
    url = server.url("/hook").replace("http://", f"http://{USER}:{PASSWORD}@") + f"?token={TOKEN}&team=ops"
    db = tmp_path / "emomon.db"
    (tmp_path / "config.toml").write_text(
        textwrap.dedent(f"""
        [database]
        url = "sqlite:///{db}"
        [alerts]
        channels = ["webhook"]
        [alerts.rules.rise]
        enabled = false
        [alerts.rules.source_shift]
        enabled = false
        [channels.webhook]
        url = "{url}"
        secret_env = ""
        timeout = 5.0
        retries = 1
        backoff = 0.01
    """),
        encoding="utf-8",
    )
    seed_alert(db)
    results = [
        emomon(tmp_path, "run", "--stage", "alerts"),
        emomon(tmp_path, "-v", "run", "--stage", "alerts", "--json"),
    ]
    assert len(server.received) >= 2  # the webhook was really called (and failed)
    for result in results:
        assert result.returncode == ExitStatus.FAILED and "Traceback" not in result.stderr
        assert "HTTP 500" in result.stderr + result.stdout
        assert "127.0.0.1" in result.stderr + result.stdout  # the webhook is still named
        assert_secret_free(result.stderr, result.stdout)
    rows = runs_rows(db)
    assert rows and any("HTTP 500" in row for row in rows)
    with sqlite3.connect(db) as conn:
        dump = "\n".join(conn.iterdump())  # runs, deliveries, alerts: every stored byte
    assert_secret_free(*rows, dump)


# -- a failing feed -----------------------------------------------------------------------------


def test_a_failing_feed_with_a_token_keeps_it_secret(tmp_path: Path, server: Loopback) -> None:
    server.answer("/feed.xml", Answer(500, b"internal error"))
    url = server.url("/feed.xml").replace("http://", f"http://{USER}:{PASSWORD}@") + f"?token={TOKEN}"
    db = tmp_path / "emomon.db"
    (tmp_path / "config.toml").write_text(
        textwrap.dedent(f"""
        [database]
        url = "sqlite:///{db}"
        [ingest]
        timeout_s = 5.0
        [[sources]]
        name = "private-feed"
        kind = "feed"
        location = "{url}"
    """),
        encoding="utf-8",
    )
    results = [
        emomon(tmp_path, "ingest"),
        emomon(tmp_path, "ingest", "--json"),
        emomon(tmp_path, "sources", "list"),
        emomon(tmp_path, "sources", "list", "--json"),
    ]
    assert server.received, "the feed was really fetched"
    ingest, ingest_json = results[0], results[1]
    assert ingest.returncode == ExitStatus.FAILED and "Traceback" not in ingest.stderr
    assert "HTTP 500" in ingest.stderr + ingest.stdout
    sources = json.loads(results[3].stdout)["sources"]
    assert sources[0]["location"].endswith("token=***")
    for result in results:
        assert "Traceback" not in result.stderr
        assert_secret_free(result.stderr, result.stdout)
    assert_secret_free(*runs_rows(db))
    assert any("HTTP 500" in row for row in runs_rows(db)) and ingest_json.stdout
