"""Everything a trend report shows, computed once: the renderers draw it and query nothing.

:func:`load_report_data` reads the store (scores and alerts); :func:`build_report_data` is
the pure part, from a score frame and a list of alerts, so it can be tested without a database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
from sqlalchemy.orm import Session

from monitor import trends
from monitor.clock import utcnow
from monitor.numbers import rounded
from monitor.report.author import DailySeries, big5_caveat, daily_series
from monitor.report.charts import Point, post_points
from monitor.report.common import NOTE, iso, legend
from monitor.settings import Settings

# Signals that get a trend line: the index, the CARER classes and the depression-related
# fine-grained emotions. "Rising" ranks every signal.
REPORT_SIGNALS = (
    "distress",
    "depression_index",
    "carer_sadness",
    "carer_fear",
    "carer_anger",
    "carer_joy",
    "carer_love",
    "carer_surprise",
    "goemo_sadness",
    "goemo_grief",
    "goemo_remorse",
    "goemo_disappointment",
    "goemo_nervousness",
    "goemo_fear",
    "goemo_embarrassment",
)
MAX_REVIEW_AUTHORS = 20
REVIEW_Z = 2.0
MIN_RISE = 0.01  # a signal must rise by at least this much to be listed as rising
SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}


@dataclass(frozen=True)
class SignalTrend:
    """One signal over the report's periods (overall)."""

    signal: str
    values: list[float | None]  # mean per period, aligned with ReportData.periods
    shares: list[float | None]  # share of posts >= threshold per period
    mean: float | None  # over the whole report span
    share: float | None


@dataclass(frozen=True)
class ReportData:
    """The numbers of one report (see :func:`build_report_data`)."""

    generated_at: datetime
    by: str
    threshold: float
    filters: dict[str, Any]
    overview: dict[str, Any]
    periods: list[datetime]
    volume: list[int]
    trends: list[SignalTrend]
    rising: list[dict[str, Any]]
    review: list[dict[str, Any]]
    sources: list[dict[str, Any]]
    personality: dict[str, Any]
    alert_counts: dict[str, int] = field(default_factory=dict)
    end: datetime | None = None  # reference time of "recent"
    recent_days: int = 7
    min_std: float = 0.05
    alerts: list[dict[str, Any]] = field(default_factory=list)  # id, rule, subject, trigger_at
    timelines: dict[str, DailySeries] = field(default_factory=dict)  # review author -> days
    alert_threshold: float | None = None  # [alerts.rules.level] threshold, drawn on index charts
    signal: str = "depression_index"  # the person signal of "Authors to review" (trends.person_signal)
    points: dict[str, list[Point]] = field(default_factory=dict)  # review author -> each post's signal

    @property
    def empty(self) -> bool:
        """True when no scored post matched the filters."""
        return self.overview["posts"] == 0


def report_dict(data: ReportData) -> dict[str, Any]:
    """The report as plain JSON-ready data (the source of the json, md, csv and html exports)."""
    o = data.overview
    return {
        "generated_at": iso(data.generated_at),
        "note": NOTE,
        "by": data.by,
        "threshold": data.threshold,
        "filters": {k: (iso(v) if isinstance(v, datetime) else v) for k, v in data.filters.items()},
        "overview": {**o, "first": iso(o["first"]), "last": iso(o["last"])},
        "alert_counts": data.alert_counts,
        "periods": [iso(p) for p in data.periods],
        "volume": data.volume,
        "trends": [
            {"signal": s.signal, "mean": s.mean, "share": s.share, "values": s.values, "shares": s.shares}
            for s in data.trends
        ],
        "rising": data.rising,
        "review": data.review,
        "sources": data.sources,
        "personality": data.personality,
        "recent_end": iso(data.end),
        "recent_days": data.recent_days,
        "signal": data.signal,
        "legend": dict(legend(data.recent_days, data.end, data.threshold, data.min_std, signal=data.signal)),
        "alerts": data.alerts,
        "timelines": {
            a: [
                {"day": d.isoformat(), "posts": n, "index": v} for d, n, v in zip(t.days, t.posts, t.index, strict=True)
            ]
            for a, t in data.timelines.items()
        },
    }


