"""Every reader and ``emomon ingest`` end to end on generated records with hostile dates,
encodings, sizes and opt-out markers: the accounting identity always holds (read = inserted +
updated + duplicate + rejected + excluded, and the database holds what the counts say), nothing
opted out is stored, and no command prints a traceback.

Example counts are kept small (the CPU is shared); raise ``FUZZ_EXAMPLES`` to search longer.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from monitor.cli import cli
from monitor.errors import ExitStatus
from monitor.ingest.stage import COUNT_KEYS, IngestReport, adhoc_source, ingest
from monitor.ingest.text import marker_pattern
from monitor.settings import load_settings
from monitor.store.engine import ensure_schema, make_engine, session_scope
from monitor.store.schema import Author, Post, Rejected

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "20"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
MAX_TEXT = 60
CONFIG = (
    f"[ingest]\nmax_text_chars = {MAX_TEXT}\nmax_raw_chars = 300\nmax_line_bytes = 2000\n"
    '[privacy]\nexclude_authors = ["Dee", "reddit:mallory"]\n'
)
MARKERS = marker_pattern(["#nobots", "#noindex"])

DATES = st.sampled_from(
    [
        None,
        "2025-03-01T00:00:00Z",
        "2025-03-01 12:00:00+05:30",
        "Sat, 01 Mar 2025 00:00:00 GMT",
        "Wed Oct 10 20:19:24 +0000 2018",
        "9999-12-31T23:59:59Z",
        "0001-01-01T00:00:00",
        "2025-02-30",
        "",
        "nan",
        "-1",
        "1741000000",
        "1741000000000",
        1741000000,
        1741000000000,
        253402300799,
        253402300799000,
        -62135596800,
        10**20,
        1e300,
        0,
        True,
        "\u0662\u0660\u0662\u0665-01-01",
    ]
)
MARK = st.sampled_from(
    ["", "", "", "#nobots", "#NoIndex", "\uff03nobots", "#no\u200bbots", "#nobotsplease", "nobots", "#\u2060noindex"]
)
TEXTS = st.one_of(
    st.sampled_from(
        [
            "hello",
            "",
            " ",
            "caf\u00e9",
            "\u0000\u200b",
            "<b>bold</b> &amp;",
            "line\nbreak",
            "\ud800 lone",
            "\U0001f600 emoji",
            "x" * (MAX_TEXT + 1),
            "right\u202eleft",
        ]
    ),
    st.text(max_size=30),
)
POST = st.fixed_dictionaries(
    {
        "id": st.sampled_from([None, "1", "2", "3", "", "t3_x", 7]),
        "text": TEXTS,
        "mark": MARK,
        "where": st.sampled_from(["text", "title", "author"]),
        "author": st.sampled_from([None, "ann", "Dee", "DEE", "mallory", "bob\u200b", "", "@zed"]),
        "created_at": DATES,
        "pad": st.sampled_from([0, 0, 0, MAX_TEXT, 3000]),
    }
)


def text_of(post: dict[str, Any]) -> str:
    text = post["text"] + "y" * post["pad"]
    return f"{text} {post['mark']}" if post["where"] == "text" and post["mark"] else text


def author_of(post: dict[str, Any]) -> str | None:
    if post["where"] == "author" and post["mark"] and post["author"]:
        return f"{post['author']} {post['mark']}"
    return post["author"]


def title_of(post: dict[str, Any]) -> str:
    return f"title {post['mark']}" if post["where"] == "title" else "title"


def field(value: Any) -> str:
    return "" if value is None else str(value)


# --------------------------------------------------------------------------- renderers
# Each writes the posts in one format under ``d`` and returns (location, kind).


def jsonl(d: Path, posts: list[dict[str, Any]], enc: str) -> tuple[str, str]:
    lines = [
        json.dumps(
            {
                "id": p["id"],
                "text": text_of(p),
                "title": title_of(p),
                "author": author_of(p),
                "created_at": p["created_at"],
            },
            ensure_ascii=enc == "ascii",
        )
        for p in posts
    ]
    data = "\n".join(lines).encode("utf-8", "surrogatepass") + b"\n"
    if enc == "bom":
        data = b"\xef\xbb\xbf" + data
    elif enc == "junk":
        data += b'\xff\xfe{"id": "9", "text": "\xc3"}\n{broken\n' + b"z" * 3000 + b"\n"
    path = d / ("p.jsonl.gz" if enc == "gzip" else "p.jsonl")
    path.write_bytes(gzip.compress(data) if enc == "gzip" else data)
    return str(path), "jsonl"


def csv_file(d: Path, posts: list[dict[str, Any]], enc: str) -> tuple[str, str]:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["id", "text", "author", "created_at"])
    for p in posts:
        writer.writerow([field(p["id"]), text_of(p), field(author_of(p)), field(p["created_at"])])
    codec = {"bom": "utf-8-sig", "junk": "utf-16", "ascii": "cp1252"}.get(enc, "utf-8")
    path = d / "p.csv"
    path.write_bytes(buf.getvalue().encode(codec, "surrogatepass" if codec.startswith("utf") else "replace"))
    return str(path), "csv"


def rss(d: Path, posts: list[dict[str, Any]], enc: str) -> tuple[str, str]:
    def item(p: dict[str, Any]) -> str:
        return (
            f"<item><guid>{escape(field(p['id']))}</guid><title>{escape(title_of(p))}</title>"
            f"<description>{escape(text_of(p))}</description><author>{escape(field(author_of(p)))}</author>"
            f"<pubDate>{escape(field(p['created_at']))}</pubDate></item>"
        )

    return _feed(
        d, enc, '<rss version="2.0"><channel><title>t</title>' + "".join(map(item, posts)) + "</channel></rss>"
    )


def atom(d: Path, posts: list[dict[str, Any]], enc: str) -> tuple[str, str]:
    def entry(p: dict[str, Any]) -> str:
        return (
            f"<entry><id>{escape(field(p['id']))}</id><title>{escape(title_of(p))}</title>"
            f'<content type="text">{escape(text_of(p))}</content>'
            f"<author><name>{escape(field(author_of(p)))}</name></author>"
            f"<updated>{escape(field(p['created_at']))}</updated></entry>"
        )

    return _feed(
        d, enc, '<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>' + "".join(map(entry, posts)) + "</feed>"
    )


def _feed(d: Path, enc: str, body: str) -> tuple[str, str]:
    codec = {"bom": "utf-8-sig", "junk": "punycode", "ascii": "us-ascii", "gzip": "utf-16"}.get(enc, "utf-8")
    declared = f'<?xml version="1.0" encoding="{codec.removesuffix("-sig")}"?>'
    text = "".join(ch for ch in declared + body if ch.isprintable() or ch in "\n\t")  # XML 1.0 characters only
    wire = "utf-8" if codec == "punycode" else codec
    path = d / "feed.xml"
    path.write_bytes(text.encode(wire, "xmlcharrefreplace" if wire == "us-ascii" else "surrogateescape"))
    return str(path), "feed"


def mastodon(d: Path, posts: list[dict[str, Any]], enc: str) -> tuple[str, str]:
    items = [
        {
            "type": "Create",
            "actor": author_of(p),
            "published": p["created_at"],
            "object": {
                "type": "Note",
                "id": p["id"],
                "content": f"<p>{escape(text_of(p))}</p>",
                "summary": title_of(p),
                "attributedTo": author_of(p),
            },
        }
        for p in posts
    ]
    items.append({"type": "Announce", "object": "https://example.org/1"})
    data = json.dumps({"actor": "owner", "orderedItems": items}, ensure_ascii=enc == "ascii")
    raw = data.encode("utf-8", "surrogatepass")
    if enc in ("gzip", "junk"):
        path = d / "archive.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("outbox.json", raw)
        return str(path), "mastodon"
    (d / "outbox.json").write_bytes(raw)
    return str(d / "outbox.json"), "mastodon"


def x_archive(d: Path, posts: list[dict[str, Any]], enc: str) -> tuple[str, str]:
    tweets = [{"tweet": {"id_str": p["id"], "full_text": text_of(p), "created_at": p["created_at"]}} for p in posts]
    (d / "tweets.js").write_bytes(
        ("window.YTD.tweets.part0 = " + json.dumps(tweets, ensure_ascii=enc == "ascii")).encode(
            "utf-8", "surrogatepass"
        )
    )
    (d / "account.js").write_text('window.YTD.account.part0 = [{"account": {"username": "Dee"}}]')
    return str(d / "tweets.js"), "x"


def reddit(d: Path, posts: list[dict[str, Any]], enc: str) -> tuple[str, str]:
    lines = [
        json.dumps(
            {
                "name": p["id"],
                "body": text_of(p),
                "author": author_of(p),
                "created_utc": p["created_at"],
                "subreddit": "s",
            },
            ensure_ascii=enc == "ascii",
        )
        for p in posts
    ]
    data = "\n".join(lines).encode("utf-8", "surrogatepass") + b"\n"
    path = d / "RC_2025-03.ndjson.gz"
    path.write_bytes(gzip.compress(data))
    return str(path), "reddit"


RENDERERS: dict[str, Callable[[Path, list[dict[str, Any]], str], tuple[str, str]]] = {
    "jsonl": jsonl,
    "csv": csv_file,
    "rss": rss,
    "atom": atom,
    "mastodon": mastodon,
    "x": x_archive,
    "reddit": reddit,
}
CASE = st.tuples(
    st.sampled_from(sorted(RENDERERS)),
    st.lists(POST, max_size=12),
    st.sampled_from(["utf-8", "bom", "ascii", "gzip", "junk"]),
    st.sampled_from([1, 3, 1000]),
)


# --------------------------------------------------------------------------- checks


def add_up(counts: dict[str, int]) -> None:
    assert counts["read"] == sum(counts[k] for k in COUNT_KEYS[1:]), counts


def check_store(engine: Engine, first: IngestReport, single_batch: bool, excluded: set[str]) -> None:
    """The database holds what the first run's counts say, and nothing opted out."""
    assert MARKERS is not None
    totals = first.totals()
    with session_scope(engine) as s:
        texts = s.scalars(select(Post.text)).all()
        raws = s.scalars(select(Rejected.raw)).all()
        handles = s.scalars(select(Author.handle)).all()
        rejected_rows = s.scalar(select(func.count()).select_from(Rejected))
    assert len(texts) <= totals["inserted"] and rejected_rows <= totals["rejected"]
    if single_batch:
        assert len(texts) == totals["inserted"]
    for stored in [*texts, *raws, *handles]:
        assert stored is None or not MARKERS.search(stored), stored
    assert not {h.lower() for h in handles} & excluded, handles


