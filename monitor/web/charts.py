"""The charts of the web pages: the one place they call the report's chart rendering.

The alert and author pages draw an author's timeline through :func:`author_timeline`, with the
same geometry (``monitor.report.html.time_chart``) and SVG macros (``charts.html.j2``) as the
static HTML report, so a change to the report's charts reaches the web pages through here.
"""

from __future__ import annotations

import functools
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from monitor.report.author import AuthorView
from monitor.report.common import num
from monitor.report.html import time_chart


@functools.cache
def _macros() -> Any:
    """The report's chart macros (autoescaped like the report)."""
    env = Environment(loader=PackageLoader("monitor.report", "templates"), autoescape=True, undefined=StrictUndefined)
    env.filters["num"] = num
    return env.get_template("charts.html.j2").module


def chart_style() -> Markup:
    """The stylesheet the chart SVGs are drawn with."""
    return Markup(_macros().style())


def author_timeline(view: AuthorView, *, width: int = 760, height: int = 220) -> Markup:
    """One author's depression index per day as an SVG: gaps where no post, the author's baseline,
    and a marker where each of their alerts fired."""
    baseline = view.summary.get("baseline_mean")
    chart = time_chart(
        view.series.days,
        view.series.index,
        label=f"depression index per day of {view.author}",
        y_title="index (0–1)",
        width=width,
        height=height,
        lines=[(baseline, f"author's baseline {num(baseline)}", "baseline")] if baseline is not None else [],
        markers=[(a["trigger_at"], f"alert #{a['id']} {a['rule']} ({a['status']})") for a in view.alerts],
    )
    return Markup(_macros().time(chart))