def build_report_data(
    frame: pl.DataFrame,
    alerts: Sequence[Mapping[str, Any]],
    *,
    by: str = "day",
    threshold: float = 0.5,
    recent_days: int = 7,
    min_posts_big5: int = 20,
    min_std: float = 0.05,
    filters: Mapping[str, Any] | None = None,
    now: datetime | None = None,
    end: datetime | None = None,
    big5: Mapping[str, Any] | None = None,
    alert_threshold: float | None = None,
    signal: str = "auto",
    shift: Mapping[str, Any] | None = None,
) -> ReportData:
    """Compute a report from scores and alerts.

    Args:
        frame: A score frame (one model version), already filtered to the report's span.
        alerts: Alerts as from :func:`monitor.store.alerts.alert_dict` (open ones matter).
        by: ``day`` or ``week``.
        threshold: For the share of posts at or above it.
        recent_days: Window of "recent" for rising signals, authors and sources.
        min_posts_big5: Authors with fewer posts are left out of the personality section.
        min_std: Floor of the baseline standard deviation in author z-scores.
        filters: The filters used (shown in the report).
        now: Generation time (default: now, UTC).
        end: Reference time of "recent" (default: the frame's latest post); give the same one
            to a filtered report and the full report so their figures agree.
        big5: Held-out Big Five validation figures for the caveat
            (:func:`monitor.report.author.big5_validation`).
        alert_threshold: The level rule's threshold, drawn as a line on index charts.
        signal: ``[alerts] signal``: the per-post score the review list reads
            (:func:`monitor.trends.person_signal`).
        shift: The ``source_shift`` rule's settings (``z``, ``baseline_days``,
            ``min_baseline_days``, ``min_posts``, ``direction``): each source's mood shifts are
            listed as a source trend (None: not computed).
    """
    generated = now or datetime.now(UTC)
    if end is None and frame.height:
        end = frame["created_at"].max()  # type: ignore[assignment]
    column = trends.person_signal(frame, signal)
    review = _review(frame, alerts, recent_days=recent_days, min_std=min_std, end=end, column=column)
    columns = trends.signal_columns(frame) + ([trends.DISTRESS] if trends.has_distress(frame) else [])
    overall = trends.aggregate(frame, level="overall", by=by, threshold=threshold, columns=columns)  # type: ignore[arg-type]
    periods = overall["period"].to_list() if overall.height else []
    return ReportData(
        generated_at=generated,
        by=by,
        threshold=threshold,
        filters=dict(filters or {}),
        overview=_overview(frame),
        periods=periods,
        volume=[int(v) for v in overall["posts"].to_list()] if overall.height else [],
        trends=_trends(frame, overall, threshold),
        rising=_rising(frame, recent_days, end),
        review=review,
        sources=_sources(
            frame, by=by, threshold=threshold, recent_days=recent_days, periods=periods, end=end, shift=shift
        ),
        personality=_personality(frame, min_posts_big5, big5),
        alert_counts=_alert_counts(alerts),
        end=end,
        recent_days=recent_days,
        min_std=min_std,
        alerts=[
            {
                **{k: a[k] for k in ("id", "rule", "severity", "status", "subject_kind", "subject", "trigger_at")},
                "trigger_post_id": a.get("trigger_post_id"),
                "post_ids": list((a.get("evidence") or {}).get("post_ids") or []),
            }
            for a in alerts
        ],
        timelines=_timelines(frame, [r["author"] for r in review]),
        alert_threshold=alert_threshold,
        signal=column,
        points={r["author"]: post_points(frame.filter(pl.col("author") == r["author"]), column) for r in review},
    )


def _timelines(frame: pl.DataFrame, authors: Sequence[str]) -> dict[str, DailySeries]:
    """Each author's posts and index per day over the whole report span (gaps kept)."""
    if frame.height == 0:
        return {}
    first = frame["created_at"].min().date()  # type: ignore[union-attr]
    last = frame["created_at"].max().date()  # type: ignore[union-attr]
    return {a: daily_series(frame.filter(pl.col("author") == a), first, last) for a in authors}


def _trends(frame: pl.DataFrame, overall: pl.DataFrame, threshold: float) -> list[SignalTrend]:
    """One :class:`SignalTrend` per report signal present in ``frame``."""
    return [
        SignalTrend(
            signal=s,
            values=[rounded(v) for v in overall[f"mean_{s}"].to_list()],
            shares=[rounded(v) for v in overall[f"share_{s}"].to_list()],
            mean=rounded(frame[s].mean()) if frame.height else None,
            share=rounded((frame[s] >= threshold).mean()) if frame.height else None,
        )
        for s in REPORT_SIGNALS
        if f"mean_{s}" in overall.columns
    ]


def _rising(frame: pl.DataFrame, recent_days: int, end: datetime | None) -> list[dict[str, Any]]:
    """The (at most 8) signals that rose by at least MIN_RISE, most first."""
    return [
        {k: (rounded(v) if k != "signal" else v) for k, v in row.items()}
        for row in trends.rising(frame, recent_days=recent_days, end=end)
        .filter(pl.col("change") >= MIN_RISE)
        .head(8)
        .iter_rows(named=True)
    ]


