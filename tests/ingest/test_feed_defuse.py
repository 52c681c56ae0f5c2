"""The second defusing layer: defusedxml's expat reader as feedparser's strict parser."""

from __future__ import annotations

import io
import xml.sax
from pathlib import Path

import feedparser
import feedparser.api
import pytest
from defusedxml.expatreader import DefusedExpatParser

from monitor.errors import SourceError
from monitor.ingest.feeds import decode, parse_feed_bytes

DATA = Path(__file__).parents[1] / "data" / "feeds"


def test_feedparser_strict_parser_is_defusedxml_and_installed_once() -> None:
    for _ in range(2):
        parse_feed_bytes((DATA / "rss20.xml").read_bytes(), "rss20.xml")
    drivers = feedparser.api.PREFERRED_XML_PARSERS
    assert drivers[0] == decode.__name__
    assert drivers.count(decode.__name__) == 1
    assert isinstance(xml.sax.make_parser(drivers), DefusedExpatParser)


def test_external_dtd_reference_passes_the_defused_parser() -> None:
    """RSS 0.91 names a DTD: expat reports it as an external reference; it is neither refused
    nor loaded, so the strict parser reads the feed (no bozo fallback to the loose parser)."""
    document, warnings = decode.prepare_document((DATA / "rss091.xml").read_bytes())
    assert b"<!DOCTYPE rss PUBLIC" in document and warnings == []
    parsed = feedparser.parse(io.BytesIO(document))
    assert not parsed.get("bozo") and len(parsed["entries"]) == 1


@pytest.fixture
def no_strip(monkeypatch: pytest.MonkeyPatch) -> None:
    """Simulate a bug in the DOCTYPE scan: entity declarations reach feedparser."""
    monkeypatch.setattr(decode, "strip_doctype", lambda text: (text, None))


@pytest.mark.usefixtures("no_strip")
def test_entities_missed_by_the_scan_are_refused_not_expanded() -> None:
    data = (DATA / "billion_laughs.xml").read_bytes()
    with pytest.raises(SourceError, match="lol.xml: feedparser failed .*EntitiesForbidden"):
        parse_feed_bytes(data, "lol.xml")


@pytest.mark.usefixtures("no_strip")
def test_external_entity_missed_by_the_scan_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-7f3a9c")
    data = (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>'
        '<rss version="2.0"><channel><title>t</title><item><guid>x-1</guid>'
        "<description>value: &xxe;</description></item></channel></rss>"
    ).encode()
    with pytest.raises(SourceError, match="EntitiesForbidden") as info:
        parse_feed_bytes(data, "xxe.xml")
    assert "TOP-SECRET" not in str(info.value)
