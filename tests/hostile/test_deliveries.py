"""A hostile or broken webhook cannot stop the alerts stage or lose an alert: undelivered alerts
stay pending and the next run sends them, within one delivery budget per run."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from hostile.loopback import Answer, Loopback, loopback
from rich.console import Console
from smtp_server import SmtpServer
from sqlalchemy import Engine, select

from monitor.alerts.stage import alerts_stage
from monitor.clock import utcnow
from monitor.settings import Settings, load_settings
from monitor.store.engine import ensure_schema, make_engine, session_scope
from monitor.store.schema import Alert, Author, Delivery, Post, Run, Score, Source

HOOK = "/hook"


@pytest.fixture()
def server() -> Iterator[Loopback]:
    with loopback() as state:
        yield state


def settings_for(
    tmp_path: Path, url: str, *, budget: float = 20.0, channels: str = '["webhook"]', extra: str = ""
) -> Settings:
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        textwrap.dedent(f"""
        [database]
        url = "sqlite:///{tmp_path / "emomon.db"}"
        [alerts]
        channels = {channels}
        delivery_budget_s = {budget}
        [alerts.rules.rise]
        enabled = false
        [alerts.rules.source_shift]
        enabled = false
        [channels.webhook]
        url = "{url}"
        secret_env = ""
        timeout = 5.0
        retries = 2
        backoff = 0.01
    """)
        + extra
    )
    return load_settings(cfg, {})


def seed(engine: Engine, authors: int) -> None:
    """Posts scored high for ``authors`` authors in the last days: each raises a level alert."""
    now = utcnow()
    probs = np.zeros(39, dtype="<f2").tobytes()
    with session_scope(engine) as s:
        src = Source(name="feed-a", kind="jsonl", location="x", paused=False, created_at=now)
        s.add(src)
        s.flush()
        for a in range(authors):
            author = Author(platform="p", handle=f"handle{a}", pseudonym=f"a-{a:012d}")
            s.add(author)
            s.flush()
            for i in range(4):
                post = Post(
                    source_id=src.id,
                    external_id=f"{a}-{i}",
                    author_id=author.id,
                    created_at=now - timedelta(hours=6 * (i + 1)),
                    text="invented",
                    content_hash=f"h{a}{i}",
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
                        probs=probs,
                        windows=1,
                        text_hash="h",
                        scored_at=now,
                    )
                )


def run(engine: Engine, settings: Settings) -> tuple[dict[str, object], float]:
    t0 = time.monotonic()
    result = alerts_stage(engine, settings, console=Console(file=None, quiet=True), env={}, now=utcnow())
    return result.to_json(), time.monotonic() - t0


def pending(engine: Engine, channel: str = "webhook") -> set[int]:
    with session_scope(engine) as s:
        return set(
            s.scalars(select(Delivery.alert_id).where(Delivery.channel == channel, Delivery.delivered_at.is_(None)))
        )


def alert_ids(engine: Engine) -> set[int]:
    with session_scope(engine) as s:
        return set(s.scalars(select(Alert.id)))


def make_engine_for(settings: Settings) -> Engine:
    engine = make_engine(settings.database.url)
    ensure_schema(engine)
    return engine


def test_a_non_ascii_retry_after_fails_one_delivery_and_the_next_run_sends_it(tmp_path: Path, server: Loopback) -> None:
    server.answer(HOOK, Answer(503, headers={"Retry-After": "\u00b2"}))
    settings = settings_for(tmp_path, server.url(HOOK))
    engine = make_engine_for(settings)
    seed(engine, authors=1)
    first, _ = run(engine, settings)
    assert first["status"] == "failed" and first["counts"]["new"] == 1
    message = first["message"]
    assert isinstance(message, str) and "HTTP 503" in message and "\n" not in message
    assert pending(engine) == alert_ids(engine) and len(server.received) == 3  # 1 + 2 retries
    with session_scope(engine) as s:
        row = s.scalars(select(Delivery)).one()
        assert row.attempts == 1 and row.last_error is not None and "HTTP 503" in row.last_error
        runs = s.scalars(select(Run).where(Run.command == "alerts")).all()
        assert runs[-1].status == "failed" and runs[-1].message == message

    server.answer(HOOK, Answer(200))  # the endpoint is fixed
    second, _ = run(engine, settings)
    assert second["status"] == "ok" and second["counts"]["new"] == 0
    assert [p["id"] for p in server.posted(HOOK)] == sorted(alert_ids(engine))
    assert pending(engine) == set()
    third, _ = run(engine, settings)
    assert third["counts"]["delivery"] == {"webhook": "nothing to send"}
    assert len(server.posted(HOOK)) == 1  # delivered once


def test_500s_keep_every_alert_pending_and_other_channels_still_deliver(tmp_path: Path, server: Loopback) -> None:
    server.answer(HOOK, Answer(500))
    settings = settings_for(tmp_path, server.url(HOOK), channels='["webhook", "file"]')
    engine = make_engine_for(settings)
    seed(engine, authors=3)
    first, _ = run(engine, settings)
    ids = alert_ids(engine)
    assert len(ids) == 3 and pending(engine) == ids
    assert first["counts"]["delivery"]["file"] == "ok" and pending(engine, "file") == set()
    assert "3 of 3 alert(s) pending" in first["counts"]["delivery"]["webhook"]
    assert first["counts"]["pending"] == {"webhook": 3, "file": 0}
    assert len(server.received) == 3  # one alert's attempts, not every alert's

    server.answer(HOOK, Answer(200))
    run(engine, settings)
    assert sorted(p["id"] for p in server.posted(HOOK)) == sorted(ids)
    assert (tmp_path / "alerts.jsonl").read_text().count("\n") == 3  # the file got each once


def test_a_slow_webhook_is_cut_off_by_the_delivery_budget(tmp_path: Path, server: Loopback) -> None:
    server.answer(HOOK, Answer(200, delay=3.0))
    settings = settings_for(tmp_path, server.url(HOOK), budget=1.0)
    engine = make_engine_for(settings)
    seed(engine, authors=3)
    first, seconds = run(engine, settings)
    assert seconds < 2.5  # not 3 alerts x 3 attempts x 3 s
    assert first["status"] == "failed" and pending(engine) == alert_ids(engine)

    server.answer(HOOK, Answer(200))
    server.received.clear()
    second, _ = run(engine, settings)
    assert second["status"] == "ok" and pending(engine) == set()
    assert sorted(p["id"] for p in server.posted(HOOK)) == sorted(alert_ids(engine))


def test_a_long_retry_after_is_not_waited_past_the_budget(tmp_path: Path, server: Loopback) -> None:
    server.answer(HOOK, Answer(429, headers={"Retry-After": "30"}))
    settings = settings_for(tmp_path, server.url(HOOK), budget=2.0)
    engine = make_engine_for(settings)
    seed(engine, authors=2)
    first, seconds = run(engine, settings)
    assert seconds < 2.0 and len(server.received) == 1
    assert "delivery_budget_s" in str(first["message"]) and pending(engine) == alert_ids(engine)


def test_an_unreachable_mail_server_keeps_the_digest_pending(tmp_path: Path, server: Loopback) -> None:
    smtp = SmtpServer()
    port = smtp.port
    smtp.close()  # nobody listens there now
    mail = f'[channels.email]\nhost = "127.0.0.1"\nport = {port}\nrecipients = ["r@example.org"]\ntimeout = 2.0\n'
    settings = settings_for(tmp_path, server.url(HOOK), channels='["email"]', extra=mail)
    engine = make_engine_for(settings)
    seed(engine, authors=2)
    first, _ = run(engine, settings)
    assert first["status"] == "failed" and pending(engine, "email") == alert_ids(engine)
    with session_scope(engine) as s:
        assert all(d.attempts == 1 and d.last_error for d in s.scalars(select(Delivery)))

    smtp = SmtpServer()
    try:
        fixed = settings_for(
            tmp_path,
            server.url(HOOK),
            channels='["email"]',
            extra=mail.replace(f"port = {port}", f"port = {smtp.port}"),
        )
        second, _ = run(engine, fixed)
    finally:
        smtp.close()
    assert second["status"] == "ok" and pending(engine, "email") == set()
    assert len(smtp.messages) == 1
