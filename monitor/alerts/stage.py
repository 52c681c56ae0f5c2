"""The alerts stage: evaluate the rules on stored scores, store new alerts, deliver them."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Engine, func, select

from monitor import trends
from monitor.alerts import channels, rules
from monitor.clock import utcnow
from monitor.store import alerts as alert_store
from monitor.store import scores as score_store
from monitor.store.engine import session_scope
from monitor.store.runs import StageResult, record_run
from monitor.store.schema import Post

if TYPE_CHECKING:
    from rich.console import Console

    from monitor.settings import Settings


def alerts_stage(engine: Engine, settings: Settings, *, console: Console, env: Mapping[str, str],
                 now: datetime | None = None) -> StageResult:
    """Evaluate the alert rules, store new alerts, then send them through the channels.

    Rules see the last ``[alerts] lookback_days`` days before the newest post. New alerts are
    committed before delivery, so a failing channel never loses an alert; its error is kept
    in the stage's counts and message.
    """
    started, t0 = utcnow(), time.perf_counter()
    a = settings.alerts
    outlets = channels.build_channels(settings, console=console, env=env)  # config errors first
    with session_scope(engine) as s:
        latest = s.scalar(select(func.max(Post.created_at)))
        since = latest - timedelta(days=a.lookback_days) if latest is not None else None
        frame = trends.one_model_version(score_store.read_scores(s, since=since))
        found = rules.evaluate(frame, a.rules, prior_posts=settings.trends.baseline_prior_posts,
                               min_std=settings.trends.min_std)
        new = alert_store.insert_candidates(s, found, cooldowns=rules.rule_cooldowns(a.rules), now=now)
        docs = [alert_store.alert_dict(x) for x in new]
        excerpts = None
        if a.excerpt:
            excerpts = alert_store.post_excerpts(
                s, [d["trigger_post_id"] for d in docs if d["trigger_post_id"] is not None], a.excerpt_chars)
    payloads = [channels.alert_payload(d, excerpts) for d in docs]
    delivery = channels.deliver(outlets, payloads)
    failed = {k: v for k, v in delivery.items() if v not in ("ok", "nothing to send")}
    result = StageResult(
        "alerts", "failed" if failed else "ok", time.perf_counter() - t0,
        counts={"posts": frame.height, "candidates": len(found), "new": len(new),
                "new_ids": [d["id"] for d in docs], "delivery": delivery},
        message="; ".join(f"{k}: {v}" for k, v in failed.items()) or None,
    )
    record_run(engine, "alerts", started, result.status, result.stats(), result.message)
    return result
