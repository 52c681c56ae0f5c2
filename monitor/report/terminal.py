"""The trend report as rich renderables for the terminal, drawn at the terminal's width
(60 to 200 columns; every table is laid out for the width it is given).

Names from the store or the command line enter as :func:`monitor.safe_text.text` (cleaned,
never read as markup).
"""

from __future__ import annotations

from datetime import datetime

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from monitor.numbers import plural
from monitor.report.common import (
    NOTE,
    SPARK_WIDTH,
    alert_brief,
    day,
    last_value,
    legend,
    num,
    pct,
    shift_brief,
    signal_label,
    signed,
    sparkline,
)
from monitor.report.data import ReportData
from monitor.report.views import legend_text
from monitor.safe_text import clean, text

WIDTH = 80


def terminal_report(data: ReportData, width: int = WIDTH) -> RenderableType:
    """The report as a rich renderable ``width`` columns wide."""
    parts: list[RenderableType] = [_header(data, width)]
    if data.empty:
        parts.append(Text("No scored posts match: run `emomon score`, or widen the time window."))
        return Group(*parts)
    spark = max(12, min(len(data.periods), width - 52))
    parts.append(_trends_table(data, width, spark))
    if data.rising:
        parts.append(_rising_table(data, width))
    parts += [
        _review_table(data, width),
        _sources_table(data, width, spark),
        _personality(data, width),
        legend_text(legend(data.recent_days, data.end, data.threshold, data.min_std, signal=data.signal)),
    ]
    return Group(*parts)


def _header(data: ReportData, width: int) -> Panel:
    """Overview, model, alert counts, filters and the note, in a titled panel."""
    o = data.overview
    head = Text()
    head.append(f"{plural(o['posts'], 'post')}, {plural(o['authors'], 'author')}, {plural(o['sources'], 'source')}")
    head.append("  span ", style="dim").append(f"{day(o['first'])} – {day(o['last'])}")
    head.append("\nalerts ", style="dim").append(
        f"{data.alert_counts.get('new', 0)} new, {data.alert_counts.get('acknowledged', 0)} "
        f"acknowledged, {data.alert_counts.get('resolved', 0)} resolved"
    )
    head.append("\nmodel ", style="dim").append(clean(", ".join(o["model_versions"]) or "–"))
    head.append(f"  by {data.by}", style="dim")
    if data.filters:
        head.append("\nfilters ", style="dim").append(
            clean(" ".join(f"{k}={day(v) if isinstance(v, datetime) else v}" for k, v in data.filters.items()))
        )
    head.append(f"\n{NOTE}", style="italic dim")
    return Panel(head, title="emomon trend report", title_align="left", width=width)


def _trends_table(data: ReportData, width: int, spark: int = SPARK_WIDTH) -> Table:
    """Post volume and one sparkline row per signal."""
    t = Table(title=f"Trends by {data.by} (mean; share ≥ {data.threshold:g})", width=width, title_justify="left")
    t.add_column("signal", no_wrap=True, min_width=16)
    t.add_column(f"last {plural(min(len(data.periods), spark), data.by)}", no_wrap=True, width=spark)
    t.add_column("mean", justify="right", width=5)
    t.add_column("share", justify="right", width=5)
    t.add_column("last", justify="right", width=5)
    t.add_row("posts", sparkline(data.volume, width=spark), str(sum(data.volume)), "", str(data.volume[-1]))
    for s in data.trends:
        t.add_row(
            signal_label(s.signal),
            sparkline(s.values, width=spark),
            num(s.mean),
            pct(s.share),
            num(last_value(s.values)),
        )
    return t


def _rising_table(data: ReportData, width: int) -> Table:
    """The five signals that rose most."""
    r = Table(title="Rising most (recent vs before)", width=width, title_justify="left")
    r.add_column("signal", no_wrap=True)
    for col in ("before", "recent", "change"):
        r.add_column(col, justify="right")
    for row in data.rising[:5]:
        r.add_row(signal_label(row["signal"]), num(row["before"]), num(row["recent"]), signed(row["change"]))
    return r


