"""Opt-out means what it says: an opted-out record is never stored (not even raw as a rejection),
an excluded author's posts and handle go, and hidden or full-width markers still count."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from monitor.ingest.stage import adhoc_source, ingest
from monitor.ingest.text import marker_pattern
from monitor.settings import Settings
from monitor.store.engine import session_scope
from monitor.store.schema import Alert, Author, Post, Rejected

T = "2025-03-01T00:00:00Z"


def jsonl(path: Path, *rows: dict | str) -> str:
    path.write_text(
        "".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows), encoding="utf-8"
    )
    return str(path)


def everything(engine: Engine) -> str:
    """Every stored text, handle and rejected raw record, as one string."""
    with session_scope(engine) as s:
        parts = [*s.scalars(select(Post.text)), *s.scalars(select(Author.handle)), *s.scalars(select(Rejected.raw))]
    return "\n".join(p or "" for p in parts)


def count(engine: Engine, table: type) -> int:
    with session_scope(engine) as s:
        return s.scalar(select(func.count()).select_from(table)) or 0


def test_an_opted_out_record_that_would_be_rejected_is_not_stored_raw(
    tmp_path: Path, make_settings: Callable[..., Settings], engine: Engine
) -> None:
    path = jsonl(
        tmp_path / "p.jsonl",
        {"id": "1", "text": "secret one #nobots", "author": "zed", "created_at": "not a date"},
        {"id": "2", "text": "secret two #nobots " + "x" * 100, "author": "zed"},
        '{"id": "3", "text": "secret three #nobots", "author": "zed"',  # broken JSON
        {"id": "4", "text": "", "title": "#nobots", "author": "zed"},
        {"id": "5", "text": "kept", "author": "amy", "created_at": T},
    )
    report = ingest(engine, make_settings("[ingest]\nmax_text_chars = 50\n"), [adhoc_source(path)]).sources[0]
    assert (report.read, report.excluded, report.rejected, report.inserted) == (5, 4, 0, 1)
    assert "zed" not in everything(engine) and "secret" not in everything(engine)


def test_a_rejection_stored_before_the_author_opted_out_is_removed(
    tmp_path: Path, make_settings: Callable[..., Settings], engine: Engine
) -> None:
    path = tmp_path / "p.jsonl"
    settings = make_settings()
    jsonl(path, {"id": "1", "text": "bad date", "author": "zed", "created_at": "nope"})
    ingest(engine, settings, [adhoc_source(str(path))])
    assert count(engine, Rejected) == 1
    jsonl(path, {"id": "1", "text": "bad date #nobots", "author": "zed", "created_at": "nope"})
    assert ingest(engine, settings, [adhoc_source(str(path))]).sources[0].excluded == 1
    assert count(engine, Rejected) == 0


def test_an_excluded_author_without_ids_loses_every_post_and_the_handle(
    tmp_path: Path, make_settings: Callable[..., Settings], engine: Engine
) -> None:
    path = jsonl(
        tmp_path / "p.jsonl",
        *({"text": f"no id {i}", "author": "Dee", "created_at": T} for i in range(3)),
        {"text": "someone else", "author": "amy", "created_at": T},
    )
    ingest(engine, make_settings(), [adhoc_source(path)])
    assert count(engine, Post) == 4
    with session_scope(engine) as s:
        dee = s.scalar(select(Author.pseudonym).where(Author.handle == "dee"))  # stored in normal form
        s.add(
            Alert(
                rule="level",
                subject_kind="author",
                subject=dee,
                window_start=datetime(2025, 3, 1, tzinfo=UTC),
                window_end=datetime(2025, 3, 2, tzinfo=UTC),
                evidence={},
                severity="high",
                status="new",
                trigger_at=datetime(2025, 3, 1, tzinfo=UTC),
                created_at=datetime(2025, 3, 2, tzinfo=UTC),
                dedup_key="k",
            )
        )
    other = jsonl(tmp_path / "other.jsonl", {"id": "x", "text": "unrelated", "created_at": T})
    # the exclusion applies to what is stored, even when the source is not read again
    ingest(engine, make_settings('[privacy]\nexclude_authors = ["dee"]\n'), [adhoc_source(other)])
    assert "Dee" not in everything(engine) and "no id" not in everything(engine)
    assert count(engine, Post) == 2 and count(engine, Alert) == 0
    with session_scope(engine) as s:
        assert s.scalars(select(Author.handle)).all() == ["amy"]


def test_a_marker_in_an_rss_title_opts_the_entry_out(
    tmp_path: Path, make_settings: Callable[..., Settings], engine: Engine
) -> None:
    feed = tmp_path / "feed.xml"
    feed.write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>f</title>'
        "<item><guid>a</guid><title>Please skip #nobots</title><description>my secret day</description>"
        "<author>zed@example.org (Zed)</author><pubDate>Sat, 01 Mar 2025 00:00:00 GMT</pubDate></item>"
        "<item><guid>b</guid><title>ok</title><description>a normal day</description>"
        "<pubDate>Sat, 01 Mar 2025 00:00:00 GMT</pubDate></item></channel></rss>",
        encoding="utf-8",
    )
    report = ingest(engine, make_settings(), [adhoc_source(str(feed))]).sources[0]
    assert (report.excluded, report.inserted) == (1, 1)
    assert "secret" not in everything(engine) and "Zed" not in everything(engine)


@pytest.mark.parametrize(
    "marker",
    ["#no\u200bbots", "\uff03nobots", "#\u2060NoBots", "\uff03\uff4e\uff4fbots", "#nobots\ufe0f", "#no\u00adindex"],
)
def test_hidden_and_full_width_markers_opt_out(
    tmp_path: Path, make_settings: Callable[..., Settings], engine: Engine, marker: str
) -> None:
    path = jsonl(tmp_path / "p.jsonl", {"id": "1", "text": f"my post {marker}", "author": "zed", "created_at": T})
    report = ingest(engine, make_settings(), [adhoc_source(path)]).sources[0]
    assert (report.excluded, report.inserted) == (1, 0)
    assert count(engine, Post) == count(engine, Author) == 0


def test_markers_still_match_whole_tokens_only() -> None:
    pattern = marker_pattern(["\uff03nobots"])  # a marker configured full-width matches plain text
    assert pattern is not None
    assert pattern.search("hi #nobots") and not pattern.search("#nobotsplease") and not pattern.search("nobots")


def test_a_later_marker_removes_the_post_and_the_handle_it_leaves_alone(
    tmp_path: Path, make_settings: Callable[..., Settings], engine: Engine
) -> None:
    path = tmp_path / "p.jsonl"
    settings = make_settings()
    jsonl(
        path,
        {"id": "1", "text": "hello", "author": "eve", "created_at": T},
        {"id": "2", "text": "hi", "author": "amy", "created_at": T},
        {"id": "3", "text": "again", "author": "amy", "created_at": T},
    )
    ingest(engine, settings, [adhoc_source(str(path))])
    jsonl(
        path,
        {"id": "1", "text": "hello #nobots", "author": "eve", "created_at": T},
        {"id": "2", "text": "hi #noindex", "author": "amy", "created_at": T},
        {"id": "3", "text": "again", "author": "amy", "created_at": T},
        {"id": "4", "text": "back again", "author": "eve", "created_at": T},
    )  # eve's handle is stored anew
    report = ingest(engine, make_settings("[ingest]\nbatch_size = 2\n"), [adhoc_source(str(path))]).sources[0]
    assert (report.excluded, report.inserted, report.duplicate) == (2, 1, 1)
    with session_scope(engine) as s:
        assert sorted(s.scalars(select(Post.external_id))) == ["3", "4"]
        assert sorted(s.scalars(select(Author.handle))) == ["amy", "eve"]
        orphans = s.scalar(
            select(func.count())
            .select_from(Post)
            .where(Post.author_id.is_not(None), ~Post.author_id.in_(select(Author.id)))
        )
    assert orphans == 0


def test_an_unparsable_archive_record_of_an_excluded_author_is_not_stored_raw(
    tmp_path: Path, make_settings: Callable[..., Settings], engine: Engine
) -> None:
    outbox = tmp_path / "outbox.json"
    note = {"type": "Note", "id": "n1", "content": "<p>my day</p>", "attributedTo": "https://social.example/@Dee"}
    outbox.write_text(
        json.dumps(
            {
                "orderedItems": [
                    {"type": "Create", "published": "not a date", "object": note},
                    {"type": "Create", "published": "not a date", "object": {**note, "attributedTo": "amy"}},
                ]
            }
        ),
        encoding="utf-8",
    )
    settings = make_settings('[privacy]\nexclude_authors = ["https://social.example/@dee"]\n')
    report = ingest(engine, settings, [adhoc_source(str(outbox))]).sources[0]
    assert (report.excluded, report.rejected) == (1, 1)
    assert "Dee" not in everything(engine) and "amy" in everything(engine)


def test_an_opt_out_later_in_the_same_batch_wins(
    tmp_path: Path, make_settings: Callable[..., Settings], engine: Engine
) -> None:
    path = jsonl(
        tmp_path / "p.jsonl",
        {"id": "1", "text": "first version", "author": "eve", "created_at": T},
        {"id": "1", "text": "second version #nobots", "author": "eve", "created_at": T},
    )
    report = ingest(engine, make_settings(), [adhoc_source(path)]).sources[0]
    assert (report.read, report.excluded, report.inserted) == (2, 2, 0)
    assert count(engine, Post) == count(engine, Author) == 0


def test_a_kept_version_after_an_opt_out_in_the_same_batch_stays_stored(
    tmp_path: Path, make_settings: Callable[..., Settings], engine: Engine
) -> None:
    path = tmp_path / "p.jsonl"
    settings = make_settings()
    jsonl(path, {"id": "1", "text": "kept", "author": "eve", "created_at": T})
    ingest(engine, settings, [adhoc_source(str(path))])
    jsonl(
        path,
        {"id": "1", "text": "withdrawn #nobots", "author": "eve", "created_at": T},
        {"id": "1", "text": "kept", "author": "eve", "created_at": T},
    )
    report = ingest(engine, settings, [adhoc_source(str(path))]).sources[0]
    assert (report.excluded, report.duplicate) == (1, 1)
    with session_scope(engine) as s:
        assert s.scalars(select(Post.text)).all() == ["kept"]


def test_a_full_width_marker_escaped_in_json_is_found_in_any_field(tmp_path: Path) -> None:
    """JSON writers spell "＃nobots" as "\\uff03nobots": found in the author field too (a fuzz find)."""
    import sqlite3

    from click.testing import CliRunner

    from monitor.cli import cli

    path = tmp_path / "p.jsonl"
    rows = [{"text": "hello"}, {"text": "hello", "author": "ann \uff03nobots"}]
    path.write_text("".join(json.dumps(r, ensure_ascii=True) + "\n" for r in rows), encoding="utf-8")
    (tmp_path / "config.toml").write_text(
        '[database]\nurl = "sqlite:///e.db"\n[ingest]\nbatch_size = 1\n', encoding="utf-8"
    )
    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "config.toml"), "ingest", str(path), "--json"])
    totals = json.loads(result.output)["totals"]
    assert totals["excluded"] == 1 and totals["inserted"] == 1
    with sqlite3.connect(tmp_path / "e.db") as db:
        assert db.execute("SELECT count(*) FROM authors").fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM posts WHERE text IS NOT NULL").fetchone()[0] == 0
