"""Retention: remove the raw text of old posts; scores and alerts stay.

Posts created before the cutoff keep their row (ids, source, author pseudonym, times, hash)
and their scores, so trends and alerts still work; only ``posts.text`` becomes NULL. Raw
records of rejected input older than the cutoff are blanked too, since they hold text.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import CursorResult, Engine, update
from sqlalchemy.orm import Session

from monitor.clock import utcnow
from monitor.errors import EmomonError
from monitor.store.engine import session_scope
from monitor.store.runs import StageResult, record_run
from monitor.store.schema import Post, Rejected

if TYPE_CHECKING:
    from monitor.settings import Settings

PURGED = "[purged]"


@dataclass(frozen=True)
class PurgeResult:
    """What a purge did."""

    cutoff: datetime
    posts: int  # posts whose text was removed
    rejected: int  # rejected records whose raw text was removed


def purge_text(session: Session, *, older_than_days: int,
               now: datetime | None = None) -> PurgeResult:
    """Remove text of posts created more than ``older_than_days`` days before ``now``.

    Args:
        session: An open session (the caller commits).
        older_than_days: Age limit in days; must be at least 1.
        now: Reference time (default: now, UTC).

    Raises:
        EmomonError: ``older_than_days`` is below 1.
    """
    if older_than_days < 1:
        raise EmomonError(
            f"--older-than {older_than_days!r} must be at least 1 day (0 would remove all text)"
        )
    cutoff = (now or utcnow()) - timedelta(days=older_than_days)
    posts = cast(CursorResult[Any], session.execute(
        update(Post).where(Post.created_at < cutoff, Post.text.is_not(None)).values(text=None)
    )).rowcount
    rejected = cast(CursorResult[Any], session.execute(
        update(Rejected).where(Rejected.rejected_at < cutoff, Rejected.raw != PURGED)
        .values(raw=PURGED)
    )).rowcount
    return PurgeResult(cutoff=cutoff, posts=int(posts or 0), rejected=int(rejected or 0))


def purge_stage(engine: Engine, settings: Settings, *, older_than_days: int | None = None,
                now: datetime | None = None) -> StageResult:
    """Remove raw text past ``[retention] raw_text_days`` (skipped when that is 0); one ``runs`` row."""
    started, t0 = utcnow(), time.perf_counter()
    days = settings.retention.raw_text_days if older_than_days is None else older_than_days
    if older_than_days is None and days == 0:
        return StageResult("purge", "skipped", 0.0, message="retention.raw_text_days = 0")
    with session_scope(engine) as s:
        done = purge_text(s, older_than_days=days, now=now)
    result = StageResult("purge", "ok", time.perf_counter() - t0,
                         counts={"older_than_days": days, "cutoff": done.cutoff.isoformat(),
                                 "posts": done.posts, "rejected": done.rejected})
    record_run(engine, "purge", started, result.status, result.stats(), result.message)
    return result
