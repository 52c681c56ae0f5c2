"""Get feed bytes: HTTP with httpx (size and time caps, conditional GET, redirects, back-off).

Also reads local files and decides, from the stored state, whether a source is paused (410)
or backing off (429/503 Retry-After) and must not be fetched now.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urljoin, urlsplit
from urllib.request import url2pathname

import httpx

from monitor.deadline import TOTAL_TIMEOUT_FACTOR as TOTAL_TIMEOUT_FACTOR
from monitor.deadline import Deadline, http_client
from monitor.errors import SourceError
from monitor.ingest.records import FeedResult
from monitor.redact import redact, redact_url
from monitor.retry_after import retry_after_delay
from monitor.store.posts import FeedState
from monitor.version import __version__

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
# The whole fetch (connect, headers and body of every redirect) may take at most
# TOTAL_TIMEOUT_FACTOR read time-outs (monitor.deadline), so a server that drips one byte just
# inside the read time-out cannot hold a run forever.


@dataclass(frozen=True, slots=True)
class Fetched:
    """A 2xx answer, to be parsed.

    Attributes:
        body: The body (after content decoding).
        url: The URL it finally came from, the base for relative links.
        charset: The charset of the Content-Type header, if any.
        state: The state to store: URL after permanent redirects, new validators.
        warnings: Problems met on the way (e.g. a permanent redirect).
    """

    body: bytes
    url: str
    charset: str | None
    state: FeedState
    warnings: list[str]


def is_http(url: str) -> bool:
    """Whether ``url`` is http(s), the only schemes fetched over the network."""
    return urlsplit(url).scheme.lower() in ("http", "https")


def held_back(state: FeedState, now: datetime) -> FeedResult | None:
    """The result for a source that is paused or backing off at ``now``, else None."""
    if state.paused:
        warning = (
            f"{redact_url(state.url)}: source is paused after HTTP 410 Gone; "
            "fix: set the feed's new URL or remove the source"
        )
        return FeedResult([], state, "gone", [warning])
    if state.retry_after is not None and as_utc(state.retry_after) > now:
        until = as_utc(state.retry_after).isoformat()
        return FeedResult([], state, "retry_later", [f"{redact_url(state.url)}: not fetched before {until}"])
    return None


def as_utc(value: datetime) -> datetime:
    """Return an aware UTC datetime; naive values (as SQLite returns them) are taken as UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


# --- local files ---------------------------------------------------------------------------------


def read_local(url: str, max_bytes: int) -> bytes:
    """Read a local path or ``file://`` URL, at most ``max_bytes``.

    Raises:
        SourceError: Unsupported scheme, missing or unreadable file, or too large.
    """
    path = _local_path(url)
    try:
        with path.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except FileNotFoundError:
        raise SourceError(f"feed file {redact_url(url)} not found; fix: check the path in the source") from None
    except OSError as exc:
        raise SourceError(
            f"cannot read feed file {redact_url(url)}: {exc.strerror or exc}; fix: check the path and its permissions"
        ) from None
    if len(data) > max_bytes:
        raise _too_large(url, max_bytes)
    return data


def _local_path(url: str) -> Path:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "file":
        return Path(url2pathname(parts.path))
    if len(scheme) > 1:  # one letter is a Windows drive
        raise SourceError(
            f"cannot read feed {redact_url(url)}: unsupported URL scheme {parts.scheme!r}; "
            "fix: use an http(s) URL, a file:// URL or a local path"
        )
    return Path(url).expanduser()


def _too_large(url: str, max_bytes: int) -> SourceError:
    return SourceError(
        f"feed {redact_url(url)} is larger than {max_bytes} bytes; fix: raise `{MAX_BYTES_KEY}` "
        "in the config, or check that the URL points at a feed"
    )


# --- HTTP ----------------------------------------------------------------------------------------


