"""The report as one self-contained HTML page (inline CSS and SVG, no scripts, no network).

The page is rendered from the Jinja2 templates in ``templates/`` with autoescaping on, so every
string from the data (author and source names, filters, model versions) is escaped. This module
only computes chart geometry; all markup lives in the templates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from monitor.report.common import (
    NOTE,
    alert_brief,
    day,
    num,
    pct,
    report_dict,
    signal_label,
    signed,
)
from monitor.report.data import ReportData

PAD = 4  # inner margin of a line chart
BAR_ROW = 18  # height of one bar chart row
BAR_LABEL_WIDTH = 140


@dataclass(frozen=True)
class LineChart:
    """A small line chart: ``segments`` of (x, y) points, split where a period has no value."""

    label: str
    width: int
    height: int
    lo: float | None  # None: nothing to draw
    hi: float | None
    segments: list[list[tuple[float, float]]]


@dataclass(frozen=True)
class Bar:
    """One row of a bar chart: ``value`` drawn ``length`` wide at the row's top ``y``."""

    name: str
    value: float | None
    y: int
    length: float


@dataclass(frozen=True)
class BarChart:
    """Horizontal bars for values in 0..1."""

    width: int
    height: int
    label_width: int
    bars: list[Bar]


def line_chart(values: Sequence[float | None], *, width: int = 260, height: int = 60,
               label: str = "") -> LineChart:
    """The geometry of a line chart over ``values`` scaled to their own min..max."""
    present = [v for v in values if v is not None]
    if not present:
        return LineChart(label, width, height, None, None, [])
    lo, hi = min(present), max(present)
    span = hi - lo or 1.0
    n = max(len(values) - 1, 1)
    segments: list[list[tuple[float, float]]] = [[]]
    for i, v in enumerate(values):
        if v is None:
            if segments[-1]:
                segments.append([])
            continue
        x = PAD + (width - 2 * PAD) * i / n
        y = height - PAD - (height - 2 * PAD) * (v - lo) / span
        segments[-1].append((x, y))
    return LineChart(label, width, height, lo, hi, [s for s in segments if s])


def bar_chart(rows: Sequence[Mapping[str, Any]], name: str, value: str, *,
              width: int = 420) -> BarChart:
    """The geometry of one bar per row: ``row[name]`` and ``row[value]`` clipped to 0..1."""
    room = width - BAR_LABEL_WIDTH - 40
    bars = []
    for i, row in enumerate(rows):
        v = row[value]
        length = 0.0 if v is None else max(0.0, min(1.0, v)) * room
        bars.append(Bar(str(row[name]), v, 2 + i * BAR_ROW, length))
    return BarChart(width, BAR_ROW * len(rows) + 4, BAR_LABEL_WIDTH, bars)


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("monitor.report", "templates"),
        autoescape=select_autoescape(("html.j2",), default_for_string=True, default=True),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=StrictUndefined,
    )
    env.filters.update(num=num, pct=pct, signed=signed, day=day, signal=signal_label,
                       alert_brief=alert_brief)
    env.globals.update(line_chart=line_chart, bar_chart=bar_chart)
    return env


_ENV = _environment()


def to_html(data: ReportData) -> str:
    """A self-contained HTML page with inline SVG charts and the same tables as Markdown."""
    context: dict[str, Any] = {"d": report_dict(data), "data": data, "note": NOTE}
    return _ENV.get_template("report.html.j2").render(context)
