"""Tests for monitor.report.charts: ticks, aggregation, gaps, points, lines, markers, escaping."""

from __future__ import annotations

import random
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from monitor.report import charts
from monitor.report.charts import Point, author_chart, choose_step, source_chart, time_ticks, volume_chart

SVG = "{http://www.w3.org/2000/svg}"
SPANS = [
    timedelta(hours=30),
    timedelta(days=10),
    timedelta(days=45),
    timedelta(days=120),
    timedelta(days=400),
    timedelta(days=3 * 365),
    timedelta(days=8 * 365 + 30),
    timedelta(days=80 * 365),
]
STARTS = [datetime(2016, 12, 20, 15, tzinfo=UTC), datetime(2009, 3, 2, 8, tzinfo=UTC)]


def tree(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def walk(svg: str, cls: str, tag: str = "*", *, legend: bool = False) -> list[ET.Element]:
    """Elements of class ``cls`` (and tag ``tag``) in the plot, or in the legend row when ``legend``."""
    out = []

    def visit(e: ET.Element, in_legend: bool) -> None:
        classes = (e.get("class") or "").split()
        if cls in classes and (tag == "*" or e.tag == f"{SVG}{tag}") and in_legend is legend:
            out.append(e)
        for child in e:
            visit(child, in_legend or "legend" in classes)

    visit(tree(svg), False)
    return out


def extents(ticks: list[charts.Tick], start: datetime, end: datetime, width: float) -> list[tuple[float, float]]:
    span = (end - start).total_seconds()
    out = []
    for t in ticks:
        x = width * (t.at - start).total_seconds() / span
        out.append((x - t.width / 2, x + t.width / 2))
    return out


@pytest.mark.parametrize("width", [240, 320, 760, 960])
@pytest.mark.parametrize("span", SPANS, ids=lambda s: f"{s.days}d")
@pytest.mark.parametrize("start", STARTS, ids=lambda s: s.strftime("%Y-%m"))
def test_tick_labels_never_overlap_and_carry_the_year_where_it_changes(
    width: int, span: timedelta, start: datetime
) -> None:
    end = start + span
    ticks = time_ticks(start, end, width=width)
    assert ticks, "a span with a midnight in it gets at least one tick"
    assert [t.at for t in ticks] == sorted(t.at for t in ticks)
    assert all(start <= t.at <= end for t in ticks)
    boxes = extents(ticks, start, end, width)
    for (_, right), (left, _) in zip(boxes, boxes[1:], strict=False):
        assert left - right >= charts.TICK_GAP_PX, [t.label for t in ticks]
    assert all(-12 <= lo and hi <= width + 12 for lo, hi in boxes)
    years = [t.label if re.fullmatch(r"\d{4}", t.label) else t.year for t in ticks]
    assert years[0] == str(ticks[0].at.year)  # the first tick says its year
    for before, tick, year in zip(ticks, ticks[1:], years[1:], strict=False):
        if tick.at.year != before.at.year:
            assert year == str(tick.at.year), [(t.label, t.year) for t in ticks]
        else:
            assert year is None or re.fullmatch(r"\d{4}", tick.label)
    assert not any("×" in t.label for t in ticks)


def test_tick_step_follows_the_span() -> None:
    start = datetime(2016, 12, 20, tzinfo=UTC)
    days = time_ticks(start, start + timedelta(days=14), width=960)
    assert re.fullmatch(r"\d{1,2} [A-Z][a-z]{2}", days[0].label) and days[0].year == "2016"
    assert any(t.year == "2017" for t in days)  # crosses New Year: the year is said again
    months = time_ticks(start, start + timedelta(days=300), width=960)
    assert {t.label for t in months} <= {
        "Jan",
        "Feb",
        "Mar",
        "Apr",
        "May",
        "Jun",
        "Jul",
        "Aug",
        "Sep",
        "Oct",
        "Nov",
        "Dec",
    }
    assert [t.year for t in months if t.label == "Jan"] == ["2017"]
    years = time_ticks(datetime(2009, 3, 2, tzinfo=UTC), datetime(2017, 3, 30, tzinfo=UTC), width=320)
    assert all(re.fullmatch(r"\d{4}", t.label) for t in years) and len(years) >= 3


def test_aggregation_step_is_chosen_from_the_span() -> None:
    t0 = datetime(2015, 1, 1, tzinfo=UTC)
    assert choose_step(t0, t0 + timedelta(days=60)) == "day"
    assert choose_step(t0, t0 + timedelta(days=500)) == "week"
    assert choose_step(t0, t0 + timedelta(days=8 * 365)) == "month"
    rng = random.Random(3)
    for days, every, name, band in ((60, 6, "daily", False), (500, 24, "weekly", True), (2900, 72, "monthly", True)):
        pts = [Point(t0 + timedelta(hours=every * i), rng.random(), i) for i in range(days * 24 // every)]
        svg = author_chart(pts)
        keys = " ".join(e.text or "" for e in walk(svg, "tick", "text", legend=True))
        assert f"{name} mean" in keys
        assert bool(walk(svg, "band", "polygon")) is band
        assert ("min–max" in keys) is band


def test_few_posts_are_daily_points_whatever_the_span() -> None:
    t0 = datetime(2009, 1, 1, tzinfo=UTC)
    pts = [Point(t0 + timedelta(days=120 * i), 0.2, i) for i in range(24)]
    svg = author_chart(pts)
    assert "daily mean" in svg and not walk(svg, "series", "polyline")
    assert len(walk(svg, "mean-dot", "circle")) == 24  # every lone day a point, nothing joined


def _points_with_gap() -> tuple[list[Point], Point, Point]:
    t0 = datetime(2009, 3, 2, tzinfo=UTC)
    before = [Point(t0 + timedelta(days=3 * i), 0.2, i) for i in range(400)]  # to 2012-04
    after = [Point(datetime(2014, 6, 1, tzinfo=UTC) + timedelta(days=3 * i), 0.3, 1000 + i) for i in range(400)]
    return before + after, before[-1], after[0]


def test_a_gap_breaks_the_line() -> None:
    pts, last, first = _points_with_gap()
    svg = author_chart(pts)
    posts = {e.get("data-post"): float(e.get("cx") or 0) for e in walk(svg, "post", "circle")}
    a, b = posts[str(last.post_id)], posts[str(first.post_id)]
    lines = walk(svg, "series", "polyline") + walk(svg, "band", "polygon")
    assert len(walk(svg, "series", "polyline")) == 2
    for line in lines:
        xs = [float(p.split(",")[0]) for p in (line.get("points") or "").split()]
        assert not (min(xs) <= a and max(xs) >= b), "a line crosses the gap"
    buckets = charts.aggregate(pts, "month")
    runs = charts.runs(buckets)
    assert len(runs) == 2 and runs[1][0].index - runs[0][-1].index > charts.MAX_GAP_STEPS
    one_empty = charts.runs(
        [b for b in charts.aggregate([Point(datetime(2015, m, 10, tzinfo=UTC), 0.5) for m in (1, 2, 4)], "month")]
    )
    assert [len(r) for r in one_empty] == [2, 1]  # a single empty month is a gap too


def test_every_post_of_the_author_is_a_point() -> None:
    rng = random.Random(5)
    t0 = datetime(2015, 1, 1, tzinfo=UTC)
    pts = [Point(t0 + timedelta(hours=rng.randint(0, 24 * 900)), rng.random(), i) for i in range(2500)]
    svg = author_chart(pts)
    drawn = walk(svg, "post", "circle")
    assert sorted(int(e.get("data-post") or -1) for e in drawn) == list(range(2500))
    by_id = {p.post_id: p for p in pts}
    top, bottom = charts.TOP, 260 - charts.BOTTOM
    for e in drawn[:200]:
        value = by_id[int(e.get("data-post") or -1)].value
        assert float(e.get("cy") or 0) == pytest.approx(bottom - value * (bottom - top), abs=0.06)


def test_threshold_and_baseline_lines_are_drawn_exactly_when_the_legend_names_them() -> None:
    pts = [Point(datetime(2016, 1, 1, tzinfo=UTC) + timedelta(days=i), 0.1 * (i % 9), i) for i in range(50)]
    for threshold in (None, 0.75):
        for baseline in (None, 0.2):
            for svg in (
                author_chart(pts, threshold=threshold, baseline=baseline),
                source_chart(pts, title="t", threshold=threshold),
            ):
                keyed = bool(walk(svg, "key-threshold", "g", legend=True))
                drawn = walk(svg, "threshold", "line")
                assert keyed is (threshold is not None) and len(drawn) == keyed
                if threshold is not None:
                    assert float(drawn[-1].get("y1") or 0) == pytest.approx(
                        charts.TOP + 0.25 * (svg_height(svg) - charts.BOTTOM - charts.TOP), abs=0.06
                    )
            svg = author_chart(pts, threshold=threshold, baseline=baseline)
            assert bool(walk(svg, "key-baseline", "g", legend=True)) is (baseline is not None)
            assert bool(walk(svg, "baseline-line", "g")) is (baseline is not None)


def svg_height(svg: str) -> float:
    return float(tree(svg).get("height") or 0)


def test_alert_marker_sits_on_the_post_it_fired_at() -> None:
    t0 = datetime(2016, 6, 1, tzinfo=UTC)
    pts = [Point(t0 + timedelta(hours=20 * i), 0.1 if i < 40 else 0.93, 100 + i) for i in range(44)]
    alert = {
        "id": 7,
        "rule": "level",
        "status": "new",
        "severity": "medium",
        "trigger_at": (t0 + timedelta(hours=20 * 43)).isoformat(),
        "trigger_post_id": 143,
        "evidence": {"post_ids": [140, 141, 142, 143]},
    }
    svg = author_chart(pts, alerts=[alert], threshold=0.75)
    post = next(e for e in walk(svg, "post", "circle") if e.get("data-post") == "143")
    fired = walk(svg, "fired", "circle")
    assert len(fired) == 1 and fired[0].get("data-post") == "143"
    assert (fired[0].get("cx"), fired[0].get("cy")) == (post.get("cx"), post.get("cy"))
    assert float(post.get("cy") or 0) < float(walk(svg, "threshold", "line")[-1].get("y1") or 0)  # 0.93: above it
    assert sorted(e.get("data-post") for e in walk(svg, "evidence", "circle")) == ["140", "141", "142", "143"]
    assert "0.93 on the post it fired at" in svg
    by_time = author_chart(pts, alerts=[{**alert, "trigger_post_id": None}])
    assert walk(by_time, "fired", "circle")[0].get("data-post") == "143"  # found by its time
    outside = author_chart(pts, alerts=[{**alert, "trigger_at": "2019-01-01T00:00:00Z", "trigger_post_id": None}])
    assert not walk(outside, "alert", "g") and not walk(outside, "key-alert", "g", legend=True)


def test_hostile_text_is_escaped() -> None:
    evil = "<script>alert('x')</script>&\""
    pts = [Point(datetime(2016, 1, 1, tzinfo=UTC) + timedelta(days=i), 0.5, i) for i in range(3)]
    alert = {"id": evil, "rule": evil, "status": evil, "trigger_at": "2016-01-02T00:00:00Z", "trigger_post_id": 1}
    for svg in (
        author_chart(pts, title=evil, signal=evil, alerts=[alert], threshold=0.5, threshold_label=evil),
        source_chart(pts, title=evil, y_title=evil, threshold=0.5, threshold_label=evil, alerts=[alert]),
        volume_chart([(p.at, 2) for p in pts], title=evil),
    ):
        assert "<script" not in svg and "&lt;script&gt;" in svg
        root = tree(svg)  # well-formed XML
        texts = [t for e in root.iter() for t in (e.text, e.get("aria-label")) if t]
        assert any(evil in t for t in texts)  # shown as text, not markup


def test_volume_bars_stay_inside_the_plot_and_count_the_posts() -> None:
    t0 = datetime(2015, 3, 1, 19, tzinfo=UTC)
    counts = [(t0 + timedelta(days=i), 1 + i % 3) for i in range(31)]
    svg = volume_chart(counts, title="posts", width=760)
    bars = walk(svg, "bar", "rect")
    assert len(bars) == 31
    for b in bars:
        x, w = float(b.get("x") or 0), float(b.get("width") or 0)
        assert charts.LEFT <= x and x + w <= 760 - charts.RIGHT + 0.01
    assert f"({sum(n for _, n in counts)} in all)" in svg


def test_report_draws_each_author_over_their_own_span_on_the_signal_the_alerts_read() -> None:
    import polars as pl
    from scoreframes import score_frame

    from monitor.report.data import build_report_data
    from monitor.report.html import to_html

    early, late = "a-early0000001", "a-late00000002"
    rows = [
        {"author": early, "created_at": datetime(2009, 3, 1, tzinfo=UTC) + timedelta(days=i), "distress": 0.1}
        for i in range(20)
    ] + [
        {
            "author": late,
            "created_at": datetime(2017, 1, 1, tzinfo=UTC) + timedelta(days=i),
            "distress": 0.9 if i >= 15 else 0.1,
        }
        for i in range(20)
    ]
    frame = score_frame([{**r, "depression_index": 0.2} for r in rows])
    alerts = [
        {
            "id": 1,
            "rule": "level",
            "subject_kind": "author",
            "subject": late,
            "severity": "medium",
            "status": "new",
            "trigger_at": "2017-01-18T00:00:00Z",
            "trigger_post_id": 38,
            "evidence": {"post_ids": [36, 37, 38]},
        }
    ]
    frame = frame.with_columns(pl.Series("distress", [r["distress"] for r in rows], dtype=pl.Float32))
    data = build_report_data(frame, alerts, alert_threshold=0.75)
    assert data.signal == "distress"
    page = to_html(data)
    section = page[page.index(f'id="author-{late}"') :]
    svg = section[section.index("<svg") : section.index("</svg>") + 6]
    labels = [e.text for e in walk(svg, "x-tick", "text")]
    assert [t for t in labels if t and re.fullmatch(r"\d{4}", t)] == ["2017"], labels  # not the report's 2009-2017
    assert [e.text for e in walk(svg, "y-title", "text")] == ["distress (0–1)"]
    assert len(walk(svg, "post", "circle")) == 20
    assert walk(svg, "fired", "circle")[0].get("data-post") == "38"
    assert walk(svg, "threshold-line", "g") and walk(svg, "key-threshold", "g", legend=True)


def test_source_chart_marks_alerts_once_per_step_however_many() -> None:
    t0 = datetime(2015, 1, 1, tzinfo=UTC)
    pts = [Point(t0 + timedelta(days=i), 0.2, weight=10) for i in range(3 * 365)]
    alerts = [
        {"id": i, "rule": "rise", "trigger_at": (t0 + timedelta(days=100, seconds=10 * i)).isoformat()}
        for i in range(3000)
    ] + [{"id": 9999, "rule": "level", "trigger_at": (t0 + timedelta(days=700)).isoformat()}]
    svg = source_chart(pts, title="all", alerts=alerts)
    marks = walk(svg, "alert", "g")
    assert [m.get("data-alerts") for m in marks] == ["3000", "1"]
    assert "3000 alerts" in svg and "and 2995 more" in svg and "#9999 level" in svg
