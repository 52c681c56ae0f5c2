"""Bulk reads and writes of the store. Every function takes a Session and leaves commit to it.

Dialect-specific upserts come from :func:`monitor.store.engine.upsert_insert`, so this module stays
portable between SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam, case, select, update
from sqlalchemy.orm import Session

from monitor.clock import utcnow
from monitor.store.engine import bulk_insert, in_chunks, upsert_insert
from monitor.store.schema import Alert, Author, Meta, Post, Rejected, Source, table_of

SALT_KEY = "pseudonym_salt"
# Keep IN (...) lists well under every backend's bound-parameter limit.


@dataclass(frozen=True, slots=True)
class FeedState:
    """Runtime state of one feed source, persisted in the ``sources`` table.

    Attributes:
        url: URL or local path of the feed (updated on 301/308).
        etag: Last ETag the server sent.
        last_modified: Last Last-Modified header the server sent.
        paused: True once the server answered 410 Gone.
        retry_after: Do not fetch before this time (429 Retry-After).
    """

    url: str
    etag: str | None = None
    last_modified: str | None = None
    paused: bool = False
    retry_after: datetime | None = None



# ---------------------------------------------------------------------------- pseudonyms

def pseudonym_salt(session: Session, override: str | None = None) -> str:
    """The database's pseudonym salt: ``override`` if given, else stored (created once)."""
    if override:
        return override
    stmt = upsert_insert(session, table_of(Meta)).values(key=SALT_KEY, value=secrets.token_hex(16))
    session.execute(stmt.on_conflict_do_nothing(index_elements=["key"]))
    return session.execute(select(Meta.value).where(Meta.key == SALT_KEY)).scalar_one()


def pseudonym(salt: str, platform: str, handle: str) -> str:
    """A short stable pseudonym for ``platform:handle``, e.g. ``"a-3f9c2e71b04d"``.

    HMAC-SHA256 keyed with the database salt: without the salt nobody can map a handle to its
    pseudonym by hashing guesses.
    """
    digest = hmac.new(salt.encode(), f"{platform}:{handle}".encode(), hashlib.sha256)
    return "a-" + digest.hexdigest()[:12]


def upsert_authors(
    session: Session, keys: Iterable[tuple[str, str]], salt: str
) -> dict[tuple[str, str], int]:
    """Make sure each ``(platform, handle)`` has an authors row; return their ids."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    table = table_of(Author)
    rows = [{"platform": p, "handle": h, "pseudonym": pseudonym(salt, p, h)} for p, h in wanted]
    stmt = upsert_insert(session, table).on_conflict_do_nothing(index_elements=["platform", "handle"])
    session.execute(stmt, rows)
    ids: dict[tuple[str, str], int] = {}
    by_platform: dict[str, list[str]] = {}
    for p, h in wanted:
        by_platform.setdefault(p, []).append(h)
    for platform, handles in by_platform.items():
        for chunk in in_chunks(handles):
            result = session.execute(
                select(Author.handle, Author.id).where(
                    Author.platform == platform, Author.handle.in_(chunk)
                )
            )
            ids.update({(platform, handle): id_ for handle, id_ in result})
    return ids


# ---------------------------------------------------------------------------- sources

def get_or_create_source(session: Session, *, name: str, kind: str, location: str) -> Source:
    """The sources row called ``name``, created (or its kind/location refreshed) as needed.

    ``location`` is canonical (:func:`monitor.ingest.registry.canonical_location`) and a
    location has one row: when no row has this name, the row already reading the location is
    used, renamed to ``name`` unless ``name`` is the location itself (an ad-hoc ingest).
    """
    source = session.execute(select(Source).where(Source.name == name)).scalar_one_or_none()
    if source is None:
        source = session.execute(
            select(Source).where(Source.location == location).order_by(Source.id).limit(1)
        ).scalar_one_or_none()
        if source is not None and name != location:
            source.name = name
    if source is None:
        source = Source(
            name=name, kind=kind, location=location, url=None, paused=False, created_at=utcnow()
        )
        session.add(source)
        session.flush()
    elif source.kind != kind or source.location != location:
        source.kind = kind
        if source.location != location:
            source.location = location
            source.url = None  # the configured location changed: forget the redirect target
        session.flush()
    return source


def feed_state(source: Source) -> FeedState:
    """The stored fetch state of a feed source."""
    return FeedState(
        url=source.url or source.location,
        etag=source.etag,
        last_modified=source.last_modified,
        paused=source.paused,
        retry_after=source.retry_after,
    )


def save_feed_state(session: Session, source_id: int, state: FeedState) -> None:
    """Store a feed's new fetch state (URL after redirects, validators, pause, retry time)."""
    session.execute(
        update(Source)
        .where(Source.id == source_id)
        .values(
            url=state.url,
            etag=state.etag,
            last_modified=state.last_modified,
            paused=state.paused,
            retry_after=state.retry_after,
        )
    )


