"""Ingest's accounting identity on the fast path (polars-parsed JSON lines, a batch-wide opt-out
marker test, one-query duplicate checks): every record read is stored, a duplicate, an update,
rejected or excluded, on a file mixing ASCII, NFKC-sensitive, duplicate and bad records, on
SQLite and PostgreSQL (``pytest --backend postgres``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from monitor.ingest.files import DEFAULT_COLUMNS, _fast_chunk
from monitor.ingest.stage import COUNT_KEYS, SourceReport, adhoc_source, ingest
from monitor.store.engine import session_scope
from monitor.store.schema import Author, Post, Rejected

BLOCKS = 9
CONFIG = "[privacy]\nexclude_authors = ['dee']\n"
DAY = "2025-03-01T00:00:00Z"


def block(i: int) -> list[dict[str, Any]]:
    """One block of records and what each must count as (the ``_expect`` key, not written)."""
    return [
        {"id": f"a{i}", "text": f"plain post {i}", "author": f"user{i % 4}", "created_at": DAY, "_expect": "inserted"},
        # Full-width letters, a decomposed accent and a full-width handle: NFC/NFKC work, stored.
        {
            "id": f"n{i}",
            "text": f"ｆｕｌｌ ｗｉｄｔｈ cafe\u0301 {i}",
            "author": "Ｊｏｓｅ\u0301",
            "_expect": "inserted",
        },
        # No id: keyed by the content hash of the NFC text, so the composed spelling is a duplicate.
        {"text": f"cafe\u0301 au lait {i}", "author": "ann", "created_at": DAY, "_expect": "inserted"},
        {"text": f"caf\u00e9  au lait {i}", "author": "ann", "created_at": DAY, "_expect": "duplicate"},
        {"id": f"a{i}", "text": f"plain post {i}", "author": f"user{i % 4}", "_expect": "duplicate"},
        {"id": f"a{i}", "text": f"plain post {i}, edited", "author": f"user{i % 4}", "_expect": "updated"},
        # Opt-out markers: full-width, hidden by a zero-width space, JSON-escaped in another field,
        # and an excluded author written full-width (NFKC makes it "dee").
        {"id": f"x{i}", "text": f"skip me \uff03nobots {i}", "author": "bob", "_expect": "excluded"},
        {"id": f"y{i}", "text": f"skip me #no\u200bbots {i}", "author": "bob", "_expect": "excluded"},
        {"id": f"z{i}", "text": f"quiet {i}", "title": "\uff03noindex", "author": "bob", "_expect": "excluded"},
        {"id": f"d{i}", "text": f"from dee {i}", "author": "ＤＥＥ", "_expect": "excluded"},
        # Bad records the fast path still parses: no text, impossible date, far future.
        {"id": f"e{i}", "text": "", "author": "cy", "_expect": "rejected"},
        {"id": f"f{i}", "text": f"bad date {i}", "created_at": "2025-02-30", "_expect": "rejected"},
        {"id": f"g{i}", "text": f"from the future {i}", "created_at": "2999-01-01T00:00:00Z", "_expect": "rejected"},
    ]


def write(path: Path, *, broken_line: bool) -> dict[str, int]:
    """Write the blocks (ASCII-escaped JSON, as most writers do) and return the expected counts."""
    expected = dict.fromkeys(COUNT_KEYS, 0)
    lines: list[str] = []
    for i in range(BLOCKS):
        for record in block(i):
            expected[record.pop("_expect")] += 1
            lines.append(json.dumps(record))
        if broken_line and i == BLOCKS // 2:
            lines.append('{"id": "broken", "text": "unterminated')
            expected["rejected"] += 1
    expected["read"] = sum(expected.values())
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return expected


def counts(report: SourceReport) -> dict[str, int]:
    found = report.counts()
    assert found["read"] == sum(found[k] for k in COUNT_KEYS[1:]), found
    return found


@pytest.mark.parametrize("batch_size", [1000, 5])
@pytest.mark.parametrize("broken_line", [False, True], ids=["fast-chunk", "with-a-broken-line"])
def test_accounting_identity_holds_on_the_fast_path(tmp_path, make_settings, engine, batch_size, broken_line):
    path = tmp_path / "mixed.jsonl"
    expected = write(path, broken_line=broken_line)
    if not broken_line:  # the whole file goes through the polars chunk reader, not line by line
        raw = path.read_bytes().splitlines()
        assert _fast_chunk(path, list(enumerate(raw, 1)), dict(DEFAULT_COLUMNS)) is not None
    settings = make_settings(CONFIG + f"[ingest]\nbatch_size = {batch_size}\n")

    first = counts(ingest(engine, settings, [adhoc_source(str(path))]).sources[0])
    if batch_size < len(block(0)):  # a superseded version in an earlier batch was stored: it counts as updated
        assert first["duplicate"] + first["updated"] == expected["duplicate"] + expected["updated"]
        first.update(duplicate=expected["duplicate"], updated=expected["updated"])
    assert first == expected
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(Post)) == expected["inserted"]
        assert s.scalar(select(func.count()).select_from(Rejected)) == expected["rejected"]
        texts = list(s.scalars(select(Post.text)))
        assert not [t for t in texts if "bots" in t or "quiet" in t or "dee" in t]
        assert sorted(t for t in texts if "edited" in t) == sorted(f"plain post {i}, edited" for i in range(BLOCKS))
        assert "ｆｕｌｌ ｗｉｄｔｈ caf\u00e9 0" in texts  # NFC, not NFKC: the text is kept as written
        handles = set(s.scalars(select(Author.handle)))
        assert handles == {"user0", "user1", "user2", "user3", "jos\u00e9", "ann", "cy"}
        assert "dee" not in handles and "bob" not in handles

    # The same file again: nothing new; in-file duplicates and updates count as before.
    second = counts(ingest(engine, settings, [adhoc_source(str(path))]).sources[0])
    assert second["duplicate"] + second["updated"] == expected["inserted"] + expected["duplicate"] + expected["updated"]
    same = ("read", "rejected", "excluded")
    assert second["inserted"] == 0 and {k: second[k] for k in same} == {k: expected[k] for k in same}
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(Post)) == expected["inserted"]
        assert s.scalar(select(func.count()).select_from(Rejected)) == expected["rejected"]


def test_a_marker_in_one_record_of_a_large_batch_is_found(tmp_path, make_settings, engine):
    """The batch-wide marker test only skips batches without any marker: one marked record among
    many plain ones, in each spelling, is still excluded."""
    marks = ["#nobots", "#NoIndex", "\uff03nobots", "#no\u200bbots", "#\u2060noindex"]
    rows = [{"id": str(i), "text": f"plain post {i}", "author": f"u{i % 7}"} for i in range(400)]
    for n, mark in enumerate(marks):
        rows[50 + 70 * n]["text"] += f" {mark}"
    rows[399]["note"] = "#nobotsplease is not a marker"
    path = tmp_path / "posts.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=n % 2 == 0) + "\n" for n, r in enumerate(rows)), "utf-8")
    report = ingest(engine, make_settings("[ingest]\nbatch_size = 400\n"), [adhoc_source(str(path))]).sources[0]
    assert counts(report) == {**dict.fromkeys(COUNT_KEYS, 0), "read": 400, "inserted": 395, "excluded": 5}
    with session_scope(engine) as s:
        assert not list(s.scalars(select(Post.external_id).where(Post.external_id.in_(["50", "120", "190"]))))
