"""Tests for monitor.report.textchart: the terminal timeline keeps an episode and dates its axis."""

from __future__ import annotations

import re
from datetime import date, timedelta

from monitor.report.textchart import timeline


def test_a_short_episode_in_a_long_span_shows_as_its_top_post_and_the_axis_says_the_years() -> None:
    days = [date(2009, 3, 2) + timedelta(days=i) for i in range(8 * 365)]
    means: list[float | None] = [0.1] * len(days)
    highs: list[float | None] = [0.12] * len(days)
    episode = days.index(date(2016, 6, 14))
    means[episode], highs[episode] = 0.2, 0.95  # one day: a 0.95 post among calm ones
    lines = timeline(days, means, [3] * len(days), highs=highs, width=100)
    top = lines[0]
    assert top.count("•") == 1  # the 0.95 post stands in the top row, not averaged away
    assert all("•" not in line for line in lines[1:8])  # calm days' highs sit inside their bars
    axis = lines[-1]
    years = re.findall(r"\b(20\d\d)\b", axis)
    assert years == sorted(years) and len(years) >= 5 and "2010" in years
    labels = [m for m in re.finditer(r"\S+(?: \S+)*", axis)]
    for a, b in zip(labels, labels[1:], strict=False):
        assert b.start() - a.end() >= 2  # never touching


def test_day_ticks_carry_the_year_where_it_changes() -> None:
    days = [date(2016, 12, 1) + timedelta(days=i) for i in range(60)]
    axis = timeline(days, [0.2] * 60, [1] * 60, width=100)[-1]
    assert "2016" in axis and "2017" in axis
    assert axis.index("2016") < axis.index("2017")
    assert len(re.findall(r"20\d\d", axis)) == 2  # said once per year, not on every tick