def mark_ingested(session: Session, source_id: int, when: datetime) -> None:
    """Record when a source was last ingested."""
    session.execute(update(Source).where(Source.id == source_id).values(last_ingested_at=when))


@dataclass(frozen=True)
class SourceRow:
    """A sources row with its post and rejection counts (for ``emomon sources list``)."""

    name: str
    kind: str
    location: str
    url: str | None
    paused: bool
    retry_after: datetime | None
    last_ingested_at: datetime | None
    posts: int
    rejected: int


def list_sources(session: Session) -> list[SourceRow]:
    """All sources known to the database with their counts, by name."""
    from sqlalchemy import func

    posts = dict(session.execute(select(Post.source_id, func.count()).group_by(Post.source_id)).all())
    rejected = dict(
        session.execute(select(Rejected.source_id, func.count()).group_by(Rejected.source_id)).all()
    )
    rows = session.execute(select(Source).order_by(Source.name)).scalars()
    return [
        SourceRow(
            name=s.name,
            kind=s.kind,
            location=s.location,
            url=s.url,
            paused=s.paused,
            retry_after=s.retry_after,
            last_ingested_at=s.last_ingested_at,
            posts=posts.get(s.id, 0),
            rejected=rejected.get(s.id, 0),
        )
        for s in rows
    ]


# ---------------------------------------------------------------------------- posts

class StoredPost(NamedTuple):
    """What ingest needs to know of a stored post with the same external id."""

    id: int
    content_hash: str
    purged: bool  # its text was removed by retention
    ingested_at: datetime


def existing_posts(
    session: Session, source_id: int, external_ids: Sequence[str]
) -> dict[str, StoredPost]:
    """``external_id -> StoredPost`` for the ids already stored for a source."""
    found: dict[str, StoredPost] = {}
    posts = table_of(Post).c
    conn = session.connection()
    for chunk in in_chunks(list(external_ids)):
        result = conn.execute(
            select(posts.external_id, posts.id, posts.content_hash, posts.text.is_(None),
                   posts.ingested_at).where(
                posts.source_id == source_id, posts.external_id.in_(chunk)
            )
        )
        found.update({ext: StoredPost(pid, h, bool(purged), at) for ext, pid, h, purged, at in result})
    return found


