"""Read RSS and Atom feeds from a URL or a local file into RawRecords.

The bytes are fetched (:mod:`.fetch`: httpx with time-outs, a size cap, conditional requests,
redirect and back-off handling), decoded and defused (:mod:`.decode`), and only then parsed
by feedparser and mapped to records (:mod:`.parse`).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from monitor.ingest.feeds.decode import decode_feed_bytes, strip_doctype
from monitor.ingest.feeds.fetch import (
    ACCEPT,
    DEFAULT_RETRY_AFTER,
    MAX_BYTES_KEY,
    MAX_REDIRECTS,
    MAX_RETRY_AFTER,
    TOTAL_TIMEOUT_FACTOR,
    USER_AGENT,
    Fetched,
    fetch_http,
    held_back,
    is_http,
    read_local,
)
from monitor.ingest.feeds.parse import parse_feed_bytes
from monitor.ingest.records import FeedResult
from monitor.redact import redact_url
from monitor.store.posts import FeedState

__all__ = [
    "ACCEPT",
    "DEFAULT_RETRY_AFTER",
    "MAX_BYTES_KEY",
    "MAX_REDIRECTS",
    "MAX_RETRY_AFTER",
    "TOTAL_TIMEOUT_FACTOR",
    "USER_AGENT",
    "decode_feed_bytes",
    "parse_feed_bytes",
    "read_feed",
    "strip_doctype",
]


def read_feed(
    state: FeedState,
    *,
    timeout_s: float = 20.0,
    max_bytes: int = 10_000_000,
    user_agent: str = USER_AGENT,
    now: datetime | None = None,
    time_left: float | None = None,
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
        time_left: Seconds left of the source's time budget; the fetch takes no longer.

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
    held = held_back(state, now)
    if held is not None:
        return held
    if not is_http(state.url):
        records, warnings = parse_feed_bytes(read_local(state.url, max_bytes), redact_url(state.url))
        return FeedResult(records, replace(state, retry_after=None), "ok", warnings)
    fetched = fetch_http(
        state,
        timeout_s=timeout_s,
        max_bytes=max_bytes,
        user_agent=user_agent,
        now=now,
        time_left=time_left,
    )
    if not isinstance(fetched, Fetched):
        return fetched
    records, warnings = parse_feed_bytes(
        fetched.body, redact_url(fetched.state.url), http_charset=fetched.charset, base_url=fetched.url
    )
    return FeedResult(records, fetched.state, "ok", fetched.warnings + warnings)
