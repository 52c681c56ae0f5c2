"""Item 5: retention and removal leave no copy behind, and an author keeps one pseudonym.

Real ``emomon`` commands on a real store (SQLite, or PostgreSQL with ``--backend postgres``):
rejection reasons never carry record text, ``sources remove --purge`` takes the handles too, the
alert file holds no post text, a CSV post without ids that adds ``#nobots`` later goes, renaming
a source or purging text keeps each author one row with one pseudonym, and an older store keeps
its authors' pseudonyms through ``emomon db upgrade``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import numpy as np
from hostile.stores import Emomon, cli, count, ingest, jsonl, site_with, stored_text
from review_seed import DRIFT, STEADY, T0, posts_plan
from sqlalchemy import Engine, select, text, update

from monitor.clock import utcnow
from monitor.identity import legacy_pseudonym
from monitor.store import scores as score_store
from monitor.store.engine import make_engine, session_scope, upgrade
from monitor.store.retention import PURGED, PURGED_HANDLE
from monitor.store.schema import SCORE_COLUMNS, Author, Post, Rejected, Source

T = "2025-03-01T00:00:00Z"
QUIET = "posted by quiet_harbor: i cannot go on"


def age(engine: Engine, days: int) -> None:
    """Make every post and rejected record ``days`` days old in the store."""
    with session_scope(engine) as s:
        s.execute(update(Post).values(ingested_at=utcnow() - timedelta(days=days)))
        s.execute(update(Rejected).values(rejected_at=utcnow() - timedelta(days=days)))


def pseudonyms(engine: Engine) -> dict[str, str]:
    """Post text -> its author's pseudonym (posts that have text)."""
    with session_scope(engine) as s:
        return dict(
            s.execute(
                select(Post.text, Author.pseudonym)
                .join(Author, Author.id == Post.author_id)
                .where(Post.text.is_not(None))
            ).all()
        )


def test_a_rejection_reason_never_carries_the_record_text(
    tmp_path: Path, emomon: Emomon, engine: Engine, db_url: str
) -> None:
    site = site_with(tmp_path, "")
    huge = "i cannot go on " * 20_000 + "quiet_harbor"
    path = jsonl(
        tmp_path / "p.jsonl",
        {"id": "1", "text": "t", "author": "a", "created_at": QUIET},
        {"id": "2", "text": "t", "author": "a", "created_at": huge},
        {"id": "3", "text": "t", "author": "a", "created_at": "2025-02-30"},
        {"id": "4", "text": "t", "author": "a", "created_at": T},
    )
    assert ingest(emomon, site, db_url, str(path))["rejected"] == 3
    listed = json.loads(cli(emomon, site, db_url, "rejected", "list", "--json").stdout)
    reasons = sorted(r["reason"] for r in listed["rejected"])
    assert reasons == [
        "unparsable date '2025-02-30' in column 'created_at'",
        "unparsable date (a text of 300,012 characters) in column 'created_at'",
        "unparsable date (a text of 38 characters) in column 'created_at'",
    ]
    age(engine, 400)
    cli(emomon, site, db_url, "purge", "--older-than", "30")
    with session_scope(engine) as s:
        assert set(s.scalars(select(Rejected.raw))) == {PURGED}
    assert "quiet_harbor" not in stored_text(engine) and "cannot go on" not in stored_text(engine)


def test_sources_remove_purge_takes_the_handles_and_reveal_says_so(
    tmp_path: Path, emomon: Emomon, engine: Engine, db_url: str
) -> None:
    site = site_with(tmp_path, "[privacy]\nallow_reveal = true\n")
    path = jsonl(
        tmp_path / "forum.jsonl",
        {"id": "1", "text": "hello", "author": "harbor_light", "created_at": T},
        {"id": "2", "text": "hm", "author": "harbor_light", "created_at": "not a date"},
    )
    cli(emomon, site, db_url, "sources", "add", "forum", str(path))
    ingest(emomon, site, db_url, "forum")
    (pseudonym,) = set(pseudonyms(engine).values())
    shown = cli(emomon, site, db_url, "authors", "reveal", pseudonym, "--reason", "check-in").stdout
    assert "harbor_light" in shown
    cli(emomon, site, db_url, "sources", "remove", "forum", "--purge")
    assert "harbor_light" not in stored_text(engine)
    refused = cli(emomon, site, db_url, "authors", "reveal", pseudonym, "--reason", "again", ok=False)
    assert "harbor_light" not in refused.stdout + refused.stderr and PURGED_HANDLE not in refused.stderr
    assert "no longer stored" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1


