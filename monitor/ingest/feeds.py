"""Read RSS and Atom feeds from a URL or a local file into RawRecords.

The bytes are fetched with httpx (time-outs, a size cap, conditional requests, redirect and
back-off handling), decoded and defused here, and only then parsed by feedparser:

* decoding: byte order mark > HTTP charset > XML declaration > UTF-8, with fallbacks for
  mislabelled or broken bytes, so a wrong declared encoding or invalid UTF-8 never crashes;
* defusing: a DOCTYPE with an internal subset (where entities are declared: billion laughs,
  external entities pointing at local files) is removed before any XML parser sees it, so
  no entity can expand and no file can be read.
"""

from __future__ import annotations

import codecs
import io
import json
import re
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit
from urllib.request import url2pathname

import feedparser
import httpx

from monitor import __version__
from monitor.errors import SourceError
from monitor.ingest.html import collapse_whitespace, html_to_text
from monitor.ingest.records import FeedResult, FeedState, RawRecord

USER_AGENT = f"emomon/{__version__} (+https://github.com/emomon/emomon)"
ACCEPT = (
    "application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5"
)
# The configuration key that sets max_bytes, named in the "too large" error.
MAX_BYTES_KEY = "[ingest] max_bytes"
MAX_REDIRECTS = 10
DEFAULT_RETRY_AFTER = timedelta(minutes=15)
MAX_RETRY_AFTER = timedelta(days=7)
# The whole fetch (all redirects and the body) may take at most this many read time-outs,
# so a server that drips one byte just inside the read time-out cannot hold a run forever.
TOTAL_TIMEOUT_FACTOR = 3

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "html", "xhtml"})
# Characters XML 1.0 forbids; a feed containing them would make the strict parser give up.
_XML_ILLEGAL = dict.fromkeys([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0xFFFE, 0xFFFF])
# Encodings whose declaration is often wrong for a body that is really UTF-8.
_LEGACY_SINGLE_BYTE = frozenset({"ascii", "latin_1", "iso8859-1", "cp1252", "iso8859-15"})
# Decode these as Windows-1252, a superset that browsers also use for them.
_AS_CP1252 = frozenset({"ascii", "latin_1", "iso8859-1"})
_UTF8_OVERRIDE = "declared encoding {} but the body is valid UTF-8; read as UTF-8"
_XML_ENCODING = re.compile(rb"""^<\?xml[^>]*?\sencoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# How "<?" (or "<?xm" for EBCDIC) starts in encodings that are not ASCII-compatible.
_SNIFF = (
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00<\x00?", "utf-16-be"),
    (b"<\x00?\x00", "utf-16-le"),
    (b"\x4c\x6f\xa7\x94", "cp037"),
)


def read_feed(
    state: FeedState,
    *,
    timeout_s: float = 20.0,
    max_bytes: int = 10_000_000,
    user_agent: str = USER_AGENT,
    now: datetime | None = None,
) -> FeedResult:
    """Fetch and parse one feed.

    Example: ``read_feed(FeedState("https://example.org/feed.xml", etag='"v1"'))``.

    Args:
        state: The stored state of the source: an http(s) URL, a ``file://`` URL or a local
            path, plus the validators and back-off of the previous fetch.
        timeout_s: Seconds allowed to connect and between received bytes; the whole fetch may
            take at most ``TOTAL_TIMEOUT_FACTOR`` times as long.
        max_bytes: Largest body accepted (after content decoding); set by ``MAX_BYTES_KEY``.
        user_agent: The User-Agent header sent to servers.
        now: Current time (timezone-aware), for Retry-After; defaults to the clock.

    Returns:
        The records and the new state to store. ``status`` is ``"ok"``, ``"not_modified"``
        (304), ``"gone"`` (410, or a source paused earlier) or ``"retry_later"`` (429/503,
        or a back-off that has not expired yet).

    Raises:
        SourceError: The feed cannot be read (network error, HTTP error, too large, not a
            feed); the message names the URL and a fix.
    """
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        raise ValueError(f"now must be timezone-aware, got {now!r}")
    if state.paused:
        warning = (
            f"{state.url}: source is paused after HTTP 410 Gone; "
            "fix: set the feed's new URL or remove the source"
        )
        return FeedResult([], state, "gone", [warning])
    if state.retry_after is not None and _as_utc(state.retry_after) > now:
        until = _as_utc(state.retry_after).isoformat()
        return FeedResult([], state, "retry_later", [f"{state.url}: not fetched before {until}"])
    if _is_http(state.url):
        return _read_http(state, timeout_s, max_bytes, user_agent, now)
    path = _local_path(state.url)
    data = _read_local(path, state.url, max_bytes)
    records, warnings = parse_feed_bytes(data, state.url)
    return FeedResult(records, replace(state, retry_after=None), "ok", warnings)


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
    text, warnings = decode_feed_bytes(data, http_charset)
    text, removed = strip_doctype(text)
    if removed:
        warnings.append(f"removed a DOCTYPE with {removed}; entity declarations are not allowed")
    if text.startswith("<?xml"):
        end = text.find("?>")
        if end >= 0:
            text = '<?xml version="1.0" encoding="utf-8"?>' + text[end + 2 :]
    try:
        parsed = feedparser.parse(
            io.BytesIO(text.encode("utf-8")),
            response_headers={"content-type": "application/xml; charset=utf-8"},
            # Keep the entry HTML as published (raw); html_to_text makes the plain text.
            resolve_relative_uris=False,
            sanitize_html=False,
        )
    except Exception as exc:  # a parser bug on hostile input must not crash the whole run
        raise SourceError(
            f"cannot read feed {location}: feedparser failed ({type(exc).__name__}: {exc}); "
            "fix: check that the URL or path points at an RSS or Atom feed"
        ) from exc
    entries = parsed.get("entries") or []
    reason = str(parsed.get("bozo_exception") or "unknown error")
    if not entries:
        if parsed.get("bozo"):
            raise SourceError(
                f"cannot read feed {location}: not well-formed and no entries found ({reason}); "
                "fix: check that the URL or path points at an RSS or Atom feed"
            )
        if not parsed.get("version"):
            raise SourceError(
                f"cannot read feed {location}: not an RSS or Atom document; "
                "fix: check that the URL or path points at a feed, not a web page"
            )
    elif parsed.get("bozo"):
        warnings.append(
            f"{location}: malformed feed ({reason}); read {len(entries)} entries anyway"
        )
    feed = parsed.get("feed") or {}
    records = [
        _record(entry, feed, f"{location}#entry-{n}", base_url)
        for n, entry in enumerate(entries, 1)
    ]
    return records, warnings


# --- decoding and defusing -------------------------------------------------------------------


def decode_feed_bytes(data: bytes, http_charset: str | None = None) -> tuple[str, list[str]]:
    """Decode a feed document to text without ever failing.

    The encoding is taken from the byte order mark, else the HTTP charset, else the XML
    declaration, else UTF-8. A single-byte declaration on a body that is valid UTF-8 is read
    as UTF-8; bytes invalid in the chosen encoding fall back to UTF-8, then Windows-1252, and
    are finally replaced with U+FFFD. Characters XML forbids are removed. Each such repair
    adds a warning.

    Args:
        data: The raw document.
        http_charset: The charset parameter of the HTTP Content-Type header, if any.

    Returns:
        ``(text, warnings)``; the text has no byte order mark and no leading whitespace.
    """
    warnings: list[str] = []
    encoding, body, declared = _sniff_encoding(data, http_charset, warnings)
    text = _decode(body, encoding, declared, warnings)
    cleaned = text.translate(_XML_ILLEGAL)
    if len(cleaned) != len(text):
        warnings.append(f"removed {len(text) - len(cleaned)} characters that XML does not allow")
    return cleaned.lstrip("\ufeff \t\r\n"), warnings


def _sniff_encoding(
    data: bytes, http_charset: str | None, warnings: list[str]
) -> tuple[str, bytes, bool]:
    """Return (codec name, body without BOM, whether the name came from a declaration)."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name, data[len(bom) :], False
    for prefix, name in _SNIFF:
        if data.startswith(prefix):
            return name, data, False
    match = _XML_ENCODING.match(data.lstrip()[:1024])
    xml_label = match.group(1).decode("ascii") if match else None
    for label, what in ((http_charset, "HTTP charset"), (xml_label, "XML declaration")):
        if not label:
            continue
        try:
            return codecs.lookup(label).name, data, True
        except LookupError:
            warnings.append(f"unknown encoding {label!r} in the {what}; read as UTF-8")
    return "utf-8", data, False


def _decode(body: bytes, encoding: str, declared: bool, warnings: list[str]) -> str:
    if declared and encoding in _LEGACY_SINGLE_BYTE and not body.isascii():
        text = _strict_utf8(body)
        if text is not None:
            warnings.append(_UTF8_OVERRIDE.format(encoding))
            return text
    codec = "cp1252" if encoding in _AS_CP1252 else encoding
    try:
        return body.decode(codec)
    except LookupError:
        warnings.append(f"{encoding!r} is not a text encoding; read as UTF-8")
    except UnicodeDecodeError:
        if codec == "utf-8":
            return _repair_utf8(body, warnings)
        text = _strict_utf8(body)
        if text is None:
            warnings.append(f"invalid {encoding} bytes replaced with U+FFFD")
            return body.decode(codec, "replace")
        warnings.append(_UTF8_OVERRIDE.format(encoding))
        return text
    text = _strict_utf8(body)
    return _repair_utf8(body, warnings) if text is None else text


def _strict_utf8(body: bytes) -> str | None:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _repair_utf8(body: bytes, warnings: list[str]) -> str:
    """Decode a body that is not valid UTF-8: keep UTF-8 if some of it is, else Windows-1252."""
    text = body.decode("utf-8", "replace")
    if any(ord(ch) > 0x7F and ch != "\ufffd" for ch in text):
        warnings.append("invalid UTF-8 bytes replaced with U+FFFD")
        return text
    # Not a single valid multi-byte sequence: a legacy single-byte encoding, mislabelled.
    warnings.append("body is not valid UTF-8 and has no UTF-8 characters; read as Windows-1252")
    return body.decode("cp1252", "replace")


def strip_doctype(text: str) -> tuple[str, str | None]:
    """Remove every DOCTYPE that has an internal subset from the document prolog.

    The internal subset (``<!DOCTYPE x [ ... ]>``) is where entities are declared, so
    removing it defeats entity expansion (billion laughs) and external entities (file reads)
    whatever parser runs next. A DOCTYPE with only an external identifier, like RSS 0.91's,
    is kept: no parser used here fetches external DTDs.

    Args:
        text: The decoded document.

    Returns:
        ``(text, removed)`` where ``removed`` describes what was removed, e.g.
        ``"entity declarations"``, or None when nothing was.
    """
    spans: list[tuple[int, int]] = []
    declares_entities = False
    pos = 0
    while (lt := text.find("<", pos)) >= 0:
        if text.startswith("<?", lt):
            end = text.find("?>", lt + 2)
            pos = len(text) if end < 0 else end + 2
        elif text.startswith("<!--", lt):
            end = text.find("-->", lt + 4)
            pos = len(text) if end < 0 else end + 3
        elif text[lt : lt + 9].upper() == "<!DOCTYPE":
            end, subset = _doctype_end(text, lt + 9)
            if subset is not None:
                spans.append((lt, end))
                declares_entities = declares_entities or "<!ENTITY" in subset.upper()
            pos = end
        elif lt + 1 < len(text) and (text[lt + 1].isalpha() or text[lt + 1] in "_:"):
            break  # the root element: no DOCTYPE may follow
        else:
            pos = lt + 1  # stray "<" in junk before the root; keep looking
    if not spans:
        return text, None
    pieces, last = [], 0
    for start, end in spans:
        pieces.append(text[last:start])
        last = end
    pieces.append(text[last:])
    removed = "entity declarations" if declares_entities else "an internal subset"
    return "".join(pieces), removed


def _doctype_end(text: str, pos: int) -> tuple[int, str | None]:
    """Scan a DOCTYPE from after its keyword; return (end index, internal subset or None).

    Quoted literals and comments may contain ``[``, ``]`` and ``>``; an unterminated DOCTYPE
    runs to the end of the text.
    """
    quote: str | None = None
    subset_start: int | None = None
    n = len(text)
    while pos < n:
        ch = text[pos]
        if quote is not None:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif subset_start is not None and text.startswith("<!--", pos):
            end = text.find("-->", pos + 4)
            pos = n if end < 0 else end + 3
            continue
        elif ch == "[" and subset_start is None:
            subset_start = pos + 1
        elif ch == "]" and subset_start is not None:
            close = text.find(">", pos + 1)
            end = n if close < 0 else close + 1
            return end, text[subset_start:pos]
        elif ch == ">" and subset_start is None:
            return pos + 1, None
        pos += 1
    return n, None if subset_start is None else text[subset_start:]


# --- entries -----------------------------------------------------------------------------------


def _record(
    entry: dict[str, Any], feed: dict[str, Any], location: str, base_url: str | None
) -> RawRecord:
    text, language = _entry_text(entry)
    created_at, error = _entry_time(entry)
    author = _author(entry) or _author(feed)
    link = _clean(_get(entry, "link"))
    raw = {
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
        return link if _is_http(link) else None
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
        return None, f"unparsable date: {unparsed[0][:100]!r}"
    return None, None


def _struct_to_utc(parsed: Any) -> datetime | None:
    """Turn feedparser's UTC struct_time into an aware datetime (None when out of range)."""
    if not parsed:
        return None
    try:
        return datetime(*parsed[:5], min(parsed[5], 59), tzinfo=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _get(mapping: Any, key: str) -> Any:
    # dict.get: FeedParserDict's own lookup maps "updated" to "published" with a warning.
    return dict.get(mapping, key) if isinstance(mapping, dict) else None


def _clean(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return value.strip() or None


# --- fetching -----------------------------------------------------------------------------------


def _is_http(url: str) -> bool:
    return urlsplit(url).scheme.lower() in ("http", "https")


def _local_path(url: str) -> Path:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "file":
        return Path(url2pathname(parts.path))
    if len(scheme) > 1:  # one letter is a Windows drive
        raise SourceError(
            f"cannot read feed {url}: unsupported URL scheme {parts.scheme!r}; "
            "fix: use an http(s) URL, a file:// URL or a local path"
        )
    return Path(url).expanduser()


def _read_local(path: Path, url: str, max_bytes: int) -> bytes:
    try:
        with path.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except FileNotFoundError:
        raise SourceError(
            f"feed file {url} not found; fix: check the path in the source"
        ) from None
    except OSError as exc:
        raise SourceError(
            f"cannot read feed file {url}: {exc.strerror or exc}; "
            "fix: check the path and its permissions"
        ) from None
    if len(data) > max_bytes:
        raise _too_large(url, max_bytes)
    return data


def _too_large(url: str, max_bytes: int) -> SourceError:
    return SourceError(
        f"feed {url} is larger than {max_bytes} bytes; fix: raise `{MAX_BYTES_KEY}` "
        "in the config, or check that the URL points at a feed"
    )


def _read_http(
    state: FeedState, timeout_s: float, max_bytes: int, user_agent: str, now: datetime
) -> FeedResult:
    headers = {"User-Agent": user_agent, "Accept": ACCEPT}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    deadline = time.monotonic() + TOTAL_TIMEOUT_FACTOR * timeout_s
    url, stored, permanent, warnings = state.url, state.url, True, []
    timeout = httpx.Timeout(timeout_s)
    with httpx.Client(timeout=timeout, headers=headers, follow_redirects=False) as client:
        for _ in range(MAX_REDIRECTS + 1):
            try:
                with client.stream("GET", url) as response:
                    if response.has_redirect_location:
                        url = _redirect_target(url, response)
                        if permanent and response.status_code in (301, 308):
                            stored = url
                        else:
                            permanent = False
                        continue
                    if stored != state.url:
                        warnings.append(
                            f"{state.url} moved permanently to {stored}; stored URL updated"
                        )
                    new_state = replace(state, url=stored, retry_after=None)
                    return _handle_response(
                        response, new_state, url, max_bytes, deadline, now, warnings
                    )
            except httpx.TimeoutException as exc:
                raise SourceError(
                    f"cannot read feed {url}: timed out ({type(exc).__name__}) after "
                    f"{timeout_s:g} s; fix: check that the server is up, or raise the time-out"
                ) from None
            except httpx.HTTPError as exc:
                raise SourceError(
                    f"cannot read feed {url}: {exc or type(exc).__name__}; "
                    "fix: check the URL and the network connection"
                ) from None
    raise SourceError(
        f"cannot read feed {state.url}: more than {MAX_REDIRECTS} redirects; "
        "fix: open the URL in a browser and configure the final feed URL"
    )


def _redirect_target(url: str, response: httpx.Response) -> str:
    target = urljoin(url, response.headers["location"])
    if not _is_http(target):
        raise SourceError(
            f"cannot read feed {url}: redirected to {target!r}, which is not http(s); "
            "fix: configure the feed's real URL"
        )
    return target


def _handle_response(
    response: httpx.Response,
    state: FeedState,
    url: str,
    max_bytes: int,
    deadline: float,
    now: datetime,
    warnings: list[str],
) -> FeedResult:
    code = response.status_code
    if code == 304:
        state = replace(
            state,
            etag=response.headers.get("etag", state.etag),
            last_modified=response.headers.get("last-modified", state.last_modified),
        )
        return FeedResult([], state, "not_modified", warnings)
    if code == 410:
        warnings.append(
            f"{url} answered 410 Gone; source paused. "
            "Fix: set the feed's new URL or remove the source"
        )
        return FeedResult([], replace(state, paused=True), "gone", warnings)
    if code in (429, 503):
        retry_after = _retry_after(response.headers.get("retry-after"), now, warnings)
        until = retry_after.isoformat()
        warnings.append(f"{url} answered {code}; not fetched again before {until}")
        return FeedResult([], replace(state, retry_after=retry_after), "retry_later", warnings)
    if not 200 <= code < 300:
        raise SourceError(
            f"cannot read feed {url}: HTTP {code} {response.reason_phrase}; "
            f"fix: {_http_fix(code)}"
        )
    body = _read_body(response, url, max_bytes, deadline)
    records, parse_warnings = parse_feed_bytes(
        body, state.url, http_charset=response.charset_encoding, base_url=url
    )
    headers = response.headers
    state = replace(state, etag=headers.get("etag"), last_modified=headers.get("last-modified"))
    return FeedResult(records, state, "ok", warnings + parse_warnings)


def _http_fix(code: int) -> str:
    if code in (401, 403):
        return "the server refuses access; check the URL or ask the site for access"
    if code == 404:
        return "check the URL; the feed may have moved"
    if code >= 500:
        return "the server failed; try again later or tell the site"
    return "check the URL"


def _read_body(response: httpx.Response, url: str, max_bytes: int, deadline: float) -> bytes:
    length = response.headers.get("content-length", "")
    if length.isascii() and length.isdigit() and int(length) > max_bytes:
        raise _too_large(url, max_bytes)
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > max_bytes:
            raise _too_large(url, max_bytes)
        if time.monotonic() > deadline:
            raise SourceError(
                f"cannot read feed {url}: the server is sending too slowly; "
                "fix: try again later or raise the time-out"
            )
    return bytes(body)


def _retry_after(value: str | None, now: datetime, warnings: list[str]) -> datetime:
    """Parse Retry-After (seconds or an HTTP date), clamped to [now, now + MAX_RETRY_AFTER]."""
    delay: timedelta | None = None
    value = (value or "").strip()
    if value.isascii() and value.isdigit():
        delay = timedelta(seconds=min(int(value), int(MAX_RETRY_AFTER.total_seconds())))
    elif value:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            when = None
        if when is not None:
            delay = _as_utc(when) - now
    if delay is None:
        warnings.append(f"no usable Retry-After ({value!r}); waiting {DEFAULT_RETRY_AFTER}")
        delay = DEFAULT_RETRY_AFTER
    return now + min(max(delay, timedelta(0)), MAX_RETRY_AFTER)


def _as_utc(value: datetime) -> datetime:
    """Return an aware UTC datetime; naive values (as SQLite returns them) are taken as UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
