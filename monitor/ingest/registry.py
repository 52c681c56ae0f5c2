"""Source kinds: the formats emomon reads, how a location's kind is guessed, and which reader
reads it. Light to import (the command line's choices come from here)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from monitor.errors import SourceError

if TYPE_CHECKING:
    from monitor.ingest.records import RawRecord
    from monitor.settings import SourceSettings

#: Every source kind; "feed" is RSS/Atom over HTTP or from a file, the rest are files/archives.
SOURCE_KINDS = ("feed", "jsonl", "csv", "parquet", "mastodon", "x", "reddit")
_SUFFIX_KINDS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".parquet": "parquet",
                 ".pq": "parquet", ".xml": "feed", ".rss": "feed", ".atom": "feed", ".rdf": "feed"}


def is_url(location: str) -> bool:
    """True for http(s) locations."""
    return location.lower().startswith(("http://", "https://"))


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
    raise SourceError(f"cannot tell the format of {location!r}: pass --format ({'|'.join(SOURCE_KINDS)})")


def read_source(source: SourceSettings) -> Iterator[RawRecord]:
    """Records of a file or archive source (feeds are fetched by the ingest stage)."""
    from monitor.ingest import archives, files

    readers = {
        "jsonl": lambda: files.read_jsonl(source.location, source.columns),
        "csv": lambda: files.read_csv(source.location, source.columns),
        "parquet": lambda: files.read_parquet(source.location, source.columns),
        "mastodon": lambda: archives.read_mastodon(source.location),
        "x": lambda: archives.read_x(source.location),
        "reddit": lambda: archives.read_reddit(source.location),
    }
    if source.kind not in readers:
        raise SourceError(f"source {source.name!r} has unknown kind {source.kind!r}")
    return readers[source.kind]()
