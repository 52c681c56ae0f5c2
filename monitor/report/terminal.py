"""The trend report as rich renderables for the terminal, readable at 80 columns."""

from __future__ import annotations

from datetime import datetime

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from monitor.report.common import (
    NOTE,
    SPARK_WIDTH,
    alert_brief,
    day,
    last_value,
    num,
    pct,
    signal_label,
    signed,
    sparkline,
)
from monitor.report.data import ReportData

WIDTH = 80


def terminal_report(data: ReportData) -> RenderableType:
    """The report as a rich renderable, readable at 80 columns."""
    parts: list[RenderableType] = [_header(data)]
    if data.empty:
        parts.append(Text("No scored posts match: run `emomon score`, or widen --since/--until."))
        return Group(*parts)
    parts.append(_trends_table(data))
    if data.rising:
        parts.append(_rising_table(data))
    parts += [_review_table(data), _sources_table(data), _personality(data)]
    return Group(*parts)


def _header(data: ReportData) -> Panel:
    """Overview, model, alert counts, filters and the note, in a titled panel."""
    o = data.overview
    head = Text()
    head.append("posts ", style="dim").append(str(o["posts"]))
    head.append("  authors ", style="dim").append(str(o["authors"]))
    head.append("  sources ", style="dim").append(str(o["sources"]))
    head.append("  span ", style="dim").append(f"{day(o['first'])} – {day(o['last'])}")
    head.append("\nmodel ", style="dim").append(", ".join(o["model_versions"]) or "–")
    head.append(f"  by {data.by}", style="dim")
    head.append(f"  alerts new {data.alert_counts.get('new', 0)} / acknowledged "
                f"{data.alert_counts.get('acknowledged', 0)}", style="dim")
    if data.filters:
        head.append("\nfilters ", style="dim").append(
            " ".join(f"{k}={day(v) if isinstance(v, datetime) else v}"
                     for k, v in data.filters.items()))
    head.append(f"\n{NOTE}", style="italic dim")
    return Panel(head, title="emomon trend report", title_align="left", width=WIDTH)


def _trends_table(data: ReportData) -> Table:
    """Post volume and one sparkline row per signal."""
    t = Table(title=f"Trends by {data.by} (mean; share ≥ {data.threshold:g})", width=WIDTH,
              title_justify="left")
    t.add_column("signal", no_wrap=True, max_width=20)
    t.add_column(f"last {min(len(data.periods), SPARK_WIDTH)} {data.by}s", no_wrap=True,
                 width=SPARK_WIDTH)
    t.add_column("mean", justify="right", width=5)
    t.add_column("share", justify="right", width=5)
    t.add_column("last", justify="right", width=5)
    t.add_row("posts", sparkline(data.volume), str(sum(data.volume)), "", str(data.volume[-1]))
    for s in data.trends:
        t.add_row(signal_label(s.signal), sparkline(s.values), num(s.mean), pct(s.share),
                  num(last_value(s.values)))
    return t


def _rising_table(data: ReportData) -> Table:
    """The five signals that rose most."""
    r = Table(title="Rising most (recent vs before)", width=WIDTH, title_justify="left")
    r.add_column("signal", no_wrap=True)
    for col in ("before", "recent", "change"):
        r.add_column(col, justify="right")
    for row in data.rising[:5]:
        r.add_row(signal_label(row["signal"]), num(row["before"]), num(row["recent"]),
                  signed(row["change"]))
    return r


def _review_table(data: ReportData) -> Table:
    """Authors to review, with their open alerts (a ``none`` row when there are none)."""
    rv = Table(title="Authors to review", width=WIDTH, title_justify="left")
    rv.add_column("author", no_wrap=True, width=14)
    rv.add_column("posts", justify="right", width=5)
    rv.add_column("recent", justify="right", width=6)
    rv.add_column("z", justify="right", width=5)
    rv.add_column("open alerts", overflow="fold")
    for row in data.review:
        rv.add_row(row["author"], str(row["posts"]), num(row["recent_mean"]),
                   num(row["z"], 1), alert_brief(row["open_alerts"]))
    if not data.review:
        rv.add_row("none", "", "", "", "")
    return rv


def _sources_table(data: ReportData) -> Table:
    """Sources side by side on the depression index."""
    st = Table(title="Sources (depression index)", width=WIDTH, title_justify="left")
    st.add_column("source", no_wrap=True, max_width=16, overflow="ellipsis")
    st.add_column("posts", justify="right")
    st.add_column("mean", justify="right")
    st.add_column("share", justify="right")
    st.add_column("Δ", justify="right")
    st.add_column("trend", no_wrap=True, max_width=SPARK_WIDTH)
    for row in data.sources:
        st.add_row(row["source"], str(row["posts"]), num(row["mean_index"]),
                   pct(row["share_high"]), signed(row["recent_change"]),
                   sparkline(row["index_by_period"]))
    return st


def _personality(data: ReportData) -> RenderableType:
    """Big Five distribution over authors, or a line saying no author has enough posts."""
    p = data.personality
    if not p["traits"]:
        return Text(f"Personality: no author has ≥ {p['min_posts']} posts yet.", style="dim")
    pt = Table(title=f"Personality ({p['authors']} authors with ≥ {p['min_posts']} posts; "
                     "mean probability)", width=WIDTH, title_justify="left")
    pt.add_column("trait", width=5)
    pt.add_column("mean", justify="right", width=5)
    pt.add_column("p25–p75", justify="right", width=11)
    pt.add_column("", no_wrap=True, width=30)
    for tr in p["traits"]:
        pt.add_row(tr["trait"], num(tr["mean"]), f"{num(tr['p25'])}–{num(tr['p75'])}",
                   _bar(tr["p25"], tr["p75"], tr["median"], 30))
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