def _review_table(data: ReportData, width: int) -> Table:
    """Authors to review, with their open alerts (a ``none`` row when there are none)."""
    rv = Table(title="Authors to review (see `emomon author PSEUDONYM`)", width=width, title_justify="left")
    narrow = width < 80  # short headers, so no header is cut at 60 columns
    rv.add_column("author", no_wrap=True, min_width=14)
    rv.add_column("posts", justify="right", no_wrap=True)
    rv.add_column("base" if narrow else "baseline", justify="right", no_wrap=True)
    rv.add_column("recent", justify="right", no_wrap=True)
    rv.add_column("z", justify="right", no_wrap=True)
    rv.add_column("alerts" if narrow else "open alerts", ratio=1, min_width=6)
    for row in data.review:
        rv.add_row(
            text(row["author"]),
            str(row["posts"]),
            num(row["baseline_mean"]),
            num(row["recent_mean"]),
            num(row["z"], 1),
            alert_brief(row["open_alerts"]),
        )
    if not data.review:
        rv.add_row("none", "", "", "", "", "")
    return rv


def _sources_table(data: ReportData, width: int, spark: int = SPARK_WIDTH) -> Table:
    """Sources side by side on the depression index (long names wrap, never cut)."""
    st = Table(title="Sources (depression index)", width=width, title_justify="left")
    st.add_column("source", ratio=1, min_width=12, overflow="fold")
    st.add_column("posts", justify="right", no_wrap=True)
    st.add_column("mean", justify="right", no_wrap=True)
    st.add_column("share", justify="right", no_wrap=True)
    st.add_column("Δ", justify="right", no_wrap=True)
    trend = max(8, min(spark, width - 68))  # what the source (>= 12), the figures and the mood shift leave
    st.add_column("trend", no_wrap=True, width=trend)
    st.add_column("mood shift", no_wrap=True)
    for row in data.sources:
        st.add_row(
            text(row["source"]),
            str(row["posts"]),
            num(row["mean_index"]),
            pct(row["share_high"]),
            signed(row["recent_change"]),
            sparkline(row["index_by_period"], width=trend),
            shift_brief(row.get("shifts", [])),
        )
    return st


def _personality(data: ReportData, width: int) -> RenderableType:
    """Big Five distribution over authors with its caveat, or a line saying no author has
    enough posts."""
    p = data.personality
    if not p["traits"]:
        return Text(f"Personality: no author has ≥ {p['min_posts']} posts yet.", style="dim")
    pt = Table(
        title=f"Personality ({plural(p['authors'], 'author')} with ≥ {p['min_posts']} posts; mean probability)",
        width=width,
        title_justify="left",
        caption=p["caveat"],
        caption_justify="left",
    )
    bar = max(10, min(50, width - 38))
    pt.add_column("trait", no_wrap=True)
    pt.add_column("mean", justify="right", no_wrap=True)
    pt.add_column("p25–p75", justify="right", no_wrap=True)
    pt.add_column("scale 0 to 1", no_wrap=True, width=bar)
    for tr in p["traits"]:
        pt.add_row(
            tr["trait"],
            num(tr["mean"]),
            f"{num(tr['p25'])}–{num(tr['p75'])}",
            _bar(tr["p25"], tr["p75"], tr["median"], bar),
        )
    return pt


def _bar(lo: float | None, hi: float | None, mid: float | None, width: int) -> str:
    """A p25..p75 range as ``─`` with the median as ``┃``, on a 0..1 scale ``width`` wide."""
    if lo is None or hi is None or mid is None:
        return ""
    cells = [" "] * width
    a, b, m = (min(width - 1, int(v * width)) for v in (lo, hi, mid))
    for i in range(a, b + 1):
        cells[i] = "─"
    cells[m] = "┃"
    return "".join(cells)
