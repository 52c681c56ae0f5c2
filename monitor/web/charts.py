"""The charts of the web pages: the one place they call the report's chart module.

The alert and author pages draw an author through :func:`author_timeline`, with the same
renderer (:mod:`monitor.report.charts`) and chart stylesheet as the static HTML report.
"""

from __future__ import annotations

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
