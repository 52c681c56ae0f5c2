"""Readers for platform archives: Mastodon ``outbox.json``, X/Twitter ``tweets.js``, Reddit NDJSON.

Archives may be given as the file itself, the unpacked archive directory, or (Mastodon
``.tar.gz``/``.zip``, X ``.zip``) the downloaded archive; members are read in memory, never
extracted to disk.
"""

from __future__ import annotations

import html
import json
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from monitor.errors import SourceError
from monitor.ingest.files import expand, iter_json_lines, scalar_str
from monitor.ingest.html import html_to_text
from monitor.ingest.limits import ReadLimits, document_too_large, open_bounded, read_capped
from monitor.ingest.records import RawRecord
from monitor.ingest.text import parse_datetime, shown_value

MAX_RAW = 20_000


def _member(path: Path, names: tuple[str, ...], limits: ReadLimits) -> bytes | None:
    """Bytes of the first member called one of ``names`` (a suffix match) in a dir or archive.

    A member larger than ``[ingest] max_document_bytes`` is refused before it is read (and
    a zip entry whose header understates its size is cut at the cap).

    Raises:
        SourceError: The archive cannot be read, or the member is too large.
    """
    limits.check_time()
    try:
        if path.is_dir():
            for name in names:
                candidate = path / name
                if candidate.is_file():
                    return _read_file(candidate, limits)
            return None
        if zipfile.is_zipfile(path):
            return _zip_member(path, names, limits)
        if path.name.endswith((".tar.gz", ".tgz", ".tar")):
            return _tar_member(path, names, limits)
        return _read_file(path, limits)
    except (OSError, EOFError, zlib.error, zipfile.BadZipFile, tarfile.TarError) as exc:
        raise SourceError(f"cannot read archive {str(path)!r}: {exc}") from exc


def _read_file(path: Path, limits: ReadLimits) -> bytes:
    if path.stat().st_size > limits.max_document_bytes:
        raise document_too_large(repr(str(path)), limits.max_document_bytes)
    with path.open("rb") as fh:
        return read_capped(fh, limits.max_document_bytes, repr(str(path)))


def _zip_member(path: Path, names: tuple[str, ...], limits: ReadLimits) -> bytes | None:
    with zipfile.ZipFile(path) as zf:
        for name in names:
            for info in zf.infolist():
                if info.filename == name or info.filename.endswith("/" + name):
                    what = f"{info.filename!r} in {str(path)!r}"
                    if info.file_size > limits.max_document_bytes:
                        raise document_too_large(what, limits.max_document_bytes)
                    with zf.open(info) as fh:
                        return read_capped(fh, limits.max_document_bytes, what)
    return None


def _tar_member(path: Path, names: tuple[str, ...], limits: ReadLimits) -> bytes | None:
    """The first member matching ``names``, read without scanning past it (bounded stream)."""
    with open_bounded(path, limits) as stream, tarfile.open(fileobj=stream, mode="r:") as tf:
        for member in tf:
            if member.isfile() and any(member.name == n or member.name.endswith("/" + n) for n in names):
                what = f"{member.name!r} in {str(path)!r}"
                if member.size > limits.max_document_bytes:
                    raise document_too_large(what, limits.max_document_bytes)
                fh = tf.extractfile(member)
                return read_capped(fh, limits.max_document_bytes, what) if fh else None
    return None


def _paths(location: str) -> list[Path]:
    path = Path(location)
    if path.is_dir():
        return [path]
    return expand(location)


# ---------------------------------------------------------------------------- Mastodon


