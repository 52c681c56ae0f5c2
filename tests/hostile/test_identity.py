"""Item 4: an excluded author is excluded however the handle is written, everywhere.

Every test runs the installed ``emomon`` on a real store (SQLite, or PostgreSQL with
``--backend postgres``) and then reads every text column of every table: nothing an excluded
author wrote, and no spelling of their handle, may be left anywhere.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hostile.stores import Emomon, cli, count, ingest, jsonl, site_with, stored_text
from sqlalchemy import Engine, func, select

from monitor.store.engine import session_scope
from monitor.store.schema import Author, Post, Rejected

T = "2025-03-01T00:00:00Z"


def test_every_spelling_of_an_excluded_handle_is_excluded(
    tmp_path: Path, emomon: Emomon, engine: Engine, db_url: str
) -> None:
    site = site_with(tmp_path, '[privacy]\nexclude_authors = ["alice", "josé"]\n')
    spellings = ["alice ", "@alice", "ＡＬＩＣＥ", "\u202e@Alice\u200b", "Jose\u0301", "JOSÉ", "\x9bJos\u00e9"]
    path = jsonl(
        tmp_path / "p.jsonl",
        *({"id": str(i), "text": f"secret-{i}", "author": a, "created_at": T} for i, a in enumerate(spellings)),
        {"id": "k", "text": "kept", "author": "amy", "created_at": T},
    )
    totals = ingest(emomon, site, db_url, str(path))
    assert (totals["excluded"], totals["inserted"]) == (len(spellings), 1)
    everything = stored_text(engine)
    assert "secret" not in everything and "alice" not in everything and "jos" not in everything
    with session_scope(engine) as s:
        assert s.scalars(select(Author.handle)).all() == ["amy"]


OUTBOX_ACTOR = "https://social.example.org/users/heron"


def outbox(path: Path) -> Path:
    """A Mastodon outbox: heron's note, heron's note with a date that is text, heron's boost, wren's note."""
    note = {
        "type": "Note",
        "id": "https://social.example.org/n/1",
        "content": "<p>heron secret one</p>",
        "attributedTo": OUTBOX_ACTOR,
        "published": T,
    }
    path.write_text(
        json.dumps(
            {
                "actor": OUTBOX_ACTOR,
                "orderedItems": [
                    {"type": "Create", "actor": OUTBOX_ACTOR, "object": note},
                    {
                        "type": "Create",
                        "actor": OUTBOX_ACTOR,
                        "published": "posted by heron: secret two",
                        "object": {**note, "id": "https://social.example.org/n/2", "published": None},
                    },
                    {"type": "Announce", "actor": OUTBOX_ACTOR, "object": "https://elsewhere.example/n/9"},
                    {
                        "type": "Create",
                        "object": {
                            **note,
                            "id": "https://other.example/n/3",
                            "content": "<p>wren day</p>",
                            "attributedTo": "https://other.example/users/wren",
                        },
                    },
                ],
            }
        ),
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize(
    "entry",
    [
        "heron@social.example.org",
        "@Heron@Social.Example.org",
        "https://social.example.org/@heron",
        "mastodon:acct:heron@social.example.org",
    ],
)
def test_a_mastodon_actor_url_is_excluded_by_any_spelling_of_its_account(
    tmp_path: Path, emomon: Emomon, engine: Engine, db_url: str, entry: str
) -> None:
    site = site_with(tmp_path, f"[privacy]\nexclude_authors = [{json.dumps(entry)}]\n")
    totals = ingest(emomon, site, db_url, str(outbox(tmp_path / "outbox.json")), "--format", "mastodon")
    assert (totals["read"], totals["excluded"], totals["inserted"], totals["rejected"]) == (4, 3, 1, 0)
    everything = stored_text(engine)
    assert "heron" not in everything and "secret" not in everything and "wren day" in everything


def x_archive(root: Path, username: str) -> Path:
    data = root / "data"
    data.mkdir(parents=True)
    tweets = [
        {
            "tweet": {
                "id_str": "1",
                "full_text": "i cannot go on",
                "created_at": "posted by quiet_harbor: i cannot go on",
            }
        },
        {"tweet": {"id_str": "2", "full_text": "a quiet day", "created_at": "Sat Mar 01 10:00:00 +0000 2025"}},
    ]
    (data / "tweets.js").write_text("window.YTD.tweets.part0 = " + json.dumps(tweets), encoding="utf-8")
    (data / "account.js").write_text(
        "window.YTD.account.part0 = " + json.dumps([{"account": {"username": username}}]), encoding="utf-8"
    )
    return root


def test_a_rejected_tweet_carries_its_author_and_goes_when_the_author_is_excluded(
    tmp_path: Path, emomon: Emomon, engine: Engine, db_url: str
) -> None:
    archive = x_archive(tmp_path / "x-archive", "Quiet_Harbor")
    site = site_with(tmp_path, "")
    totals = ingest(emomon, site, db_url, str(archive), "--format", "x")
    assert (totals["rejected"], totals["inserted"]) == (1, 1)
    with session_scope(engine) as s:
        reason, author_id = s.execute(select(Rejected.reason, Rejected.author_id)).one()
        assert author_id is not None  # the error record kept its author
    assert reason == "unparsable date (a text of 38 characters)"
    listed = json.loads(cli(emomon, site, db_url, "rejected", "list", "--json").stdout)
    assert "quiet_harbor" not in json.dumps(listed).casefold()

    # Excluded later: the next ingest, of anything, removes the rejected record with the posts.
    (site / "config.toml").write_text('[privacy]\nexclude_authors = ["@QUIET_HARBOR"]\n', encoding="utf-8")
    other = jsonl(tmp_path / "other.jsonl", {"id": "o", "text": "unrelated", "author": "amy", "created_at": T})
    ingest(emomon, site, db_url, str(other))
    everything = stored_text(engine)
    assert "quiet_harbor" not in everything and "cannot go on" not in everything and "a quiet day" not in everything
    assert count(engine, Rejected) == 0 and count(engine, Post) == 1

    again = ingest(emomon, site, db_url, str(archive), "--format", "x")
    assert (again["excluded"], again["rejected"], again["inserted"]) == (2, 0, 0)


def test_a_record_whose_author_cannot_be_read_goes_when_the_author_is_excluded_later(
    tmp_path: Path, emomon: Emomon, engine: Engine, db_url: str
) -> None:
    site = site_with(tmp_path, "")
    path = jsonl(
        tmp_path / "p.jsonl",
        '{"id": "9", "text": "secret nine", "author": "Alice"',  # broken JSON
        '{"id": "8", "text": "secret eight", "author": "https://social.example.org/users/heron"',
        {"id": "1", "text": "kept", "author": "amy", "created_at": T},
    )
    assert ingest(emomon, site, db_url, str(path))["rejected"] == 2
    (site / "config.toml").write_text(
        '[privacy]\nexclude_authors = ["alice", "heron@social.example.org"]\n', encoding="utf-8"
    )
    ingest(emomon, site, db_url, str(jsonl(tmp_path / "o.jsonl", {"id": "o", "text": "other", "created_at": T})))
    assert count(engine, Rejected) == 0
    assert "secret" not in stored_text(engine)


def test_one_author_however_written_one_pseudonym_and_reveal_prints_the_normal_form(
    tmp_path: Path, emomon: Emomon, engine: Engine, db_url: str
) -> None:
    site = site_with(tmp_path, "[privacy]\nallow_reveal = true\n")
    spellings = ["Alice", "@alice", " alice ", "ＡＬＩＣＥ", "a\u200blice"]
    path = jsonl(
        tmp_path / "p.jsonl",
        *({"id": str(i), "text": f"post {i}", "author": a, "created_at": T} for i, a in enumerate(spellings)),
    )
    assert ingest(emomon, site, db_url, str(path))["inserted"] == len(spellings)
    with session_scope(engine) as s:
        (pseudonym,) = s.scalars(select(Author.pseudonym)).all()
        assert s.scalar(select(func.count(func.distinct(Post.author_id)))) == 1
    shown = json.loads(cli(emomon, site, db_url, "authors", "reveal", pseudonym, "--reason", "test", "--json").stdout)
    assert (shown["handle"], shown["platform"]) == ("alice", "file")
