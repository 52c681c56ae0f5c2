"""Tests for monitor.alerts.rules: each rule on constructed score streams."""

from __future__ import annotations

from datetime import timedelta

import pytest
from scoreframes import T0, score_frame, stream

from monitor.alerts import rules as alerts
from monitor.settings import AlertRules, BurstRule, LevelRule, RiseRule, SourceShiftRule

STEADY = [0.10, 0.14, 0.08, 0.12, 0.10, 0.15, 0.09, 0.11, 0.13, 0.10] * 2


def only(**rules: object) -> AlertRules:
    """Rules with everything disabled except the ones given."""
    off = AlertRules(
        level=LevelRule(enabled=False),
        rise=RiseRule(enabled=False),
        burst=BurstRule(enabled=False),
        source_shift=SourceShiftRule(enabled=False),
    )
    return off.model_copy(update=rules)


# ----------------------------------------------------------------------------------- level

LEVEL = LevelRule(threshold=0.6, window_days=7, min_posts=3, cooldown_hours=24 * 7)


def test_level_fires_once_per_episode_at_the_post_that_crosses() -> None:
    values = STEADY + [0.9] * 10  # stays high for five days: one episode
    frame = score_frame(stream("a", values, every=timedelta(hours=12)))
    got = alerts.evaluate(frame, only(level=LEVEL))
    assert len(got) == 1
    c = got[0]
    assert (c.rule, c.subject_kind, c.subject, c.severity) == ("level", "author", "a", "medium")
    # 7 days back at 2 posts a day: the mean reaches 0.6 once 9 of 14 posts are 0.9
    assert c.trigger_index == len(STEADY) + 9
    assert c.trigger_post_id == len(STEADY) + 9
    assert c.evidence["window_mean"] >= 0.6 and c.evidence["posts"] >= 3
    assert c.trigger_post_id in c.evidence["post_ids"]
    assert c.window_end - c.window_start == timedelta(days=7)


def test_level_stays_quiet_below_threshold_or_min_posts() -> None:
    low = score_frame(stream("a", [0.5] * 30))
    assert alerts.evaluate(low, only(level=LEVEL)) == []
    # two very high posts a week apart: mean is high but never 3 posts in the window
    sparse = score_frame(stream("b", [0.95] * 4, every=timedelta(days=4)))
    assert alerts.evaluate(sparse, only(level=LEVEL)) == []


def test_level_cooldown_merges_episodes_closer_than_the_cooldown() -> None:
    # posts every 12h; the 7-day window holds 14 posts, so the second episode starts when
    # 10 of them are high again: post 30, 13.5 days after the first trigger (post 3)
    values = [0.9] * 4 + [0.05] * 16 + [0.9] * 10
    frame = score_frame(stream("a", values))
    long = LEVEL.model_copy(update={"cooldown_hours": 24 * 14})
    assert [c.trigger_index for c in alerts.evaluate(frame, only(level=long))] == [3]
    short = LEVEL.model_copy(update={"cooldown_hours": 24})
    got = alerts.evaluate(frame, only(level=short))
    assert [c.trigger_index for c in got] == [3, 30]


def test_level_is_per_author() -> None:
    frame = score_frame(stream("a", [0.9] * 5) + stream("b", [0.1] * 5, first_id=100))
    got = alerts.evaluate(frame, only(level=LEVEL))
    assert [c.subject for c in got] == ["a"]


# ------------------------------------------------------------------------------------ rise

RISE = RiseRule(k=0.5, h=4.0, z_cap=2.5, min_baseline_posts=5, cooldown_hours=24 * 7)


def test_rise_fires_within_a_few_posts_of_a_shift() -> None:
    values = STEADY + [0.55, 0.6, 0.5, 0.6, 0.55]
    frame = score_frame(stream("a", values))
    got = alerts.evaluate(frame, only(rise=RISE))
    assert len(got) == 1
    c = got[0]
    assert c.rule == "rise" and c.severity == "high"
    # each post adds at most z_cap - k = 2.0, so h = 4.0 is passed at the third raised post
    assert c.trigger_index == len(STEADY) + 3
    assert c.evidence["cusum"] > 4.0 and c.evidence["baseline_posts"] >= 5
    assert c.trigger_post_id in c.evidence["post_ids"]
    assert c.window_start <= c.trigger_at


def test_rise_needs_more_than_one_extreme_post() -> None:
    frame = score_frame(stream("a", STEADY + [0.99] + STEADY[:6]))
    assert alerts.evaluate(frame, only(rise=RISE)) == []
    uncapped = RISE.model_copy(update={"z_cap": 1000.0})
    assert [c.trigger_index for c in alerts.evaluate(frame, only(rise=uncapped))] == [len(STEADY) + 1]


def test_rise_stays_quiet_on_a_steady_author_even_at_a_high_level() -> None:
    steady_high = [0.70, 0.74, 0.68, 0.72, 0.70, 0.75, 0.69, 0.71] * 4
    frame = score_frame(stream("a", STEADY) + stream("b", steady_high, first_id=100))
    assert [c.subject for c in alerts.evaluate(frame, only(rise=RISE))] == []


def test_rise_waits_for_min_baseline_posts() -> None:
    frame = score_frame(stream("a", STEADY + [0.9] * 10))
    soon = alerts.evaluate(frame, only(rise=RISE.model_copy(update={"min_baseline_posts": 15})))
    assert len(soon) == 1 and soon[0].trigger_index == len(STEADY) + 3
    late = alerts.evaluate(frame, only(rise=RISE.model_copy(update={"min_baseline_posts": 25})))
    assert len(late) == 1 and late[0].trigger_index == 26  # needs 25 earlier posts
    assert late[0].evidence["baseline_posts"] == 25


