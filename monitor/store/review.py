"""What reviewers do: acknowledge and resolve alerts with a note, and re-identify an author.

Every action leaves a row (``alert_actions``, ``reveals``) with who, when and why, so the
history of an alert and every look behind a pseudonym can be listed later. Functions take a
Session and leave the commit to the caller's ``session_scope``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor.clock import utcnow
from monitor.errors import AlertNotFound, EmomonError, StaleAlert
from monitor.store import alerts as alert_store
from monitor.store.retention import PURGED_HANDLE
from monitor.store.schema import Alert, AlertAction, Author, Post, Reveal, Source

#: What a reviewer concluded when resolving an alert.
VERDICTS: tuple[str, ...] = ("true_alarm", "false_alarm", "unsure")


def check_verdict(verdict: str | None, status: str) -> str | None:
    """``verdict`` if it may go with a move to ``status`` (only a resolve carries one).

    Raises:
        EmomonError: The verdict is unknown, or given with an acknowledgement.
    """
    if verdict is None:
        return None
    if verdict not in VERDICTS:
        raise EmomonError(f"unknown verdict {verdict!r}: use {', '.join(VERDICTS)}", argument="verdict")
    if status != "resolved":
        raise EmomonError("a verdict goes with resolving an alert, not with acknowledging it", argument="verdict")
    return verdict


def act(
    session: Session,
    alert_id: int,
    status: str,
    *,
    note: str,
    by: str,
    verdict: str | None = None,
    seen: int | None = None,
    now: datetime | None = None,
) -> Alert:
    """Move an alert to ``acknowledged`` or ``resolved`` and record who did it, why and (on
    resolve) the verdict.

    ``seen``, when given, is the alert's :func:`version` the actor read before acting: if anyone
    acted on the alert since, nothing is recorded (the alert's row is locked while this is checked,
    so of two reviewers acting on one view, the second is refused).

    Raises:
        EmomonError: The note is empty, the verdict unknown, or the transition is not allowed.
        StaleAlert: ``seen`` is not the alert's version any more (``newer``: the actions since).
        AlertNotFound: No alert has this id.
    """
    if not note.strip():
        raise EmomonError("the note is empty: say what was done, e.g. 'called; no follow-up'", argument="note")
    check_verdict(verdict, status)
    if seen is not None:
        _check_seen(session, alert_id, seen)
    when = now or utcnow()
    alert = alert_store.set_status(session, alert_id, status, now=when)
    session.add(AlertAction(alert_id=alert_id, action=status, by=by, at=when, note=note.strip(), verdict=verdict))
    session.flush()
    return alert


def version(session: Session, alert_id: int) -> int:
    """The id of the alert's latest action (0 before any): what changes whenever anyone acts on it."""
    return int(session.scalar(select(func.max(AlertAction.id)).where(AlertAction.alert_id == alert_id)) or 0)


def _check_seen(session: Session, alert_id: int, seen: int) -> None:
    """Lock the alert's row (PostgreSQL: ``FOR UPDATE``; SQLite writers are serialised by the run
    lock) and refuse when its version is no longer ``seen``."""
    if session.scalar(select(Alert.id).where(Alert.id == alert_id).with_for_update()) is None:
        raise AlertNotFound(f"alert {alert_id} does not exist: see `emomon alerts list` for alert ids")
    if version(session, alert_id) == seen:
        return
    newer = [h for h in history(session, alert_id) if h["id"] > seen]
    done = "; ".join(f"{h['by']} {h['action']} it at {h['at'][:16].replace('T', ' ')} UTC" for h in newer)
    raise StaleAlert(
        f"alert {alert_id} changed since it was read ({done or 'its history was rewritten'}): "
        "nothing was recorded; read what was done and act again",
        newer=newer,
    )


def history(session: Session, alert_id: int) -> list[dict[str, Any]]:
    """The actions on one alert, oldest first: ``id``, ``action``, ``by``, ``at`` (ISO), ``note``, ``verdict``."""
    rows = session.scalars(
        select(AlertAction).where(AlertAction.alert_id == alert_id).order_by(AlertAction.at, AlertAction.id)
    )
    return [
        {"id": r.id, "action": r.action, "by": r.by, "at": _iso(r.at), "note": r.note, "verdict": r.verdict}
        for r in rows
    ]


def verdicts(session: Session) -> list[dict[str, Any]]:
    """Each judged alert's latest verdict, by alert id: ``alert_id``, ``rule``, ``subject_kind``,
    ``subject``, ``severity``, ``trigger_at`` and ``trigger_post_id`` of the alert; ``verdict``,
    ``by``, ``at`` of the resolve that carried it."""
    rows = session.execute(
        select(AlertAction, Alert)
        .join(Alert, Alert.id == AlertAction.alert_id)
        .where(AlertAction.verdict.is_not(None))
        .order_by(AlertAction.alert_id, AlertAction.at, AlertAction.id)
    )
    latest: dict[int, dict[str, Any]] = {}
    for action, alert in rows:
        latest[alert.id] = {
            "alert_id": alert.id,
            "rule": alert.rule,
            "subject_kind": alert.subject_kind,
            "subject": alert.subject,
            "severity": alert.severity,
            "trigger_at": _iso(alert.trigger_at),
            "trigger_post_id": alert.trigger_post_id,
            "verdict": action.verdict,
            "by": action.by,
            "at": _iso(action.at),
        }
    return list(latest.values())


def verdict_stats(session: Session) -> list[dict[str, Any]]:
    """Judged alerts counted per rule and per month the alert fired (``YYYY-MM``), oldest month
    first: ``rule``, ``month``, ``true_alarm``, ``false_alarm``, ``unsure``, ``judged`` and
    ``precision`` (true / (true + false); None when neither)."""
    counts: dict[tuple[str, str], dict[str, int]] = {}
    for v in verdicts(session):
        key = (v["rule"], v["trigger_at"][:7])
        cell = counts.setdefault(key, dict.fromkeys(VERDICTS, 0))
        cell[v["verdict"]] += 1
    out = []
    for (rule, month), cell in sorted(counts.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        decided = cell["true_alarm"] + cell["false_alarm"]
        out.append(
            {
                "rule": rule,
                "month": month,
                **cell,
                "judged": sum(cell.values()),
                "precision": None if decided == 0 else round(cell["true_alarm"] / decided, 3),
            }
        )
    return out


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