def _overview(frame: pl.DataFrame) -> dict[str, Any]:
    if frame.height == 0:
        return {"posts": 0, "authors": 0, "sources": 0, "first": None, "last": None, "model_versions": []}
    return {
        "posts": frame.height,
        "authors": int(frame["author"].drop_nulls().n_unique()),
        "sources": int(frame["source"].n_unique()),
        "first": frame["created_at"].min(),
        "last": frame["created_at"].max(),
        "model_versions": sorted(frame["model_version"].unique().to_list()),
    }


def _review(
    frame: pl.DataFrame,
    alerts: Sequence[Mapping[str, Any]],
    *,
    recent_days: int,
    min_std: float,
    end: datetime | None,
    column: str = trends.INDEX,
) -> list[dict[str, Any]]:
    """Authors with open alerts first (by severity), then authors whose recent z >= REVIEW_Z.

    Each author's "recent" ends at their own latest post (:func:`monitor.trends.author_summary`).
    """
    open_by_author: dict[str, list[Mapping[str, Any]]] = {}
    for a in alerts:
        if a["subject_kind"] == "author" and a["status"] in ("new", "acknowledged"):
            open_by_author.setdefault(a["subject"], []).append(a)
    summary = trends.author_summary(frame, recent_days=recent_days, min_std=min_std, end=end, column=column)
    stats = {r["author"]: r for r in summary.iter_rows(named=True)}
    names = set(open_by_author) | {a for a, r in stats.items() if r["z"] is not None and r["z"] >= REVIEW_Z}
    rows = []
    for name in names:
        r = stats.get(name, {})
        opened = sorted(
            open_by_author.get(name, []), key=lambda a: (SEVERITY_ORDER.get(a["severity"], 9), a["trigger_at"])
        )
        rows.append(
            {
                "author": name,
                "posts": r.get("posts", 0),
                "recent_end": iso(r.get("recent_end")),
                "recent_posts": r.get("recent_posts", 0),
                "recent_mean": rounded(r.get("recent_mean")),
                "baseline_mean": rounded(r.get("baseline_mean")),
                "z": rounded(r.get("z")),
                "open_alerts": [
                    {
                        "id": a["id"],
                        "rule": a["rule"],
                        "severity": a["severity"],
                        "status": a["status"],
                        "trigger_at": a["trigger_at"],
                        "evidence": {k: v for k, v in (a.get("evidence") or {}).items() if k != "post_ids"},
                    }
                    for a in opened
                ],
            }
        )
    rows.sort(
        key=lambda r: (
            min((SEVERITY_ORDER.get(a["severity"], 9) for a in r["open_alerts"]), default=9),
            -(r["z"] if r["z"] is not None else -99.0),
            r["author"],
        )
    )
    return rows[:MAX_REVIEW_AUTHORS]


