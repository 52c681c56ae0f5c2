"""Tests for monitor.store.retention on a real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from monitor.errors import EmomonError
from monitor.store.engine import session_scope
from monitor.store.retention import PURGED, purge_text
from monitor.store.schema import Alert, Post, Rejected, Source

NOW = datetime(2025, 6, 1, tzinfo=UTC)


def test_purge_removes_old_text_and_keeps_rows_and_alerts(engine: Engine) -> None:
    with session_scope(engine) as s:
        src = Source(name="f", kind="jsonl", location="x", paused=False, created_at=NOW)
        s.add(src)
        s.flush()
        for i, age in enumerate([400, 366, 364, 10], start=1):  # days since ingestion
            s.add(
                Post(
                    id=i,
                    source_id=src.id,
                    external_id=str(i),
                    author_id=None,
                    created_at=NOW - timedelta(days=5000),
                    text=f"text {i}",
                    url=f"https://x.example/{i}",
                    content_hash=str(i),
                    ingested_at=NOW - timedelta(days=age),
                )
            )
        s.add(
            Rejected(
                source_id=src.id, location="f:1", reason="bad", raw="old raw", rejected_at=NOW - timedelta(days=400)
            )
        )
        s.add(
            Rejected(source_id=src.id, location="f:2", reason="bad", raw="new raw", rejected_at=NOW - timedelta(days=1))
        )
        s.flush()
        s.add(
            Alert(
                rule="level",
                subject_kind="author",
                subject="a-1",
                window_start=NOW,
                window_end=NOW,
                evidence={"post_ids": [1]},
                severity="low",
                status="new",
                trigger_post_id=1,
                trigger_index=1,
                trigger_at=NOW,
                created_at=NOW,
                dedup_key="k",
            )
        )
    with session_scope(engine) as s:
        result = purge_text(s, older_than_days=365, now=NOW)
    assert (result.posts, result.rejected) == (2, 1)
    with session_scope(engine) as s:
        texts = dict(s.execute(select(Post.id, Post.text)).all())
        assert texts == {1: None, 2: None, 3: "text 3", 4: "text 4"}  # post dates do not count
        urls = dict(s.execute(select(Post.id, Post.url)).all())
        assert urls == {1: None, 2: None, 3: "https://x.example/3", 4: "https://x.example/4"}
        assert sorted(s.scalars(select(Rejected.raw))) == sorted(["new raw", PURGED])
        assert s.scalars(select(Alert.trigger_post_id)).one() == 1
    with session_scope(engine) as s:  # idempotent
        again = purge_text(s, older_than_days=365, now=NOW)
    assert (again.posts, again.rejected) == (0, 0)


def test_purge_refuses_zero_days(engine: Engine) -> None:
    with session_scope(engine) as s, pytest.raises(EmomonError, match="at least 1 day"):
        purge_text(s, older_than_days=0)


def test_purge_refuses_periods_past_a_datetime(engine: Engine) -> None:
    with session_scope(engine) as s, pytest.raises(EmomonError, match="is over 365000 days"):
        purge_text(s, older_than_days=1_000_000)
