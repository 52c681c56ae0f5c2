"""The charts of the web pages: the one place they call the report's chart module.

The alert and author pages draw an author through :func:`author_timeline`, the sources page each
source through :func:`source_trend`, with the same renderer (:mod:`monitor.report.charts`) and
chart stylesheet as the static HTML report.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from markupsafe import Markup

from monitor.report import charts
from monitor.report.author import AuthorView
from monitor.report.common import signal_label


def chart_css() -> str:
    """The stylesheet the chart SVGs are drawn with (served as ``/charts.css``)."""
    return charts.STYLE


def author_timeline(view: AuthorView, *, width: int = 960, height: int = 300) -> Markup:
    """One author over their own span: every post a point, the mean per day/week/month, the
    author's baseline, the level rule's threshold, and where each of their alerts fired."""
    return charts.author_chart(
        view.points,
        signal=view.signal,
        alerts=view.alerts,
        threshold=view.alert_threshold,
        threshold_label="level rule threshold",
        baseline=view.summary.get("baseline_mean"),
        title=f"{signal_label(view.signal)} per post of {view.author}",
        width=width,
        height=height,
    )


def source_trend(
    periods: Sequence[datetime], values: Sequence[float | None], *, source: str, by: str, width: int = 460
) -> Markup:
    """One source's mean depression index per period (day or week), with the range of the period's
    values where it is aggregated further."""
    return charts.source_chart(
        charts.period_points(periods, values),
        title=f"depression index per {by} of {source}",
        range_label=f"min–max of {by}s",
        width=width,
        height=220,
    )