def _sources(
    frame: pl.DataFrame,
    *,
    by: str,
    threshold: float,
    recent_days: int,
    periods: list[datetime],
    end: datetime | None,
    shift: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Each source's index over the periods, its recent change and the days its mood shifted."""
    if frame.height == 0:
        return []
    shifts = trends.source_shifts(frame, **shift) if shift is not None else None
    agg = trends.aggregate(
        frame,
        level="source",
        by=by,  # type: ignore[arg-type]
        threshold=threshold,
        columns=[trends.INDEX],
    )
    out = []
    for name in sorted(frame["source"].unique().to_list()):
        part = frame.filter(pl.col("source") == name)
        sub = agg.filter(pl.col("subject") == name)
        series = dict(zip(sub["period"].to_list(), sub[f"mean_{trends.INDEX}"].to_list(), strict=True))
        change = trends.rising(part, recent_days=recent_days, columns=[trends.INDEX], end=end)
        out.append(
            {
                "source": name,
                "posts": part.height,
                "authors": int(part["author"].drop_nulls().n_unique()),
                "mean_index": rounded(part[trends.INDEX].mean()),
                "share_high": rounded((part[trends.INDEX] >= threshold).mean()),
                "recent_change": rounded(change["change"][0]) if change.height else None,
                "index_by_period": [rounded(series.get(p)) for p in periods],
                "shifts": []
                if shifts is None
                else [
                    {
                        "day": iso(r["day"]),
                        "mean": rounded(r["mean"]),
                        "baseline_mean": rounded(r["base_mean"]),
                        "z": rounded(r["z"]),
                    }
                    for r in shifts.filter(pl.col("source") == name).iter_rows(named=True)
                ],
            }
        )
    return out


def _personality(frame: pl.DataFrame, min_posts: int, validation: Mapping[str, Any] | None) -> dict[str, Any]:
    prof = trends.big5_profiles(frame, min_posts=min_posts)
    traits = [c for c in trends.BIG5_COLUMNS if c in prof.columns]
    out: dict[str, Any] = {
        "min_posts": min_posts,
        "authors": prof.height,
        "traits": [],
        "caveat": big5_caveat(validation),
        "validation": dict(validation) if validation else None,
    }
    if prof.height == 0:
        return out
    for t in traits:
        col = prof[t]
        out["traits"].append(
            {
                "trait": t.removeprefix("big5_").upper(),
                "mean": rounded(col.mean()),
                "p25": rounded(col.quantile(0.25, "linear")),
                "median": rounded(col.median()),
                "p75": rounded(col.quantile(0.75, "linear")),
            }
        )
    return out


def _alert_counts(alerts: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    counts = {"new": 0, "acknowledged": 0, "resolved": 0}
    for a in alerts:
        counts[a["status"]] = counts.get(a["status"], 0) + 1
    return counts


def select_alerts(
    alerts: Sequence[Mapping[str, Any]],
    frame: pl.DataFrame,
    *,
    since: datetime | None,
    until: datetime | None,
    filtered: bool,
) -> list[Mapping[str, Any]]:
    """The alerts a report covers: open ones, and any triggered within the report's span.

    With a source or author filter, only alerts about the authors and sources in ``frame``.
    """
    subjects = {("author", a) for a in frame["author"].drop_nulls().unique().to_list()} | {
        ("source", s) for s in frame["source"].unique().to_list()
    }
    out = []
    for a in alerts:
        if filtered and (a["subject_kind"], a["subject"]) not in subjects:
            continue
        t = datetime.fromisoformat(a["trigger_at"])  # Python 3.11+ reads "Z"
        in_span = (since is None or t >= since) and (until is None or t < until)
        if in_span or a["status"] != "resolved":
            out.append(a)
    return out


def load_report_data(
    session: Session,
    settings: Settings,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    source: str | None = None,
    author: str | None = None,
    by: str | None = None,
    now: datetime | None = None,
) -> ReportData:
    """Read scores and alerts for a report from the store.

    Args:
        session: An open session.
        settings: Loaded settings ([trends] gives the defaults).
        since: Only posts created at or after this time.
        until: Only posts created before this time.
        source: Only this source (by name).
        author: Only this author (by pseudonym).
        by: ``day`` or ``week`` (default ``[trends] by``).
        now: Generation time.
    """
    from monitor.report.author import big5_validation, level_threshold
    from monitor.store import alerts as alert_store
    from monitor.store import scores
    from monitor.store.posts import require_pseudonym, require_source

    if source is not None:
        require_source(session, source)
    if author is not None:
        require_pseudonym(session, author)
    t = settings.trends
    # Posts dated after the clock plus [ingest] future_tolerance_hours are left out: one post
    # dated 9999-12-31 would otherwise stretch every period axis and empty "recent".
    horizon = (now or utcnow()) + timedelta(hours=settings.ingest.future_tolerance_hours, microseconds=1)
    span_until = min(until, horizon) if until is not None else horizon
    frame = scores.read_scores(session, since=since, until=span_until, source=source, author=author)
    frame = trends.one_model_version(frame)
    docs = [alert_store.alert_dict(a) for a in alert_store.list_alerts(session)]
    alerts = select_alerts(docs, frame, since=since, until=until, filtered=source is not None or author is not None)
    filters = {
        k: v for k, v in {"since": since, "until": until, "source": source, "author": author}.items() if v is not None
    }
    return build_report_data(
        frame,
        alerts,
        by=by or t.by,
        threshold=t.threshold,
        recent_days=t.recent_days,
        min_posts_big5=t.min_posts_big5,
        min_std=t.min_std,
        filters=filters,
        now=now,
        end=report_end(session, since=since, until=span_until),
        big5=big5_validation(settings.model_dir()),
        alert_threshold=level_threshold(settings),
        signal=settings.alerts.signal,
        shift=settings.alerts.rules.source_shift.model_dump(
            include={"z", "baseline_days", "min_baseline_days", "min_posts", "direction"}
        ),
    )


def report_end(session: Session, *, since: datetime | None = None, until: datetime | None = None) -> datetime | None:
    """The reference time of "recent": the newest scored post in the span, of any author or
    source, so a report filtered to one author or source measures "recent" like the full one.
    """
    from sqlalchemy import func, select

    from monitor.store.schema import Post, Score

    stmt = select(func.max(Post.created_at)).join(Score, Score.post_id == Post.id).where(Score.status == "scored")
    if since is not None:
        stmt = stmt.where(Post.created_at >= since)
    if until is not None:
        stmt = stmt.where(Post.created_at < until)
    latest = session.scalar(stmt)
    if latest is not None and latest.tzinfo is None:
        latest = latest.replace(tzinfo=UTC)
    return latest
