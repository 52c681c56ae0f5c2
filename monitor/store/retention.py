"""Retention: remove raw text once it has been kept for the retention period; scores stay.

The period is counted from when a post was *ingested* (``posts.ingested_at``), never back from
today by its post date: ingesting an archive of old posts keeps their text for the full period.
A purged post keeps its row (ids, source, author pseudonym, times, hash) and its scores, so
trends and alerts still work; its ``text`` and ``url`` (a URL can name the author) become NULL.
Rejected records are blanked by the date they were first rejected (their reason never holds
record text). An author left without any text stored (a post with text, a rejected record with
its raw text) loses the handle: it becomes a random placeholder, the row and its pseudonym stay,
and a later post by the same author finds that row by its identity hash and gets the handle
back (one row, one pseudonym, see :func:`monitor.store.posts.upsert_authors`).

On SQLite every connection runs with ``secure_delete`` (:mod:`monitor.store.engine`) and a purge
ends with a ``wal_checkpoint(TRUNCATE)``, so removed text lingers neither in freed pages nor in
the ``-wal`` file.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import ColumnElement, CursorResult, Engine, bindparam, exists, or_, select, text, update
from sqlalchemy.orm import Session

from monitor.clock import utcnow
from monitor.errors import EmomonError
from monitor.store.engine import session_scope
from monitor.store.runs import StageResult, recorded_stage
from monitor.store.schema import Author, Post, Rejected, table_of

if TYPE_CHECKING:
    from monitor.settings import Settings

PURGED = "[purged]"
#: Prefix of the placeholder that replaces a purged handle (a random suffix keeps it unique).
PURGED_HANDLE = PURGED + ":"
#: The longest period ``purge`` accepts (about 1,000 years): larger ones overflow a datetime.
MAX_DAYS = 365_000


@dataclass(frozen=True)
class PurgeResult:
    """What a purge did."""

    cutoff: datetime
    posts: int  # posts whose text (and URL) was removed
    rejected: int  # rejected records whose raw text was removed
    authors: int  # authors whose handle was removed


def purge_text(session: Session, *, older_than_days: int, now: datetime | None = None) -> PurgeResult:
    """Remove text of posts ingested, and records rejected, over ``older_than_days`` days ago.

    Args:
        session: An open session (the caller commits).
        older_than_days: Days text is kept; from 1 to :data:`MAX_DAYS`.
        now: Reference time (default: now, UTC).

    Raises:
        EmomonError: ``older_than_days`` is out of range.
    """
    if older_than_days < 1:
        raise EmomonError(
            f"older than {older_than_days!r} days must be at least 1 day (0 would remove all text)",
            argument="older_than",
        )
    if older_than_days > MAX_DAYS:
        raise EmomonError(
            f"older than {older_than_days!r} days is over {MAX_DAYS} days: use a smaller number", argument="older_than"
        )
    cutoff = (now or utcnow()) - timedelta(days=older_than_days)
    posts = _rowcount(
        session.execute(
            update(Post)
            .where(Post.ingested_at < cutoff, or_(Post.text.is_not(None), Post.url.is_not(None)))
            .values(text=None, url=None)
        )
    )
    rejected = _rowcount(
        session.execute(
            update(Rejected).where(Rejected.rejected_at < cutoff, Rejected.raw != PURGED).values(raw=PURGED)
        )
    )
    return PurgeResult(cutoff=cutoff, posts=posts, rejected=rejected, authors=forget_handles(session))


def has_text() -> ColumnElement[bool]:
    """SQL: the author (``authors`` row in the query) still has text stored: a post with text or
    a rejected record with its raw text. A handle is kept exactly as long as this holds, so an
    exclusion can still find the author's text."""
    return or_(
        exists().where(Post.author_id == Author.id, Post.text.is_not(None)),
        exists().where(Rejected.author_id == Author.id, Rejected.raw != PURGED),
    )


def forget_handles(session: Session) -> int:
    """Replace the handle of every author without text stored (:func:`has_text`); return how many.

    The row, its pseudonym and identity hash stay: a later post of the same author finds it
    and gets its handle back (:func:`monitor.store.posts.restore_handles`).
    """
    ids = session.scalars(
        select(Author.id).where(~has_text(), ~Author.handle.startswith(PURGED_HANDLE, autoescape=True))
    ).all()
    if ids:
        table = table_of(Author)
        stmt = update(table).where(table.c.id == bindparam("author")).values(handle=bindparam("placeholder"))
        session.connection().execute(
            stmt, [{"author": i, "placeholder": PURGED_HANDLE + secrets.token_hex(16)} for i in ids]
        )
    return len(ids)


def purge_stage(
    engine: Engine, settings: Settings, *, older_than_days: int | None = None, now: datetime | None = None
) -> StageResult:
    """Remove raw text past ``[retention] raw_text_days`` (skipped when that is 0); one ``runs`` row,
    written "running" first (:func:`recorded_stage`)."""
    t0 = time.perf_counter()
    days = settings.retention.raw_text_days if older_than_days is None else older_than_days
    if older_than_days is None and days == 0:
        return StageResult("purge", "skipped", 0.0, message="retention.raw_text_days = 0")
    with recorded_stage(engine, "purge") as run:
        with session_scope(engine) as s:
            done = purge_text(s, older_than_days=days, now=now)
        checkpoint(engine)
        excerpts = scrub_alert_file(settings.channels.file.path)
        return run.done(
            StageResult(
                "purge",
                "ok",
                time.perf_counter() - t0,
                counts={
                    "older_than_days": days,
                    "cutoff": done.cutoff.isoformat(),
                    "posts": done.posts,
                    "rejected": done.rejected,
                    "authors": done.authors,
                    "alert_file_excerpts": excerpts,
                },
            )
        )


def scrub_alert_file(path: Path) -> int:
    """Remove the post text (``excerpt``) that earlier versions wrote to the file channel's JSON
    Lines file, which today's file channel never writes; returns the number of lines changed.

    The file is rewritten atomically, and only when a line holds text; lines that are not
    JSON objects are left as they are.

    Raises:
        EmomonError: The file cannot be read or written (one line naming it and the fix).
    """
    from monitor.alerts.channels import TEXT_KEY, without_text
    from monitor.failures import describe_os_error
    from monitor.safe_write import write_text_atomic

    real = path.resolve()
    try:
        data = real.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return 0
    except OSError as exc:
        raise EmomonError(describe_os_error(exc, path, action="read")) from exc
    if f'"{TEXT_KEY}"' not in data:
        return 0
    lines, changed = data.splitlines(keepends=True), 0
    for number, line in enumerate(lines):
        try:
            payload = json.loads(line) if f'"{TEXT_KEY}"' in line else None
        except ValueError:
            continue
        if isinstance(payload, dict) and TEXT_KEY in payload:
            lines[number] = json.dumps(without_text(payload), ensure_ascii=False, sort_keys=True) + "\n"
            changed += 1
    if changed:
        write_text_atomic(real, "".join(lines))
    return changed


def checkpoint(engine: Engine) -> None:
    """On SQLite, copy the WAL into the database and truncate it (removed text leaves the -wal)."""
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount or 0)
