"""What reviewers do: acknowledge and resolve alerts with a note, and re-identify an author.

Every action leaves a row (``alert_actions``, ``reveals``) with who, when and why, so the
history of an alert and every look behind a pseudonym can be listed later. Functions take a
Session and leave the commit to the caller's ``session_scope``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.clock import utcnow
from monitor.errors import EmomonError
from monitor.store import alerts as alert_store
from monitor.store.retention import PURGED_HANDLE
from monitor.store.schema import Alert, AlertAction, Author, Post, Reveal, Source


def act(session: Session, alert_id: int, status: str, *, note: str, by: str, now: datetime | None = None) -> Alert:
    """Move an alert to ``acknowledged`` or ``resolved`` and record who did it and why.

    Raises:
        EmomonError: The note is empty, or the transition is not allowed.
        AlertNotFound: No alert has this id.
    """
    if not note.strip():
        raise EmomonError("the note is empty: say what was done, e.g. 'called; no follow-up'", argument="note")
    when = now or utcnow()
    alert = alert_store.set_status(session, alert_id, status, now=when)
    session.add(AlertAction(alert_id=alert_id, action=status, by=by, at=when, note=note.strip()))
    session.flush()
    return alert


def history(session: Session, alert_id: int) -> list[dict[str, Any]]:
    """The actions on one alert, oldest first: ``action``, ``by``, ``at`` (ISO), ``note``."""
    rows = session.scalars(
        select(AlertAction).where(AlertAction.alert_id == alert_id).order_by(AlertAction.at, AlertAction.id)
    )
    return [{"action": r.action, "by": r.by, "at": _iso(r.at), "note": r.note} for r in rows]


@dataclass(frozen=True)
class Identity:
    """Who is behind a pseudonym: the platform handle and where their posts come from."""

    pseudonym: str
    platform: str
    handle: str  # the normal form of monitor.identity.account
    links: list[str]  # the newest post's URL, else the source locations


def reveal(session: Session, pseudonym: str, *, reason: str, by: str, now: datetime | None = None) -> Identity:
    """The handle behind ``pseudonym``; writes an audit row first.

    Raises:
        EmomonError: The reason is empty, or no author has this pseudonym.
    """
    if not reason.strip():
        raise EmomonError("the reason is empty: say why the author must be re-identified", argument="reason")
    author = session.scalars(
        select(Author)
        .where(Author.pseudonym == pseudonym)
        .order_by(Author.handle.startswith(PURGED_HANDLE, autoescape=True), Author.id)
    ).first()
    if author is None:
        raise EmomonError(f"no author has the pseudonym {pseudonym!r}: see `emomon alerts list`")
    if author.handle.startswith(PURGED_HANDLE):
        raise EmomonError(
            f"the handle behind {pseudonym!r} is no longer stored: retention (`emomon purge`) or "
            "`emomon sources remove --purge` removed it with the last text of theirs; it is stored "
            "again only if they post again"
        )
    session.add(Reveal(pseudonym=pseudonym, by=by, at=now or utcnow(), reason=reason.strip()))
    session.flush()
    return Identity(pseudonym, author.platform, author.handle, _links(session, author.id))


def _links(session: Session, author_id: int) -> list[str]:
    url = session.scalar(
        select(Post.url)
        .where(Post.author_id == author_id, Post.url.is_not(None))
        .order_by(Post.created_at.desc())
        .limit(1)
    )
    if url:
        return [str(url)]
    locations = session.scalars(
        select(Source.location).join(Post, Post.source_id == Source.id).where(Post.author_id == author_id).distinct()
    )
    return sorted(str(x) for x in locations)


def audit(session: Session) -> list[dict[str, Any]]:
    """Every re-identification, newest first: ``pseudonym``, ``by``, ``at`` (ISO), ``reason``."""
    rows = session.scalars(select(Reveal).order_by(Reveal.at.desc(), Reveal.id.desc()))
    return [{"id": r.id, "pseudonym": r.pseudonym, "by": r.by, "at": _iso(r.at), "reason": r.reason} for r in rows]


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
