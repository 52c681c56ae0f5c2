"""Bulk reads and writes of the store. Every function takes a Session and leaves commit to it.

Dialect-specific upserts come from :func:`monitor.store.engine.upsert_insert`, so this module stays
portable between SQLite and PostgreSQL.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam, case, select, update
from sqlalchemy.orm import Session

from monitor import identity
from monitor.clock import utcnow
from monitor.identity import Exclusion
from monitor.ingest.text import json_unescaped
from monitor.store.engine import any_of, bulk_insert, in_chunks, upsert_insert
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
    """A short stable pseudonym for the author ``handle`` on ``platform``, e.g. ``"a-3f9c2e71b04d"``.

    HMAC-SHA256 of the normalised identity keyed with the database salt (see
    :func:`monitor.identity.pseudonym`): ``"@Ann"`` and ``"ann"`` get the same one, and without
    the salt nobody can map a handle to its pseudonym by hashing guesses.
    """
    return identity.pseudonym(salt, platform, handle)


def upsert_authors(
    session: Session,
    keys: Iterable[tuple[str, str]],
    salt: str,
    *,
    legacy_platforms: Sequence[str] = (),
    create: bool = True,
) -> dict[tuple[str, str], int]:
    """The authors row of each ``(platform, handle)``, made when missing; ids by the given pairs.

    Rows are found by :func:`monitor.identity.author_digest`, so every spelling of a handle is one
    author, also after retention replaced the handle. A row from before identities were
    normalised (no digest yet) is taken over, keeping its pseudonym: found by platform and
    normal handle, or by its old pseudonym of ``platform:handle`` as written on ``platform`` or
    one of ``legacy_platforms`` (the source's name or location, the old default platform).
    Pairs whose handle has no normal form (blank) are left out.

    Args:
        create: False only looks rows up (for an opted-out record: never store its author).
    """
    wanted: dict[tuple[str, str], tuple[str, str, str]] = {}  # pair -> (platform, account, digest)
    for p, h in set(keys):
        name = identity.account(h)
        if name:
            wanted[(p, h)] = (identity.platform_form(p), name, identity.author_digest(salt, p, h))
    by_digest = _by_digest(session, sorted({d for _, _, d in wanted.values()}))

    def missing() -> dict[tuple[str, str], tuple[str, str, str]]:
        return {pair: v for pair, v in wanted.items() if v[2] not in by_digest}

    if missing() and session.scalar(select(Author.id).where(Author.identity_hash.is_(None)).limit(1)) is not None:
        by_digest.update(_adopt(session, missing(), salt, legacy_platforms))
    if missing() and create:
        rows = {
            d: {"platform": plat, "handle": name, "identity_hash": d, "pseudonym": "a-" + d[:12]}
            for plat, name, d in missing().values()
        }
        session.execute(upsert_insert(session, table_of(Author)).on_conflict_do_nothing(), list(rows.values()))
        by_digest.update(_by_digest(session, sorted(rows)))
    if missing():  # rows keyed with another salt (pseudonym_salt changed): still this author's
        found = _by_handle(session, [(plat, name) for plat, name, _ in missing().values()])
        by_digest.update({d: found[(plat, name)][0] for plat, name, d in missing().values() if (plat, name) in found})
    return {pair: by_digest[d] for pair, (_, _, d) in wanted.items() if d in by_digest}


def _by_digest(session: Session, digests: Sequence[str]) -> dict[str, int]:
    if not digests:
        return {}
    authors = table_of(Author).c
    conn = session.connection()
    query = select(authors.identity_hash, authors.id).where(any_of(conn, authors.identity_hash, digests))
    return {str(d): i for d, i in conn.execute(query)}


def _by_handle(session: Session, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, str | None]]:
    """``(platform, handle) -> (id, identity_hash)`` of the rows with these platforms and handles."""
    by_platform: dict[str, list[str]] = {}
    for plat, name in sorted(set(keys)):
        by_platform.setdefault(plat, []).append(name)
    found: dict[tuple[str, str], tuple[int, str | None]] = {}
    authors = table_of(Author).c
    conn = session.connection()
    for plat, names in by_platform.items():
        rows = conn.execute(
            select(authors.handle, authors.id, authors.identity_hash).where(
                authors.platform == plat, any_of(conn, authors.handle, names)
            )
        )
        found.update(((plat, h), (i, d)) for h, i, d in rows)
    return found


def _adopt(
    session: Session, wanted: Mapping[tuple[str, str], tuple[str, str, str]], salt: str, legacy_platforms: Sequence[str]
) -> dict[str, int]:
    """Rows from before identities were normalised (no digest), given the digest of their author.

    Returns:
        ``digest -> id`` of the rows taken over.
    """
    from monitor.store.retention import PURGED_HANDLE

    adopted: dict[str, int] = {}
    by_handle = _by_handle(session, [(plat, name) for plat, name, _ in wanted.values()])
    for plat, name, digest in wanted.values():
        row = by_handle.get((plat, name))
        if row is not None and row[1] is None and digest not in adopted:
            session.execute(update(Author).where(Author.id == row[0]).values(identity_hash=digest))
            adopted[digest] = row[0]
    candidates: dict[str, tuple[str, str, str, str]] = {}  # old pseudonym -> (old platform, platform, name, digest)
    for (platform, handle), (plat, name, digest) in wanted.items():
        if digest not in adopted and (plat, name) not in by_handle:
            for old in dict.fromkeys((platform, *legacy_platforms)):
                candidates[identity.legacy_pseudonym(salt, old, handle)] = (old, plat, name, digest)
    for chunk in in_chunks(sorted(candidates)):
        older = session.execute(
            select(Author.id, Author.pseudonym, Author.platform, Author.handle)
            .where(Author.identity_hash.is_(None), Author.pseudonym.in_(chunk))
            .order_by(Author.id)
        ).all()
        for author_id, pseudo, old_platform, old_handle in older:
            old, plat, name, digest = candidates[pseudo]
            if old == old_platform and digest not in adopted:
                purged = old_handle.startswith(PURGED_HANDLE)
                session.execute(
                    update(Author)
                    .where(Author.id == author_id)
                    .values(identity_hash=digest, platform=plat, handle=old_handle if purged else name)
                )
                adopted[digest] = author_id
    return adopted


def restore_handles(session: Session, handles: Mapping[int, str]) -> None:
    """Give back the handle of authors whose handle retention replaced, when text of theirs is
    stored again (a post with text, or a rejected record with its raw text)."""
    from monitor.store.retention import PURGED_HANDLE, has_text

    if not handles:
        return
    ids = session.scalars(
        select(Author.id).where(
            any_of(session, Author.id, sorted(handles)),
            Author.handle.startswith(PURGED_HANDLE, autoescape=True),
            has_text(),
        )
    ).all()
    for author_id in ids:
        session.execute(
            update(Author).where(Author.id == author_id).values(handle=identity.account(handles[author_id]))
        )


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
        source = Source(name=name, kind=kind, location=location, url=None, paused=False, created_at=utcnow())
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
    rejected = dict(session.execute(select(Rejected.source_id, func.count()).group_by(Rejected.source_id)).all())
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


def content_hashes(session: Session, post_ids: Sequence[int]) -> dict[int, str]:
    """``posts.content_hash`` of each of ``post_ids`` (one statement however many ids)."""
    if not post_ids:
        return {}
    rows = session.execute(select(Post.id, Post.content_hash).where(any_of(session, Post.id, list(post_ids))))
    return {post_id: digest for post_id, digest in rows}


def existing_posts(session: Session, source_id: int, external_ids: Sequence[str]) -> dict[str, StoredPost]:
    """``external_id -> StoredPost`` for the ids already stored for a source (one query)."""
    if not external_ids:
        return {}
    posts = table_of(Post).c
    conn = session.connection()
    result = conn.execute(
        select(posts.external_id, posts.id, posts.content_hash, posts.text.is_(None), posts.ingested_at).where(
            posts.source_id == source_id, any_of(conn, posts.external_id, external_ids)
        )
    )
    return {ext: StoredPost(pid, h, bool(purged), at) for ext, pid, h, purged, at in result}


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


def posts_by_author_at(
    session: Session, source_id: int, pairs: Iterable[tuple[int, datetime]]
) -> list[tuple[int, str]]:
    """``(id, external_id)`` of a source's posts by ``(author id, created_at)``: how a post without
    an id is found again once its text (and so its content hash) changed."""
    found: list[tuple[int, str]] = []
    for author_id, created_at in sorted(set(pairs)):
        found.extend(
            (int(i), str(e))
            for i, e in session.execute(
                select(Post.id, Post.external_id).where(
                    Post.source_id == source_id, Post.author_id == author_id, Post.created_at == created_at
                )
            )
        )
    return found


def delete_posts(session: Session, post_ids: Sequence[int]) -> set[int]:
    """Delete opted-out posts by id, and the authors rows (handles) left with nothing stored.

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
        kept.update(session.scalars(select(Rejected.author_id).where(Rejected.author_id.in_(chunk)).distinct()))
    _delete_authors(session, sorted(authors - kept))
    return authors - kept


#: ``meta`` key of the fingerprint of the exclusion last applied to the rejected records' raw text.
EXCLUSION_KEY = "exclusion_applied"


def forget_authors(session: Session, exclusion: Exclusion) -> int:
    """Delete everything stored of the authors ``exclusion`` picks: posts (with scores), author
    alerts, rejected records and the authors row (handle).

    A rejected record whose author could not be read (or was stored before records carried it)
    is found by the excluded names in its raw text; that scan runs when the exclusion changed.

    Returns:
        The number of posts deleted.
    """
    from sqlalchemy import delete

    picked = [
        (i, pseudonym)
        for i, p, h, pseudonym in session.execute(select(Author.id, Author.platform, Author.handle, Author.pseudonym))
        if exclusion.matches(p, h)
    ]
    deleted = 0
    conn = session.connection()
    for chunk in in_chunks(picked):
        ids = [i for i, _ in chunk]
        deleted += conn.execute(delete(Post).where(Post.author_id.in_(ids))).rowcount
        conn.execute(delete(Rejected).where(Rejected.author_id.in_(ids)))
        conn.execute(delete(Alert).where(Alert.subject_kind == "author", Alert.subject.in_([p for _, p in chunk])))
    _delete_authors(session, [i for i, _ in picked])
    fingerprint = exclusion.fingerprint()
    if session.scalar(select(Meta.value).where(Meta.key == EXCLUSION_KEY)) != fingerprint:
        _forget_raw(session, exclusion)
        stmt = upsert_insert(session, table_of(Meta)).values(key=EXCLUSION_KEY, value=fingerprint)
        session.execute(stmt.on_conflict_do_update(index_elements=["key"], set_={"value": fingerprint}))
    return deleted


def _forget_raw(session: Session, exclusion: Exclusion) -> None:
    """Delete rejected records whose raw text names an excluded author."""
    from sqlalchemy import delete

    from monitor.store.retention import PURGED

    pattern = exclusion.raw_pattern()
    if pattern is None:
        return
    last = 0
    while True:
        rows = session.execute(
            select(Rejected.id, Rejected.raw)
            .where(Rejected.id > last, Rejected.raw != PURGED)
            .order_by(Rejected.id)
            .limit(1000)
        ).all()
        if not rows:
            return
        last = rows[-1][0]
        gone = [i for i, raw in rows if pattern.search(raw) or pattern.search(json_unescaped(raw))]
        if gone:
            session.execute(delete(Rejected).where(Rejected.id.in_(gone)))


def _delete_authors(session: Session, author_ids: Sequence[int]) -> None:
    from sqlalchemy import delete

    for chunk in in_chunks(list(author_ids)):
        session.execute(delete(Author).where(Author.id.in_(chunk)))


def delete_rejected(session: Session, source_id: int, locations: Sequence[str]) -> None:
    """Delete a source's rejected records at ``locations`` (records since opted out)."""
    from sqlalchemy import delete

    if locations:
        session.execute(
            delete(Rejected).where(Rejected.source_id == source_id, any_of(session, Rejected.location, locations))
        )


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
            "author_id": stmt.excluded.author_id,
        },
    )
    session.execute(stmt, list(unique.values()))


def delete_source(session: Session, name: str) -> None:
    """Delete a source with its posts, scores and rejected records (foreign keys cascade), and the
    handle of every author left without text stored (the pseudonym stays for alert history)."""
    from sqlalchemy import delete

    from monitor.store.retention import forget_handles

    session.execute(delete(Source).where(Source.name == name))
    forget_handles(session)


class RejectedRow(NamedTuple):
    """One quarantined record as `emomon rejected list` shows it (the raw record stays stored)."""

    source: str
    location: str
    reason: str
    rejected_at: datetime


def list_rejected(
    session: Session, *, source: str | None = None, reason: str | None = None, limit: int | None = None
) -> list[RejectedRow]:
    """Rejected records, newest first; ``reason`` matches any part of the reason, any case."""
    query = (
        select(Source.name, Rejected.location, Rejected.reason, Rejected.rejected_at)
        .join(Source, Source.id == Rejected.source_id)
        .order_by(Rejected.rejected_at.desc(), Rejected.id.desc())
    )
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
        raise EmomonError(
            f"no author has the pseudonym {pseudonym!r}: authors are shown by "
            "pseudonym (a-…), see `emomon report` or `emomon alerts list`"
        )
