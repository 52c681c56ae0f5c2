"""Trends: pure polars functions that turn the score frame into windows, baselines and changes.

Every function takes the score frame of ``monitor.store.read_scores`` (columns ``post_id``,
``source``, ``author``, ``created_at``, ``model_version``, ``depression_index``, ``goemo_*``,
``carer_*``, ``big5_*``) or a frame derived from it, and returns a new frame. Nothing here reads
the database, the clock or the configuration.

Change statistic (used by the ``rise`` alert rule): each post's depression index is turned into
a z-score against the author's *own* baseline, built from the author's earlier posts only and
shrunk toward the population (mean and variance of the whole frame) with a prior weight of
``prior_posts`` pseudo-posts, so that an author with few posts is compared with everyone::

    n      = number of the author's earlier posts
    mean_b = (sum_earlier + m * mean_all) / (n + m)
    var_b  = (ss_earlier + m * var_all) / (n + m)        ss = sum of squared deviations
    z      = (x - mean_b) / max(sqrt(var_b), min_std)

The one-sided upper CUSUM (Page 1954) accumulates evidence of an upward shift,
``S_t = max(0, S_{t-1} + min(z_t, z_cap) - k)`` with ``S_0 = 0``; it is computed without a
Python loop as ``C_t - min(0, min_{j<=t} C_j)`` where ``C_t = sum_{j<=t} (min(z_j, z_cap) - k)``. ``k`` is the allowance
(half the shift, in standard deviations, that the detector is tuned for; 0.5 by default) and the
statistic signals when ``S_t > h`` (decision interval, 4.0 by default: with k = 0.5 and normal
noise, an in-control run length of several hundred posts, and about h / (shift - k) posts to
detect a sustained shift of ``shift`` standard deviations). ``z_cap`` winsorises each post's
z-score (a robust CUSUM): one extreme post from an author with a very regular baseline adds at
most ``z_cap - k``, so a sustained run of raised posts is needed to reach ``h``, not a single
outlier. ``z_cap = None`` leaves z-scores as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal

import polars as pl

INDEX = "depression_index"
DISTRESS = "distress"
SIGNAL_CHOICES = ("auto", DISTRESS, INDEX)
EMOTION_PREFIXES = ("goemo_", "carer_")
BIG5_COLUMNS = ("big5_ext", "big5_neu", "big5_agr", "big5_con", "big5_opn")
OVERALL = "all"

Level = Literal["author", "source", "overall"]
Period = Literal["day", "week"]

_TRUNCATE = {"day": "1d", "week": "1w"}


def signal_columns(frame: pl.DataFrame) -> list[str]:
    """The columns that trends are computed for: the index first, then every emotion.

    Args:
        frame: A score frame.

    Returns:
        ``depression_index`` (when present) followed by the ``goemo_*`` and ``carer_*`` columns
        in frame order.
    """
    emotions = [c for c in frame.columns if c.startswith(EMOTION_PREFIXES)]
    return ([INDEX] if INDEX in frame.columns else []) + emotions


def has_distress(frame: pl.DataFrame) -> bool:
    """True when the frame carries a distress score (a model with the distress head scored it)."""
    return DISTRESS in frame.columns and frame.height > 0 and frame[DISTRESS].null_count() < frame.height


def person_signal(frame: pl.DataFrame, choice: str = "auto") -> str:
    """The score column that alerts and reviews about a person read (``[alerts] signal``).

    ``auto`` reads ``distress`` (how likely the author expresses their own distress) when the
    frame has it and ``depression_index`` for stores scored by a model without the distress
    head; ``distress`` or ``depression_index`` name the column outright.

    Raises:
        ValueError: ``choice`` is not one of :data:`SIGNAL_CHOICES`, or it is ``distress`` and
            the frame has no distress score.
    """
    if choice not in SIGNAL_CHOICES:
        raise ValueError(f"signal must be one of {', '.join(SIGNAL_CHOICES)}, got {choice!r}")
    if choice == INDEX:
        return INDEX
    if has_distress(frame):
        return DISTRESS
    if choice == DISTRESS and frame.height:
        raise ValueError(
            "[alerts] signal = 'distress' but the stored scores have no distress score "
            "(a model without the distress head scored them); rescore with a model that "
            "has it, or set signal = 'auto'"
        )
    return INDEX


def mute_repeated(frame: pl.DataFrame, hashes: pl.DataFrame, *, min_authors: int, column: str) -> pl.DataFrame:
    """``frame`` with ``column`` set to 0 on posts whose text ``min_authors`` or more authors of
    the frame posted (a campaign, a copied post, a retweet without its prefix): the same words
    from many people tell nothing about one person's own state.

    ``hashes`` has ``post_id`` and ``content_hash`` (the stored text's hash) of the frame's posts;
    ``min_authors`` 0 leaves the frame as it is.
    """
    import polars as pl

    if min_authors <= 0 or frame.height == 0:
        return frame
    known = frame.select("post_id", "author").join(hashes, on="post_id", how="inner")
    per_text = known.group_by("content_hash").agg(pl.col("author").drop_nulls().n_unique().alias("authors"))
    shared = per_text.filter(pl.col("authors") >= min_authors)["content_hash"]
    muted = known.filter(pl.col("content_hash").is_in(shared.implode()))["post_id"]
    zero = pl.lit(0.0, dtype=frame.schema[column])
    value = pl.when(pl.col("post_id").is_in(muted.implode())).then(zero).otherwise(pl.col(column))
    return frame.with_columns(value.alias(column))


def signal_label(column: str) -> str:
    """How reports and alert explanations name a signal column: ``distress``, ``depression index``."""
    return column.replace("_", " ")


def subject_expr(level: Level) -> pl.Expr:
    """The expression that names the subject of a row at ``level`` (author, source or all)."""
    if level == "author":
        return pl.col("author")
    if level == "source":
        return pl.col("source")
    if level == "overall":
        return pl.lit(OVERALL)
    raise ValueError(f"level must be 'author', 'source' or 'overall', got {level!r}")


def period_expr(by: Period) -> pl.Expr:
    """The start of the day or ISO week (Monday, UTC) of each post's ``created_at``."""
    if by not in _TRUNCATE:
        raise ValueError(f"by must be 'day' or 'week', got {by!r}")
    return pl.col("created_at").dt.truncate(_TRUNCATE[by])


def _with_subject(frame: pl.DataFrame, level: Level) -> pl.DataFrame:
    out = frame.with_columns(subject_expr(level).alias("subject"))
    if level == "author":
        out = out.filter(pl.col("subject").is_not_null())
    return out


def aggregate(
    frame: pl.DataFrame,
    *,
    level: Level = "overall",
    by: Period = "day",
    threshold: float = 0.5,
    columns: Sequence[str] | None = None,
) -> pl.DataFrame:
    """Volume, mean and share above ``threshold`` of each signal, per subject and period.

    Args:
        frame: A score frame.
        level: ``author`` (pseudonym; posts without an author are left out), ``source`` or
            ``overall`` (one subject named ``all``).
        by: ``day`` or ``week`` (weeks start on Monday, UTC).
        threshold: A post counts toward ``share_<column>`` when its value is >= this.
        columns: The signals to summarise; default :func:`signal_columns`.

    Returns:
        One row per (subject, period), sorted, with ``posts``, ``authors``, ``mean_<c>`` and
        ``share_<c>`` for each column.
    """
    cols = list(columns) if columns is not None else signal_columns(frame)
    data = _with_subject(frame, level).with_columns(period_expr(by).alias("period"))
    aggs: list[pl.Expr] = [
        pl.len().alias("posts"),
        pl.col("author").drop_nulls().n_unique().alias("authors"),
    ]
    for c in cols:
        aggs.append(pl.col(c).mean().alias(f"mean_{c}"))
        aggs.append((pl.col(c) >= threshold).mean().alias(f"share_{c}"))
    return data.group_by("subject", "period").agg(aggs).sort("subject", "period")


def rolling(
    frame: pl.DataFrame,
    *,
    level: Level = "author",
    windows: Sequence[int] = (7, 30),
    column: str = INDEX,
) -> pl.DataFrame:
    """Trailing calendar-day windows of ``column`` for each subject, one row per active day.

    Args:
        frame: A score frame.
        level: ``author``, ``source`` or ``overall``.
        windows: Window lengths in days; window ``w`` on day ``d`` covers (d - w, d].
        column: The signal to average.

    Returns:
        Columns ``subject``, ``day``, ``posts``, ``mean`` (that day) and for each ``w``:
        ``posts_<w>d`` and ``mean_<w>d`` (post-weighted mean over the window).
    """
    daily = (
        _with_subject(frame, level)
        .with_columns(pl.col("created_at").dt.truncate("1d").alias("day"))
        .group_by("subject", "day")
        .agg(pl.len().alias("posts"), pl.col(column).sum().alias("_sum"))
        .sort("subject", "day")
    )
    exprs: list[pl.Expr] = [(pl.col("_sum") / pl.col("posts")).alias("mean")]
    for w in windows:
        n = pl.col("posts").rolling_sum_by("day", window_size=f"{w}d").over("subject")
        s = pl.col("_sum").rolling_sum_by("day", window_size=f"{w}d").over("subject")
        exprs += [n.alias(f"posts_{w}d"), (s / n).alias(f"mean_{w}d")]
    return daily.with_columns(exprs).drop("_sum")


def post_windows(
    frame: pl.DataFrame,
    *,
    key: str,
    period: str,
    column: str = INDEX,
    threshold: float | None = None,
) -> pl.DataFrame:
    """For every post, the trailing window of its subject's posts ending at that post's time.

    Args:
        frame: A score frame.
        key: The subject column (``author`` or ``source``).
        period: A polars duration such as ``"7d"`` or ``"48h"``; the window is (t - period, t].
        column: The signal to summarise.
        threshold: When given, also count the window's posts with ``column >= threshold``.

    Returns:
        The frame sorted by (key, created_at, post_id) with ``win_posts``, ``win_mean`` and,
        with a threshold, ``win_high``.
    """
    data = frame.filter(pl.col(key).is_not_null()).sort(key, "created_at", "post_id")
    exprs = [
        pl.col(column)
        .is_not_null()
        .cast(pl.Int64)
        .rolling_sum_by("created_at", window_size=period)
        .over(key)
        .alias("win_posts"),
        pl.col(column).cast(pl.Float64).rolling_mean_by("created_at", window_size=period).over(key).alias("win_mean"),
    ]
    if threshold is not None:
        exprs.append(
            (pl.col(column) >= threshold)
            .cast(pl.Int64)
            .rolling_sum_by("created_at", window_size=period)
            .over(key)
            .alias("win_high")
        )
    return data.with_columns(exprs)


def population(frame: pl.DataFrame, *, column: str = INDEX, key: str = "author") -> tuple[float, float]:
    """Mean and variance (ddof 0) of ``column`` over the rows with a subject: the prior that
    :func:`author_baselines` shrinks each author's baseline toward."""
    data = frame.filter(pl.col(key).is_not_null()).sort(key, "created_at", "post_id")  # the order sums run in
    if data.height == 0:
        return 0.0, 0.0
    return float(data[column].mean()), float(data[column].var(ddof=0) or 0.0)  # type: ignore[arg-type]


def author_baselines(
    frame: pl.DataFrame,
    *,
    column: str = INDEX,
    prior_posts: float = 5.0,
    min_std: float = 0.05,
    key: str = "author",
    prior: tuple[float, float] | None = None,
) -> pl.DataFrame:
    """Each post's z-score against its author's baseline from earlier posts (see module doc).

    Args:
        frame: A score frame.
        column: The signal to standardise.
        prior_posts: Weight ``m`` of the population prior, in posts.
        min_std: Floor of the baseline standard deviation, so a very regular author does not
            turn small wobbles into large z-scores.
        key: The subject column.
        prior: The population's mean and variance (default: :func:`population` of ``frame``);
            given when ``frame`` holds only some of the subjects, so each subject's z-scores are
            the ones the whole frame gives.

    Returns:
        The frame's rows with a subject, sorted by (key, created_at, post_id), with
        ``seq`` (1-based position in the subject's stream), ``baseline_n``, ``baseline_mean``,
        ``baseline_std`` and ``z``.
    """
    data = frame.filter(pl.col(key).is_not_null()).sort(key, "created_at", "post_id")
    x = pl.col(column).cast(pl.Float64)
    mu_all, var_all = prior if prior is not None else population(data, column=column, key=key)
    m = float(prior_posts)
    data = data.with_columns(
        pl.int_range(1, pl.len() + 1).over(key).cast(pl.Int64).alias("seq"),
        (x.cum_sum().over(key) - x).alias("_s1"),
        ((x * x).cum_sum().over(key) - x * x).alias("_s2"),
    ).with_columns((pl.col("seq") - 1).alias("baseline_n"))
    n = pl.col("baseline_n").cast(pl.Float64)
    ss = pl.when(n > 0).then(pl.col("_s2") - pl.col("_s1") ** 2 / n).otherwise(0.0).clip(0.0)
    mean_b = (pl.col("_s1") + m * mu_all) / (n + m)
    var_b = (ss + m * var_all) / (n + m)
    data = data.with_columns(
        mean_b.alias("baseline_mean"),
        pl.max_horizontal(var_b.sqrt(), pl.lit(min_std)).alias("baseline_std"),
    ).with_columns(((x - pl.col("baseline_mean")) / pl.col("baseline_std")).alias("z"))
    return data.drop("_s1", "_s2")


def cusum(
    frame: pl.DataFrame,
    *,
    k: float = 0.5,
    h: float = 4.0,
    key: str = "author",
    value: str = "z",
    z_cap: float | None = None,
) -> pl.DataFrame:
    """One-sided upper CUSUM of ``value`` per subject, in the frame's row order.

    Args:
        frame: Rows sorted by time within each subject, e.g. from :func:`author_baselines`.
        k: Allowance, in the units of ``value`` (standard deviations for z-scores).
        h: Decision interval; ``cusum_alarm`` is true where the statistic exceeds it.
        key: The subject column.
        value: The column to accumulate.
        z_cap: Upper limit applied to ``value`` before accumulating (None: no limit).

    Returns:
        The frame with ``cusum`` (float, >= 0) and ``cusum_alarm`` (bool).
    """
    v = pl.col(value) if z_cap is None else pl.min_horizontal(pl.col(value), pl.lit(z_cap))
    c = (v - k).cum_sum().over(key)
    floor = pl.min_horizontal(c.cum_min().over(key), pl.lit(0.0))
    return frame.with_columns((c - floor).clip(0.0).alias("cusum")).with_columns(
        (pl.col("cusum") > h).alias("cusum_alarm")
    )


def change_statistic(
    frame: pl.DataFrame,
    *,
    column: str = INDEX,
    prior_posts: float = 5.0,
    min_std: float = 0.05,
    k: float = 0.5,
    h: float = 4.0,
    key: str = "author",
    z_cap: float | None = None,
    prior: tuple[float, float] | None = None,
) -> pl.DataFrame:
    """Baseline z-scores followed by the CUSUM: the ``rise`` rule's statistic per post
    (``prior``: see :func:`author_baselines`)."""
    based = author_baselines(frame, column=column, prior_posts=prior_posts, min_std=min_std, key=key, prior=prior)
    return cusum(based, k=k, h=h, key=key, z_cap=z_cap)


def author_summary(
    frame: pl.DataFrame,
    *,
    recent_days: int = 7,
    column: str = INDEX,
    min_std: float = 0.05,
    end: datetime | None = None,
) -> pl.DataFrame:
    """Per author: posts, baseline (older posts) and recent mean, and the recent z-score.

    Each author's recent window is the ``recent_days`` days up to *their own* latest post (at
    or before ``end`` when given), so an author who stopped posting years before the newest post
    of the store is still read over their last days; the baseline is every earlier post of the
    same author. An author's figures therefore never depend on the other authors in the frame.

    Returns:
        ``author``, ``posts``, ``recent_end`` (the author's latest post), ``recent_posts``,
        ``recent_mean``, ``baseline_mean``, ``baseline_std``, ``z`` (null when the author has
        no baseline posts), sorted by z.
    """
    data = frame.filter(pl.col("author").is_not_null())
    if end is not None:
        data = data.filter(pl.col("created_at") <= end)
    if data.height == 0:
        return pl.DataFrame(
            schema={
                "author": pl.String,
                "posts": pl.UInt32,
                "recent_end": pl.Datetime("us", "UTC"),
                "recent_posts": pl.UInt32,
                "recent_mean": pl.Float64,
                "baseline_mean": pl.Float64,
                "baseline_std": pl.Float64,
                "z": pl.Float64,
            }
        )
    last = pl.col("created_at").max().over("author")
    data = data.with_columns((pl.col("created_at") > last - timedelta(days=recent_days)).alias("_recent"))
    recent = pl.col("_recent")
    x = pl.col(column).cast(pl.Float64)
    out = data.group_by("author").agg(
        pl.len().alias("posts"),
        pl.col("created_at").max().alias("recent_end"),
        recent.sum().cast(pl.UInt32).alias("recent_posts"),
        x.filter(recent).mean().alias("recent_mean"),
        x.filter(~recent).mean().alias("baseline_mean"),
        x.filter(~recent).std(ddof=0).alias("_std"),
    )
    return (
        out.with_columns(pl.max_horizontal(pl.col("_std"), pl.lit(min_std)).alias("baseline_std"))
        .with_columns(((pl.col("recent_mean") - pl.col("baseline_mean")) / pl.col("baseline_std")).alias("z"))
        .drop("_std")
        .sort("z", descending=True, nulls_last=True)
    )


def big5_profiles(frame: pl.DataFrame, *, min_posts: int = 20) -> pl.DataFrame:
    """Mean Big Five trait probabilities per author, only for authors with >= ``min_posts``.

    A trait profile from a handful of posts says more about the posts than the person, so
    authors below the minimum are left out rather than shown with a wide error.

    Returns:
        ``author``, ``posts`` and one column per trait present (``big5_ext`` ...).
    """
    traits = [c for c in BIG5_COLUMNS if c in frame.columns]
    return (
        frame.filter(pl.col("author").is_not_null())
        .group_by("author")
        .agg(pl.len().alias("posts"), *[pl.col(t).mean() for t in traits])
        .filter(pl.col("posts") >= min_posts)
        .sort("author")
    )


def rising(
    frame: pl.DataFrame,
    *,
    recent_days: int = 7,
    columns: Sequence[str] | None = None,
    end: datetime | None = None,
) -> pl.DataFrame:
    """Which signals rose most: mean of the ``recent_days`` days up to ``end`` (default: the
    frame's latest post) against the time before.

    Returns:
        ``signal``, ``before``, ``recent``, ``change`` (recent - before), sorted by change,
        largest first. Empty when either side has no posts.
    """
    cols = list(columns) if columns is not None else signal_columns(frame)
    schema = {"signal": pl.String, "before": pl.Float64, "recent": pl.Float64, "change": pl.Float64}
    if frame.height == 0 or not cols:
        return pl.DataFrame(schema=schema)
    last = end if end is not None else frame["created_at"].max()
    cut = last - timedelta(days=recent_days)  # type: ignore[operator]
    recent = frame.filter((pl.col("created_at") > cut) & (pl.col("created_at") <= last))
    before = frame.filter(pl.col("created_at") <= cut)
    if recent.height == 0 or before.height == 0:
        return pl.DataFrame(schema=schema)
    rows = []
    for c in cols:
        b = float(before[c].mean())  # type: ignore[arg-type]
        r = float(recent[c].mean())  # type: ignore[arg-type]
        rows.append({"signal": c, "before": b, "recent": r, "change": r - b})
    return pl.DataFrame(rows, schema=schema).sort("change", descending=True)


def source_days(frame: pl.DataFrame, *, baseline_days: int, min_std: float = 0.02) -> pl.DataFrame:
    """Per source and day: posts, mean index, and the baseline of the previous days' means.

    Returns:
        ``source``, ``day``, ``posts``, ``mean``, ``base_days``, ``base_mean``, ``base_std``,
        ``z`` sorted by source and day. The baseline covers [day - baseline_days, day).
    """
    window = f"{baseline_days}d"
    daily = (
        frame.with_columns(pl.col("created_at").dt.truncate("1d").alias("day"))
        .group_by("source", "day")
        .agg(pl.len().alias("posts"), pl.col(INDEX).cast(pl.Float64).mean().alias("mean"))
        .sort("source", "day")
    )
    m = pl.col("mean")
    return (
        daily.with_columns(pl.lit(1).cast(pl.Int64).alias("_one"))
        .with_columns(
            pl.col("_one")
            .rolling_sum_by("day", window_size=window, closed="left")
            .over("source")
            .fill_null(0)
            .alias("base_days"),
            m.rolling_mean_by("day", window_size=window, closed="left").over("source").alias("base_mean"),
            m.rolling_std_by("day", window_size=window, closed="left", ddof=0).over("source").alias("_std"),
        )
        .with_columns(pl.max_horizontal(pl.col("_std").fill_null(0.0), pl.lit(min_std)).alias("base_std"))
        .with_columns(((m - pl.col("base_mean")) / pl.col("base_std")).alias("z"))
        .drop("_one", "_std")
    )


def source_shifts(
    frame: pl.DataFrame,
    *,
    z: float,
    baseline_days: int,
    min_baseline_days: int = 1,
    min_posts: int = 1,
    direction: str = "up",
) -> pl.DataFrame:
    """The days a source's mood shifted: the first day of each run of days whose mean index is
    ``z`` or more baseline standard deviations from the mean of the previous ``baseline_days``
    days (upward, or both ways with ``direction = "both"``). A source trend for reports; the
    ``source_shift`` alert rule reads the same days.

    Returns:
        The rows of :func:`source_days` that open a shift, sorted by source and day.
    """
    days = source_days(frame, baseline_days=baseline_days)
    moved = pl.col("z") >= z
    if direction == "both":
        moved = moved | (pl.col("z") <= -z)
    cond = (moved & (pl.col("posts") >= min_posts) & (pl.col("base_days") >= min_baseline_days)).fill_null(False)
    return (
        days.with_columns(cond.alias("_c"))
        .filter(pl.col("_c") & ~pl.col("_c").shift(1).over("source").fill_null(False))
        .drop("_c")
    )


def one_model_version(frame: pl.DataFrame) -> pl.DataFrame:
    """Keep one score per post when several model versions are stored.

    The version that scored the most posts is kept (ties: the greater version name), so a
    partial re-score does not mix two models in one trend line.
    """
    if frame.height == 0 or frame["model_version"].n_unique() == 1:
        return frame
    counts = frame.group_by("model_version").len().sort(["len", "model_version"], descending=True)
    return frame.filter(pl.col("model_version") == counts["model_version"][0])
