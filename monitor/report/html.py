"""The report as one self-contained HTML page (inline CSS and SVG, no scripts, no network).

The page is rendered from the Jinja2 templates in ``templates/`` with autoescaping on, so every
string from the data (author and source names, filters, model versions) is escaped. This module
only computes chart geometry (:class:`TimeChart`: a date axis with ticks, a fixed 0–1 scale for
probabilities, threshold and baseline lines, alert markers); all markup lives in the templates.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from monitor.numbers import plural
from monitor.report import charts
from monitor.report.author import AuthorView, author_dict
from monitor.report.common import (
    NOTE,
    alert_brief,
    day,
    legend,
    num,
    pct,
    shift_brief,
    signal_label,
    signed,
)
from monitor.report.data import ReportData, report_dict

BAR_ROW = 18  # height of one bar chart row
BAR_LABEL_WIDTH = 140
LEFT, RIGHT, TOP, BOTTOM = 44, 24, 12, 40  # plot margins of a time chart (room for tick labels)
MAX_TICKS = 6


@dataclass(frozen=True)
class Line:
    """A horizontal reference line (threshold or baseline) at plot height ``y``."""

    y: float
    label: str
    kind: str  # threshold | baseline


@dataclass(frozen=True)
class TimeChart:
    """A line chart over dates: ``segments`` split where a period has no value."""

    label: str
    width: int
    height: int
    x_title: str
    y_title: str
    segments: list[list[tuple[float, float]]]
    x_ticks: list[tuple[float, str]]
    y_ticks: list[tuple[float, str]]
    lines: list[Line] = field(default_factory=list)
    markers: list[tuple[float, str]] = field(default_factory=list)  # x, tooltip

    @property
    def empty(self) -> bool:
        """True when there is no value to draw."""
        return not self.segments

    @property
    def plot(self) -> tuple[int, int, int, int]:
        """The plot area as (left, top, right, bottom)."""
        return LEFT, TOP, self.width - RIGHT, self.height - BOTTOM


def _as_date(x: date | datetime | str) -> date:
    if isinstance(x, str):
        return date.fromisoformat(x[:10])
    return x.date() if isinstance(x, datetime) else x


def _ticks(days: Sequence[date]) -> list[date]:
    """At most MAX_TICKS evenly spaced dates from ``days`` (first and last included)."""
    if len(days) <= MAX_TICKS:
        return list(days)
    step = (len(days) - 1) / (MAX_TICKS - 1)
    return [days[round(i * step)] for i in range(MAX_TICKS)]


def time_chart(
    dates: Sequence[date | datetime | str],
    values: Sequence[float | None],
    *,
    label: str,
    y_title: str = "mean (0–1)",
    y_max: float | None = 1.0,
    width: int = 300,
    height: int = 170,
    lines: Sequence[tuple[float, str, str]] = (),
    markers: Sequence[tuple[date | datetime | str, str]] = (),
) -> TimeChart:
    """The geometry of a chart of ``values`` over ``dates``.

    Args:
        dates: One date per value (days or period starts), in order.
        values: The series (None: no posts, drawn as a gap).
        label: The chart's name (its title and accessible label).
        y_title: Title of the y axis.
        y_max: Top of the y scale (1.0 for probabilities); None: the series' maximum.
        width: Total width in pixels.
        height: Total height in pixels.
        lines: ``(value, label, kind)`` horizontal lines (kind ``threshold`` or ``baseline``).
        markers: ``(date, tooltip)`` alert markers under the axis.
    """
    days = [_as_date(d) for d in dates]
    present = [v for v in values if v is not None]
    top = y_max if y_max is not None else _nice_count(max([*present, 1.0]))
    left, top_px, right, bottom = LEFT, TOP, width - RIGHT, height - BOTTOM
    first, last = (days[0], days[-1]) if days else (date.today(), date.today())
    span = max((last - first).days, 1)

    def x_of(d: date) -> float:
        return left + (right - left) * ((d - first).days / span if days[1:] else 0.5)

    def y_of(v: float) -> float:
        return bottom - (bottom - top_px) * max(0.0, min(1.0, v / top))

    segments: list[list[tuple[float, float]]] = [[]]
    for d, v in zip(days, values, strict=True):
        if v is None:
            if segments[-1]:
                segments.append([])
            continue
        segments[-1].append((round(x_of(d), 1), round(y_of(v), 1)))
    return TimeChart(
        label=label,
        width=width,
        height=height,
        x_title=f"date (UTC{', ' + str(first.year) if first.year == last.year else ''})",
        y_title=y_title,
        segments=[s for s in segments if s],
        x_ticks=[
            (round(x_of(d), 1), d.strftime("%d %b") if first.year == last.year else d.strftime("%b %Y"))
            for d in _ticks(days)
        ],
        y_ticks=[(round(y_of(f * top), 1), f"{f * top:g}") for f in (0.0, 0.25, 0.5, 0.75, 1.0)],
        lines=[Line(round(y_of(v), 1), lab, kind) for v, lab, kind in lines if v is not None],
        markers=[(round(x_of(_as_date(d)), 1), tip) for d, tip in markers if days and first <= _as_date(d) <= last],
    )


def _nice_count(peak: float) -> float:
    """The smallest multiple of 4 at or above ``peak``, so the quarter ticks are whole numbers."""
    return float(max(4, math.ceil(peak / 4) * 4))


@dataclass(frozen=True)
class Bar:
    """One row of a bar chart: ``value`` drawn ``length`` wide at the row's top ``y``."""

    name: str
    value: float | None
    y: int
    length: float


