"""One file or feed is one source, however it is named: configured name, relative path, ``..``,
a symlink, the absolute path, ``sources add``; URL spellings of one feed."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hostile.loopback import Answer, Loopback, loopback
from sqlalchemy import Engine, func, select

from monitor.cli import cli
from monitor.errors import ExitStatus
from monitor.ingest.registry import canonical_location, canonical_url
from monitor.ingest.stage import adhoc_source, ingest
from monitor.settings import Settings
from monitor.store.engine import ensure_schema, make_engine, session_scope
from monitor.store.posts import get_or_create_source
from monitor.store.schema import Post, Source

N = 30


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config with one JSONL source (data/posts.jsonl, N posts) and a symlink to the file."""
    data = tmp_path / "data"
    data.mkdir()
    rows = [
        {"id": f"p{i}", "text": f"post {i}", "author": f"u{i % 3}", "created_at": "2025-03-01T00:00:00Z"}
        for i in range(N)
    ]
    (data / "posts.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (tmp_path / "link.jsonl").symlink_to(data / "posts.jsonl")
    (tmp_path / "config.toml").write_text(
        '[database]\nurl = "sqlite:///emomon.db"\n\n'
        '[[sources]]\nname = "posts"\nkind = "jsonl"\nlocation = "data/posts.jsonl"\n',
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EMOMON_CONFIG", raising=False)
    monkeypatch.delenv("EMOMON_DATABASE_URL", raising=False)
    return tmp_path


def emomon(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["--config", "config.toml", *args])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return json.loads(result.stdout) if "--json" in args else {}


def stored(project: Path) -> tuple[list[str], int, int]:
    """(source names, posts, distinct external ids) in the project's database."""
    with sqlite3.connect(project / "emomon.db") as con:
        names = [r[0] for r in con.execute("select name from sources order by id")]
        posts, distinct = con.execute("select count(*), count(distinct external_id) from posts").fetchone()
    return names, posts, distinct


def test_one_file_through_five_names_is_one_source(project: Path) -> None:
    names = [
        "posts",
        "data/posts.jsonl",
        "data/../data/./posts.jsonl",
        "link.jsonl",
        str(project / "data" / "posts.jsonl"),
    ]
    inserted = [emomon("ingest", "--json", name)["totals"]["inserted"] for name in names]
    assert inserted == [N, 0, 0, 0, 0]
    assert stored(project) == (["posts"], N, N)
    report = emomon("ingest", "--json", *names)  # all five at once: read once
    assert [s["name"] for s in report["sources"]] == ["posts"]
    assert report["totals"]["duplicate"] == N


def test_a_file_read_ad_hoc_first_keeps_its_posts_when_configured(project: Path) -> None:
    (project / "config.toml").write_text('[database]\nurl = "sqlite:///emomon.db"\n', encoding="utf-8")
    assert emomon("ingest", "--json", "link.jsonl")["totals"]["inserted"] == N
    emomon("sources", "add", "named", "data/../link.jsonl")
    assert 'location = "data/posts.jsonl"' in (project / "config.toml").read_text()
    assert emomon("ingest", "--json", "named")["totals"]["duplicate"] == N
    assert stored(project) == (["named"], N, N)


def test_sources_add_refuses_a_second_name_for_one_file(project: Path) -> None:
    result = CliRunner().invoke(cli, ["--config", "config.toml", "sources", "add", "again", "link.jsonl"])
    assert result.exit_code == ExitStatus.CONFIG
    assert "source 'posts'" in result.stderr and "already reads" in result.stderr
    assert "again" not in (project / "config.toml").read_text()


def test_two_config_entries_for_one_file_store_it_once(project: Path) -> None:
    with (project / "config.toml").open("a", encoding="utf-8") as f:
        f.write('\n[[sources]]\nname = "twin"\nkind = "jsonl"\nlocation = "link.jsonl"\n')
    result = CliRunner().invoke(cli, ["--config", "config.toml", "ingest", "--json"])
    assert result.exit_code == ExitStatus.FAILED and "Traceback" not in result.output
    twin = json.loads(result.stdout)["sources"][1]
    assert twin["status"] == "error" and "like source 'posts'" in twin["error"]
    assert stored(project) == (["posts"], N, N)


def rss(n: int) -> bytes:
    items = "".join(
        f"<item><guid>g{i}</guid><title>t</title><description>entry {i}</description>"
        f"<pubDate>Sat, 01 Mar 2025 00:00:00 GMT</pubDate></item>"
        for i in range(n)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>f</title>{items}</channel></rss>'.encode()


@pytest.fixture
def server() -> Iterator[Loopback]:
    with loopback() as state:
        yield state


def test_url_spellings_of_one_feed_are_one_source(
    server: Loopback, make_settings: Callable[..., Settings], engine: Engine
) -> None:
    server.answer("/feed.xml", Answer(body=rss(5), headers={"Content-Type": "application/rss+xml"}))
    base = server.url("/feed.xml")
    spellings = [
        base,
        base.replace("http://", "HTTP://") + "#top",
        server.url("/a/../%66eed.xml"),
        server.url("/./feed.xml").replace("127.0.0.1", "127.0.0.1."),
    ]
    settings: Settings = make_settings()
    for spelling in spellings:
        ingest(engine, settings, [adhoc_source(spelling)])
    with session_scope(engine) as s:
        assert s.scalars(select(Source.location)).all() == [base]
        assert s.scalar(select(func.count()).select_from(Post)) == 5
    assert {r["path"] for r in server.received} == {"/feed.xml"}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://Example.ORG:443", "https://example.org/"),
        ("http://example.org:80/a?b=1#frag", "http://example.org/a?b=1"),
        ("http://example.org:8080/a/b/../c/./d", "http://example.org:8080/a/c/d"),
        ("https://EXAMPLE.org./%7euser/%2fx", "https://example.org/~user/%2Fx"),
        ("https://user:Secret@Bücher.example/", "https://user:Secret@xn--bcher-kva.example/"),
        ("http://[::1]:80/", "http://[::1]/"),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected
    assert canonical_url(expected) == expected


def test_canonical_path_resolves_links_and_dots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f.csv").write_text("id,text\n")
    (tmp_path / "l").symlink_to(tmp_path / "d")
    monkeypatch.chdir(tmp_path)
    real = str((tmp_path / "d" / "f.csv").resolve())
    assert {canonical_location(p) for p in ("d/f.csv", "./d/../d/f.csv", "l/f.csv", str(tmp_path / "l/f.csv"))} == {
        real
    }
    assert canonical_location("l/*.csv") == str((tmp_path / "d").resolve() / "*.csv")


def test_an_adhoc_location_uses_the_row_that_already_reads_it(tmp_path: Path) -> None:
    eng = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    ensure_schema(eng)
    with session_scope(eng) as s:
        first = get_or_create_source(s, name="configured", kind="jsonl", location="/data/a.jsonl").id
    with session_scope(eng) as s:
        again = get_or_create_source(s, name="/data/a.jsonl", kind="jsonl", location="/data/a.jsonl")
        assert (again.id, again.name) == (first, "configured")
    with session_scope(eng) as s:
        renamed = get_or_create_source(s, name="renamed", kind="jsonl", location="/data/a.jsonl")
        assert (renamed.id, renamed.name) == (first, "renamed")
    eng.dispose()