def seed_scored(engine: Engine) -> None:
    """review_seed's two invented authors, scored, in the test's store (posts ingested today)."""
    arrived = utcnow()
    with session_scope(engine) as s:
        source = Source(name="forum", kind="jsonl", location="forum.jsonl", paused=False, created_at=T0)
        authors = {
            who: Author(platform="file", handle=handle, pseudonym=who)
            for who, handle in ((DRIFT, "quiet_harbor"), (STEADY, "plain_sky"))
        }
        s.add_all([source, *authors.values()])
        s.flush()
        rows = []
        for i, (who, at, index) in enumerate(posts_plan(), start=1):
            post = Post(
                source_id=source.id,
                external_id=str(i),
                author_id=authors[who].id,
                created_at=at,
                text=f"invented post {i} about the weather",
                content_hash=f"{i:032d}",
                ingested_at=arrived,
            )
            s.add(post)
            s.flush()
            probs = np.full((1, len(SCORE_COLUMNS)), 0.05, dtype=np.float32)
            probs[0, SCORE_COLUMNS.index("goemo_sadness")] = index
            rows.append(
                {
                    "post_id": post.id,
                    "status": "scored",
                    "reason": None,
                    "depression_index": index,
                    "probs": score_store.pack_probs(probs)[0],
                    "windows": 1,
                    "text_hash": f"{i:08d}",
                    "scored_at": at,
                }
            )
        score_store.write_scores(s, "test-v1", rows)


def test_the_alert_file_holds_no_post_text_and_purge_clears_what_older_versions_wrote(
    tmp_path: Path, emomon: Emomon, engine: Engine, db_url: str
) -> None:
    seed_scored(engine)
    site = site_with(
        tmp_path, '[alerts]\nchannels = ["file"]\nexcerpt = true\n[channels.file]\npath = "alerts.jsonl"\n'
    )
    cli(emomon, site, db_url, "alerts", "run")
    sent = (site / "alerts.jsonl").read_text(encoding="utf-8")
    assert DRIFT in sent and "invented post" not in sent and '"excerpt"' not in sent

    # A line an earlier version wrote with the excerpt on: the next purge removes the text only.
    older = json.loads(sent.splitlines()[0])
    (site / "alerts.jsonl").write_text(
        sent + json.dumps({**older, "excerpt": "invented post 7 about the weather"}) + "\n", encoding="utf-8"
    )
    done = json.loads(cli(emomon, site, db_url, "purge", "--older-than", "365", "--json").stdout)
    assert done["alert_file_excerpts"] == 1
    lines = [json.loads(line) for line in (site / "alerts.jsonl").read_text(encoding="utf-8").splitlines()]
    assert lines[-1] == older and "invented post" not in json.dumps(lines)


def write_csv(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["text", "author", "created_at"])
        out.writerows(rows)
    return path


def test_a_csv_post_without_an_id_that_adds_nobots_later_is_removed(
    tmp_path: Path, emomon: Emomon, engine: Engine, db_url: str
) -> None:
    site = site_with(tmp_path, "")
    path = tmp_path / "posts.csv"
    write_csv(
        path,
        [
            ("my first secret", "dora", "2025-03-01T10:00:00Z"),
            ("my second secret", "dora", "2025-03-02T10:00:00Z"),
            ("a normal day", "amy", "2025-03-01T10:00:00Z"),
        ],
    )
    assert ingest(emomon, site, db_url, str(path))["inserted"] == 3
    write_csv(
        path,
        [
            ("my first secret #nobots", "dora", "2025-03-01T10:00:00Z"),  # the marker added
            ("(edited) please leave me out #NoBots", "dora", "2025-03-02T10:00:00Z"),  # text changed too
            ("a normal day", "amy", "2025-03-01T10:00:00Z"),
        ],
    )
    totals = ingest(emomon, site, db_url, str(path))
    assert (totals["excluded"], totals["duplicate"]) == (2, 1)
    everything = stored_text(engine)
    assert "secret" not in everything and "dora" not in everything and "a normal day" in everything


def test_renaming_a_source_keeps_its_authors_pseudonyms(
    tmp_path: Path, emomon: Emomon, engine: Engine, db_url: str
) -> None:
    site = site_with(tmp_path, "")
    path = tmp_path / "forum.jsonl"
    rows = [
        {"id": "1", "text": "first", "author": "Harbor_Light", "created_at": T},
        {"id": "2", "text": "second", "author": "tern", "created_at": T},
    ]
    ingest(emomon, site, db_url, str(jsonl(path, *rows)))  # ad hoc first
    before = pseudonyms(engine)
    cli(emomon, site, db_url, "sources", "add", "forum", str(path))
    ingest(emomon, site, db_url, "forum")  # the same location configured under a name
    config = site / "config.toml"
    config.write_text(config.read_text(encoding="utf-8").replace('"forum"', '"forum-renamed"'), encoding="utf-8")
    jsonl(path, *rows, {"id": "3", "text": "third", "author": "@harbor_light", "created_at": T})
    ingest(emomon, site, db_url, "forum-renamed")
    after = pseudonyms(engine)
    assert after == {**before, "third": before["first"]}
    assert count(engine, Author) == 2


