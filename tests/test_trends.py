"""Tests for monitor.trends on constructed score frames."""

from __future__ import annotations

import math
from datetime import timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scoreframes import T0, score_frame, stream

from monitor import trends


def test_signal_columns_lists_index_then_emotions() -> None:
    frame = score_frame(stream("a", [0.1]))
    cols = trends.signal_columns(frame)
    assert cols[0] == "depression_index"
    assert "goemo_grief" in cols and "carer_fear" in cols
    assert not any(c.startswith("big5_") for c in cols)
    assert len(cols) == 1 + 28 + 6


def test_aggregate_per_author_per_day_counts_means_and_shares() -> None:
    rows = stream("a", [0.2, 0.8], every=timedelta(hours=1)) + stream("b", [0.9], first_id=10)
    rows.append({"post_id": 20, "author": None, "created_at": T0, "depression_index": 0.4})
    frame = score_frame(rows)
    agg = trends.aggregate(frame, level="author", by="day", threshold=0.5, columns=["depression_index"])
    assert agg["subject"].to_list() == ["a", "b"]  # the post without author is left out
    a = agg.row(0, named=True)
    assert a["posts"] == 2
    assert a["mean_depression_index"] == pytest.approx(0.5)
    assert a["share_depression_index"] == pytest.approx(0.5)
    overall = trends.aggregate(frame, level="overall", columns=["depression_index"])
    assert overall.height == 1 and overall["posts"][0] == 4 and overall["authors"][0] == 2


def test_aggregate_by_week_starts_on_monday() -> None:
    # 2025-01-01 is a Wednesday; ten daily posts span two ISO weeks plus one day.
    frame = score_frame(stream("a", [0.1] * 10, every=timedelta(days=1)))
    agg = trends.aggregate(frame, level="source", by="week")
    assert [p.weekday() for p in agg["period"].to_list()] == [0, 0]
    assert agg["posts"].to_list() == [5, 5]
    with pytest.raises(ValueError, match="by must be"):
        trends.aggregate(frame, by="month")  # type: ignore[arg-type]


def test_rolling_windows_cover_trailing_days() -> None:
    frame = score_frame(stream("a", [0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], every=timedelta(days=1)))
    roll = trends.rolling(frame, level="author", windows=(3, 30))
    last = roll.row(-1, named=True)
    assert last["posts_3d"] == 3 and last["mean_3d"] == pytest.approx(1.0)
    assert last["posts_30d"] == 10 and last["mean_30d"] == pytest.approx(0.8)
    third = roll.row(2, named=True)
    assert third["posts_3d"] == 3 and third["mean_3d"] == pytest.approx(1 / 3)


def test_post_windows_count_high_posts_per_author() -> None:
    rows = stream("a", [0.9, 0.9, 0.1, 0.9], every=timedelta(hours=10))
    rows += stream("b", [0.9] * 4, every=timedelta(days=3), first_id=50)
    frame = score_frame(rows)
    win = trends.post_windows(frame, key="author", period="24h", threshold=0.8)
    a = win.filter(pl.col("author") == "a")
    assert a["win_posts"].to_list() == [1, 2, 3, 3]  # at 30h: posts at 10h, 20h, 30h
    assert a["win_high"].to_list() == [1, 2, 2, 2]
    b = win.filter(pl.col("author") == "b")
    assert b["win_high"].to_list() == [1, 1, 1, 1]


def test_baseline_uses_only_earlier_posts_and_is_shrunk_to_population() -> None:
    frame = score_frame(stream("a", [0.2, 0.2, 0.2, 0.2, 0.9]) + stream("b", [0.5] * 5, first_id=10))
    based = trends.author_baselines(frame, prior_posts=0.0, min_std=0.05)
    a = based.filter(pl.col("author") == "a")
    assert a["seq"].to_list() == [1, 2, 3, 4, 5]
    assert a["baseline_n"].to_list() == [0, 1, 2, 3, 4]
    last = a.row(-1, named=True)
    assert last["baseline_mean"] == pytest.approx(0.2)  # the 0.9 itself is not in its baseline
    assert last["baseline_std"] == pytest.approx(0.05)  # floor
    assert last["z"] == pytest.approx((0.9 - 0.2) / 0.05, rel=1e-5)
    # with a prior, the first post is compared with the population
    shrunk = trends.author_baselines(frame, prior_posts=5.0)
    first = shrunk.filter(pl.col("author") == "a").row(0, named=True)
    mu = float(frame["depression_index"].mean())  # type: ignore[arg-type]
    assert first["baseline_mean"] == pytest.approx(mu, rel=1e-5)


