"""Record types shared by every reader and the ingest stage."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from monitor.store.posts import FeedState


class RawRecord(NamedTuple):
    """One record as a reader produced it, before accounting and storage (a named tuple: readers
    make one per record, and a tuple is made three times faster than a frozen dataclass).

    Attributes:
        location: Where the record came from, e.g. ``"path/file.jsonl:12"`` or
            ``"https://host/feed.xml#entry-3"``.
        raw: The raw record as text (the ingest stage caps it when storing a rejection).
        external_id: The record's id in its source, or None (the content hash is used then).
        text: Cleaned plain text; None or ``""`` makes the record rejected with "no text".
        author: The author's handle on the platform, or None.
        created_at: Timezone-aware UTC time, or None.
        url: The original URL of the post.
        language: Language code when known.
        error: Set when the reader could not parse this record; it is rejected with this reason.
    """

    location: str
    raw: str
    external_id: str | None
    text: str | None
    author: str | None
    created_at: datetime | None
    url: str | None = None
    language: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class FeedResult:
    """What one feed fetch produced.

    Attributes:
        records: Entries read from the feed.
        state: New state to store (url may have changed on 301/308, paused on 410).
        status: ``"ok"``, ``"not_modified"``, ``"gone"`` or ``"retry_later"``.
        warnings: Non-fatal problems (e.g. a malformed feed that still yielded entries).
    """

    records: list[RawRecord]
    state: FeedState
    status: str
    warnings: list[str]
