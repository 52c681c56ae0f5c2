"""Tests for monitor.ingest.feeds against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import gzip
import io
import json
import socket
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import feedparser
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.errors import SourceError
from monitor.ingest import feeds
from monitor.ingest.feeds import USER_AGENT, decode_feed_bytes, read_feed, strip_doctype
from monitor.ingest.records import FeedResult, RawRecord
from monitor.store.posts import FeedState

DATA = Path(__file__).parents[1] / "data" / "feeds"
NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
FAST = 2.0  # seconds: time-out for tests that expect an answer


def fixture_bytes(name: str) -> bytes:
    return (DATA / name).read_bytes()


class Handler(BaseHTTPRequestHandler):
    """Serves the routes registered on the FeedServer and records every request."""

    server: FeedServer

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        self.server.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        route = self.server.routes.get(self.path.split("?")[0])
        if route is None:
            self.reply(404, b"not found")
        else:
            route(self)

    def reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        headers = {
            "Content-Type": "application/xml",
            "Content-Length": str(len(body)),
            **(headers or {}),
        }
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return  # keep test output clean


class FeedServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.routes: dict[str, Callable[[Handler], None]] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.stop = threading.Event()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def serve(self, path: str, body: bytes, status: int = 200, **headers: str) -> None:
        sent = {k.replace("_", "-"): v for k, v in headers.items()}
        self.routes[path] = lambda h: h.reply(status, body, sent)

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]


@pytest.fixture
def server() -> Iterator[FeedServer]:
    srv = FeedServer()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.stop.set()
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)


def read(url: str, **kwargs: object) -> FeedResult:
    kwargs.setdefault("timeout_s", FAST)
    kwargs.setdefault("now", NOW)
    return read_feed(FeedState(url), **kwargs)  # type: ignore[arg-type]


def all_output(result: FeedResult) -> str:
    """Everything a result could carry into the database or a log, as one string."""
    parts = [*result.warnings]
    for rec in result.records:
        parts += [rec.location, rec.raw, str(rec.external_id), str(rec.text)]
        parts += [str(rec.author), str(rec.url), str(rec.error)]
    return "\n".join(parts)


# --- formats -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "count", "first_text"),
    [
        ("rss20.xml", 3, "The fog lifted & the boats finally went out.\nI feel calm today."),
        ("rss10.rdf", 2, "The tomatoes are finally red. Delighted."),
        ("atom10.xml", 3, "Nothing happened.\nHonestly a bit lonely."),
        ("atom03.xml", 1, "Still using the old format and happy about it."),
        ("rss091.xml", 1, "That screech still makes me nostalgic."),
    ],
)
def test_reads_every_feed_format_over_http(server: FeedServer, name: str, count: int, first_text: str) -> None:
    server.serve(f"/{name}", fixture_bytes(name))
    result = read(server.url(f"/{name}"))
    assert result.status == "ok"
    assert result.warnings == []
    assert len(result.records) == count
    assert result.records[0].text == first_text
    assert [r.location for r in result.records] == [f"{server.url(f'/{name}')}#entry-{n}" for n in range(1, count + 1)]


def test_rss20_record_fields(server: FeedServer) -> None:
    server.serve("/rss20.xml", fixture_bytes("rss20.xml"))
    first, second, third = read(server.url("/rss20.xml")).records

    assert first.external_id == "harbour-post-1"
    assert first.author == "gull_watcher"
    assert first.created_at == datetime(2025, 3, 4, 7, 15, tzinfo=UTC)  # +0100 converted to UTC
    assert first.url == "https://harbour.example/posts/1"
    assert first.language == "en-GB"
    assert first.error is None
    raw = json.loads(first.raw)
    assert raw["id"] == "harbour-post-1" and raw["title"] == "Morning at the pier"
    assert "track()" in raw["content"][0]  # raw keeps the original; the text does not
    assert "track" not in first.text

    # No guid: the link is the id; a relative link is resolved against the fetched URL.
    assert second.external_id == "/posts/2"
    assert second.url == server.url("/posts/2")
    assert second.author == "Rainy Day"  # from "rain@harbour.example (Rainy Day)"
    assert second.text == "Somebody took my umbrella again. So annoyed!"

    # Only a title; the date cannot be parsed: the record says so instead of guessing.
    assert third.text == "Title only & nothing else"
    assert third.created_at is None
    assert third.error == "unparsable date (a text of 28 characters)"  # the value may be the post itself


def test_atom_entries_language_author_and_plain_text(server: FeedServer) -> None:
    server.serve("/atom.xml", fixture_bytes("atom10.xml"))
    one, two, three = read(server.url("/atom.xml")).records
    assert one.created_at == datetime(2025, 1, 10, 4, 0, tzinfo=UTC)  # published wins over updated
    assert (one.author, one.language) == ("owl_nurse", "en")
    assert ".x{color" not in one.text
    assert (two.text, two.language, two.author) == ("Le café était froid.", "fr", "Feed Owner")
    assert three.text == "I <3 the sunrise"  # type="text" is not parsed as HTML
    assert three.url is None  # a tag: id is not a link


def test_sends_identifying_user_agent_and_accept(server: FeedServer) -> None:
    server.serve("/rss20.xml", fixture_bytes("rss20.xml"))
    read(server.url("/rss20.xml"))
    read(server.url("/rss20.xml"), user_agent="custom-agent/1")
    (_, first), (_, second) = server.requests
    assert first["user-agent"] == USER_AGENT
    assert USER_AGENT.startswith("emomon/") and "+https://" in USER_AGENT
    assert "application/rss+xml" in first["accept"]
    assert second["user-agent"] == "custom-agent/1"
    assert "if-none-match" not in first and "if-modified-since" not in first


# --- conditional requests, redirects, back-off ------------------------------------------------


def test_etag_and_last_modified_are_sent_back_and_304_is_not_modified(server: FeedServer) -> None:
    etag, modified = '"v1-abc"', "Mon, 10 Mar 2025 11:00:00 GMT"
    body = fixture_bytes("rss20.xml")

    def route(h: Handler) -> None:
        if h.headers.get("If-None-Match") == etag:
            h.reply(304, headers={"ETag": etag})
        else:
            h.reply(200, body, {"ETag": etag, "Last-Modified": modified})

    server.routes["/cond.xml"] = route
    first = read(server.url("/cond.xml"))
    assert first.status == "ok" and len(first.records) == 3
    assert (first.state.etag, first.state.last_modified) == (etag, modified)

    second = read_feed(first.state, timeout_s=FAST, now=NOW)
    assert second.status == "not_modified"
    assert second.records == []
    assert (second.state.etag, second.state.last_modified) == (etag, modified)
    headers = server.requests[1][1]
    assert headers["if-none-match"] == etag
    assert headers["if-modified-since"] == modified


def test_new_200_without_validators_forgets_old_ones(server: FeedServer) -> None:
    server.serve("/rss20.xml", fixture_bytes("rss20.xml"))
    state = FeedState(server.url("/rss20.xml"), etag='"old"', last_modified="x")
    result = read_feed(state, timeout_s=FAST)
    assert server.requests[0][1]["if-none-match"] == '"old"'
    assert (result.state.etag, result.state.last_modified) == (None, None)


@pytest.mark.parametrize("code", [301, 308])
def test_permanent_redirect_updates_stored_url(server: FeedServer, code: int) -> None:
    server.serve("/old.xml", b"", status=code, Location="/new.xml")  # relative Location
    server.serve("/new.xml", fixture_bytes("atom10.xml"))
    result = read(server.url("/old.xml"))
    assert result.status == "ok"
    assert result.state.url == server.url("/new.xml")
    assert result.records[0].location == server.url("/new.xml") + "#entry-1"
    assert any("moved permanently" in w for w in result.warnings)
    assert server.paths() == ["/old.xml", "/new.xml"]


@pytest.mark.parametrize("code", [302, 307])
def test_temporary_redirect_keeps_stored_url(server: FeedServer, code: int) -> None:
    server.serve("/feed.xml", b"", status=code, Location=server.url("/today.xml"))
    server.serve("/today.xml", fixture_bytes("atom10.xml"))
    result = read(server.url("/feed.xml"))
    assert result.status == "ok" and len(result.records) == 3
    assert result.state.url == server.url("/feed.xml")
    assert result.records[0].location == server.url("/feed.xml") + "#entry-1"


def test_permanent_then_temporary_redirect_stores_the_permanent_target(server: FeedServer) -> None:
    server.serve("/a.xml", b"", status=301, Location="/b.xml")
    server.serve("/b.xml", b"", status=302, Location="/c.xml")
    server.serve("/c.xml", b"", status=301, Location="/d.xml")  # after a temporary hop: not stored
    server.serve("/d.xml", fixture_bytes("rss10.rdf"))
    result = read(server.url("/a.xml"))
    assert result.state.url == server.url("/b.xml")
    assert len(result.records) == 2


def test_redirect_to_a_local_file_is_refused(server: FeedServer, tmp_path: Path) -> None:
    secret = tmp_path / "secret.xml"
    secret.write_bytes(fixture_bytes("rss20.xml"))
    server.serve("/sneaky.xml", b"", status=302, Location=secret.as_uri())
    with pytest.raises(SourceError, match="not http"):
        read(server.url("/sneaky.xml"))


def test_redirect_loop_is_an_error(server: FeedServer) -> None:
    server.serve("/loop.xml", b"", status=302, Location="/loop.xml")
    with pytest.raises(SourceError, match="redirects"):
        read(server.url("/loop.xml"))
    assert len(server.requests) == feeds.MAX_REDIRECTS + 1


def test_410_pauses_the_source_and_a_paused_source_is_not_fetched(server: FeedServer) -> None:
    server.serve("/gone.xml", b"gone", status=410)
    result = read(server.url("/gone.xml"))
    assert result.status == "gone"
    assert result.state.paused is True
    assert result.records == []
    assert any("410" in w for w in result.warnings)

    again = read_feed(result.state, timeout_s=FAST, now=NOW)
    assert again.status == "gone"
    assert again.state == result.state
    assert len(server.requests) == 1  # nothing fetched the second time


def test_429_retry_after_seconds_backs_off_until_due(server: FeedServer) -> None:
    server.serve("/busy.xml", b"slow down", status=429, Retry_After="120")
    result = read(server.url("/busy.xml"))
    assert result.status == "retry_later"
    assert result.state.retry_after == NOW + timedelta(seconds=120)
    assert result.records == []

    early = read_feed(result.state, timeout_s=FAST, now=NOW + timedelta(seconds=60))
    assert early.status == "retry_later"
    assert early.state == result.state
    assert len(server.requests) == 1

    server.serve("/busy.xml", fixture_bytes("rss20.xml"))
    due = read_feed(result.state, timeout_s=FAST, now=NOW + timedelta(seconds=121))
    assert due.status == "ok" and len(due.records) == 3
    assert due.state.retry_after is None
    assert len(server.requests) == 2


def test_naive_retry_after_from_the_database_is_taken_as_utc(server: FeedServer) -> None:
    server.serve("/x.xml", fixture_bytes("rss20.xml"))
    naive = (NOW + timedelta(hours=1)).replace(tzinfo=None)
    state = FeedState(server.url("/x.xml"), retry_after=naive)
    assert read_feed(state, now=NOW).status == "retry_later"
    assert server.requests == []


def test_503_retry_after_http_date(server: FeedServer) -> None:
    when = NOW + timedelta(hours=2)
    server.serve("/maint.xml", b"", status=503, Retry_After=format_datetime(when, usegmt=True))
    result = read(server.url("/maint.xml"))
    assert result.status == "retry_later"
    assert result.state.retry_after == when


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, NOW + feeds.DEFAULT_RETRY_AFTER),
        ("soon-ish", NOW + feeds.DEFAULT_RETRY_AFTER),
        ("99999999999999999999", NOW + feeds.MAX_RETRY_AFTER),
        ("Sat, 01 Jan 2000 00:00:00 GMT", NOW),  # a date in the past: retry now
        ("\u00b2", NOW + feeds.DEFAULT_RETRY_AFTER),  # str.isdigit() but not a number
    ],
)
def test_retry_after_missing_bad_huge_or_past(server: FeedServer, header: str | None, expected: datetime) -> None:
    headers = {} if header is None else {"Retry_After": header}
    server.serve("/busy.xml", b"", status=429, **headers)
    assert read(server.url("/busy.xml")).state.retry_after == expected


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "fix"), [(404, "check the URL"), (403, "refuses access"), (500, "try again later")])
def test_http_errors_name_the_url_and_a_fix(server: FeedServer, code: int, fix: str) -> None:
    server.serve("/bad.xml", b"nope", status=code)
    with pytest.raises(SourceError) as info:
        read(server.url("/bad.xml"))
    message = str(info.value)
    assert server.url("/bad.xml") in message
    assert f"HTTP {code}" in message
    assert fix in message


def test_connection_refused_names_the_url() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/feed.xml"
    with pytest.raises(SourceError, match=f"cannot read feed {url}.*fix:"):
        read(url)


def test_oversized_streamed_body_is_capped(server: FeedServer) -> None:
    sent: list[int] = []

    def route(h: Handler) -> None:  # no Content-Length: the size is only known by reading
        h.send_response(200)
        h.send_header("Content-Type", "application/xml")
        h.end_headers()
        chunk = b"<!-- padding -->" * 4096
        try:
            for _ in range(200):  # 12.5 MiB if nobody stops reading
                h.wfile.write(chunk)
                sent.append(len(chunk))
        except OSError:
            return  # the client hung up, as it should

    server.routes["/huge.xml"] = route
    with pytest.raises(SourceError) as info:
        read(server.url("/huge.xml"), max_bytes=200_000)
    assert server.url("/huge.xml") in str(info.value)
    assert f"`{feeds.MAX_BYTES_KEY}`" in str(info.value)
    # The key named is the one the default config documents.
    section, key = feeds.MAX_BYTES_KEY.strip("[").split("] ")
    config = tomllib.loads((Path(__file__).parents[2] / "config.toml").read_text("utf-8"))
    assert key in config[section]


def test_oversized_declared_length_is_refused_before_reading(server: FeedServer) -> None:
    server.serve("/big.xml", fixture_bytes("rss20.xml"))
    with pytest.raises(SourceError, match="larger than 100 bytes"):
        read(server.url("/big.xml"), max_bytes=100)


def test_compressed_body_is_capped_after_decompression(server: FeedServer) -> None:
    bomb = gzip.compress(b"<rss>" + b" " * 5_000_000)
    assert len(bomb) < 20_000
    server.serve("/bomb.xml", bomb, Content_Encoding="gzip")
    with pytest.raises(SourceError, match="max_bytes"):
        read(server.url("/bomb.xml"), max_bytes=1_000_000)


def test_gzip_encoded_feed_is_decoded(server: FeedServer) -> None:
    server.serve("/gz.xml", gzip.compress(fixture_bytes("rss20.xml")), Content_Encoding="gzip")
    assert len(read(server.url("/gz.xml")).records) == 3


def test_slow_server_hits_the_read_timeout(server: FeedServer) -> None:
    def route(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/xml")
        h.end_headers()
        h.wfile.write(b"<rss>")
        h.wfile.flush()
        server.stop.wait(10)  # released when the test ends

    server.routes["/slow.xml"] = route
    started = time.monotonic()
    with pytest.raises(SourceError, match="timed out") as info:
        read(server.url("/slow.xml"), timeout_s=0.3)
    assert time.monotonic() - started < 3
    assert server.url("/slow.xml") in str(info.value)


def test_dripping_server_hits_the_total_deadline(server: FeedServer) -> None:
    def route(h: Handler) -> None:
        h.send_response(200)
        h.end_headers()
        try:
            while not server.stop.wait(0.05):  # a byte well inside every read time-out
                h.wfile.write(b" ")
                h.wfile.flush()
        except OSError:
            return

    server.routes["/drip.xml"] = route
    started = time.monotonic()
    with pytest.raises(SourceError, match="deadline of the whole exchange"):
        read(server.url("/drip.xml"), timeout_s=0.3)
    assert time.monotonic() - started < 3


def test_not_a_feed_is_an_error(server: FeedServer) -> None:
    server.serve("/page.html", fixture_bytes("not_a_feed.html"), Content_Type="text/html")
    with pytest.raises(SourceError, match="not an RSS or Atom"):
        read(server.url("/page.html"))


def test_garbage_is_an_error_with_feedparsers_reason(server: FeedServer) -> None:
    server.serve("/junk.xml", b"\x00\x01binary junk <<<>>>")
    with pytest.raises(SourceError) as info:
        read(server.url("/junk.xml"))
    assert server.url("/junk.xml") in str(info.value)
    assert "not well-formed" in str(info.value)


def test_naive_now_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        read_feed(FeedState(str(DATA / "rss20.xml")), now=datetime(2025, 1, 1))


# --- malformed documents and encodings -------------------------------------------------------


def test_truncated_xml_still_yields_entries_with_a_warning(server: FeedServer) -> None:
    server.serve("/cut.xml", fixture_bytes("truncated.xml"))
    result = read(server.url("/cut.xml"))
    assert result.status == "ok"
    texts = [r.text for r in result.records]
    assert texts[:2] == [
        "The fog lifted & the boats finally went out.\nI feel calm today.",
        "Somebody took my umbrella again. So annoyed!",
    ]
    assert any("malformed feed" in w and "read" in w for w in result.warnings)


def test_wrong_declared_encoding_is_read_correctly(server: FeedServer) -> None:
    server.serve("/enc.xml", fixture_bytes("wrong_encoding.xml"))  # says UTF-8, is Latin-1
    result = read(server.url("/enc.xml"))
    assert result.records[0].text == "Café crème, très énervé"
    assert any("Windows-1252" in w for w in result.warnings)


def test_single_byte_declaration_on_a_utf8_body_reads_utf8(server: FeedServer) -> None:
    server.serve("/enc.xml", fixture_bytes("latin1_declared_utf8_body.xml"))
    result = read(server.url("/enc.xml"))
    assert result.records[0].text == "naïve résumé — \U0001f600"


def test_http_charset_wins_over_the_xml_declaration(server: FeedServer) -> None:
    body = fixture_bytes("wrong_encoding.xml")  # Latin-1 bytes, XML says UTF-8
    server.serve("/enc.xml", body, Content_Type="application/rss+xml; charset=windows-1252")
    result = read(server.url("/enc.xml"))
    assert result.records[0].text == "Café crème, très énervé"
    assert result.warnings == []


def test_invalid_utf8_bytes_do_not_crash(server: FeedServer) -> None:
    server.serve("/bad-utf8.xml", fixture_bytes("invalid_utf8.xml"))
    result = read(server.url("/bad-utf8.xml"))
    good, broken = result.records
    assert good.text == "good naïve text"
    assert broken.text.startswith("broken ") and "\ufffd" in broken.text
    assert any("invalid UTF-8" in w for w in result.warnings)


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_feeds(server: FeedServer, codec: str) -> None:
    text = fixture_bytes("atom10.xml").decode("utf-8")
    text = text.replace('encoding="utf-8"', f'encoding="{codec}"')
    server.serve("/wide.xml", text.encode(codec))
    result = read(server.url("/wide.xml"))
    assert [r.text for r in result.records][1] == "Le café était froid."


@pytest.mark.parametrize("label", ["no-such-charset", "zlib", "rot13"])
def test_unknown_or_non_text_encoding_labels_do_not_crash(server: FeedServer, label: str) -> None:
    body = fixture_bytes("rss20.xml").replace(b'encoding="utf-8"', f'encoding="{label}"'.encode())
    server.serve("/odd.xml", body)
    result = read(server.url("/odd.xml"))
    assert len(result.records) == 3
    assert result.warnings  # the bad label is reported


def test_control_characters_are_removed(server: FeedServer) -> None:
    body = fixture_bytes("rss20.xml").replace(b"Lost umbrella", b"Lost\x00 \x07umbrella\x1b")
    server.serve("/ctl.xml", body)
    result = read(server.url("/ctl.xml"))
    assert len(result.records) == 3
    assert json.loads(result.records[1].raw)["title"] == "Lost umbrella"
    assert any("XML does not allow" in w for w in result.warnings)


# --- entity tricks -----------------------------------------------------------------------------


@pytest.fixture
def parser_input(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Record every document handed to feedparser."""
    seen: list[bytes] = []
    real_parse = feedparser.parse

    def spy(source: io.BytesIO, **kwargs: object) -> object:
        data = source.read()
        seen.append(data)
        return real_parse(io.BytesIO(data), **kwargs)

    monkeypatch.setattr(feedparser, "parse", spy)
    return seen


