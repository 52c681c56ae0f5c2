"""A feed read that stops early loses nothing: a 3,000-item feed with an ETag (a loopback server
that answers If-None-Match with 304), read one record a transaction, is cut short by the source
budget or by `kill -9`; the next run fetches it whole again (the validators were not stored) and
stores the rest, every item exactly once; only then does a run get 304."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError, ProgrammingError

from monitor.errors import ExitStatus
from monitor.store.engine import make_engine, session_scope
from monitor.store.schema import Post, Source

EMOMON = Path(sys.executable).with_name("emomon")
ITEMS = 3000
ETAG = '"v1-3000"'


def feed_body() -> bytes:
    start = datetime(2025, 3, 1, tzinfo=UTC)
    items = "".join(
        f"<item><guid>post-{i}</guid><title>note {i} about the garden and the weather</title>"
        f"<pubDate>{format_datetime(start + timedelta(minutes=i))}</pubDate></item>"
        for i in range(ITEMS)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()


class EtagFeed:
    """A loopback HTTP server with one feed and its ETag; records each request's If-None-Match."""

    def __init__(self, body: bytes, *, delay: float = 0.0) -> None:
        self.body, self.delay = body, delay
        self.requests: list[tuple[str | None, int]] = []  # (If-None-Match sent, status answered)
        state = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server API
                sent = self.headers.get("If-None-Match")
                status = 304 if sent == ETAG else 200
                state.requests.append((sent, status))
                time.sleep(state.delay)
                self.send_response(status)
                self.send_header("ETag", ETAG)
                self.send_header("Content-Type", "application/rss+xml")
                self.send_header("Content-Length", "0" if status == 304 else str(len(state.body)))
                self.end_headers()
                if status == 200:
                    self.wfile.write(state.body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/feed.xml"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def feed() -> Iterator[EtagFeed]:
    server = EtagFeed(feed_body())
    try:
        yield server
    finally:
        server.close()


def configure(site: Path, db_url: str, url: str, ingest: str) -> None:
    (site / "config.toml").write_text(
        textwrap.dedent(f"""
        [database]
        url = "{db_url}"
        [ingest]
        batch_size = 1
        {ingest}
        [[sources]]
        name = "garden"
        kind = "feed"
        location = "{url}"
    """)
    )


def ingest(site: Path) -> tuple[int, dict[str, object]]:
    """Run `emomon ingest --json`; return the exit code and the source's report."""
    proc = subprocess.run(
        [str(EMOMON), "--config", str(site / "config.toml"), "ingest", "--json"],
        cwd=site,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=dict(os.environ),
    )
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout)["sources"][0]


def stored(engine: Engine) -> tuple[int, int]:
    """(posts, distinct ids) in the store."""
    with session_scope(engine) as s:
        return (
            s.scalar(select(func.count()).select_from(Post)) or 0,
            s.scalar(select(func.count(func.distinct(Post.external_id)))) or 0,
        )


def posts_so_far(engine: Engine) -> int:
    """The posts stored by a run still going (0 while it has not made the tables yet)."""
    try:
        return stored(engine)[0]
    except (OperationalError, ProgrammingError):
        return 0


def stored_etag(engine: Engine) -> str | None:
    with session_scope(engine) as s:
        return s.scalar(select(Source.etag).where(Source.name == "garden"))


def complete_the_work(site: Path, db_url: str, feed: EtagFeed, engine: Engine, before: int) -> None:
    """The next run fetches the whole feed (no validators were stored) and stores the rest; the
    one after gets 304: every item is stored exactly once."""
    configure(site, db_url, feed.url, "")
    code, report = ingest(site)
    assert code == 0 and report["status"] == "ok", report
    assert report["inserted"] == ITEMS - before and report["duplicate"] == before, report
    assert feed.requests[-1] == (None, 200)
    assert stored(engine) == (ITEMS, ITEMS) and stored_etag(engine) == ETAG

    code, report = ingest(site)
    assert code == 0 and report["status"] == "not_modified" and report["read"] == 0, report
    assert feed.requests[-1] == (ETAG, 304)
    assert stored(engine) == (ITEMS, ITEMS)


def test_a_feed_cut_short_by_the_source_budget_is_completed_by_the_next_run(
    tmp_path: Path, db_url: str, feed: EtagFeed
) -> None:
    feed.delay = 1.0  # most of the budget goes on the fetch: the records cannot all be stored after it
    configure(tmp_path, db_url, feed.url, "source_budget_s = 2.0")
    code, report = ingest(tmp_path)
    engine = make_engine(db_url)
    assert code == ExitStatus.FAILED and report["status"] == "error" and "source_budget_s" in str(report["error"]), (
        report
    )
    first = int(str(report["inserted"]))
    assert first < ITEMS and stored(engine) == (first, first)
    assert stored_etag(engine) is None  # the body was not stored whole: no validators
    feed.delay = 0.0
    complete_the_work(tmp_path, db_url, feed, engine, first)


def test_a_feed_read_killed_with_sigkill_is_completed_by_the_next_run(
    tmp_path: Path, db_url: str, feed: EtagFeed
) -> None:
    configure(tmp_path, db_url, feed.url, "")
    engine = make_engine(db_url)
    proc = subprocess.Popen(
        [str(EMOMON), "--config", str(tmp_path / "config.toml"), "ingest"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ),
    )
    try:
        ends = time.monotonic() + 300
        while time.monotonic() < ends and proc.poll() is None and posts_so_far(engine) < 20:
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    first = stored(engine)[0]
    assert 20 <= first < ITEMS and stored(engine) == (first, first)
    assert stored_etag(engine) is None
    complete_the_work(tmp_path, db_url, feed, engine, first)