def stored_posts(engine: Engine) -> list[tuple[str, str | None]]:
    with session_scope(engine) as s:
        return sorted((ext, text) for ext, text in s.execute(select(Post.external_id, Post.text)))


def fresh(d: Path) -> tuple[Engine, Path]:
    (d / "config.toml").write_text(CONFIG, encoding="utf-8")
    engine = make_engine(f"sqlite:///{d / 'emomon.db'}")
    ensure_schema(engine)
    return engine, d / "config.toml"


@FUZZ
@given(CASE)
def test_fuzz_every_reader_through_the_ingest_stage(tmp_path_factory, case) -> None:
    fmt, posts, enc, batch = case
    d = tmp_path_factory.mktemp(fmt)
    location, kind = RENDERERS[fmt](d, posts, enc)
    engine, config = fresh(d)
    settings = load_settings(config, {"EMOMON_DATABASE_URL": str(engine.url), "EMOMON_INGEST_BATCH_SIZE": str(batch)})
    try:
        runs: list[IngestReport] = []
        for _ in range(2):
            runs.append(ingest(engine, settings, [adhoc_source(location, kind)]))
            for source in runs[-1].sources:
                add_up(source.counts())
                if fmt in ("jsonl", "reddit") or (fmt == "csv" and enc != "junk"):
                    stored = source.inserted + source.updated + source.duplicate
                    # a source whose every record was rejected has failed; any other reads whole
                    assert source.status == ("error" if source.rejected and not stored else "ok"), source.error
            if len(runs) == 1:
                check_store(
                    engine,
                    runs[0],
                    single_batch=batch >= runs[0].sources[0].read,
                    excluded={"dee", "mallory"} if kind == "reddit" else {"dee"},
                )
                first = stored_posts(engine)
        source = runs[0].sources[0]
        read = source.read
        assert runs[1].sources[0].read == read
        assert source.error is None or "\n" not in source.error
        # line formats read every line; one-document archives read all or (not UTF-8) fail whole
        if (fmt in ("jsonl", "reddit") and enc != "junk") or (fmt in ("mastodon", "x") and source.status == "ok"):
            assert read == len(posts) + (fmt == "mastodon")
        if batch >= read:  # the same input again changes nothing
            assert runs[1].sources[0].inserted == 0 and stored_posts(engine) == first
    finally:
        engine.dispose()


@settings(
    max_examples=max(EXAMPLES // 2, 5),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(CASE, st.booleans())
def test_fuzz_emomon_ingest_end_to_end_never_prints_a_traceback(tmp_path_factory, case, name_format) -> None:
    fmt, posts, enc, _ = case
    d = tmp_path_factory.mktemp(fmt)
    location, kind = RENDERERS[fmt](d, posts, enc)
    engine, config = fresh(d)
    args = ["--config", str(config), "--db", str(engine.url), "ingest", "--json", location]
    result = CliRunner().invoke(cli, args + (["--format", kind] if name_format else []))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output and "Traceback" not in result.stderr
    assert result.exit_code in (ExitStatus.OK, ExitStatus.ERROR, ExitStatus.FAILED), result.output
    if result.exit_code != ExitStatus.OK:
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    if result.stdout.strip():
        report = json.loads(result.stdout)
        for source in [*report["sources"], report["totals"]]:
            add_up(source)
        with session_scope(engine) as s:
            assert s.scalar(select(func.count()).select_from(Post)) <= report["totals"]["inserted"]
    engine.dispose()