def test_billion_laughs_does_not_expand(server: FeedServer, parser_input: list[bytes]) -> None:
    server.serve("/lol.xml", fixture_bytes("billion_laughs.xml"))
    started = time.monotonic()
    result = read(server.url("/lol.xml"))
    assert time.monotonic() - started < 2
    # The entity declarations never reach the XML parser.
    assert b"<!ENTITY" not in parser_input[0] and b"<!DOCTYPE" not in parser_input[0]
    assert any("entity declarations" in w for w in result.warnings)
    (record,) = result.records
    assert record.external_id == "lol-1"
    assert "lollol" not in all_output(result)
    assert len(all_output(result)) < 5_000


@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE rss [<!ENTITY xxe SYSTEM "{uri}">]>',  # one line: trips regex-based stripping
        '<!DOCTYPE rss [\n  <!ENTITY xxe SYSTEM "{uri}">\n]>',
        '<!DOCTYPE rss [\n  <!ENTITY % ext SYSTEM "{uri}">\n  %ext;\n  <!ENTITY xxe "x">\n]>',
        '<!DOCTYPE rss SYSTEM "{uri}" [<!ENTITY xxe SYSTEM "{uri}"><!-- ]> --><!ENTITY q "]>">]>',
    ],
)
def test_external_entity_does_not_read_local_files(
    server: FeedServer, tmp_path: Path, parser_input: list[bytes], doctype: str
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-7f3a9c")
    head = '<?xml version="1.0" encoding="utf-8"?>\n' + doctype.format(uri=secret.as_uri()) + "\n"
    body = (
        '<rss version="2.0"><channel><title>t &xxe;</title><link>https://x.example/</link>'
        "<description>d</description><item><guid>x-1</guid><title>leak &xxe;</title>"
        "<description>value: &xxe;</description></item></channel></rss>"
    )
    server.serve("/xxe.xml", (head + body).encode())
    result = read(server.url("/xxe.xml"))
    assert "TOP-SECRET" not in all_output(result)
    assert b"<!ENTITY" not in parser_input[0]
    (record,) = result.records
    assert record.external_id == "x-1"
    assert record.text is not None and record.text.startswith("value:")


def test_external_dtd_without_internal_subset_is_kept_but_not_fetched(
    server: FeedServer, parser_input: list[bytes]
) -> None:
    server.serve("/rss091.xml", fixture_bytes("rss091.xml"))
    result = read(server.url("/rss091.xml"))
    assert b"<!DOCTYPE rss PUBLIC" in parser_input[0]
    assert server.paths() == ["/rss091.xml"]  # no DTD request anywhere
    assert len(result.records) == 1


@pytest.mark.parametrize("where", ["file", "http"])
def test_external_dtd_is_never_loaded(server: FeedServer, tmp_path: Path, where: str) -> None:
    dtd = b'<!ENTITY xxe "TOP-SECRET-from-dtd">'
    (tmp_path / "evil.dtd").write_bytes(dtd)
    server.serve("/evil.dtd", dtd, Content_Type="application/xml-dtd")
    uri = (tmp_path / "evil.dtd").as_uri() if where == "file" else server.url("/evil.dtd")
    body = (
        f'<?xml version="1.0"?>\n<!DOCTYPE rss SYSTEM "{uri}">\n'
        '<rss version="2.0"><channel><title>t</title><link>https://x.example/</link>'
        "<description>d</description><item><guid>d-1</guid><description>value: &xxe;</description>"
        "</item></channel></rss>"
    )
    server.serve("/dtd.xml", body.encode())
    result = read(server.url("/dtd.xml"))
    assert "TOP-SECRET" not in all_output(result)
    assert server.paths() == ["/dtd.xml"]
    assert [r.external_id for r in result.records] == ["d-1"]


@pytest.mark.parametrize(
    ("text", "kept", "removed"),
    [
        (
            '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e "x>y">]><a>&e;</a>',
            '<?xml version="1.0"?><a>&e;</a>',
            "entity declarations",
        ),
        ('<!DOCTYPE a [<!ENTITY e "]>">]><a/>', "<a/>", "entity declarations"),
        ("<!DOCTYPE a [<!ENTITY e ']>'>]><a/>", "<a/>", "entity declarations"),
        ("<!--c--><!doctype a [<!ELEMENT a ANY>]><a/>", "<!--c--><a/>", "an internal subset"),
        ('<!DOCTYPE a [<!-- ]> "x --><!ATTLIST a b CDATA "1">]><a/>', "<a/>", "an internal subset"),
        ('<!DOCTYPE a SYSTEM "x[y].dtd"><a/>', '<!DOCTYPE a SYSTEM "x[y].dtd"><a/>', None),
        ('junk < x <!DOCTYPE a [<!ENTITY e "x">]><a/>', "junk < x <a/>", "entity declarations"),
        ('<!DOCTYPE a [<!ENTITY e "x">] truncated', "", "entity declarations"),
        # After the root element it is content, not a DOCTYPE (and parsers reject it there).
        ("<a><!DOCTYPE b [<!ENTITY e 'x'>]></a>", "<a><!DOCTYPE b [<!ENTITY e 'x'>]></a>", None),
    ],
)
def test_strip_doctype(text: str, kept: str, removed: str | None) -> None:
    assert strip_doctype(text) == (kept, removed)


def test_decode_feed_bytes_strips_bom_and_leading_whitespace() -> None:
    text, warnings = decode_feed_bytes(b"\xef\xbb\xbf \n<?xml version='1.0'?><a/>")
    assert (text, warnings) == ("<?xml version='1.0'?><a/>", [])


def test_parser_crash_becomes_a_source_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(feedparser, "parse", broken)
    with pytest.raises(SourceError, match="feedparser failed .*RecursionError"):
        read_feed(FeedState(str(DATA / "rss20.xml")))


_SEEDS = [fixture_bytes(n) for n in ("rss20.xml", "atom10.xml", "rss10.rdf", "billion_laughs.xml")]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(_SEEDS),
    cut=st.integers(min_value=0, max_value=2000),
    noise=st.binary(max_size=40),
    at=st.integers(min_value=0, max_value=2000),
    charset=st.sampled_from([None, "utf-8", "iso-8859-1", "utf-16", "shift_jis", "bogus"]),
)
def test_mangled_feeds_never_crash(seed: bytes, cut: int, noise: bytes, at: int, charset: str | None) -> None:
    """Truncated feeds with random bytes spliced in give records or a SourceError, nothing else."""
    data = seed[:at] + noise + seed[at:]
    data = data[: max(cut, 1) * 2]
    try:
        records, warnings = feeds.parse_feed_bytes(data, "fuzz.xml", http_charset=charset)
    except SourceError as exc:
        assert "fuzz.xml" in str(exc)
        return
    assert all(isinstance(w, str) for w in warnings)
    for record in records:
        assert record.location.startswith("fuzz.xml#entry-")
        json.loads(record.raw)
        assert "lollol" not in (record.text or "")