def test_rise_one_long_shift_is_one_alert() -> None:
    values = STEADY + [0.8] * 40  # 20 days high: the CUSUM stays above h
    frame = score_frame(stream("a", values))
    no_cooldown = RISE.model_copy(update={"cooldown_hours": 0})
    assert len(alerts.evaluate(frame, only(rise=no_cooldown))) == 1


# ----------------------------------------------------------------------------------- burst

BURST = BurstRule(post_threshold=0.8, count=3, window_hours=24, cooldown_hours=72)


def test_burst_fires_on_three_high_posts_within_a_day() -> None:
    rows = stream("a", [0.1, 0.1, 0.85, 0.2, 0.9, 0.95, 0.1], every=timedelta(hours=4))
    got = alerts.evaluate(score_frame(rows), only(burst=BURST))
    assert len(got) == 1
    c = got[0]
    assert c.trigger_index == 6
    assert c.evidence["post_ids"] == [3, 5, 6]
    assert c.evidence["high_posts"] == 3 and c.evidence["max_index"] == pytest.approx(0.95)


def test_burst_quiet_when_high_posts_are_spread_out() -> None:
    rows = stream("a", [0.9, 0.1, 0.9, 0.1, 0.9, 0.1], every=timedelta(hours=10))
    assert alerts.evaluate(score_frame(rows), only(burst=BURST)) == []


def test_burst_cooldown_and_separate_episodes() -> None:
    burst = [0.9, 0.9, 0.9]
    calm = [0.1] * 6
    rows = stream("a", burst + calm + burst, every=timedelta(hours=6))  # 2nd burst 2.25 days on
    frame = score_frame(rows)
    assert len(alerts.evaluate(frame, only(burst=BURST))) == 1
    got = alerts.evaluate(frame, only(burst=BURST.model_copy(update={"cooldown_hours": 12})))
    assert [c.trigger_index for c in got] == [3, 12]


# ---------------------------------------------------------------------------- source shift

SHIFT = SourceShiftRule(z=3.0, baseline_days=14, min_baseline_days=7, min_posts=10)


def _source_days(
    means: list[float], posts_per_day: int, source: str = "feed-a", first_id: int = 1
) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    pid = first_id
    for d, mean in enumerate(means):
        for j in range(posts_per_day):
            wobble = (j % 3 - 1) * 0.05
            rows.append(
                {
                    "post_id": pid,
                    "author": f"u{j % 4}",
                    "source": source,
                    "created_at": T0 + timedelta(days=d, minutes=30 * j),
                    "depression_index": mean + wobble,
                }
            )
            pid += 1
    return rows


def test_source_shift_fires_on_the_day_the_source_moves() -> None:
    days = [0.20, 0.22, 0.19, 0.21, 0.20, 0.23, 0.18, 0.20, 0.21, 0.22, 0.60, 0.62]
    rows = _source_days(days, 12) + _source_days([0.2] * 12, 12, "feed-b", 1000)
    got = alerts.evaluate(score_frame(rows), only(source_shift=SHIFT))
    assert len(got) == 1
    c = got[0]
    assert (c.subject_kind, c.subject, c.severity) == ("source", "feed-a", "low")
    assert c.window_start == (T0 + timedelta(days=10)).replace(hour=0)  # UTC day
    assert c.trigger_index == 11 * 12  # the last post of day 11 of feed-a
    assert c.evidence["z"] >= 3 and c.evidence["posts"] == 12
    assert len(c.evidence["post_ids"]) == 12


def test_source_shift_needs_posts_and_baseline_days() -> None:
    days = [0.20, 0.22, 0.19, 0.21, 0.20, 0.23, 0.18, 0.20, 0.21, 0.22, 0.60]
    few = _source_days(days, 5)  # only 5 posts a day < min_posts
    assert alerts.evaluate(score_frame(few), only(source_shift=SHIFT)) == []
    early = _source_days([0.2, 0.2, 0.2, 0.6], 12)  # 3 baseline days < 7
    assert alerts.evaluate(score_frame(early), only(source_shift=SHIFT)) == []


def test_source_shift_direction_both_catches_drops() -> None:
    days = [0.50, 0.52, 0.49, 0.51, 0.50, 0.53, 0.48, 0.50, 0.51, 0.10]
    frame = score_frame(_source_days(days, 12))
    assert alerts.evaluate(frame, only(source_shift=SHIFT)) == []
    got = alerts.evaluate(frame, only(source_shift=SHIFT.model_copy(update={"direction": "both"})))
    assert len(got) == 1 and got[0].evidence["z"] < -3


# ----------------------------------------------------------------------------------- misc


def test_dedup_key_names_rule_subject_and_trigger_post() -> None:
    frame = score_frame(stream("a", [0.9] * 5))
    (c,) = alerts.evaluate(frame, only(level=LEVEL))
    assert c.dedup_key == f"level:author:a:{c.trigger_post_id}"
    again = alerts.evaluate(frame, only(level=LEVEL))
    assert [x.dedup_key for x in again] == [c.dedup_key]


def test_posts_without_author_only_count_for_sources() -> None:
    frame = score_frame(stream(None, [0.95] * 10, every=timedelta(hours=1)))
    rules = only(level=LEVEL, rise=RISE, burst=BURST)
    assert alerts.evaluate(frame, rules) == []
    assert alerts.evaluate(frame.clear(), AlertRules()) == []


def test_rule_cooldowns_in_hours() -> None:
    cd = alerts.rule_cooldowns(AlertRules())
    assert set(cd) == {"level", "rise", "burst", "source_shift"}
    assert cd["burst"] == timedelta(hours=72)
