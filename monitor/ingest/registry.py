"""Source kinds: the formats emomon reads, how a location's kind is guessed, and which reader
reads it. Light to import (the command line's choices come from here)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from monitor.choices import SOURCE_KINDS
from monitor.errors import SourceError
from monitor.locations import is_url

if TYPE_CHECKING:
    from monitor.ingest.limits import ReadLimits
    from monitor.ingest.records import RawRecord
    from monitor.settings import SourceSettings

_SUFFIX_KINDS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".xml": "feed",
    ".rss": "feed",
    ".atom": "feed",
    ".rdf": "feed",
}


_DEFAULT_PORTS = {"http": 80, "https": 443}
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def canonical_location(location: str) -> str:
    """The one spelling of a location, so that one file or feed is one source however named.

    Paths become their real path (``~``, relative parts, ``..`` and symlinks resolved against
    the working directory; glob characters are kept); URLs go through :func:`canonical_url`.
    """
    location = location.strip()
    if is_url(location):
        return canonical_url(location)
    return os.path.realpath(os.path.expanduser(location))


def canonical_url(url: str) -> str:
    """An http(s) URL in normal form (RFC 3986 section 6): lower-case scheme and host, IDN host
    as ASCII, no trailing dot or default port, ``.``/``..`` segments removed, percent-escapes
    upper-case and unreserved characters unescaped, an empty path as ``/``, no fragment.
    User info and the query are kept as written (apart from escapes)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    userinfo, at, hostport = parts.netloc.rpartition("@")
    host = (parts.hostname or "").rstrip(".")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            pass  # not a valid IDN: keep it lower-cased as written, the fetch reports it
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:  # a port that is not a number: keep it as written, the fetch reports it
        netloc = userinfo + at + hostport.lower()
    else:
        netloc = userinfo + at + host + ("" if port in (None, _DEFAULT_PORTS.get(scheme)) else f":{port}")
    path = _remove_dot_segments(_normal_escapes(parts.path)) or "/"
    return urlunsplit((scheme, netloc, path, _normal_escapes(parts.query), ""))


def _normal_escapes(text: str) -> str:
    """Percent-escapes in upper case, and unreserved characters unescaped."""

    def normal(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in _UNRESERVED else match.group(0).upper()

    return _ESCAPE.sub(normal, text)


def _remove_dot_segments(path: str) -> str:
    """``/a/./b/../c`` → ``/a/c`` (RFC 3986 section 5.2.4, for absolute paths)."""
    segments = path.split("/")
    if "." not in segments and ".." not in segments:
        return path
    kept: list[str] = []
    for segment in segments:
        if segment == "..":
            if len(kept) > 1:
                kept.pop()
        elif segment != ".":
            kept.append(segment)
    if segments[-1] in (".", ".."):
        kept.append("")  # "/a/b/.." names the directory "/a/"
    return "/".join(kept)


def find_configured(sources: Iterable[SourceSettings], location: str) -> SourceSettings | None:
    """The configured source that reads ``location`` (compared in canonical form), if any."""
    wanted = canonical_location(location)
    return next((s for s in sources if canonical_location(s.location) == wanted), None)


def guess_kind(location: str) -> str:
    """Guess a location's format from its name (URLs are feeds).

    Raises:
        SourceError: The name does not tell.
    """
    if is_url(location):
        return "feed"
    path = Path(location)
    if path.is_dir():
        if (path / "outbox.json").is_file():
            return "mastodon"
        if (path / "data" / "tweets.js").is_file():
            return "x"
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    if name == "outbox.json" or name.endswith((".tar", ".tgz")):
        return "mastodon"
    if name in ("tweets.js", "tweet.js"):
        return "x"
    suffix = Path(name).suffix
    if suffix in _SUFFIX_KINDS:
        return _SUFFIX_KINDS[suffix]
    raise SourceError(
        f"cannot tell the format of {location!r} from its name: give its kind, one of {', '.join(SOURCE_KINDS)}"
    )


def read_source(source: SourceSettings, limits: ReadLimits | None = None) -> Iterator[RawRecord]:
    """Records of a file or archive source, read under ``limits`` (feeds are fetched by the
    ingest stage)."""
    from monitor.ingest import archives, files

    readers = {
        "jsonl": lambda: files.read_jsonl(source.location, source.columns, limits),
        "csv": lambda: files.read_csv(source.location, source.columns, limits),
        "parquet": lambda: files.read_parquet(source.location, source.columns, limits),
        "mastodon": lambda: archives.read_mastodon(source.location, limits),
        "x": lambda: archives.read_x(source.location, limits),
        "reddit": lambda: archives.read_reddit(source.location, limits),
    }
    if source.kind not in readers:
        raise SourceError(f"source {source.name!r} has unknown kind {source.kind!r}")
    return readers[source.kind]()