@dataclass(frozen=True)
class BarChart:
    """Horizontal bars for values in 0..1, with a 0–1 axis under them."""

    width: int
    height: int
    label_width: int
    room: float
    bars: list[Bar]
    title: str


def bar_chart(
    rows: Sequence[Mapping[str, Any]], name: str, value: str, *, width: int = 460, title: str = ""
) -> BarChart:
    """The geometry of one bar per row: ``row[name]`` and ``row[value]`` clipped to 0..1."""
    room = width - BAR_LABEL_WIDTH - 40
    bars = []
    for i, row in enumerate(rows):
        v = row[value]
        length = 0.0 if v is None else max(0.0, min(1.0, v)) * room
        bars.append(Bar(str(row[name]), v, 2 + i * BAR_ROW, length))
    return BarChart(width, BAR_ROW * len(rows) + 34, BAR_LABEL_WIDTH, room, bars, title)


def _alert_markers(alerts: Sequence[Mapping[str, Any]], subject: str | None = None) -> list[tuple[str, str]]:
    return [
        (a["trigger_at"], f"alert #{a['id']} {a['rule']} ({a['status']})")
        for a in alerts
        if subject is None or (a["subject_kind"] == "author" and a["subject"] == subject)
    ]


def _author_alerts(alerts: Sequence[Mapping[str, Any]], author: str | None = None) -> list[Mapping[str, Any]]:
    """The alerts about an author (about any author when ``author`` is None)."""
    return [a for a in alerts if a["subject_kind"] == "author" and (author is None or a["subject"] == author)]


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("monitor.report", "templates"),
        autoescape=select_autoescape(("html.j2",), default_for_string=True, default=True),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=StrictUndefined,
    )
    env.filters.update(
        num=num, pct=pct, signed=signed, day=day, signal=signal_label, alert_brief=alert_brief, shift_brief=shift_brief
    )
    env.globals.update(
        time_chart=time_chart,
        bar_chart=bar_chart,
        plural=plural,
        markers=_alert_markers,
        author_chart=charts.author_chart,
        source_chart=charts.source_chart,
        volume_chart=charts.volume_chart,
        period_points=charts.period_points,
        author_alerts=_author_alerts,
        chart_css=charts.STYLE,
    )
    return env


_ENV = _environment()


def to_html(data: ReportData) -> str:
    """A self-contained HTML page with inline SVG charts and the same tables as Markdown."""
    context: dict[str, Any] = {
        "d": report_dict(data),
        "data": data,
        "note": NOTE,
        "legend": legend(data.recent_days, data.end, data.threshold, data.min_std, signal=data.signal),
        "generated": data.generated_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "counts": list(zip(data.periods, data.volume, strict=True)),
    }
    return _ENV.get_template("report.html.j2").render(context)


def author_html(view: AuthorView) -> str:
    """One author's page: summary, the SVG timeline, alerts, emotions, Big Five with caveat."""
    end = view.end or datetime.combine(date.today(), time(0), tzinfo=UTC)
    context: dict[str, Any] = {
        "v": view,
        "a": author_dict(view),
        "note": NOTE,
        "legend": legend(view.recent_days, end, view.threshold, view.min_std, signal=view.signal),
        "counts": [(p.at, 1) for p in view.points],
    }
    return _ENV.get_template("author.html.j2").render(context)