def fetch_http(
    state: FeedState,
    *,
    timeout_s: float,
    max_bytes: int,
    user_agent: str,
    now: datetime,
    time_left: float | None = None,
) -> FeedResult | Fetched:
    """GET the feed, following up to ``MAX_REDIRECTS`` redirects, all of it (connect, headers and
    body) within ``TOTAL_TIMEOUT_FACTOR * timeout_s`` seconds, or ``time_left`` (what is left of the
    source's time budget) when that is less.

    Returns:
        A body to parse, or the final result when there is none (304, 410, 429/503).

    Raises:
        SourceError: Network error, time-out, deadline passed, HTTP error, too large, too many
            redirects.
    """
    headers = {"User-Agent": user_agent, "Accept": ACCEPT}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    deadline = Deadline.within(timeout_s, "[ingest] timeout_s", time_left, "[ingest] source_budget_s")
    url, stored, permanent, warnings = state.url, state.url, True, []
    timeout_s = min(timeout_s, deadline.seconds)
    timeout = httpx.Timeout(timeout_s)
    with deadline.watch(), http_client(deadline, timeout=timeout, headers=headers, follow_redirects=False) as client:
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
                            f"{redact_url(state.url)} moved permanently to {redact_url(stored)}; stored URL updated"
                        )
                    new_state = replace(state, url=stored, retry_after=None)
                    return _handle_response(response, new_state, url, max_bytes, deadline, now, warnings)
            except httpx.TimeoutException as exc:
                if deadline.passed():
                    raise _deadline_passed(url, deadline) from None
                raise SourceError(
                    f"cannot read feed {redact_url(url)}: timed out ({type(exc).__name__}) after "
                    f"{timeout_s:g} s; fix: check that the server is up, or raise the time-out"
                ) from None
            except httpx.HTTPError as exc:
                if deadline.passed():  # the watchdog shut the connection down
                    raise _deadline_passed(url, deadline) from None
                raise SourceError(
                    f"cannot read feed {redact_url(url)}: {redact(str(exc)) or type(exc).__name__}; "
                    "fix: check the URL and the network connection"
                ) from None
    raise SourceError(
        f"cannot read feed {redact_url(state.url)}: more than {MAX_REDIRECTS} redirects; "
        "fix: open the URL in a browser and configure the final feed URL"
    )


def _deadline_passed(url: str, deadline: Deadline) -> SourceError:
    return SourceError(
        f"cannot read feed {redact_url(url)}: {deadline.passed_reason()}; fix: check that the server "
        f"is up and answers promptly, or raise {deadline.key}"
    )


def _redirect_target(url: str, response: httpx.Response) -> str:
    target = urljoin(url, response.headers["location"])
    if not is_http(target):
        raise SourceError(
            f"cannot read feed {redact_url(url)}: redirected to {redact_url(target)!r}, which is not http(s); "
            "fix: configure the feed's real URL"
        )
    return target


def _handle_response(
    response: httpx.Response,
    state: FeedState,
    url: str,
    max_bytes: int,
    deadline: Deadline,
    now: datetime,
    warnings: list[str],
) -> FeedResult | Fetched:
    """Turn a non-redirect answer into a result or a body (read within the caps)."""
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
            f"{redact_url(url)} answered 410 Gone; source paused. Fix: set the feed's new URL or remove the source"
        )
        return FeedResult([], replace(state, paused=True), "gone", warnings)
    if code in (429, 503):
        retry_after = _retry_after(response.headers.get("retry-after"), now, warnings)
        until = retry_after.isoformat()
        warnings.append(f"{redact_url(url)} answered {code}; not fetched again before {until}")
        return FeedResult([], replace(state, retry_after=retry_after), "retry_later", warnings)
    if not 200 <= code < 300:
        raise SourceError(
            f"cannot read feed {redact_url(url)}: HTTP {code} {response.reason_phrase}; fix: {_http_fix(code)}"
        )
    body = _read_body(response, url, max_bytes, deadline)
    headers = response.headers
    state = replace(state, etag=headers.get("etag"), last_modified=headers.get("last-modified"))
    return Fetched(body, url, response.charset_encoding, state, warnings)


def _http_fix(code: int) -> str:
    if code in (401, 403):
        return "the server refuses access; check the URL or ask the site for access"
    if code == 404:
        return "check the URL; the feed may have moved"
    if code >= 500:
        return "the server failed; try again later or tell the site"
    return "check the URL"


def _read_body(response: httpx.Response, url: str, max_bytes: int, deadline: Deadline) -> bytes:
    """Read the body, stopping past ``max_bytes`` or the ``deadline``."""
    length = response.headers.get("content-length", "")
    if length.isascii() and length.isdigit() and int(length) > max_bytes:
        raise _too_large(url, max_bytes)
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > max_bytes:
            raise _too_large(url, max_bytes)
        if deadline.passed():
            break
    if deadline.passed():  # also when the watchdog's shutdown looked like the end of the body
        raise _deadline_passed(url, deadline)
    return bytes(body)


def _retry_after(value: str | None, now: datetime, warnings: list[str]) -> datetime:
    """When to fetch again after 429/503: Retry-After clamped to ``MAX_RETRY_AFTER``."""
    delay = retry_after_delay(value, now=now, cap=MAX_RETRY_AFTER)
    if delay is None:
        warnings.append(f"no usable Retry-After ({(value or '')[:40]!r}); waiting {DEFAULT_RETRY_AFTER}")
        delay = DEFAULT_RETRY_AFTER
    return now + delay