def insert_posts(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert new posts (keys: the posts columns except id) in one executemany."""
    bulk_insert(session, table_of(Post), rows)


def update_posts(session: Session, rows: list[dict[str, Any]]) -> None:
    """Replace text and metadata of changed posts; each row has ``post_id`` and new values."""
    if not rows:
        return
    table = table_of(Post)
    stmt = (
        update(table)
        .where(table.c.id == bindparam("post_id"))
        .values(
            text=bindparam("text"),
            content_hash=bindparam("content_hash"),
            author_id=bindparam("author_id"),
            created_at=bindparam("created_at"),
            url=bindparam("url"),
            language=bindparam("language"),
            ingested_at=bindparam("ingested_at"),
        )
    )
    session.connection().execute(stmt, rows)


def delete_posts(session: Session, post_ids: Sequence[int]) -> set[int]:
    """Delete opted-out posts by id, and the authors rows (handles) left without posts.

    Returns:
        The ids of the authors rows deleted.
    """
    from sqlalchemy import delete

    authors: set[int] = set()
    for chunk in in_chunks(list(post_ids)):
        authors.update(session.scalars(select(Post.author_id).where(Post.id.in_(chunk), Post.author_id.is_not(None))))
        session.execute(delete(Post).where(Post.id.in_(chunk)))
    kept: set[int] = set()
    for chunk in in_chunks(list(authors)):
        kept.update(session.scalars(select(Post.author_id).where(Post.author_id.in_(chunk)).distinct()))
    _delete_authors(session, sorted(authors - kept))
    return authors - kept


def forget_authors(session: Session, excluded: Callable[[str, str], bool]) -> int:
    """Delete every author ``excluded(platform, handle)`` picks: posts, author alerts, handle.

    Returns:
        The number of posts deleted.
    """
    from sqlalchemy import delete

    picked = [(i, pseudonym) for i, p, h, pseudonym in session.execute(
        select(Author.id, Author.platform, Author.handle, Author.pseudonym)) if excluded(p, h)]
    deleted = 0
    conn = session.connection()
    for chunk in in_chunks(picked):
        deleted += conn.execute(delete(Post).where(Post.author_id.in_([i for i, _ in chunk]))).rowcount
        conn.execute(delete(Alert).where(Alert.subject_kind == "author", Alert.subject.in_([p for _, p in chunk])))
    _delete_authors(session, [i for i, _ in picked])
    return deleted


def _delete_authors(session: Session, author_ids: Sequence[int]) -> None:
    from sqlalchemy import delete

    for chunk in in_chunks(list(author_ids)):
        session.execute(delete(Author).where(Author.id.in_(chunk)))


def delete_rejected(session: Session, source_id: int, locations: Sequence[str]) -> None:
    """Delete a source's rejected records at ``locations`` (records since opted out)."""
    from sqlalchemy import delete

    for chunk in in_chunks(list(locations)):
        session.execute(delete(Rejected).where(Rejected.source_id == source_id, Rejected.location.in_(chunk)))


def upsert_rejected(session: Session, rows: list[dict[str, Any]]) -> None:
    """Store rejected records, one row per (source, location); a re-run refreshes the reason.

    ``rejected_at`` stays the first rejection, which retention counts from, and a raw record
    that retention removed stays removed when the source sends it again.
    """
    from monitor.store.retention import PURGED

    if not rows:
        return
    table = table_of(Rejected)
    unique: dict[tuple[int, str], dict[str, Any]] = {}
    for row in rows:
        unique[(row["source_id"], row["location"])] = row
    stmt = upsert_insert(session, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=["source_id", "location"],
        set_={
            "reason": stmt.excluded.reason,
            "raw": case((table.c.raw == PURGED, PURGED), else_=stmt.excluded.raw),
        },
    )
    session.execute(stmt, list(unique.values()))


def delete_source(session: Session, name: str) -> None:
    """Delete a source with its posts, scores and rejected records (foreign keys cascade)."""
    from sqlalchemy import delete

    session.execute(delete(Source).where(Source.name == name))


class RejectedRow(NamedTuple):
    """One quarantined record as `emomon rejected list` shows it (the raw record stays stored)."""

    source: str
    location: str
    reason: str
    rejected_at: datetime


def list_rejected(session: Session, *, source: str | None = None, reason: str | None = None,
                  limit: int | None = None) -> list[RejectedRow]:
    """Rejected records, newest first; ``reason`` matches any part of the reason, any case."""
    query = (select(Source.name, Rejected.location, Rejected.reason, Rejected.rejected_at)
             .join(Source, Source.id == Rejected.source_id)
             .order_by(Rejected.rejected_at.desc(), Rejected.id.desc()))
    if source is not None:
        query = query.where(Source.name == source)
    if reason:
        query = query.where(Rejected.reason.ilike(f"%{reason}%"))
    if limit is not None:
        query = query.limit(limit)
    return [RejectedRow(*row) for row in session.execute(query)]


def source_names(session: Session) -> list[str]:
    """Every stored source's name, sorted."""
    return sorted(session.scalars(select(Source.name)))


def require_source(session: Session, name: str) -> None:
    """Raise when no stored source has ``name`` (the message lists the known ones).

    Raises:
        EmomonError: No such source.
    """
    from monitor.errors import EmomonError

    known = source_names(session)
    if name not in known:
        raise EmomonError(f"no source named {name!r}; known: {', '.join(known) or 'none yet'}")


def require_pseudonym(session: Session, pseudonym: str) -> None:
    """Raise when no author has ``pseudonym`` (a handle given instead gets the same answer).

    Raises:
        EmomonError: No such pseudonym.
    """
    from monitor.errors import EmomonError

    if session.scalar(select(Author.id).where(Author.pseudonym == pseudonym).limit(1)) is None:
        raise EmomonError(f"no author has the pseudonym {pseudonym!r}: authors are shown by "
                          "pseudonym (a-…), see `emomon report` or `emomon alerts list`")
