"""One author's timeline: posts per day, the index per day with gaps, baseline, alerts, emotions.

:func:`build_author_view` is pure (a score frame and alerts in, an :class:`AuthorView` out);
:func:`load_author_view` reads the store. The baseline, recent mean and z come from
:func:`monitor.trends.author_summary`, whose "recent" ends at the author's own latest post, so
``emomon author``, ``emomon report --author`` and the full report show the same figures for the
same author, and an author whose posts are years old is read over their own last days.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import polars as pl
from sqlalchemy.orm import Session

from monitor import trends
from monitor.numbers import rounded
from monitor.report.charts import Point, post_points
from monitor.settings import Settings

TOP_EMOTIONS = 5


@dataclass(frozen=True)
class DailySeries:
    """Every calendar day of a span, with its post count and mean index (None: no posts)."""

    days: list[date]
    posts: list[int]
    index: list[float | None]


@dataclass(frozen=True)
class AuthorView:
    """What ``emomon author`` shows (see :func:`build_author_view`)."""

    author: str
    end: datetime | None  # end of "recent": the author's own latest post
    recent_days: int
    threshold: float
    min_std: float
    series: DailySeries
    summary: dict[str, Any]
    alerts: list[dict[str, Any]]
    top_emotions: list[dict[str, Any]]
    big5: dict[str, Any] = field(default_factory=dict)
    signal: str = trends.INDEX  # the score of recent, baseline and z (trends.person_signal)
    points: list[Point] = field(default_factory=list)  # every post's ``signal``, oldest first
    alert_threshold: float | None = None  # [alerts.rules.level] threshold (None: rule off)

    @property
    def empty(self) -> bool:
        """True when the author has no scored post in the span."""
        return not self.summary.get("posts")


def daily_series(frame: pl.DataFrame, start: date | None = None, end: date | None = None) -> DailySeries:
    """Posts and mean index per calendar day (UTC) from ``start`` to ``end``, gaps kept.

    Args:
        frame: A score frame.
        start: First day (default: the day of the first post).
        end: Last day (default: the day of the last post).
    """
    if frame.height == 0 and (start is None or end is None):
        return DailySeries([], [], [])
    per_day = (
        frame.with_columns(pl.col("created_at").dt.date().alias("day"))
        .group_by("day")
        .agg(pl.len().alias("n"), pl.col(trends.INDEX).cast(pl.Float64).mean())
    )
    stats = {r["day"]: (int(r["n"]), r[trends.INDEX]) for r in per_day.iter_rows(named=True)}
    first = start or min(stats)
    last = end or max(stats)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    return DailySeries(
        days=days,
        posts=[stats.get(d, (0, None))[0] for d in days],
        index=[rounded(stats[d][1]) if d in stats else None for d in days],
    )


def mean_emotions(frame: pl.DataFrame, k: int = TOP_EMOTIONS) -> list[dict[str, Any]]:
    """The ``k`` GoEmotions labels with the highest mean probability (``neutral`` left out)."""
    cols = [c for c in frame.columns if c.startswith("goemo_") and c != "goemo_neutral"]
    if frame.height == 0 or not cols:
        return []
    means = frame.select(pl.col(c).cast(pl.Float64).mean() for c in cols).row(0)
    ranked = sorted(zip(cols, means, strict=True), key=lambda x: -(x[1] or 0.0))
    return [{"emotion": c.removeprefix("goemo_"), "mean": rounded(m)} for c, m in ranked[:k]]


def big5_validation(model_dir: Path) -> dict[str, Any] | None:
    """The Big Five held-out-author figures of a model's ``metrics.json``, or None.

    The base-encoder cross-validation is preferred: the shipped encoder was fine-tuned on the
    same authors, so its own cross-validation overstates what holds for new authors.
    """
    try:
        metrics = json.loads((model_dir / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for key in ("big5_cv_base_encoder", "big5_cv"):
        summary = (metrics.get(key) or {}).get("summary")
        if summary:
            return {
                "above_majority": int(summary.get("traits_above_majority_ci", summary.get("traits_above_majority", 0))),
                "of": int(summary.get("of", 5)),
                "mean_auroc": None if summary.get("mean_auroc") is None else round(float(summary["mean_auroc"]), 2),
                "authors": (metrics.get(key) or {}).get("authors"),
                "source": f"{model_dir.name}/metrics.json {key}",
            }
    return None


def big5_caveat(validation: Mapping[str, Any] | None) -> str:
    """The one line shown beside every Big Five figure."""
    if not validation:
        return (
            "weak signal: no held-out validation figures found for this model; a research "
            "display, never a trait of a person"
        )
    return (
        f"weak signal: above the majority baseline on {validation['above_majority']} of "
        f"{validation['of']} traits on held-out authors (mean AUROC "
        f"{validation['mean_auroc']}); a research display, never a trait of a person"
    )


def _big5(frame: pl.DataFrame, min_posts: int, validation: Mapping[str, Any] | None) -> dict[str, Any]:
    shown = frame.height >= min_posts
    out: dict[str, Any] = {
        "shown": shown,
        "min_posts": min_posts,
        "caveat": big5_caveat(validation),
        "validation": dict(validation) if validation else None,
        "traits": [],
    }
    if shown:
        prof = trends.big5_profiles(frame, min_posts=min_posts)
        if prof.height:
            row = prof.row(0, named=True)
            out["traits"] = [
                {"trait": t.removeprefix("big5_").upper(), "mean": rounded(row[t])}
                for t in trends.BIG5_COLUMNS
                if t in row
            ]
    return out


def build_author_view(
    frame: pl.DataFrame,
    alerts: Sequence[Mapping[str, Any]],
    *,
    author: str,
    end: datetime | None = None,
    recent_days: int = 7,
    threshold: float = 0.5,
    min_std: float = 0.05,
    min_posts_big5: int = 20,
    big5: Mapping[str, Any] | None = None,
    span: tuple[date | None, date | None] = (None, None),
    signal: str = "auto",
    alert_threshold: float | None = None,
) -> AuthorView:
    """One author's view from a score frame (other authors' rows are ignored).

    Args:
        frame: A score frame.
        alerts: Alerts as from :func:`monitor.store.alerts.alert_dict`.
        author: The pseudonym.
        end: Leave out the author's posts after this time; "recent" ends at the author's own
            latest post (at or before ``end``), never at another author's.
        recent_days: Length of "recent".
        threshold: The share threshold (shown in the legend).
        min_std: Floor of the baseline standard deviation.
        min_posts_big5: Below this many posts the Big Five profile is not shown.
        big5: Held-out validation figures (:func:`big5_validation`).
        span: First and last day of the timeline (default: the author's first and last post).
        signal: ``[alerts] signal`` (:func:`monitor.trends.person_signal`): the score of the summary.
        alert_threshold: The level rule's threshold, drawn on the author's chart (None: none).
    """
    from monitor.alerts.evidence import explain

    mine = frame.filter(pl.col("author") == author)
    column = trends.person_signal(mine, signal)
    summary = trends.author_summary(mine, recent_days=recent_days, min_std=min_std, end=end, column=column)
    stats = summary.row(0, named=True) if summary.height else {"posts": 0}
    own_end = cast(datetime | None, stats.pop("recent_end", None))
    return AuthorView(
        author=author,
        end=own_end,
        recent_days=recent_days,
        threshold=threshold,
        min_std=min_std,
        series=daily_series(mine, *span),
        summary={k: (rounded(v) if isinstance(v, float) else v) for k, v in stats.items()},
        alerts=[
            {
                "id": a["id"],
                "rule": a["rule"],
                "severity": a["severity"],
                "status": a["status"],
                "trigger_at": a["trigger_at"],
                "trigger_post_id": a.get("trigger_post_id"),
                "post_ids": list((a.get("evidence") or {}).get("post_ids") or []),
                "explanation": explain(a),
            }
            for a in sorted(alerts, key=lambda a: a["trigger_at"])
            if a["subject_kind"] == "author" and a["subject"] == author
        ],
        top_emotions=mean_emotions(mine),
        big5=_big5(mine, min_posts_big5, big5),
        signal=column,
        points=post_points(mine, column),
        alert_threshold=alert_threshold,
    )


def load_author_view(
    session: Session, settings: Settings, author: str, *, since: datetime | None = None, until: datetime | None = None
) -> AuthorView:
    """Read one author's scores and alerts from the store.

    Raises:
        EmomonError: No author has this pseudonym.
    """

    from monitor.store import alerts as alert_store
    from monitor.store import scores
    from monitor.store.posts import require_pseudonym

    require_pseudonym(session, author)
    t = settings.trends
    frame = trends.one_model_version(scores.read_scores(session, since=since, until=until, author=author))
    docs = [alert_store.alert_dict(a) for a in alert_store.list_alerts(session, subject=author)]
    return build_author_view(
        frame,
        docs,
        author=author,
        signal=settings.alerts.signal,
        alert_threshold=level_threshold(settings),
        recent_days=t.recent_days,
        threshold=t.threshold,
        min_std=t.min_std,
        min_posts_big5=t.min_posts_big5,
        big5=big5_validation(settings.model_dir()),
        span=timeline_span(frame, settings, since=since, until=until),
    )


def level_threshold(settings: Settings) -> float | None:
    """The level rule's threshold, which charts draw, or None where the rule is off."""
    level = settings.alerts.rules.level
    return level.threshold if level.enabled else None


def timeline_span(
    frame: pl.DataFrame, settings: Settings, *, since: datetime | None, until: datetime | None
) -> tuple[date | None, date | None]:
    """The first and last day of the timeline: the ``--since``/``--until`` window, within the days
    a post can have (``[ingest] earliest`` to today plus the future tolerance) unless a stored post
    lies outside them. ``--since 0001-01-01`` draws no 740,000 empty days."""
    from monitor.clock import utcnow

    lo = max(since.date(), settings.ingest.earliest) if since else None
    latest = (utcnow() + timedelta(hours=settings.ingest.future_tolerance_hours)).date()
    hi = min((until - timedelta(microseconds=1)).date(), latest) if until else None
    if frame.height:
        stamps = frame.get_column("created_at")
        first, last = cast(datetime, stamps.min()).date(), cast(datetime, stamps.max()).date()
        lo = min(lo, first) if lo else None
        hi = max(hi, last) if hi else None
    return lo, hi


def author_dict(view: AuthorView) -> dict[str, Any]:
    """The view as JSON-ready data."""
    s = view.series
    return {
        "author": view.author,
        "recent_end": None if view.end is None else view.end.isoformat().replace("+00:00", "Z"),
        "recent_days": view.recent_days,
        "signal": view.signal,
        "summary": view.summary,
        "days": [
            {"day": d.isoformat(), "posts": n, "index": v} for d, n, v in zip(s.days, s.posts, s.index, strict=True)
        ],
        "alerts": view.alerts,
        "top_emotions": view.top_emotions,
        "big5": view.big5,
    }
