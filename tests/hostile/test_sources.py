"""One hostile source cannot stop the run: hostile encodings and Retry-After values from feeds on
a loopback server, and a run where hostile sources come before a good one."""

from __future__ import annotations

import gzip
import json
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from hostile.loopback import Answer, Loopback, loopback
from sqlalchemy import select

from monitor.cli import cli
from monitor.errors import ExitStatus
from monitor.ingest.feeds import MAX_RETRY_AFTER, read_feed
from monitor.retry_after import retry_after_delay
from monitor.settings import load_settings
from monitor.store.engine import make_engine, session_scope
from monitor.store.posts import FeedState
from monitor.store.schema import Post, Run, Source

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def rss(declaration: str = '<?xml version="1.0"?>') -> bytes:
    return (
        declaration
        + textwrap.dedent("""
        <rss version="2.0"><channel><title>t</title>
        <item><guid>p-1</guid><title>a calm morning walk</title>
          <pubDate>Mon, 03 Mar 2025 10:00:00 GMT</pubDate></item>
        <item><guid>p-2</guid><title>tea with friends</title>
          <pubDate>Tue, 04 Mar 2025 10:00:00 GMT</pubDate></item>
        </channel></rss>""")
    ).encode("ascii")


@pytest.fixture()
def server() -> Iterator[Loopback]:
    with loopback() as state:
        yield state


# ------------------------------------------------------------------------------ encodings


@pytest.mark.parametrize("codec", ["punycode", "idna", "rot13", "base64", "zlib", "unicode_escape"])
def test_a_non_text_codec_in_the_http_charset_is_ignored(server: Loopback, codec: str) -> None:
    server.answer("/feed.xml", Answer(body=rss(), headers={"Content-Type": f"application/rss+xml; charset={codec}"}))
    result = read_feed(FeedState(server.url("/feed.xml")), timeout_s=5, now=NOW)
    assert result.status == "ok"
    assert [r.text for r in result.records] == ["a calm morning walk", "tea with friends"]
    assert any(f"{codec!r} is not a text encoding in the HTTP charset" in w for w in result.warnings)


def test_punycode_in_the_xml_declaration_is_ignored(server: Loopback) -> None:
    server.answer(
        "/feed.xml",
        Answer(body=rss('<?xml version="1.0" encoding="punycode"?>'), headers={"Content-Type": "application/rss+xml"}),
    )
    result = read_feed(FeedState(server.url("/feed.xml")), timeout_s=5, now=NOW)
    assert [r.external_id for r in result.records] == ["p-1", "p-2"]
    assert any("'punycode' is not a text encoding in the XML declaration" in w for w in result.warnings)


# ---------------------------------------------------------------------------- Retry-After


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", timedelta(seconds=120)),
        ("  0007 ", timedelta(seconds=7)),
        ("0" * 4000 + "5", timedelta(seconds=5)),  # leading zeros are not a huge number
        ("9" * 5000, MAX_RETRY_AFTER),  # int() of 5,000 digits raises ValueError
        ("Sat, 01 Jan 2000 00:00:00 GMT", timedelta(0)),  # in the past: now
        ("Mon, 10 Mar 2025 13:00:00 GMT", HOUR),
        ("Mon, 10 Mar 2025 13:00:00", HOUR),  # no zone: UTC
        ("Fri, 31 Dec 9999 23:59:59 GMT", MAX_RETRY_AFTER),
        ("\u00b2", None),  # str.isdigit() but not an ASCII digit
        ("\u0661\u0662", None),  # Arabic-Indic digits
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_is_ascii_digits_or_an_http_date_and_capped(value: str | None, expected: timedelta | None) -> None:
    assert retry_after_delay(value, now=NOW, cap=MAX_RETRY_AFTER) == expected


def test_a_5000_digit_retry_after_backs_off_for_the_cap(server: Loopback) -> None:
    server.answer("/busy.xml", Answer(429, headers={"Retry-After": "9" * 5000}))
    result = read_feed(FeedState(server.url("/busy.xml")), timeout_s=5, now=NOW)
    assert result.status == "retry_later"
    assert result.state.retry_after == NOW + MAX_RETRY_AFTER


