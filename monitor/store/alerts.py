"""Persistence of alerts: insert candidates once per episode, list, acknowledge, resolve.

Every function takes a Session and leaves the commit to the caller's ``session_scope``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from monitor.clock import utcnow
from monitor.errors import AlertNotFound, EmomonError
from monitor.store.engine import in_chunks
from monitor.store.schema import Alert, Delivery, Post

STATUSES = ("new", "acknowledged", "resolved")


@dataclass(frozen=True)
class AlertCandidate:
    """An alert a rule wants to raise, before the store applies dedup and cooldown."""

    rule: str
    subject_kind: str  # author | source
    subject: str  # pseudonym or source name
    window_start: datetime
    window_end: datetime
    severity: str
    trigger_post_id: int | None
    trigger_index: int | None  # 1-based position of the trigger post in the subject's stream
    trigger_at: datetime
    evidence: dict[str, Any] = field(default_factory=dict)
    model_version: str | None = None

    @property
    def dedup_key(self) -> str:
        """Stable identity of the episode: rule, subject and the post that opened it."""
        anchor = (
            self.trigger_post_id if self.trigger_post_id is not None else (self.trigger_at.strftime("%Y%m%dT%H%M%S"))
        )
        return f"{self.rule}:{self.subject_kind}:{self.subject}:{anchor}"


def insert_candidates(
    session: Session,
    candidates: Iterable[AlertCandidate],
    *,
    cooldowns: Mapping[str, timedelta],
    now: datetime | None = None,
) -> list[Alert]:
    """Store the candidates that are not already known; return the new alert rows.

    A candidate is dropped when an alert with the same dedup key exists, or when an alert of
    the same rule and subject was triggered within the rule's cooldown before or after it
    (runs over a moving window can shift where an episode seems to start).

    Args:
        session: An open session.
        candidates: From :func:`monitor.alerts.evaluate`.
        cooldowns: Cooldown per rule name (see :func:`monitor.alerts.rule_cooldowns`).
        now: Creation time to record (default: now, UTC).
    """
    created = now or utcnow()
    new: list[Alert] = []
    for c in sorted(candidates, key=lambda c: c.trigger_at):
        key = c.dedup_key
        if session.scalar(select(Alert.id).where(Alert.dedup_key == key)) is not None:
            continue
        cooldown = cooldowns.get(c.rule, timedelta(0))
        near = session.scalar(
            select(Alert.id)
            .where(
                and_(
                    Alert.rule == c.rule,
                    Alert.subject_kind == c.subject_kind,
                    Alert.subject == c.subject,
                    Alert.trigger_at > c.trigger_at - cooldown,
                    Alert.trigger_at < c.trigger_at + cooldown,
                )
            )
            .limit(1)
        )
        if near is not None:
            continue
        alert = Alert(
            rule=c.rule,
            subject_kind=c.subject_kind,
            subject=c.subject,
            window_start=c.window_start,
            window_end=c.window_end,
            evidence=c.evidence,
            severity=c.severity,
            status="new",
            trigger_post_id=c.trigger_post_id,
            trigger_index=c.trigger_index,
            trigger_at=c.trigger_at,
            created_at=created,
            updated_at=None,
            model_version=c.model_version,
            dedup_key=key,
        )
        session.add(alert)
        session.flush()  # the next candidate's cooldown check must see this one
        new.append(alert)
    return new


def add_deliveries(
    session: Session, alerts: Iterable[Alert], channels: Sequence[str], *, now: datetime | None = None
) -> None:
    """Make each alert pending on each channel (one ``deliveries`` row per alert and channel)."""
    created = now or utcnow()
    session.add_all(
        Delivery(alert_id=a.id, channel=ch, created_at=created, attempts=0) for a in alerts for ch in channels
    )
    session.flush()


def pending_alerts(session: Session, channel: str) -> list[Alert]:
    """Alerts not yet delivered through ``channel``, oldest first."""
    stmt = (
        select(Alert)
        .join(Delivery, Delivery.alert_id == Alert.id)
        .where(Delivery.channel == channel, Delivery.delivered_at.is_(None))
        .order_by(Alert.created_at, Alert.id)
    )
    return list(session.scalars(stmt))


def record_deliveries(
    session: Session,
    channel: str,
    alert_ids: Sequence[int],
    *,
    error: str | None = None,
    now: datetime | None = None,
) -> None:
    """Record one attempt at delivering these alerts through ``channel``.

    Without ``error`` they count as delivered; with it they stay pending, keeping the error.
    """
    at = now or utcnow()
    for chunk in in_chunks(list(alert_ids)):
        rows = session.scalars(select(Delivery).where(Delivery.channel == channel, Delivery.alert_id.in_(chunk)))
        for row in rows:
            row.attempts += 1
            row.last_attempt_at = at
            row.last_error = error
            if error is None:
                row.delivered_at = at
    session.flush()


def pending_counts(session: Session, channels: Sequence[str]) -> dict[str, int]:
    """Number of alerts still pending per channel."""
    stmt = (
        select(Delivery.channel, func.count())
        .where(Delivery.channel.in_(list(channels)), Delivery.delivered_at.is_(None))
        .group_by(Delivery.channel)
    )
    counts = {str(ch): int(n) for ch, n in session.execute(stmt)}
    return {ch: counts.get(ch, 0) for ch in channels}


def list_alerts(
    session: Session,
    *,
    status: Sequence[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    subject: str | None = None,
    limit: int | None = None,
) -> list[Alert]:
    """Alerts newest first, filtered by status, trigger time and subject.

    Raises:
        EmomonError: ``status`` names an unknown status.
    """
    stmt = select(Alert)
    if status:
        for s in status:
            if s not in STATUSES:
                raise EmomonError(f"unknown alert status {s!r}: use {', '.join(STATUSES)}")
        stmt = stmt.where(Alert.status.in_(list(status)))
    if since is not None:
        stmt = stmt.where(Alert.trigger_at >= since)
    if until is not None:
        stmt = stmt.where(Alert.trigger_at < until)
    if subject is not None:
        stmt = stmt.where(Alert.subject == subject)
    stmt = stmt.order_by(Alert.trigger_at.desc(), Alert.id.desc())
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))


def set_status(session: Session, alert_id: int, status: str, *, now: datetime | None = None) -> Alert:
    """Move an alert to ``acknowledged`` or ``resolved``.

    Acknowledging an acknowledged alert, or resolving a resolved one, changes nothing;
    a resolved alert cannot go back to acknowledged.

    Raises:
        AlertNotFound: No alert has this id.
        EmomonError: The transition is not allowed.
    """
    if status not in ("acknowledged", "resolved"):
        raise EmomonError(f"cannot set alert status to {status!r}: use acknowledged or resolved")
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise AlertNotFound(f"alert {alert_id} does not exist: see `emomon alerts list` for alert ids")
    if alert.status == "resolved" and status == "acknowledged":
        raise EmomonError(f"alert {alert_id} is already resolved: it cannot be acknowledged")
    if alert.status != status:
        alert.status = status
        alert.updated_at = now or utcnow()
        session.flush()
    return alert


def open_alerts(session: Session) -> list[Alert]:
    """Alerts not yet resolved, newest first."""
    return list_alerts(session, status=("new", "acknowledged"))


def post_excerpts(session: Session, post_ids: Iterable[int], max_chars: int) -> dict[int, str]:
    """The first ``max_chars`` characters of each post's text (posts purged of text are left out).

    Used only when ``[alerts] excerpt = true``.
    """
    ids = sorted(set(post_ids))
    out: dict[int, str] = {}
    for chunk in in_chunks(ids):
        rows = session.execute(select(Post.id, Post.text).where(Post.id.in_(chunk), Post.text.is_not(None)))
        for pid, text in rows:
            body = str(text)  # the query keeps only posts whose text is not NULL
            out[int(pid)] = body if len(body) <= max_chars else body[: max_chars - 1] + "…"
    return out


def alert_dict(alert: Alert) -> dict[str, Any]:
    """A JSON-ready view of an alert row (pseudonyms only; no post text)."""
    return {
        "id": alert.id,
        "rule": alert.rule,
        "subject_kind": alert.subject_kind,
        "subject": alert.subject,
        "severity": alert.severity,
        "status": alert.status,
        "window_start": _iso(alert.window_start),
        "window_end": _iso(alert.window_end),
        "trigger_post_id": alert.trigger_post_id,
        "trigger_index": alert.trigger_index,
        "trigger_at": _iso(alert.trigger_at),
        "created_at": _iso(alert.created_at),
        "updated_at": _iso(alert.updated_at),
        "model_version": alert.model_version,
        "evidence": alert.evidence,
    }


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class AlertPage:
    """One page of the filtered alerts (newest first), how many match in all, and per status."""

    alerts: list[Alert]
    total: int
    by_status: dict[str, int]


def page_alerts(
    session: Session,
    *,
    status: Sequence[str] = (),
    rule: Sequence[str] = (),
    severity: Sequence[str] = (),
    source: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    offset: int = 0,
    limit: int = 50,
) -> AlertPage:
    """Alerts filtered by status, rule, severity, source (a source alert's subject, or the source of
    the post an author alert fired at) and trigger time; counted, then one page of them.

    Raises:
        EmomonError: ``status`` names an unknown status.
    """
    from sqlalchemy import or_

    from monitor.store.schema import Source

    for s in status:
        if s not in STATUSES:
            raise EmomonError(f"unknown alert status {s!r}: use {', '.join(STATUSES)}")
    conditions: list[Any] = []
    if rule:
        conditions.append(Alert.rule.in_(list(rule)))
    if severity:
        conditions.append(Alert.severity.in_(list(severity)))
    if since is not None:
        conditions.append(Alert.trigger_at >= since)
    if until is not None:
        conditions.append(Alert.trigger_at < until)
    if source is not None:
        of_source = select(Post.id).join(Source, Source.id == Post.source_id).where(Source.name == source)
        conditions.append(
            or_(
                and_(Alert.subject_kind == "source", Alert.subject == source),
                Alert.trigger_post_id.in_(of_source),
            )
        )
    by_status = {
        str(s): int(n)
        for s, n in session.execute(select(Alert.status, func.count()).where(*conditions).group_by(Alert.status))
    }
    if status:
        conditions.append(Alert.status.in_(list(status)))
    total = sum(n for s, n in by_status.items() if not status or s in status)
    stmt = (
        select(Alert)
        .where(*conditions)
        .order_by(Alert.trigger_at.desc(), Alert.id.desc())
        .offset(max(0, offset))
        .limit(max(1, limit))
    )
    return AlertPage(list(session.scalars(stmt)), total, {s: by_status.get(s, 0) for s in STATUSES})
