"""Alert rules: score frame -> alert candidates for human review.

Four rules, each configured under ``[alerts.rules.<name>]``. The three person rules read one
signal per post, chosen once by :func:`monitor.trends.person_signal` (``[alerts] signal``):
``distress`` when the model that scored the store has the distress head, else the
depression-emotion index; "signal" below is that column.

- ``level``: an author's mean signal over the trailing ``window_days`` is at
  least ``threshold`` with at least ``min_posts`` posts in the window.
- ``rise``: the one-sided CUSUM of the author's z-scores (capped at ``z_cap``) against their
  own baseline (:func:`monitor.trends.change_statistic`) exceeds ``h``, once the author has
  ``min_baseline_posts`` earlier posts.
- ``burst``: ``count`` or more posts with signal >= ``post_threshold`` within ``window_hours``.
- ``source_shift``: a source's daily mean index is ``z`` or more baseline standard deviations
  away from its mean over the previous ``baseline_days`` days (upward, or both ways). A whole
  source's mood is a trend (reports show it), not a person to review: the alerts stage keeps
  these candidates only for sources with ``alert_on_shift = true``.

One episode raises one alert: a rule's condition is evaluated at every post (every day for
sources) and only the first post of each unbroken run of true conditions becomes a candidate;
candidates of the same rule and subject closer than the rule's ``cooldown_hours`` are merged
into the first; and the store refuses a second alert with the same dedup key or within the
cooldown of a stored one (:mod:`monitor.store.alerts`). Alerts mean "review", never a diagnosis.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime, timedelta

import polars as pl

from monitor import trends
from monitor.numbers import rounded
from monitor.settings import (
    AlertRules,
    BurstRule,
    LevelRule,
    RiseRule,
    SourceShiftRule,
)
from monitor.store.alerts import AlertCandidate

MAX_EVIDENCE_POSTS = 50
RULES = ("level", "rise", "burst", "source_shift")


def rule_cooldowns(rules: AlertRules) -> dict[str, timedelta]:
    """The cooldown of each rule as a timedelta, keyed by rule name."""
    return {name: timedelta(hours=getattr(rules, name).cooldown_hours) for name in RULES}


def evaluate(
    frame: pl.DataFrame,
    rules: AlertRules,
    *,
    prior_posts: float = 5.0,
    min_std: float = 0.05,
    signal: str = "auto",
    shift_sources: Collection[str] | None = None,
    prior: tuple[float, float] | None = None,
) -> list[AlertCandidate]:
    """Run every enabled rule over a score frame.

    Args:
        frame: A score frame (one model version) covering the evaluation window plus the
            history that baselines need.
        rules: The configured rules.
        prior_posts: Baseline prior weight for ``rise`` (``[trends] baseline_prior_posts``).
        min_std: Baseline standard deviation floor for ``rise`` (``[trends] min_std``).
        signal: ``[alerts] signal``, resolved by :func:`monitor.trends.person_signal`.
        shift_sources: The sources whose ``source_shift`` episodes become candidates (None:
            every source; the alerts stage passes those with ``alert_on_shift = true``).
        prior: The population mean and variance of the signal for ``rise``
            (:func:`monitor.trends.author_baselines`; default: from ``frame``). A frame holding
            only some authors gives each of them the candidates of the whole frame with the
            whole frame's prior, as every other rule reads one author (or source) at a time.

    Returns:
        The candidates, one per episode and cooldown, ordered by trigger time.

    Raises:
        ValueError: ``signal`` is ``distress`` and the frame has no distress score.
    """
    out: list[AlertCandidate] = []
    if frame.height == 0:
        return out
    column = trends.person_signal(frame, signal)
    if rules.level.enabled:
        out += level_rule(frame, rules.level, column=column)
    if rules.rise.enabled:
        out += rise_rule(frame, rules.rise, prior_posts=prior_posts, min_std=min_std, column=column, prior=prior)
    if rules.burst.enabled:
        out += burst_rule(frame, rules.burst, column=column)
    if rules.source_shift.enabled and (shift_sources is None or shift_sources):
        shifting = frame if shift_sources is None else frame.filter(pl.col("source").is_in(list(shift_sources)))
        out += source_shift_rule(shifting, rules.source_shift)
    return sorted(out, key=lambda c: (c.trigger_at, c.rule, c.subject))


def _episode_starts(data: pl.DataFrame, key: str, cond: pl.Expr) -> pl.DataFrame:
    """Rows where ``cond`` turns true within ``key`` (data sorted by key then time)."""
    return (
        data.with_columns(cond.fill_null(False).alias("_cond"))
        .with_columns((pl.col("_cond") & ~pl.col("_cond").shift(1).over(key).fill_null(False)).alias("_start"))
        .filter(pl.col("_start"))
        .drop("_cond", "_start")
    )


def apply_cooldown(candidates: Iterable[AlertCandidate], cooldown: timedelta) -> list[AlertCandidate]:
    """Keep a candidate only if no kept candidate of its rule and subject is within ``cooldown``.

    Args:
        candidates: Candidates of one or more rules and subjects.
        cooldown: Minimum time between two alerts of the same rule and subject.

    Returns:
        The kept candidates in trigger order.
    """
    last: dict[tuple[str, str, str], datetime] = {}
    kept: list[AlertCandidate] = []
    for c in sorted(candidates, key=lambda c: c.trigger_at):
        k = (c.rule, c.subject_kind, c.subject)
        if k in last and c.trigger_at < last[k] + cooldown:
            continue
        last[k] = c.trigger_at
        kept.append(c)
    return kept


def _ids_between(stream: pl.DataFrame, start: datetime, end: datetime, *, include_start: bool = False) -> list[int]:
    lo = pl.col("created_at") >= start if include_start else pl.col("created_at") > start
    ids = stream.filter(lo & (pl.col("created_at") <= end))["post_id"].to_list()
    return [int(i) for i in ids[-MAX_EVIDENCE_POSTS:]]


def level_rule(frame: pl.DataFrame, rule: LevelRule, *, column: str = trends.INDEX) -> list[AlertCandidate]:
    """Candidates of the ``level`` rule on the signal ``column`` (see module docstring)."""
    period = timedelta(days=rule.window_days)
    win = trends.post_windows(frame, key="author", period=f"{rule.window_days}d", column=column).with_columns(
        pl.int_range(1, pl.len() + 1).over("author").alias("seq")
    )
    cond = (pl.col("win_mean") >= rule.threshold) & (pl.col("win_posts") >= rule.min_posts)
    out = []
    for row in _episode_starts(win, "author", cond).iter_rows(named=True):
        t = row["created_at"]
        stream = win.filter(pl.col("author") == row["author"])
        out.append(
            AlertCandidate(
                rule="level",
                subject_kind="author",
                subject=row["author"],
                window_start=t - period,
                window_end=t,
                severity=rule.severity,
                trigger_post_id=int(row["post_id"]),
                trigger_index=int(row["seq"]),
                trigger_at=t,
                model_version=row["model_version"],
                evidence={
                    "signal": column,
                    "window_mean": rounded(row["win_mean"]),
                    "threshold": rule.threshold,
                    "posts": int(row["win_posts"]),
                    "min_posts": rule.min_posts,
                    "window_days": rule.window_days,
                    "post_ids": _ids_between(stream, t - period, t),
                },
            )
        )
    return apply_cooldown(out, timedelta(hours=rule.cooldown_hours))


def rise_rule(
    frame: pl.DataFrame,
    rule: RiseRule,
    *,
    prior_posts: float = 5.0,
    min_std: float = 0.05,
    column: str = trends.INDEX,
    prior: tuple[float, float] | None = None,
) -> list[AlertCandidate]:
    """Candidates of the ``rise`` rule on the signal ``column`` (see module docstring and
    :mod:`monitor.trends`)."""
    stat = trends.change_statistic(
        frame,
        column=column,
        k=rule.k,
        h=rule.h,
        prior_posts=prior_posts,
        min_std=min_std,
        z_cap=rule.z_cap,
        prior=prior,
    )
    cond = pl.col("cusum_alarm") & (pl.col("baseline_n") >= rule.min_baseline_posts)
    out = []
    for row in _episode_starts(stat, "author", cond).iter_rows(named=True):
        stream = stat.filter((pl.col("author") == row["author"]) & (pl.col("seq") <= row["seq"]))
        # The run of posts that built the statistic up: back to its last zero.
        zeros = stream.filter(pl.col("cusum") <= 0.0)
        first_seq = int(zeros["seq"].max()) + 1 if zeros.height else 1  # type: ignore[arg-type]
        run = stream.filter(pl.col("seq") >= first_seq)
        out.append(
            AlertCandidate(
                rule="rise",
                subject_kind="author",
                subject=row["author"],
                window_start=run["created_at"].min(),  # type: ignore[arg-type]
                window_end=row["created_at"],
                severity=rule.severity,
                trigger_post_id=int(row["post_id"]),
                trigger_index=int(row["seq"]),
                trigger_at=row["created_at"],
                model_version=row["model_version"],
                evidence={
                    "signal": column,
                    "cusum": rounded(row["cusum"]),
                    "h": rule.h,
                    "k": rule.k,
                    "z_cap": rule.z_cap,
                    "z": rounded(row["z"]),
                    "baseline_mean": rounded(row["baseline_mean"]),
                    "baseline_std": rounded(row["baseline_std"]),
                    "baseline_posts": int(row["baseline_n"]),
                    "run_mean": rounded(run[column].mean()),
                    "post_ids": [int(i) for i in run["post_id"].to_list()[-MAX_EVIDENCE_POSTS:]],
                },
            )
        )
    return apply_cooldown(out, timedelta(hours=rule.cooldown_hours))


def burst_rule(frame: pl.DataFrame, rule: BurstRule, *, column: str = trends.INDEX) -> list[AlertCandidate]:
    """Candidates of the ``burst`` rule on the signal ``column`` (see module docstring)."""
    period = timedelta(hours=rule.window_hours)
    win = trends.post_windows(
        frame, key="author", period=_hours(rule.window_hours), column=column, threshold=rule.post_threshold
    ).with_columns(pl.int_range(1, pl.len() + 1).over("author").alias("seq"))
    cond = pl.col("win_high") >= rule.count
    out = []
    for row in _episode_starts(win, "author", cond).iter_rows(named=True):
        t = row["created_at"]
        stream = win.filter((pl.col("author") == row["author"]) & (pl.col(column) >= rule.post_threshold))
        high = stream.filter((pl.col("created_at") > t - period) & (pl.col("created_at") <= t))
        out.append(
            AlertCandidate(
                rule="burst",
                subject_kind="author",
                subject=row["author"],
                window_start=high["created_at"].min(),  # type: ignore[arg-type]
                window_end=t,
                severity=rule.severity,
                trigger_post_id=int(row["post_id"]),
                trigger_index=int(row["seq"]),
                trigger_at=t,
                model_version=row["model_version"],
                evidence={
                    "signal": column,
                    "high_posts": int(row["win_high"]),
                    "count": rule.count,
                    "post_threshold": rule.post_threshold,
                    "window_hours": rule.window_hours,
                    "max_index": rounded(high[column].max()),
                    "post_ids": [int(i) for i in high["post_id"].to_list()[-MAX_EVIDENCE_POSTS:]],
                },
            )
        )
    return apply_cooldown(out, timedelta(hours=rule.cooldown_hours))


def _hours(hours: float) -> str:
    return f"{int(round(hours * 3600))}s"


def source_shift_rule(frame: pl.DataFrame, rule: SourceShiftRule) -> list[AlertCandidate]:
    """Candidates of the ``source_shift`` rule (see module docstring)."""
    starts = trends.source_shifts(
        frame,
        z=rule.z,
        baseline_days=rule.baseline_days,
        min_baseline_days=rule.min_baseline_days,
        min_posts=rule.min_posts,
        direction=rule.direction,
    )
    if starts.height == 0:
        return []
    posts = frame.sort("source", "created_at", "post_id").with_columns(
        pl.int_range(1, pl.len() + 1).over("source").alias("seq"),
        pl.col("created_at").dt.truncate("1d").alias("day"),
    )
    out = []
    for row in starts.iter_rows(named=True):
        day_posts = posts.filter((pl.col("source") == row["source"]) & (pl.col("day") == row["day"]))
        last = day_posts.row(-1, named=True)
        out.append(
            AlertCandidate(
                rule="source_shift",
                subject_kind="source",
                subject=row["source"],
                window_start=row["day"],
                window_end=row["day"] + timedelta(days=1),
                severity=rule.severity,
                trigger_post_id=int(last["post_id"]),
                trigger_index=int(last["seq"]),
                trigger_at=last["created_at"],
                model_version=last["model_version"],
                evidence={
                    "day_mean": rounded(row["mean"]),
                    "baseline_mean": rounded(row["base_mean"]),
                    "baseline_std": rounded(row["base_std"]),
                    "baseline_days": int(row["base_days"]),
                    "z": rounded(row["z"]),
                    "z_threshold": rule.z,
                    "posts": int(row["posts"]),
                    "post_ids": [int(i) for i in day_posts["post_id"].to_list()[-MAX_EVIDENCE_POSTS:]],
                },
            )
        )
    return apply_cooldown(out, timedelta(hours=rule.cooldown_hours))
