"""Item 1 and the retention part of item 9: retention counts from ingestion and means what it says.

The quick-start command on the shipped examples (dated 2025) keeps every text; a purge removes
text, URLs and orphaned handles by ingest and rejection date, keeps pseudonyms stable, and
leaves no removed text in the SQLite file or its -wal while another connection is open.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, select, text, update

from monitor.cli import cli
from monitor.clock import utcnow
from monitor.ingest.stage import adhoc_source, ingest
from monitor.settings import Settings
from monitor.store.engine import make_engine, session_scope
from monitor.store.retention import PURGED, PURGED_HANDLE, purge_stage
from monitor.store.schema import Author, Post, Rejected

SECRET = "zebra-umbrella-4417 is having a rough week"


def _stage(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in doc["stages"] if s["stage"] == name)


def test_quick_start_twice_keeps_every_example_text(examples_copy: Path, emomon: Callable[..., Any]) -> None:
    runs = []
    for _ in range(2):  # README quick start, command 1: `emomon run` on the embedded default
        done = emomon(examples_copy, "run", "--json")
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
        runs.append(json.loads(done.stdout))
    inserted = _stage(runs[0], "ingest")["counts"]["inserted"]
    assert inserted > 20
    assert _stage(runs[1], "ingest")["counts"]["duplicate"] == inserted
    assert [_stage(r, "purge")["counts"]["posts"] for r in runs] == [0, 0]
    with sqlite3.connect(examples_copy / "emomon.db") as db:
        total, kept, urls = db.execute("SELECT count(*), count(text), count(url) FROM posts").fetchone()
        stored = dict(
            db.execute(
                "SELECT p.external_id, p.text FROM posts p JOIN sources s ON s.id = p.source_id "
                "WHERE s.name = 'example-jsonl'"
            ).fetchall()
        )
    assert (total, kept) == (inserted, inserted)
    assert urls > 0
    lines = (examples_copy / "examples" / "posts.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines if line.strip().startswith("{")]
    expected = {r["id"]: r["text"] for r in records if r.get("id") in stored}
    assert len(expected) >= 5
    assert {k: stored[k] for k in expected} == expected


def _jsonl(path: Path, posts: list[tuple[str, str, str]]) -> Path:
    path.write_text(
        "".join(
            json.dumps(
                {
                    "id": i,
                    "text": t,
                    "author": a,
                    "created_at": "2019-05-01T12:00:00Z",
                    "url": f"https://social.example/@{a}/{i}",
                }
            )
            + "\n"
            for i, t, a in posts
        ),
        encoding="utf-8",
    )
    return path


def _age(engine: Engine, external_id: str, days: int) -> None:
    with session_scope(engine) as s:
        s.execute(
            update(Post).where(Post.external_id == external_id).values(ingested_at=utcnow() - timedelta(days=days))
        )


def _texts(engine: Engine) -> dict[str, str | None]:
    with session_scope(engine) as s:
        return dict(s.execute(select(Post.external_id, Post.text)).all())


def test_purge_counts_from_ingestion_and_resent_posts_follow_retention(
    tmp_path: Path, make_settings: Callable[..., Settings], engine: Engine
) -> None:
    settings = make_settings("[retention]\nraw_text_days = 30\n")
    feed = adhoc_source(
        str(
            _jsonl(
                tmp_path / "old.jsonl",
                [
                    ("old", "ingested long ago", "harbor_light"),
                    ("recent", "ingested last week", "harbor_light"),
                    ("today", "ingested today, posted in 2019", "tern"),
                ],
            )
        )
    )
    first = ingest(engine, settings, [feed])
    assert first.totals()["inserted"] == 3
    _age(engine, "old", 400)
    _age(engine, "recent", 7)

    result = purge_stage(engine, settings)
    assert result.counts["posts"] == 1  # only the post ingested 400 days ago; post dates do not count
    assert _texts(engine) == {"old": None, "recent": "ingested last week", "today": "ingested today, posted in 2019"}
    purge_stage(engine, settings, older_than_days=5)  # an operator's shorter purge
    assert _texts(engine)["recent"] is None

    again = ingest(engine, settings, [feed])  # the source sends all three again
    assert again.totals()["duplicate"] == 3
    texts = _texts(engine)
    assert texts["old"] is None  # outside retention: stays purged
    assert texts["recent"] == "ingested last week"  # inside the 30 days: its text comes back
    with session_scope(engine) as s:
        urls = dict(s.execute(select(Post.external_id, Post.url)).all())
        recent_at = s.scalar(select(Post.ingested_at).where(Post.external_id == "recent"))
    assert urls["old"] is None
    assert urls["recent"] == "https://social.example/@harbor_light/recent"
    assert utcnow() - recent_at > timedelta(days=6)  # restoring does not restart the clock


def test_rejected_records_expire_by_rejection_date_and_stay_purged(
    tmp_path: Path, make_settings: Callable[..., Settings], engine: Engine
) -> None:
    settings = make_settings()
    path = tmp_path / "bad.jsonl"
    path.write_text(
        json.dumps({"id": "r1", "text": "", "author": "someone", "created_at": utcnow().isoformat(), "note": SECRET})
        + "\n",
        encoding="utf-8",
    )
    feed = adhoc_source(str(path))
    assert ingest(engine, settings, [feed]).totals()["rejected"] == 1
    assert purge_stage(engine, settings).counts["rejected"] == 0  # rejected today: kept
    with session_scope(engine) as s:
        s.execute(update(Rejected).values(rejected_at=utcnow() - timedelta(days=400)))
    assert purge_stage(engine, settings).counts["rejected"] == 1
    ingest(engine, settings, [feed])  # the same bad record again
    with session_scope(engine) as s:
        raw, at = s.execute(select(Rejected.raw, Rejected.rejected_at)).one()
    assert raw == PURGED
    assert utcnow() - at > timedelta(days=399)  # still counted from the first rejection


def test_purge_clears_orphaned_handles_and_pseudonyms_stay_stable(
    tmp_path: Path, make_settings: Callable[..., Settings], engine: Engine
) -> None:
    settings = make_settings()
    first = adhoc_source(
        str(_jsonl(tmp_path / "a.jsonl", [("p1", "first post", "harbor_light"), ("p2", "hello", "tern")]))
    )
    ingest(engine, settings, [first])
    with session_scope(engine) as s:
        before = dict(s.execute(select(Author.handle, Author.pseudonym)).all())
    _age(engine, "p1", 400)
    assert purge_stage(engine, settings).counts["authors"] == 1
    with session_scope(engine) as s:
        handles = s.scalars(select(Author.handle)).all()
        pseudonyms = set(s.scalars(select(Author.pseudonym)).all())
    assert "harbor_light" not in handles and "tern" in handles
    assert [h for h in handles if h.startswith(PURGED_HANDLE)]
    assert pseudonyms == set(before.values())
    assert purge_stage(engine, settings).counts["authors"] == 0  # idempotent

    _jsonl(tmp_path / "a.jsonl", [("p3", "back again", "harbor_light")])  # the feed moves on
    ingest(engine, settings, [first])
    with session_scope(engine) as s:
        rows = s.execute(select(Post.external_id, Author.pseudonym).join(Author, Author.id == Post.author_id)).all()
    by_post = dict(rows)
    assert by_post["p3"] == by_post["p1"] == before["harbor_light"]


def test_purged_text_leaves_neither_database_nor_wal_with_another_connection_open(
    tmp_path: Path, make_settings: Callable[..., Settings], engine: Engine
) -> None:
    settings = make_settings()
    if not settings.database.url.startswith("sqlite"):
        return  # the -wal file is SQLite's
    ingest(
        engine,
        settings,
        [
            adhoc_source(
                str(_jsonl(tmp_path / "s.jsonl", [("s1", SECRET, "harbor_light"), ("s2", "an ordinary day", "tern")]))
            )
        ],
    )
    db_file = Path(settings.database.url.removeprefix("sqlite:///"))
    other = make_engine(settings.database.url)
    with other.connect() as reader:  # another process's connection, open during the purge
        assert reader.execute(text("SELECT count(*) FROM posts")).scalar_one() == 2
        reader.commit()
        _age(engine, "s1", 400)
        assert purge_stage(engine, settings).counts["posts"] == 1
        wal = db_file.with_name(db_file.name + "-wal")
        needle = SECRET.encode()
        assert needle not in db_file.read_bytes()
        assert not wal.exists() or needle not in wal.read_bytes()
        assert b"harbor_light" not in db_file.read_bytes()
        assert reader.execute(text("PRAGMA secure_delete")).scalar_one() == 1
    other.dispose()


@pytest.mark.parametrize(("days", "purges"), [(365, True), (0, False)])
def test_cron_and_schedule_run_the_purge_while_retention_is_on(
    days: int,
    purges: bool,
    make_settings: Callable[..., Settings],
    runner: CliRunner,
) -> None:
    settings = make_settings(f"[retention]\nraw_text_days = {days}\n")
    base = ["--config", str(settings.path), "--db", settings.database.url]
    cron = runner.invoke(cli, [*base, "cron"])
    assert cron.exit_code == 0, cron.output
    jobs = runner.invoke(cli, [*base, "schedule", "--list"])
    assert jobs.exit_code == 0, jobs.output
    purge_line = [line for line in cron.output.splitlines() if line.startswith("0 3 * * * ")]
    assert bool(purge_line) is purges
    assert all(line.split(" -q run --stage ")[1].startswith("purge ") for line in purge_line)
    assert ("emomon-purge\t" in jobs.output) is purges
    assert "emomon-ingest\t" in jobs.output