def test_after_purge_a_new_post_finds_the_author_and_reveal_prints_the_handle(
    tmp_path: Path, emomon: Emomon, engine: Engine, db_url: str
) -> None:
    site = site_with(tmp_path, "[privacy]\nallow_reveal = true\n")
    path = tmp_path / "p.jsonl"
    ingest(
        emomon, site, db_url, str(jsonl(path, {"id": "1", "text": "old", "author": "harbor_light", "created_at": T}))
    )
    (pseudonym,) = set(pseudonyms(engine).values())
    age(engine, 400)
    cli(emomon, site, db_url, "purge", "--older-than", "30")
    refused = cli(emomon, site, db_url, "authors", "reveal", pseudonym, "--reason", "check-in", ok=False)
    assert PURGED_HANDLE not in refused.stdout + refused.stderr and "no longer stored" in refused.stderr
    ingest(
        emomon, site, db_url, str(jsonl(path, {"id": "2", "text": "new", "author": "@Harbor_Light", "created_at": T}))
    )
    with session_scope(engine) as s:
        assert s.execute(select(Author.pseudonym, Author.handle)).all() == [(pseudonym, "harbor_light")]
    shown = json.loads(
        cli(emomon, site, db_url, "authors", "reveal", pseudonym, "--reason", "check-in", "--json").stdout
    )
    assert shown["handle"] == "harbor_light"


def test_an_older_store_keeps_its_authors_pseudonyms_through_db_upgrade(
    tmp_path: Path, emomon: Emomon, make_db_url: Callable[[str], str]
) -> None:
    db_url = make_db_url("older")
    old = make_engine(db_url)
    upgrade(old, "0005")  # the schema before identities
    salt = "older-salt"
    dee, tern = legacy_pseudonym(salt, "forum", "Dee"), legacy_pseudonym(salt, "forum", "tern")
    path = jsonl(
        tmp_path / "forum.jsonl",
        {"id": "1", "text": "one", "author": "Dee", "created_at": T},
        {"id": "2", "text": "two", "author": "tern", "created_at": T},
    )
    stamp = utcnow().replace(tzinfo=None)
    with old.begin() as conn:
        conn.execute(text("INSERT INTO meta (key, value) VALUES ('pseudonym_salt', :s)"), {"s": salt})
        conn.execute(
            text(
                "INSERT INTO sources (id, name, kind, location, paused, created_at) "
                "VALUES (1, 'forum', 'jsonl', :loc, false, :at)"
            ),
            {"loc": str(path), "at": stamp},
        )
        # Dee as written; tern split by the old purge: a placeholder row and a second row, one pseudonym.
        for handle, pseudonym in (("Dee", dee), (PURGED_HANDLE + "0a", tern), ("tern", tern)):
            conn.execute(
                text("INSERT INTO authors (platform, handle, pseudonym) VALUES ('forum', :h, :p)"),
                {"h": handle, "p": pseudonym},
            )
        ids = dict(conn.execute(text("SELECT handle, id FROM authors")).all())
        for ext, who, body in (("1", "Dee", "one"), ("old", PURGED_HANDLE + "0a", None), ("2", "tern", "two")):
            conn.execute(
                text(
                    "INSERT INTO posts (source_id, external_id, author_id, created_at, text, content_hash, "
                    "ingested_at) VALUES (1, :ext, :author, :at, :body, :ext, :at)"
                ),
                {"ext": ext, "author": ids[who], "at": stamp, "body": body},
            )
        conn.execute(
            text(
                "INSERT INTO rejected (source_id, location, reason, raw, rejected_at) VALUES "
                "(1, 'x:9', :reason, :raw, :at)"
            ),
            {"reason": f"unparsable date {QUIET!r} in column 'created_at'", "raw": "{}", "at": stamp},
        )
    old.dispose()
    site = site_with(tmp_path, f'[[sources]]\nname = "forum"\nkind = "jsonl"\nlocation = "{path}"\n')
    cli(emomon, site, db_url, "db", "upgrade")
    engine = make_engine(db_url)
    try:
        with session_scope(engine) as s:
            assert sorted(s.scalars(select(Author.handle))) == ["Dee", "tern"]  # the split author merged
            assert (
                s.scalar(select(Rejected.reason)) == "unparsable date (a text of 38 characters) in column 'created_at'"
            )
        jsonl(
            path,
            {"id": "1", "text": "one", "author": "Dee", "created_at": T},
            {"id": "2", "text": "two", "author": "tern", "created_at": T},
            {"id": "3", "text": "three", "author": "@dee", "created_at": T},
        )
        ingest(emomon, site, db_url, "forum")
        assert pseudonyms(engine) == {"one": dee, "two": tern, "three": dee}
        with session_scope(engine) as s:
            assert sorted(s.execute(select(Author.pseudonym, Author.handle, Author.platform)).all()) == sorted(
                [(dee, "dee", "file"), (tern, "tern", "file")]
            )
            assert s.scalar(select(Post.author_id).where(Post.external_id == "old")) == ids["tern"]
    finally:
        engine.dispose()
