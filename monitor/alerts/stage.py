"""The alerts stage: evaluate the rules on stored scores, store new alerts, deliver them.

A run evaluates only the authors with a post scored since the last run (and the sources whose
mood shifts are alerts): every person rule reads one author's posts at a time, and the one
figure taken from all authors, the ``rise`` rule's population prior, is computed over the whole
window as before, so each of those authors gets the candidates a full evaluation gives them. The
last run's mark (the newest ``scores.scored_at`` it saw) and a fingerprint of what the rules
depend on (rules, signal, window, archive and shift sources, model version) are kept in its
``runs`` row; the first run, and any run after one of those changed, evaluates every author.
Authors with no new post keep the alerts their last evaluation gave them.
"""

from __future__ import annotations

import hashlib
import json
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
from monitor.store import posts as post_store
from monitor.store import scores as score_store
from monitor.store.engine import session_scope
from monitor.store.runs import StageResult, recorded_stage
from monitor.store.schema import Author, Post, Run, Score

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
    # Read from the (ingested_at, created_at) index over the posts ingested in the window: work
    # in proportion to the window, which the rules read anyway. A bare min(created_at) lets
    # SQLite walk the created_at index from the oldest post of the store instead (seconds on
    # millions of posts); coalesce() makes that index unusable for the min().
    earliest = func.coalesce(Post.created_at, Post.created_at)
    arrived = session.scalar(select(func.min(earliest)).where(Post.ingested_at >= start))
    since = min(start, arrived) if arrived is not None else start
    return since, now + timedelta(hours=future_hours, microseconds=1)


def evaluation_frame(session: Session, settings: Settings, now: datetime, *, probs: bool = True) -> pl.DataFrame:
    """The scores the rules replay: the live window, plus every post of each archive source.

    Live streams are read over :func:`lookback_span` (the run's clock). A source marked
    ``archive = true`` is a closed collection whose dates have nothing to do with the run's
    clock (a research set of 2009–2017 posts): every post of it up to the same far-future
    horizon is read, so the rules replay each of its authors' timelines post by post, from
    their first post, and raise each alert at the post where a rule first fires. One model
    version is kept (:func:`monitor.trends.one_model_version`). ``probs=False`` leaves out the
    39 probabilities, which no rule reads.
    """
    import polars as pl

    since, until = lookback_span(
        session, now, lookback_days=settings.alerts.lookback_days, future_hours=settings.ingest.future_tolerance_hours
    )
    frame = score_store.read_scores(session, since=since, until=until, probs=probs)
    archives = [src.name for src in settings.sources if src.archive]
    if archives:
        frame = pl.concat(
            [
                frame.filter(~pl.col("source").is_in(archives)),
                *(score_store.read_scores(session, until=until, source=name, probs=probs) for name in archives),
            ]
        )
        frame = frame.sort("created_at", "post_id")
    return trends.one_model_version(frame)


def without_repeated(session: Session, frame: pl.DataFrame, min_authors: int, column: str) -> pl.DataFrame:
    """:func:`monitor.trends.mute_repeated` with the posts' stored text hashes."""
    import polars as pl

    if min_authors <= 0 or frame.height == 0:
        return frame
    found = post_store.content_hashes(session, frame["post_id"].to_list())
    hashes = pl.DataFrame(
        {"post_id": list(found), "content_hash": list(found.values())},
        schema={"post_id": pl.Int64, "content_hash": pl.String},
    )
    return trends.mute_repeated(frame, hashes, min_authors=min_authors, column=column)


MARK = "scored_through"
FINGERPRINT = "rules_fingerprint"


def fingerprint(settings: Settings, frame: pl.DataFrame, column: str) -> str:
    """A digest of what the candidates depend on besides the posts: when it changes, every
    author is evaluated again."""
    doc = {
        "rules": settings.alerts.rules.model_dump(mode="json"),
        "signal": column,
        "repeated_authors": settings.alerts.repeated_authors,
        "lookback_days": settings.alerts.lookback_days,
        "future_hours": settings.ingest.future_tolerance_hours,
        "prior_posts": settings.trends.baseline_prior_posts,
        "min_std": settings.trends.min_std,
        "archives": sorted(src.name for src in settings.sources if src.archive),
        "shift": sorted(src.name for src in settings.sources if src.alert_on_shift),
        "versions": sorted(frame["model_version"].unique().to_list()) if frame.height else [],
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def last_mark(session: Session, digest: str) -> datetime | None:
    """The mark of the latest alerts run that recorded one, if its fingerprint is ``digest``."""
    for stats in session.scalars(select(Run.stats).where(Run.command == "alerts").order_by(Run.id.desc()).limit(50)):
        if stats and MARK in stats:
            if stats.get(FINGERPRINT) != digest or stats[MARK] is None:
                return None
            return datetime.fromisoformat(stats[MARK])
    return None


def scored_since(session: Session, mark: datetime) -> list[str]:
    """Pseudonyms of the authors with a post scored after ``mark``.

    Stages run one at a time under the run lock, so no score stamped before the mark is
    committed after a run read it.
    """
    stmt = (
        select(Author.pseudonym)
        .distinct()
        .join(Post, Post.author_id == Author.id)
        .join(Score, Score.post_id == Post.id)
        .where(Score.scored_at > mark)
    )
    return list(session.scalars(stmt))


def changed_part(session: Session, frame: pl.DataFrame, mark: datetime | None, shift_sources: set[str]) -> pl.DataFrame:
    """The rows to evaluate: every row without a mark, else the authors scored after it and
    the sources whose shifts are alerts."""
    import polars as pl

    if mark is None:
        return frame
    keep = pl.col("author").is_in(scored_since(session, mark))
    if shift_sources:
        keep = keep | pl.col("source").is_in(sorted(shift_sources))
    return frame.filter(keep)


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
            newest = s.scalar(select(func.max(Score.scored_at)))  # before the read: a later score waits
            frame = evaluation_frame(s, settings, now or utcnow(), probs=False)
            shift_sources = {src.name for src in settings.sources if src.alert_on_shift}
            try:
                column = trends.person_signal(frame, a.signal)
            except ValueError as e:  # [alerts] signal = "distress" on scores without it
                raise ConfigError(str(e)) from None
            frame = without_repeated(s, frame, a.repeated_authors, column)
            digest = fingerprint(settings, frame, column)
            part = changed_part(s, frame, last_mark(s, digest), shift_sources)
            found = rules.evaluate(
                part,
                a.rules,
                prior_posts=settings.trends.baseline_prior_posts,
                min_std=settings.trends.min_std,
                signal=column,
                shift_sources=shift_sources,
                prior=trends.population(frame, column=column),
            )
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
                    "evaluated": part.height,
                    MARK: newest.isoformat() if newest is not None else None,
                    FINGERPRINT: digest,
                    "candidates": len(found),
                    "new": len(new),
                    "new_ids": new_ids,
                    "delivery": delivery,
                    "pending": pending,
                },
                message="; ".join(f"{k}: {v}" for k, v in failed.items()) or None,
            )
        )
