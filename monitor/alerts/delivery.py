"""Deliver pending alerts: every alert goes through each of its channels once, run after run.

An alert is pending on a channel from the moment it is stored (``deliveries`` rows, made by
:func:`monitor.store.alerts.add_deliveries`) until that channel has taken it. Each run sends what
is pending, oldest first, within one delivery budget shared by the network channels; a channel
that fails keeps its alerts pending, with the error, for the next run.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from monitor.alerts import channels, evidence
from monitor.store import alerts as alert_store
from monitor.store.engine import session_scope
from monitor.store.schema import Alert

if TYPE_CHECKING:
    from monitor.settings import Settings


def alert_payloads(session: Session, alerts: Sequence[Alert], settings: Settings) -> list[dict[str, Any]]:
    """The payloads of stored alerts: the alert, its evidence posts (no text), an excerpt if on."""
    docs = [alert_store.alert_dict(a) for a in alerts]
    a = settings.alerts
    excerpts = None
    if a.excerpt:
        excerpts = alert_store.post_excerpts(
            session, [d["trigger_post_id"] for d in docs if d["trigger_post_id"] is not None], a.excerpt_chars
        )
    return [channels.alert_payload(d, excerpts, evidence.evidence_posts(session, d, with_text=False)) for d in docs]


def deliver_pending(
    engine: Engine,
    outlets: Sequence[channels.Channel],
    settings: Settings,
    *,
    now: datetime | None = None,
) -> tuple[dict[str, str], dict[str, int]]:
    """Send every channel's pending alerts within ``[alerts] delivery_budget_s``.

    Returns:
        ``(delivery, pending)``: channel -> ``"ok"``, ``"nothing to send"`` or the one-line
        reason it stopped; and channel -> alerts still pending after this run.
    """
    budget = channels.Budget(settings.alerts.delivery_budget_s)
    delivery: dict[str, str] = {}
    for outlet in outlets:
        with session_scope(engine) as s:
            pending = alert_store.pending_alerts(s, outlet.name)
            ids = [a.id for a in pending]
            payloads = alert_payloads(s, pending, settings)
        if not payloads:
            delivery[outlet.name] = "nothing to send"
            continue
        outcome = channels.send_through(outlet, payloads, budget)
        with session_scope(engine) as s:
            alert_store.record_deliveries(s, outlet.name, ids[: outcome.sent], now=now)
            if outcome.error is not None:
                # What was tried keeps the reason (a per-alert channel stops at one alert).
                tried = ids[outcome.sent : outcome.sent + 1] if outlet.per_alert else ids[outcome.sent :]
                alert_store.record_deliveries(s, outlet.name, tried, error=outcome.error, now=now)
        delivery[outlet.name] = (
            "ok"
            if outcome.error is None
            else (f"{outcome.error} ({len(ids) - outcome.sent} of {len(ids)} alert(s) pending)")
        )
    with session_scope(engine) as s:
        left = alert_store.pending_counts(s, [o.name for o in outlets])
    return delivery, left
