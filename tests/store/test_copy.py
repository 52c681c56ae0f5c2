"""Tests for monitor.store.copy and ``emomon db copy``: a whole store moved between databases."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, func, select

from monitor.cli import cli
from monitor.errors import EmomonError
from monitor.ingest.stage import adhoc_source, ingest
from monitor.store import scores as score_store
from monitor.store.copy import copy_store, table_checksum, tables
from monitor.store.engine import ensure_schema, make_engine, session_scope
from monitor.store.posts import pseudonym_salt
from monitor.store.schema import SCORE_COLUMNS, Alert, Post, Source

T0 = datetime(2025, 3, 1, 8, 0, 0, 250_000, tzinfo=UTC)


def fill(url: str, tmp_path: Path, make_settings) -> None:
    """A small store with a row in the main tables: ingested posts and a rejection, scores, an alert."""
    feed = tmp_path / "posts.jsonl"
    lines = [
        {
            "id": f"p{i}",
            "text": f"post {i}: today was heavy",
            "author": f"user{i % 3}",
            "created_at": f"2025-03-0{1 + i % 5}T08:00:00Z",
        }
        for i in range(12)
    ]
    feed.write_text("\n".join(json.dumps(r) for r in lines) + "\n{broken\n", encoding="utf-8")
    engine = make_engine(url)
    ensure_schema(engine)
    settings = make_settings(EMOMON_DATABASE_URL=url)
    report = ingest(engine, settings, [adhoc_source(str(feed))])
    assert report.totals()["inserted"] == 12 and report.totals()["rejected"] == 1
    with session_scope(engine) as s:
        ids = s.scalars(select(Post.id).order_by(Post.id)).all()
        probs = np.linspace(0, 1, len(ids) * len(SCORE_COLUMNS), dtype=np.float32).reshape(len(ids), -1)
        blobs = score_store.pack_probs(probs)
        score_store.write_scores(
            s,
            "m-v1",
            [
                {
                    "post_id": pid,
                    "status": "scored",
                    "reason": None,
                    "depression_index": float(probs[i, 0]),
                    "probs": blobs[i],
                    "windows": 1,
                    "text_hash": "ab" * 4,
                    "scored_at": T0,
                }
                for i, pid in enumerate(ids)
            ],
        )
        s.add(
            Alert(
                rule="level",
                subject_kind="author",
                subject="a-1",
                window_start=T0,
                window_end=T0,
                evidence={"post_ids": list(ids[:3]), "mean": 0.625, "z": {"b": 1, "a": None}},
                severity="high",
                status="new",
                trigger_post_id=ids[0],
                trigger_index=2,
                trigger_at=T0,
                created_at=T0,
                dedup_key="level:a-1",
            )
        )
    engine.dispose()


def checksums(url: str) -> dict[str, tuple[int, str]]:
    engine = make_engine(url)
    with engine.connect() as conn:
        found = {t.name: table_checksum(conn, t) for t in tables()}
    engine.dispose()
    return found


def test_round_trip_keeps_every_table(tmp_path: Path, make_settings, make_db_url) -> None:
    """SQLite -> this run's backend -> SQLite: the same counts and checksums at every step."""
    first, middle, last = (
        f"sqlite:///{tmp_path / 'first.db'}",
        make_db_url("middle"),
        f"sqlite:///{tmp_path / 'last.db'}",
    )
    fill(first, tmp_path, make_settings)
    there = copy_store(first, middle, lock_timeout=5)
    back = copy_store(middle, last, lock_timeout=5)
    assert there.ok and back.ok
    original = checksums(first)
    assert original == checksums(middle) == checksums(last)
    assert {t.name: (t.rows, t.checksum) for t in back.tables} == original
    for name in ("meta", "sources", "authors", "posts", "rejected", "scores", "alerts", "runs"):
        assert original[name][0] > 0, name
    # The copy is a working store: the salt came along, and new rows get fresh ids.
    engine = make_engine(middle)
    with session_scope(engine) as s:
        assert pseudonym_salt(s) == pseudonym_salt(s)
        before = s.scalar(select(func.max(Source.id)))
        s.add(Source(name="later", kind="jsonl", location="later.jsonl", paused=False, created_at=T0))
        s.flush()
        assert s.scalar(select(func.max(Source.id))) == before + 1
    engine.dispose()
    source_engine = make_engine(first)
    with session_scope(source_engine) as a, session_scope(make_engine(last)) as b:
        assert pseudonym_salt(a) == pseudonym_salt(b)


def test_a_non_empty_target_is_refused(tmp_path: Path, make_settings, db_url: str) -> None:
    first = f"sqlite:///{tmp_path / 'first.db'}"
    fill(first, tmp_path, make_settings)
    copy_store(first, db_url, lock_timeout=5)
    before = checksums(db_url)
    with pytest.raises(EmomonError, match="is not empty .*never merges"):
        copy_store(first, db_url, lock_timeout=5)
    with pytest.raises(EmomonError, match="same database"):
        copy_store(first, first, lock_timeout=5)
    assert checksums(db_url) == before


def test_cli_copies_and_prints_the_verification(tmp_path: Path, make_settings, runner, db_url: str) -> None:
    first = f"sqlite:///{tmp_path / 'first.db'}"
    fill(first, tmp_path, make_settings)
    result = runner.invoke(cli, ["--db", first, "db", "copy", "--to", db_url, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["ok"] and {t["table"] for t in doc["tables"]} == {t.name for t in tables()}
    assert all(t["rows"] == t["target_rows"] and t["checksum"] == t["target_checksum"] for t in doc["tables"])
    again = runner.invoke(cli, ["db", "copy", "--from", first, "--to", db_url])
    assert again.exit_code == 1 and "never merges" in again.output and "Traceback" not in again.output


def test_engine_fixture_database_is_a_valid_empty_target(engine: Engine, tmp_path: Path, make_settings) -> None:
    first = f"sqlite:///{tmp_path / 'first.db'}"
    fill(first, tmp_path, make_settings)
    assert copy_store(first, engine.url.render_as_string(hide_password=False), lock_timeout=5).ok