# ------------------------------------------------------------------------ one run, many sources


def test_hostile_sources_first_do_not_stop_the_good_one(tmp_path: Path, server: Loopback) -> None:
    server.answer("/busy.xml", Answer(503, headers={"Retry-After": "9" * 5000}))
    server.answer(
        "/puny.xml",
        Answer(
            body=rss('<?xml version="1.0" encoding="punycode"?>'),
            headers={"Content-Type": "text/xml; charset=punycode"},
        ),
    )
    bomb = tmp_path / "bomb.jsonl.gz"
    bomb.write_bytes(gzip.compress(b'{"id": "b1", "text": "kept"}\n' + b" " * 3_000_000 + b"\n"))
    good = tmp_path / "good.jsonl"
    good.write_text('{"id": "g1", "text": "a good post"}\n{"id": "g2", "text": "another one"}\n')
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        textwrap.dedent(f"""
        [database]
        url = "sqlite:///{tmp_path / "emomon.db"}"
        [ingest]
        timeout_s = 5.0
        max_decompressed_bytes = 2000000
        [[sources]]
        name = "busy"
        kind = "feed"
        location = "{server.url("/busy.xml")}"
        [[sources]]
        name = "puny"
        kind = "feed"
        location = "{server.url("/puny.xml")}"
        [[sources]]
        name = "bomb"
        kind = "jsonl"
        location = "{bomb}"
        [[sources]]
        name = "good"
        kind = "jsonl"
        location = "{good}"
    """)
    )
    result = CliRunner().invoke(cli, ["--config", str(cfg), "ingest", "--json"])
    assert result.exit_code == ExitStatus.FAILED
    assert "Traceback" not in result.output
    by_name = {s["name"]: s for s in json.loads(result.stdout)["sources"]}
    assert by_name["good"]["inserted"] == 2 and by_name["good"]["status"] == "ok"
    assert by_name["puny"]["inserted"] == 2 and by_name["puny"]["status"] == "ok"
    assert any("punycode" in w for w in by_name["puny"]["warnings"])
    assert by_name["busy"]["status"] == "retry_later"
    assert by_name["bomb"]["status"] == "error" and by_name["bomb"]["inserted"] == 1
    reason = by_name["bomb"]["error"]
    assert "max_decompressed_bytes" in reason and "\n" not in reason
    assert f"bomb: {reason}" in result.stderr  # the one-line summary
    settings = load_settings(cfg, {})
    with session_scope(make_engine(settings.database.url)) as s:
        run = s.scalars(select(Run).where(Run.command == "ingest")).one()
        assert run.status == "failed" and run.message == f"bomb: {reason}"
        assert run.stats is not None and run.stats["totals"]["inserted"] == 5
        assert s.scalar(select(Source.retry_after).where(Source.name == "busy")) is not None
        texts = set(s.scalars(select(Post.text)))
    assert {"a good post", "another one", "kept", "a calm morning walk"} <= texts


def test_a_slow_feed_is_cut_off_by_the_source_budget(tmp_path: Path, server: Loopback) -> None:
    server.answer("/slow.xml", Answer(body=rss(), delay=5.0))
    good = tmp_path / "good.jsonl"
    good.write_text('{"id": "g1", "text": "a good post"}\n')
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        textwrap.dedent(f"""
        [database]
        url = "sqlite:///{tmp_path / "emomon.db"}"
        [ingest]
        timeout_s = 20.0
        source_budget_s = 1.0
        [[sources]]
        name = "slow"
        kind = "feed"
        location = "{server.url("/slow.xml")}"
        [[sources]]
        name = "good"
        kind = "jsonl"
        location = "{good}"
    """)
    )
    t0 = time.monotonic()
    result = CliRunner().invoke(cli, ["--config", str(cfg), "ingest", "--json"])
    assert time.monotonic() - t0 < 4.0  # not the 20 s read time-out
    slow, ok = json.loads(result.stdout)["sources"]
    assert slow["status"] == "error" and "timed out" in slow["error"]
    assert ok["inserted"] == 1