def _loop_cusum(zs: list[float], k: float) -> list[float]:
    s, out = 0.0, []
    for z in zs:
        s = max(0.0, s + z - k)
        out.append(s)
    return out


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-5, 5, allow_nan=False), min_size=1, max_size=40), st.floats(0.0, 2.0))
def test_vectorised_cusum_equals_the_recursion(zs: list[float], k: float) -> None:
    frame = pl.DataFrame({"author": ["a"] * len(zs), "z": zs})
    got = trends.cusum(frame, k=k, h=4.0)["cusum"].to_list()
    want = _loop_cusum(zs, k)
    assert all(math.isclose(g, w, abs_tol=1e-9) for g, w in zip(got, want, strict=True))


def test_z_cap_limits_what_one_post_adds() -> None:
    frame = pl.DataFrame({"author": ["a"] * 3, "z": [10.0, -0.2, 10.0]})
    capped = trends.cusum(frame, k=0.5, h=4.0, z_cap=2.5)
    assert capped["cusum"].to_list() == pytest.approx([2.0, 1.3, 3.3])
    assert not capped["cusum_alarm"].any()  # two extreme posts alone stay under h
    assert trends.cusum(frame, k=0.5, h=4.0)["cusum_alarm"].to_list() == [True, True, True]


def test_cusum_is_per_author_and_alarms_on_a_shift() -> None:
    steady = [0.1, 0.15, 0.1, 0.12, 0.1, 0.14, 0.1, 0.11] * 3
    shifted = steady + [0.8, 0.85, 0.9, 0.8]
    frame = score_frame(stream("s", steady) + stream("x", shifted, first_id=100))
    stat = trends.change_statistic(frame, k=0.5, h=4.0)
    s = stat.filter(pl.col("author") == "s")
    x = stat.filter(pl.col("author") == "x")
    assert not s["cusum_alarm"].any()
    alarms = x["cusum_alarm"].to_list()
    assert not any(alarms[: len(steady)])
    assert alarms[len(steady)]  # a jump of many baseline SDs fires at the first shifted post


def test_author_summary_z_of_recent_week_against_earlier_posts() -> None:
    values = [0.1] * 20 + [0.7] * 4
    frame = score_frame(stream("a", values, every=timedelta(days=1)))
    summary = trends.author_summary(frame, recent_days=7, min_std=0.05)
    row = summary.row(0, named=True)
    assert row["recent_posts"] == 7
    assert row["recent_mean"] == pytest.approx((3 * 0.1 + 4 * 0.7) / 7, rel=1e-5)
    assert row["baseline_mean"] == pytest.approx(0.1, rel=1e-5)
    assert row["z"] > 5
    assert trends.author_summary(frame.clear()).height == 0


def test_big5_profiles_need_min_posts() -> None:
    rows = stream("many", [0.1] * 5) + stream("few", [0.1] * 2, first_id=10)
    for r in rows[:5]:
        r["big5_ext"] = 0.8
    frame = score_frame(rows)
    prof = trends.big5_profiles(frame, min_posts=3)
    assert prof["author"].to_list() == ["many"]
    assert prof["big5_ext"][0] == pytest.approx(0.8)
    assert set(trends.BIG5_COLUMNS) <= set(prof.columns)


def test_rising_ranks_signals_by_recent_change() -> None:
    rows = stream("a", [0.1] * 20, every=timedelta(days=1))
    for r in rows[-3:]:
        r["goemo_grief"] = 0.9
    frame = score_frame(rows)
    top = trends.rising(frame, recent_days=7)
    assert top["signal"][0] == "goemo_grief"
    assert top["change"][0] == pytest.approx((3 * 0.9 + 4 * 0.1) / 7 - 0.1, rel=1e-4)
    assert trends.rising(frame.head(1)).height == 0