def read_mastodon(location: str, limits: ReadLimits | None = None) -> Iterator[RawRecord]:
    """Yield a record per item of a Mastodon account archive's ``outbox.json``.

    ``Create`` activities of a ``Note`` become posts (HTML content to text, ``contentMap``
    language); other activities (boosts are ``Announce``) are records rejected as "not a post".
    """
    limits = limits or ReadLimits()
    for path in _paths(location):
        data = _member(path, ("outbox.json",), limits)
        if data is None:
            raise SourceError(f"no outbox.json in {str(path)!r}: point the source at the Mastodon archive")
        try:
            outbox = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SourceError(f"{str(path)!r}: outbox.json is not valid JSON: {exc}") from exc
        items = outbox.get("orderedItems") if isinstance(outbox, dict) else None
        if not isinstance(items, list):
            raise SourceError(f"{str(path)!r}: outbox.json has no orderedItems list: is it a Mastodon archive?")
        actor = outbox.get("actor") if isinstance(outbox.get("actor"), str) else None
        for number, item in enumerate(items, start=1):
            yield _mastodon_item(f"{path}#item-{number}", item, actor)


def _mastodon_item(location: str, item: Any, actor: str | None) -> RawRecord:
    raw = json.dumps(item, ensure_ascii=False)[:MAX_RAW]
    if not isinstance(item, dict):
        return RawRecord(location, raw, None, None, actor, None, error="not an ActivityStreams object")
    obj = item.get("object")
    author = scalar_or_none((obj.get("attributedTo") if isinstance(obj, dict) else None) or item.get("actor") or actor)
    if item.get("type") != "Create" or not isinstance(obj, dict) or obj.get("type") != "Note":
        kind = item.get("type")
        shown = kind if isinstance(kind, str) and kind.isalpha() and len(kind) <= 40 else "unknown"
        return RawRecord(location, raw, None, None, author, None, error=f"not a post ({shown} activity)")
    content = obj.get("content")
    text = html_to_text(content) if isinstance(content, str) else None
    content_map = obj.get("contentMap")
    language = next(iter(content_map), None) if isinstance(content_map, dict) and content_map else None
    created = obj.get("published") or item.get("published")
    try:
        created_at = parse_datetime(created) if created else None
    except ValueError:
        return RawRecord(location, raw, None, None, author, None, error=f"unparsable date {shown_value(created)}")
    return RawRecord(
        location,
        raw,
        scalar_or_none(obj.get("id")),
        text,
        author,
        created_at,
        url=scalar_or_none(obj.get("url")) or scalar_or_none(obj.get("id")),
        language=language,
    )


def scalar_or_none(value: Any) -> str | None:
    """A scalar as text; None for missing values and non-scalars."""
    try:
        return scalar_str(value)
    except ValueError:
        return None


# ---------------------------------------------------------------------------- X / Twitter


def _js_payload(data: bytes, what: str, path: Path) -> Any:
    """Parse ``window.YTD.<name>.part0 = [...]`` into Python."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(f"{str(path)!r}: {what} is not UTF-8") from exc
    start = text.find("=")
    body = text[start + 1 :] if text.lstrip().startswith("window.") and start >= 0 else text
    try:
        return json.loads(body.strip().rstrip(";"))
    except json.JSONDecodeError as exc:
        raise SourceError(f"{str(path)!r}: {what} is not the X archive format: {exc}") from exc


def read_x(location: str, limits: ReadLimits | None = None) -> Iterator[RawRecord]:
    """Yield a record per tweet of an X/Twitter archive (``data/tweets.js``).

    The author is the archive owner's username from ``data/account.js`` when present.
    """
    limits = limits or ReadLimits()
    for path in _paths(location):
        data = _member(path, ("data/tweets.js", "tweets.js", "data/tweet.js", "tweet.js"), limits)
        if data is None:
            raise SourceError(f"no data/tweets.js in {str(path)!r}: point the source at the X archive")
        tweets = _js_payload(data, "tweets.js", path)
        if not isinstance(tweets, list):
            raise SourceError(f"{str(path)!r}: tweets.js does not hold a list of tweets")
        username = _x_username(path, limits)
        for number, item in enumerate(tweets, start=1):
            yield _tweet(f"{path}#tweet-{number}", item, username)


def _x_username(path: Path, limits: ReadLimits) -> str | None:
    """The archive owner's username from ``account.js`` beside ``tweets.js``, if present."""
    if path.is_dir() or zipfile.is_zipfile(path):
        account = _member(path, ("data/account.js", "account.js"), limits)
    else:
        candidate = path.parent / "account.js"
        account = _member(candidate, ("account.js",), limits) if candidate.is_file() else None
    if account is None:
        return None
    try:
        username = _js_payload(account, "account.js", path)[0]["account"]["username"]
    except (SourceError, LookupError, TypeError):
        return None
    return username if isinstance(username, str) else None


