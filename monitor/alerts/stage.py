"""The alerts stage: evaluate the rules on stored scores, store new alerts, deliver them."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from monitor import trends
from monitor.alerts import channels, rules
from monitor.alerts.delivery import deliver_pending
from monitor.clock import utcnow
from monitor.errors import ConfigError
from monitor.store import alerts as alert_store
from monitor.store import scores as score_store
from monitor.store.engine import session_scope
from monitor.store.runs import StageResult, recorded_stage
from monitor.store.schema import Post

if TYPE_CHECKING:
    import polars as pl
    from rich.console import Console

    from monitor.settings import Settings


def lookback_span(
    session: Session, now: datetime, *, lookback_days: int, future_hours: float
) -> tuple[datetime, datetime]:
    """The dates of the posts the rules see: ``[since, until)``, anchored on the run's clock.

    ``since`` reaches back ``lookback_days`` before ``now``, or further to the oldest post
    ingested in that time (an archive ingested today is evaluated); ``until`` is ``now`` plus
    ``[ingest] future_tolerance_hours``. No post's date can move the window: a post dated
    9999-12-31 stays outside it instead of pushing every real post out.
    """
    start = now - timedelta(days=lookback_days)
    arrived = session.scalar(select(func.min(Post.created_at)).where(Post.ingested_at >= start))
    since = min(start, arrived) if arrived is not None else start
    return since, now + timedelta(hours=future_hours, microseconds=1)


def evaluation_frame(session: Session, settings: Settings, now: datetime) -> pl.DataFrame:
    """The scores the rules replay: the live window, plus every post of each archive source.

    Live streams are read over :func:`lookback_span` (the run's clock). A source marked
    ``archive = true`` is a closed collection whose dates have nothing to do with the run's
    clock (a research set of 2009–2017 posts): every post of it up to the same far-future
    horizon is read, so the rules replay each of its authors' timelines post by post, from
    their first post, and raise each alert at the post where a rule first fires. One model
    version is kept (:func:`monitor.trends.one_model_version`).
    """
    import polars as pl

    since, until = lookback_span(
        session, now, lookback_days=settings.alerts.lookback_days, future_hours=settings.ingest.future_tolerance_hours
    )
    frame = score_store.read_scores(session, since=since, until=until)
    archives = [src.name for src in settings.sources if src.archive]
    if archives:
        frame = pl.concat(
            [
                frame.filter(~pl.col("source").is_in(archives)),
                *(score_store.read_scores(session, until=until, source=name) for name in archives),
            ]
        )
        frame = frame.sort("created_at", "post_id")
    return trends.one_model_version(frame)


def alerts_stage(
    engine: Engine, settings: Settings, *, console: Console, env: Mapping[str, str], now: datetime | None = None
) -> StageResult:
    """Evaluate the alert rules, store new alerts, then send them through the channels.

    Rules see the posts of :func:`evaluation_frame`: live streams over :func:`lookback_span`,
    anchored on the run's clock, and archive sources whole. A source's mood shift is stored as
    an alert only for sources with ``alert_on_shift = true``. New alerts are
    committed (pending on every channel) before delivery, so a failing channel never loses an
    alert: it stays pending and the next run sends it again; the error is kept in the stage's
    counts and message. The ``runs`` row is written "running" first (:func:`recorded_stage`).
    """
    t0 = time.perf_counter()
    a = settings.alerts
    outlets = channels.build_channels(settings, console=console, env=env)  # config errors first
    with recorded_stage(engine, "alerts") as run:
        with session_scope(engine) as s:
            frame = evaluation_frame(s, settings, now or utcnow())
            try:
                found = rules.evaluate(
                    frame,
                    a.rules,
                    prior_posts=settings.trends.baseline_prior_posts,
                    min_std=settings.trends.min_std,
                    signal=a.signal,
                    shift_sources={src.name for src in settings.sources if src.alert_on_shift},
                )
            except ValueError as e:  # [alerts] signal = "distress" on scores without it
                raise ConfigError(str(e)) from None
            new = alert_store.insert_candidates(s, found, cooldowns=rules.rule_cooldowns(a.rules), now=now)
            alert_store.add_deliveries(s, new, [o.name for o in outlets], now=now)
            new_ids = [x.id for x in new]
        delivery, pending = deliver_pending(engine, outlets, settings, now=now)
        failed = {k: v for k, v in delivery.items() if v not in ("ok", "nothing to send")}
        return run.done(
            StageResult(
                "alerts",
                "failed" if failed else "ok",
                time.perf_counter() - t0,
                counts={
                    "posts": frame.height,
                    "candidates": len(found),
                    "new": len(new),
                    "new_ids": new_ids,
                    "delivery": delivery,
                    "pending": pending,
                },
                message="; ".join(f"{k}: {v}" for k, v in failed.items()) or None,
            )
        )
