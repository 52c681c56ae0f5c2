"""Parse a decoded, defused feed with feedparser and map its entries to RawRecords."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser

from monitor.errors import SourceError
from monitor.ingest.feeds.decode import prepare_document
from monitor.ingest.feeds.fetch import is_http
from monitor.ingest.html import collapse_whitespace, html_to_text
from monitor.ingest.records import RawRecord
from monitor.ingest.text import shown_value

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "html", "xhtml"})
_FIX_FEED = "fix: check that the URL or path points at an RSS or Atom feed"


def parse_feed_bytes(
    data: bytes, location: str, *, http_charset: str | None = None, base_url: str | None = None
) -> tuple[list[RawRecord], list[str]]:
    """Decode, defuse and parse feed bytes into records.

    Args:
        data: The feed document as fetched.
        location: URL or path named in record locations and messages.
        http_charset: The charset from the Content-Type header, if any.
        base_url: The URL the document was fetched from, for resolving relative entry links;
            None for local files (only absolute http(s) links are kept then).

    Returns:
        ``(records, warnings)``.

    Raises:
        SourceError: Nothing could be read from the document.
    """
    document, warnings = prepare_document(data, http_charset)
    try:
        parsed = feedparser.parse(
            io.BytesIO(document),
            response_headers={"content-type": "application/xml; charset=utf-8"},
            # Keep the entry HTML as published (raw); html_to_text makes the plain text.
            resolve_relative_uris=False,
            sanitize_html=False,
        )
    except Exception as exc:  # a parser bug or a defusedxml refusal must not crash the run
        raise SourceError(
            f"cannot read feed {location}: feedparser failed ({type(exc).__name__}: {exc}); " + _FIX_FEED
        ) from exc
    entries = parsed.get("entries") or []
    reason = str(parsed.get("bozo_exception") or "unknown error")
    if not entries:
        if parsed.get("bozo"):
            raise SourceError(
                f"cannot read feed {location}: not well-formed and no entries found ({reason}); " + _FIX_FEED
            )
        if not parsed.get("version"):
            raise SourceError(
                f"cannot read feed {location}: not an RSS or Atom document; "
                "fix: check that the URL or path points at a feed, not a web page"
            )
    elif parsed.get("bozo"):
        warnings.append(f"{location}: malformed feed ({reason}); read {len(entries)} entries anyway")
    feed = parsed.get("feed") or {}
    records = [_record(entry, feed, f"{location}#entry-{n}", base_url) for n, entry in enumerate(entries, 1)]
    return records, warnings


def _record(entry: dict[str, Any], feed: dict[str, Any], location: str, base_url: str | None) -> RawRecord:
    """Map one feedparser entry (with its feed's defaults) to a RawRecord."""
    text, language = _entry_text(entry)
    created_at, error = _entry_time(entry)
    author = _author(entry) or _author(feed)
    link = _clean(_get(entry, "link"))
    raw: dict[str, str | list[str]] = {
        key: value
        for key in ("id", "title", "link", "author", "published", "updated", "summary")
        if isinstance(value := _get(entry, key), str) and value
    }
    contents = [c.get("value") for c in _get(entry, "content") or [] if c.get("value")]
    if contents:
        raw["content"] = contents
    return RawRecord(
        location=location,
        raw=json.dumps(raw, ensure_ascii=False, separators=(",", ":")),
        external_id=_clean(_get(entry, "id")) or link,
        text=text,
        author=author,
        created_at=created_at,
        url=_entry_url(link, base_url),
        language=language or _clean(_get(feed, "language")),
        error=error,
    )


def _author(item: dict[str, Any]) -> str | None:
    """Return the author's name, or their e-mail address when no name is given.

    RSS writes ``"email (Name)"`` and feedparser writes Atom authors as ``"Name (email)"``;
    feedparser's own split of these is unreliable for long top-level domains, so it is
    only used when there is no author string.
    """
    value = _clean(_get(item, "author"))
    if value is None:
        return _clean(_get(_get(item, "author_detail"), "name"))
    open_at = value.rfind("(")
    if value.endswith(")") and open_at > 0:
        outer, inner = value[:open_at].strip(), value[open_at + 1 : -1].strip()
        if outer and inner:
            return inner if "@" in outer and "@" not in inner else outer
    return value


def _entry_url(link: str | None, base_url: str | None) -> str | None:
    """Return the entry's absolute http(s) link (ids like ``tag:...`` are not URLs).

    A link that cannot be parsed (e.g. a stray ``[`` read as an IPv6 host) is treated like a
    missing one: the entry keeps its text and is identified by its id or content instead.
    """
    if link is None:
        return None
    try:
        if base_url is not None:
            link = urljoin(base_url, link)
        return link if is_http(link) else None
    except ValueError:
        return None


def _entry_text(entry: dict[str, Any]) -> tuple[str, str | None]:
    """Return (clean text, language) from the first non-empty content, summary or title."""
    details = list(_get(entry, "content") or [])
    for key in ("summary", "title"):
        detail = _get(entry, f"{key}_detail")
        if detail:
            details.append(detail)
        elif _get(entry, key):
            details.append({"value": _get(entry, key), "type": "text/html"})
    for detail in details:
        value = detail.get("value")
        if not isinstance(value, str) or not value.strip():
            continue
        if (detail.get("type") or "text/html").lower() in _HTML_TYPES:
            text = html_to_text(value)
        else:
            text = collapse_whitespace(value)
        if text:
            return text, _clean(detail.get("language"))
    return "", None


def _entry_time(entry: dict[str, Any]) -> tuple[datetime | None, str | None]:
    """Return (UTC time, error) from the entry's published, updated or created date."""
    unparsed: list[str] = []
    for key in ("published", "updated", "created"):
        raw = _get(entry, key)
        if not raw:
            continue
        when = _struct_to_utc(_get(entry, f"{key}_parsed"))
        if when is not None:
            return when, None
        unparsed.append(str(raw))
    if unparsed:
        return None, f"unparsable date {shown_value(unparsed[0])}"
    return None, None


def _struct_to_utc(parsed: Any) -> datetime | None:
    """Turn feedparser's UTC struct_time into an aware datetime (None when out of range)."""
    if not parsed:
        return None
    try:
        year, month, day, hour, minute, second = parsed[:6]
        return datetime(year, month, day, hour, minute, min(second, 59), tzinfo=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _get(mapping: Any, key: str) -> Any:
    """``dict.get`` on dicts, else None (FeedParserDict's own get maps "updated" to "published")."""
    return dict.get(mapping, key) if isinstance(mapping, dict) else None


def _clean(value: Any) -> str | None:
    """The stripped string, or None for non-strings and blanks."""
    if not isinstance(value, str):
        return None
    return value.strip() or None