def _tweet(location: str, item: Any, username: str | None) -> RawRecord:
    raw = json.dumps(item, ensure_ascii=False)[:MAX_RAW]
    tweet = item.get("tweet", item) if isinstance(item, dict) else None
    if not isinstance(tweet, dict):
        return RawRecord(location, raw, None, None, username, None, error="not a tweet object")
    tweet_id = scalar_or_none(tweet.get("id_str") or tweet.get("id"))
    text = tweet.get("full_text") or tweet.get("text")
    text = html.unescape(text) if isinstance(text, str) else None
    created = tweet.get("created_at")
    try:
        created_at = parse_datetime(created) if created else None
    except ValueError:
        return RawRecord(location, raw, tweet_id, None, username, None, error=f"unparsable date {shown_value(created)}")
    url = None
    if tweet_id:
        url = f"https://x.com/{username or 'i/web'}/status/{tweet_id}"
    language = tweet.get("lang") if isinstance(tweet.get("lang"), str) else None
    return RawRecord(location, raw, tweet_id, text, username, created_at, url=url, language=language)


# ---------------------------------------------------------------------------- Reddit

_GONE = ("[deleted]", "[removed]")


def read_reddit(location: str, limits: ReadLimits | None = None) -> Iterator[RawRecord]:
    """Yield a record per line of Reddit NDJSON dumps (comments and submissions, ``.gz`` too).

    Comments use ``body``; submissions ``title`` and ``selftext``. Ids become fullnames
    (``t1_...`` comments, ``t3_...`` submissions) so both kinds can share one source.
    """
    for path in expand(location):
        for loc, raw, obj, error in iter_json_lines(path, limits):
            if obj is None:
                yield RawRecord(loc, raw, None, None, None, None, error=error)
            else:
                yield _reddit(loc, raw, obj)


def _reddit(location: str, raw: str, obj: dict[str, Any]) -> RawRecord:
    is_comment = "body" in obj
    if is_comment:
        body = obj.get("body")
        text = body if isinstance(body, str) and body not in _GONE else None
    else:
        title = obj.get("title") if isinstance(obj.get("title"), str) else ""
        selftext = obj.get("selftext") if isinstance(obj.get("selftext"), str) else ""
        if selftext in _GONE:
            selftext = ""
        text = "\n".join(part for part in (title, selftext) if part) or None
    name = scalar_or_none(obj.get("name"))
    post_id = scalar_or_none(obj.get("id"))
    external_id = name or (f"{'t1' if is_comment else 't3'}_{post_id}" if post_id else None)
    author = scalar_or_none(obj.get("author"))
    if author in _GONE:
        author = None
    created = obj.get("created_utc")
    try:
        created_at = parse_datetime(created) if created not in (None, "") else None
    except ValueError:
        return RawRecord(
            location, raw, external_id, None, author, None, error=f"unparsable date {shown_value(created)}"
        )
    permalink = scalar_or_none(obj.get("permalink"))
    url = f"https://www.reddit.com{permalink}" if permalink and permalink.startswith("/") else permalink
    if text is None and is_comment and obj.get("body") in _GONE:
        return RawRecord(
            location, raw, external_id, None, author, created_at, url, error=f"no text (comment {obj.get('body')})"
        )
    return RawRecord(location, raw, external_id, text, author, created_at, url=url)
