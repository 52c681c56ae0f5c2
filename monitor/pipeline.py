"""One run of the whole chain: ingest, score, alerts, retention, report, in that order.

Each stage reads what the one before wrote, so any stage can also run alone (the scheduler
and ``emomon run --stage`` call the same functions). Every stage leaves one ``runs`` row with
its counts, timings and status: ingest and score record their own; the others are recorded
here. A failing stage does not stop the later ones, which then work on what is stored; the
run as a whole reports failure.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from rich.console import Console
from sqlalchemy import Engine, func, select, update

from monitor import alert_store, alerts, channels, retention, trends
from monitor.config import Settings
from monitor.db import ensure_schema, make_engine, session_scope
from monitor.errors import EmomonError
from monitor.report_data import ReportData, load_report_data
from monitor.runlock import run_lock
from monitor.tables import Post, Run

STAGES = ("ingest", "score", "alerts", "purge", "report")


@dataclass
class StageResult:
    """What one stage did."""

    name: str
    status: str  # ok | failed | skipped
    seconds: float
    counts: dict[str, Any] = field(default_factory=dict)
    message: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {"stage": self.name, "status": self.status, "seconds": round(self.seconds, 3),
                "counts": self.counts, "message": self.message}


@dataclass
class RunResult:
    """The outcome of :func:`run_once`."""

    stages: list[StageResult]
    report: ReportData | None = None

    @property
    def ok(self) -> bool:
        """True when no stage failed."""
        return all(s.status != "failed" for s in self.stages)

    def to_json(self) -> dict[str, Any]:
        """``{"ok", "stages": [...]}``."""
        return {"ok": self.ok, "stages": [s.to_json() for s in self.stages]}


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _record(engine: Engine, name: str, started: datetime, result: StageResult) -> None:
    """Write the ``runs`` row of a stage that does not record itself."""
    with session_scope(engine) as s:
        s.add(Run(command=name, status=result.status, started_at=started,
                  finished_at=_utcnow(), stats={**result.counts, "seconds": result.seconds},
                  message=result.message))


def ingest_stage(engine: Engine, settings: Settings) -> StageResult:
    """Ingest every enabled configured source (the ingest module records its ``runs`` row)."""
    from monitor.ingest.run import ingest

    t0 = time.perf_counter()
    chosen = [s for s in settings.sources if s.enabled]
    if not chosen:
        return StageResult("ingest", "skipped", 0.0, message="no enabled [[sources]]")
    report = ingest(engine, settings, chosen)
    failed = "; ".join(f"{s.name}: {s.error}" for s in report.sources if s.status == "error")
    return StageResult("ingest", "ok" if report.ok else "failed", time.perf_counter() - t0,
                       counts=report.totals(), message=failed or None)


def score_stage(engine: Engine, settings: Settings) -> StageResult:
    """Score every unscored post with the configured model (records its own ``runs`` row)."""
    from monitor.score import run_score  # the score stage's entry point

    t0 = time.perf_counter()
    summary = run_score(engine, settings)
    counts = summary if isinstance(summary, dict) else getattr(summary, "to_json", dict)()
    return StageResult("score", "ok", time.perf_counter() - t0, counts=dict(counts))


def alerts_stage(
    engine: Engine,
    settings: Settings,
    *,
    console: Console,
    env: Mapping[str, str],
    now: datetime | None = None,
) -> StageResult:
    """Evaluate the alert rules, store new alerts, then send them through the channels.

    Rules see the last ``[alerts] lookback_days`` days before the newest post. New alerts are
    committed before delivery, so a failing channel never loses an alert; its error is kept
    in the stage's counts and message.
    """
    started, t0 = _utcnow(), time.perf_counter()
    a = settings.alerts
    outlets = channels.build_channels(settings, console=console, env=env)  # config errors first
    with session_scope(engine) as s:
        from monitor import store

        latest = s.scalar(select(func.max(Post.created_at)))
        since = latest - timedelta(days=a.lookback_days) if latest is not None else None
        frame = trends.one_model_version(store.read_scores(s, since=since))
        found = alerts.evaluate(frame, a.rules, prior_posts=settings.trends.baseline_prior_posts,
                                min_std=settings.trends.min_std)
        new = alert_store.insert_candidates(s, found, cooldowns=alerts.rule_cooldowns(a.rules),
                                            now=now)
        docs = [alert_store.alert_dict(x) for x in new]
        excerpts = None
        if a.excerpt:
            excerpts = alert_store.post_excerpts(
                s, [d["trigger_post_id"] for d in docs if d["trigger_post_id"] is not None],
                a.excerpt_chars)
    payloads = [channels.alert_payload(d, excerpts) for d in docs]
    delivery = channels.deliver(outlets, payloads)
    failed = {k: v for k, v in delivery.items() if v not in ("ok", "nothing to send")}
    result = StageResult(
        "alerts", "failed" if failed else "ok", time.perf_counter() - t0,
        counts={"posts": frame.height, "candidates": len(found), "new": len(new),
                "new_ids": [d["id"] for d in docs], "delivery": delivery},
        message="; ".join(f"{k}: {v}" for k, v in failed.items()) or None,
    )
    _record(engine, "alerts", started, result)
    return result


def purge_stage(engine: Engine, settings: Settings, *, older_than_days: int | None = None,
                now: datetime | None = None) -> StageResult:
    """Remove raw text past ``[retention] raw_text_days`` (skipped when that is 0)."""
    started, t0 = _utcnow(), time.perf_counter()
    days = settings.retention.raw_text_days if older_than_days is None else older_than_days
    if older_than_days is None and days == 0:
        return StageResult("purge", "skipped", 0.0, message="retention.raw_text_days = 0")
    with session_scope(engine) as s:
        done = retention.purge_text(s, older_than_days=days, now=now)
    result = StageResult("purge", "ok", time.perf_counter() - t0,
                         counts={"older_than_days": days, "cutoff": done.cutoff.isoformat(),
                                 "posts": done.posts, "rejected": done.rejected})
    _record(engine, "purge", started, result)
    return result


def report_stage(engine: Engine, settings: Settings, *, console: Console | None,
                 **filters: Any) -> tuple[StageResult, ReportData]:
    """Compute the trend report and, with a console, print it there."""
    from monitor.report import terminal_report

    started, t0 = _utcnow(), time.perf_counter()
    with session_scope(engine) as s:
        data = load_report_data(s, settings, **filters)
    if console is not None:
        console.print(terminal_report(data))
    result = StageResult("report", "ok", time.perf_counter() - t0,
                         counts={"posts": data.overview["posts"],
                                 "authors": data.overview["authors"],
                                 "review": len(data.review)})
    _record(engine, "report", started, result)
    return result, data


def run_stages(
    settings: Settings,
    stages: Sequence[str] = STAGES,
    *,
    engine: Engine | None = None,
    console: Console | None = None,
    env: Mapping[str, str] | None = None,
    lock: bool = True,
    lock_label: str = "run",
    now: datetime | None = None,
) -> RunResult:
    """Run ``stages`` in pipeline order under the run lock.

    Args:
        settings: Loaded settings.
        stages: Any of ``ingest``, ``score``, ``alerts``, ``purge``, ``report``.
        engine: An engine to reuse (default: one made from the settings, schema ensured).
        console: Where the alerts terminal channel and the report print (default: stdout).
        env: Environment for channel secrets (default: ``os.environ``).
        lock: Take the run lock (waits up to ``schedule.lock_timeout``).
        lock_label: Who holds the lock, shown to a run that has to wait.
        now: Reference time for alerts and retention (tests).

    Raises:
        RunLocked: Another run kept the lock past the timeout.
        EmomonError: A stage name is unknown, or a user error stops a stage from starting
            (schema out of date, bad channel settings).
    """
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise EmomonError(f"unknown stage {unknown[0]!r}: use {', '.join(STAGES)}")
    out = console or Console()
    environ = os.environ if env is None else env
    if engine is None:
        engine = make_engine(settings.database.url)
    ensure_schema(engine)
    runners: dict[str, Callable[[], StageResult]] = {
        "ingest": lambda: ingest_stage(engine, settings),
        "score": lambda: score_stage(engine, settings),
        "alerts": lambda: alerts_stage(engine, settings, console=out, env=environ, now=now),
        "purge": lambda: purge_stage(engine, settings, now=now),
    }
    result = RunResult(stages=[])
    with ExitStack() as held:
        if lock:
            held.enter_context(exclusive(settings, engine, label=lock_label))
        for name in STAGES:
            if name not in stages:
                continue
            if name == "report":
                stage, result.report = report_stage(engine, settings, console=out)
                result.stages.append(stage)
                continue
            t0 = time.perf_counter()
            try:
                result.stages.append(runners[name]())
            except EmomonError as exc:
                if name == "alerts":
                    raise  # bad channel settings: the user must fix them first
                result.stages.append(
                    StageResult(name, "failed", time.perf_counter() - t0, message=str(exc)))
    return result


@contextmanager
def exclusive(settings: Settings, engine: Engine, *, label: str) -> Iterator[None]:
    """Hold the run lock; on entry, close ``runs`` rows that a killed run left "running".

    Every writer (``emomon run``, the scheduler, cron, ``emomon ingest`` and ``emomon score``)
    holds this lock, so a row still "running" when the lock is free belongs to a dead process.

    Raises:
        RunLocked: Another run kept the lock past ``schedule.lock_timeout``.
    """
    with run_lock(settings, label=label):
        close_interrupted_runs(engine)
        yield


def close_interrupted_runs(engine: Engine) -> int:
    """Mark ``runs`` rows still "running" as "interrupted"; returns how many there were."""
    with session_scope(engine) as session:
        result = session.execute(
            update(Run).where(Run.status == "running").values(
                status="interrupted", finished_at=func.coalesce(Run.finished_at, Run.started_at),
                message="the process ended before the run finished (killed or crashed)",
            )
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def run_once(settings: Settings, **kwargs: Any) -> RunResult:
    """Run every stage once, in order (what ``emomon run`` does)."""
    return run_stages(settings, STAGES, **kwargs)
