"""The report as one self-contained HTML page (inline CSS and SVG, no scripts, no network).

The page is rendered from the Jinja2 templates in ``templates/`` with autoescaping on, so every
string from the data (author and source names, filters, model versions) is escaped. Charts over
time come from :mod:`monitor.report.charts` (SVG with every string escaped); this module computes
the geometry of the bar charts, whose markup lives in the templates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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
        bar_chart=bar_chart,
        plural=plural,
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