# --- local files ---------------------------------------------------------------------------------


def test_local_path_and_file_url(tmp_path: Path) -> None:
    path = tmp_path / "my feed.xml"
    path.write_bytes(fixture_bytes("rss20.xml"))
    by_path = read_feed(FeedState(str(path)))
    by_url = read_feed(FeedState(path.as_uri()))
    assert by_path.status == by_url.status == "ok"
    assert [r.text for r in by_path.records] == [r.text for r in by_url.records]
    assert by_path.records[0].location == f"{path}#entry-1"
    assert by_path.state == FeedState(str(path))
    # Relative links cannot be resolved without a web address: no url, but still an id.
    assert by_path.records[1].url is None
    assert by_path.records[1].external_id == "/posts/2"


def test_local_file_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not found; fix: check the path"):
        read_feed(FeedState(str(tmp_path / "missing.xml")))
    big = tmp_path / "big.xml"
    big.write_bytes(fixture_bytes("rss20.xml"))
    with pytest.raises(SourceError, match="max_bytes"):
        read_feed(FeedState(str(big)), max_bytes=100)
    with pytest.raises(SourceError, match="cannot read feed file"):
        read_feed(FeedState(str(tmp_path)))  # a directory
    with pytest.raises(SourceError, match="unsupported URL scheme 'ftp'"):
        read_feed(FeedState("ftp://example.org/feed.xml"))


def test_local_billion_laughs_file() -> None:
    result = read_feed(FeedState(str(DATA / "billion_laughs.xml")))
    assert "lollol" not in all_output(result)


def test_records_are_rawrecords() -> None:
    result = read_feed(FeedState(str(DATA / "atom03.xml")))
    (record,) = result.records
    assert isinstance(record, RawRecord)
    assert record.created_at is not None and record.created_at.tzinfo is UTC


def test_unparseable_entry_link_is_dropped_not_fatal() -> None:
    """A base URL mangled into an invalid IPv6 host (found by the fuzz test) loses the link only."""
    data = (
        fixture_bytes("rss10.rdf")
        .replace(b'rdf:about="https://garden.example/rss"', b'rdf:about="https://[garden.example/rss"')
        .replace(b"<link>https://garden.example/d/10</link>", b"<link>https://[garden/d/10</link>")
    )
    records, _ = feeds.parse_feed_bytes(data, "bad-link.rdf")
    assert [r.text is not None for r in records] == [True, True]
    assert records[0].url is None
    assert records[1].url == "https://garden.example/d/11"
