"""Trend reports: rich renderables for the terminal and md / html / csv / json exports.

Every function here draws a :class:`monitor.report_data.ReportData`; none of them queries
anything, so the same numbers appear in every format.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from monitor.report_data import ReportData

FORMATS = ("terminal", "md", "html", "csv", "json")
BLOCKS = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 24
NOTE = "Scores support review by people; they are not a diagnosis."


# ------------------------------------------------------------------------------- helpers

def sparkline(values: Sequence[float | None], *, width: int = SPARK_WIDTH) -> str:
    """The last ``width`` values as block characters scaled to their own min..max.

    Missing values (periods without posts) are blanks; a flat series is a row of ``▄``.
    """
    vals = list(values)[-width:]
    present = [v for v in vals if v is not None]
    if not present:
        return " " * len(vals)
    lo, hi = min(present), max(present)
    out = []
    for v in vals:
        if v is None:
            out.append(" ")
        elif hi - lo < 1e-9:
            out.append(BLOCKS[3])
        else:
            out.append(BLOCKS[min(7, int((v - lo) / (hi - lo) * 8))])
    return "".join(out)


def signal_label(signal: str) -> str:
    """A readable name: ``depression index``, ``CARER sadness``, ``grief``."""
    if signal == "depression_index":
        return "depression index"
    if signal.startswith("carer_"):
        return "CARER " + signal.removeprefix("carer_")
    return signal.removeprefix("goemo_")


def _num(x: float | None, digits: int = 2) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.0f}%"


def _signed(x: float | None) -> str:
    return "–" if x is None else f"{x:+.2f}"


def _day(x: datetime | str | None) -> str:
    if x is None:
        return "–"
    if isinstance(x, str):
        return x[:10]
    return x.strftime("%Y-%m-%d")


def _iso(x: datetime | None) -> str | None:
    return None if x is None else x.isoformat().replace("+00:00", "Z")


def _alert_brief(alerts: Sequence[dict[str, Any]]) -> str:
    return ", ".join(f"#{a['id']} {a['rule']} {a['severity']}" for a in alerts) or "none"


# ------------------------------------------------------------------------------ terminal

def terminal_report(data: ReportData) -> RenderableType:
    """The report as a rich renderable, readable at 80 columns."""
    o = data.overview
    head = Text()
    head.append("posts ", style="dim").append(str(o["posts"]))
    head.append("  authors ", style="dim").append(str(o["authors"]))
    head.append("  sources ", style="dim").append(str(o["sources"]))
    head.append("  span ", style="dim").append(f"{_day(o['first'])} – {_day(o['last'])}")
    head.append("\nmodel ", style="dim").append(", ".join(o["model_versions"]) or "–")
    head.append(f"  by {data.by}", style="dim")
    head.append(f"  alerts new {data.alert_counts.get('new', 0)} / acknowledged "
                f"{data.alert_counts.get('acknowledged', 0)}", style="dim")
    if data.filters:
        head.append("\nfilters ", style="dim").append(
            " ".join(f"{k}={_day(v) if isinstance(v, datetime) else v}"
                     for k, v in data.filters.items()))
    head.append(f"\n{NOTE}", style="italic dim")
    parts: list[RenderableType] = [
        Panel(head, title="emomon trend report", title_align="left", width=80)
    ]
    if data.empty:
        parts.append(Text("No scored posts match: run `emomon score`, or widen --since/--until."))
        return Group(*parts)

    t = Table(title=f"Trends by {data.by} (mean; share ≥ {data.threshold:g})", width=80,
              title_justify="left")
    t.add_column("signal", no_wrap=True, max_width=20)
    t.add_column(f"last {min(len(data.periods), SPARK_WIDTH)} {data.by}s", no_wrap=True,
                 width=SPARK_WIDTH)
    t.add_column("mean", justify="right", width=5)
    t.add_column("share", justify="right", width=5)
    t.add_column("last", justify="right", width=5)
    t.add_row("posts", sparkline(data.volume), str(sum(data.volume)), "", str(data.volume[-1]))
    for s in data.trends:
        last = next((v for v in reversed(s.values) if v is not None), None)
        t.add_row(signal_label(s.signal), sparkline(s.values), _num(s.mean), _pct(s.share),
                  _num(last))
    parts.append(t)

    if data.rising:
        r = Table(title="Rising most (recent vs before)", width=80, title_justify="left")
        r.add_column("signal", no_wrap=True)
        for col in ("before", "recent", "change"):
            r.add_column(col, justify="right")
        for row in data.rising[:5]:
            r.add_row(signal_label(row["signal"]), _num(row["before"]), _num(row["recent"]),
                      _signed(row["change"]))
        parts.append(r)

    rv = Table(title="Authors to review", width=80, title_justify="left")
    rv.add_column("author", no_wrap=True, width=14)
    rv.add_column("posts", justify="right", width=5)
    rv.add_column("recent", justify="right", width=6)
    rv.add_column("z", justify="right", width=5)
    rv.add_column("open alerts", overflow="fold")
    for row in data.review:
        rv.add_row(row["author"], str(row["posts"]), _num(row["recent_mean"]),
                   _num(row["z"], 1), _alert_brief(row["open_alerts"]))
    if not data.review:
        rv.add_row("none", "", "", "", "")
    parts.append(rv)

    st = Table(title="Sources (depression index)", width=80, title_justify="left")
    st.add_column("source", no_wrap=True, max_width=16, overflow="ellipsis")
    st.add_column("posts", justify="right")
    st.add_column("mean", justify="right")
    st.add_column("share", justify="right")
    st.add_column("Δ", justify="right")
    st.add_column("trend", no_wrap=True, max_width=SPARK_WIDTH)
    for row in data.sources:
        st.add_row(row["source"], str(row["posts"]), _num(row["mean_index"]),
                   _pct(row["share_high"]), _signed(row["recent_change"]),
                   sparkline(row["index_by_period"]))
    parts.append(st)

    p = data.personality
    if p["traits"]:
        pt = Table(title=f"Personality ({p['authors']} authors with ≥ {p['min_posts']} posts; "
                         "mean probability)", width=80, title_justify="left")
        pt.add_column("trait", width=5)
        pt.add_column("mean", justify="right", width=5)
        pt.add_column("p25–p75", justify="right", width=11)
        pt.add_column("", no_wrap=True, width=30)
        for tr in p["traits"]:
            pt.add_row(tr["trait"], _num(tr["mean"]), f"{_num(tr['p25'])}–{_num(tr['p75'])}",
                       _bar(tr["p25"], tr["p75"], tr["median"], 30))
        parts.append(pt)
    else:
        parts.append(Text(f"Personality: no author has ≥ {p['min_posts']} posts yet.",
                          style="dim"))
    return Group(*parts)


def _bar(lo: float | None, hi: float | None, mid: float | None, width: int) -> str:
    if lo is None or hi is None or mid is None:
        return ""
    cells = [" "] * width
    a, b, m = (min(width - 1, int(v * width)) for v in (lo, hi, mid))
    for i in range(a, b + 1):
        cells[i] = "─"
    cells[m] = "┃"
    return "".join(cells)


# ---------------------------------------------------------------------------------- json

def report_dict(data: ReportData) -> dict[str, Any]:
    """The report as plain JSON-ready data (the source of the json, md and csv exports)."""
    o = data.overview
    return {
        "generated_at": _iso(data.generated_at),
        "note": NOTE,
        "by": data.by,
        "threshold": data.threshold,
        "filters": {k: (_iso(v) if isinstance(v, datetime) else v)
                    for k, v in data.filters.items()},
        "overview": {**o, "first": _iso(o["first"]), "last": _iso(o["last"])},
        "alert_counts": data.alert_counts,
        "periods": [_iso(p) for p in data.periods],
        "volume": data.volume,
        "trends": [
            {"signal": s.signal, "mean": s.mean, "share": s.share, "values": s.values,
             "shares": s.shares}
            for s in data.trends
        ],
        "rising": data.rising,
        "review": data.review,
        "sources": data.sources,
        "personality": data.personality,
    }


def to_json(data: ReportData) -> str:
    """The report as one JSON document."""
    return json.dumps(report_dict(data), indent=2, ensure_ascii=False)


# ----------------------------------------------------------------------------------- csv

def to_csv(data: ReportData) -> str:
    """The report's numbers in long form: ``section,subject,period,metric,value``."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["section", "subject", "period", "metric", "value"])
    d = report_dict(data)
    for key in ("posts", "authors", "sources"):
        w.writerow(["overview", "all", "", key, d["overview"][key]])
    for period, n in zip(d["periods"], d["volume"], strict=True):
        w.writerow(["trend", "all", period, "posts", n])
    for s in d["trends"]:
        for period, v, sh in zip(d["periods"], s["values"], s["shares"], strict=True):
            w.writerow(["trend", s["signal"], period, "mean", _blank(v)])
            w.writerow(["trend", s["signal"], period, "share", _blank(sh)])
    for r in d["rising"]:
        for metric in ("before", "recent", "change"):
            w.writerow(["rising", r["signal"], "", metric, _blank(r[metric])])
    for r in d["review"]:
        for metric in ("posts", "recent_mean", "baseline_mean", "z"):
            w.writerow(["review", r["author"], "", metric, _blank(r[metric])])
        w.writerow(["review", r["author"], "", "open_alerts", len(r["open_alerts"])])
    for r in d["sources"]:
        for metric in ("posts", "authors", "mean_index", "share_high", "recent_change"):
            w.writerow(["source", r["source"], "", metric, _blank(r[metric])])
        for period, v in zip(d["periods"], r["index_by_period"], strict=True):
            w.writerow(["source", r["source"], period, "mean_index", _blank(v)])
    for tr in d["personality"]["traits"]:
        for metric in ("mean", "p25", "median", "p75"):
            w.writerow(["personality", tr["trait"], "", metric, _blank(tr[metric])])
    return buf.getvalue()


def _blank(x: Any) -> Any:
    return "" if x is None else x


# ------------------------------------------------------------------------------ markdown

def to_markdown(data: ReportData) -> str:
    """The report as GitHub-flavoured Markdown (tables; sparklines in code spans)."""
    d = report_dict(data)
    o = d["overview"]
    lines = [
        "# emomon trend report",
        "",
        f"_{NOTE}_",
        "",
        f"- posts: {o['posts']}, authors: {o['authors']}, sources: {o['sources']}",
        f"- span: {_day(o['first'])} – {_day(o['last'])}, by {d['by']}",
        f"- model: {', '.join(o['model_versions']) or '–'}",
        f"- alerts: new {d['alert_counts'].get('new', 0)}, acknowledged "
        f"{d['alert_counts'].get('acknowledged', 0)}, resolved "
        f"{d['alert_counts'].get('resolved', 0)}",
        f"- generated: {d['generated_at']}",
    ]
    if d["filters"]:
        lines.append("- filters: " + ", ".join(f"{k}={v}" for k, v in d["filters"].items()))
    if data.empty:
        return "\n".join(lines + ["", "No scored posts match these filters.", ""])
    lines += ["", f"## Trends (mean; share ≥ {d['threshold']:g})", "",
              "| signal | trend | mean | share | last |", "|---|---|---:|---:|---:|",
              f"| posts | `{sparkline(d['volume'])}` | {sum(d['volume'])} | | {d['volume'][-1]} |"]
    for s in data.trends:
        last = next((v for v in reversed(s.values) if v is not None), None)
        lines.append(f"| {signal_label(s.signal)} | `{sparkline(s.values)}` | {_num(s.mean)} "
                     f"| {_pct(s.share)} | {_num(last)} |")
    lines += ["", "## Rising most", "", "| signal | before | recent | change |",
              "|---|---:|---:|---:|"]
    for r in d["rising"]:
        lines.append(f"| {signal_label(r['signal'])} | {_num(r['before'])} | "
                     f"{_num(r['recent'])} | {_signed(r['change'])} |")
    lines += ["", "## Authors to review", "", "| author | posts | recent | z | open alerts |",
              "|---|---:|---:|---:|---|"]
    for r in d["review"]:
        lines.append(f"| {r['author']} | {r['posts']} | {_num(r['recent_mean'])} | "
                     f"{_num(r['z'], 1)} | {_alert_brief(r['open_alerts'])} |")
    lines += ["", "## Sources (depression index)", "",
              "| source | posts | authors | mean | share | Δ recent | trend |",
              "|---|---:|---:|---:|---:|---:|---|"]
    for r in d["sources"]:
        lines.append(f"| {_md(r['source'])} | {r['posts']} | {r['authors']} | "
                     f"{_num(r['mean_index'])} | {_pct(r['share_high'])} | "
                     f"{_signed(r['recent_change'])} | `{sparkline(r['index_by_period'])}` |")
    p = d["personality"]
    lines += ["", f"## Personality ({p['authors']} authors with ≥ {p['min_posts']} posts)", ""]
    if p["traits"]:
        lines += ["| trait | mean | p25 | median | p75 |", "|---|---:|---:|---:|---:|"]
        for tr in p["traits"]:
            lines.append(f"| {tr['trait']} | {_num(tr['mean'])} | {_num(tr['p25'])} | "
                         f"{_num(tr['median'])} | {_num(tr['p75'])} |")
    else:
        lines.append("No author has enough posts yet.")
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|")


# ---------------------------------------------------------------------------------- html

def _svg_line(values: Sequence[float | None], *, width: int = 260, height: int = 60,
              label: str = "") -> str:
    """A small inline SVG line chart; gaps where a period has no posts."""
    pts = [(i, v) for i, v in enumerate(values) if v is not None]
    esc = html.escape(label)
    if not pts:
        return f'<svg width="{width}" height="{height}" role="img" aria-label="{esc}"></svg>'
    lo = min(v for _, v in pts)
    hi = max(v for _, v in pts)
    span = hi - lo or 1.0
    n = max(len(values) - 1, 1)
    pad = 4

    def xy(i: int, v: float) -> str:
        x = pad + (width - 2 * pad) * i / n
        y = height - pad - (height - 2 * pad) * (v - lo) / span
        return f"{x:.1f},{y:.1f}"

    segments: list[list[str]] = [[]]
    for i, v in enumerate(values):
        if v is None:
            if segments[-1]:
                segments.append([])
        else:
            segments[-1].append(xy(i, v))
    lines = "".join(
        f'<polyline fill="none" stroke="#3465a4" stroke-width="1.5" points="{" ".join(s)}"/>'
        if len(s) > 1 else f'<circle cx="{s[0].split(",")[0]}" cy="{s[0].split(",")[1]}" r="2" '
        f'fill="#3465a4"/>'
        for s in segments if s
    )
    return (
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{esc}"><title>{esc}: {lo:.2f} to {hi:.2f}</title>'
        f'<rect width="{width}" height="{height}" fill="#f7f7f7"/>{lines}'
        f'<text x="{width - 2}" y="10" font-size="9" text-anchor="end">{hi:.2f}</text>'
        f'<text x="{width - 2}" y="{height - 2}" font-size="9" text-anchor="end">{lo:.2f}</text>'
        "</svg>"
    )


def _svg_bars(items: Sequence[tuple[str, float | None]], *, width: int = 420) -> str:
    """Horizontal bars for values in 0..1, one row per item."""
    row = 18
    height = row * len(items) + 4
    label_w = 140
    parts = [f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
             'role="img" aria-label="bar chart">']
    for i, (name, v) in enumerate(items):
        y = 2 + i * row
        w = 0.0 if v is None else max(0.0, min(1.0, v)) * (width - label_w - 40)
        parts.append(f'<text x="0" y="{y + 12}" font-size="11">{html.escape(name[:22])}</text>'
                     f'<rect x="{label_w}" y="{y + 2}" width="{w:.1f}" height="12" '
                     f'fill="#73a9d6"/><text x="{label_w + w + 4:.1f}" y="{y + 12}" '
                     f'font-size="10">{_num(v)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def to_html(data: ReportData) -> str:
    """A self-contained HTML page with inline SVG charts and the same tables as Markdown."""
    d = report_dict(data)
    o = d["overview"]
    e = html.escape
    body = [
        "<h1>emomon trend report</h1>",
        f"<p><em>{e(NOTE)}</em></p>",
        f"<p>{o['posts']} posts, {o['authors']} authors, {o['sources']} sources; "
        f"{_day(o['first'])} – {_day(o['last'])}; by {e(d['by'])}; model "
        f"{e(', '.join(o['model_versions']) or '–')}; generated {e(str(d['generated_at']))}</p>",
    ]
    if d["filters"]:
        body.append("<p>filters: " + e(", ".join(f"{k}={v}" for k, v in d["filters"].items()))
                    + "</p>")
    if data.empty:
        body.append("<p>No scored posts match these filters.</p>")
    else:
        first = _day(d["periods"][0]) if d["periods"] else ""
        last_p = _day(d["periods"][-1]) if d["periods"] else ""
        body.append(f"<h2>Trends by {e(d['by'])} ({first} – {last_p})</h2><div class='grid'>")
        body.append(f"<figure>{_svg_line(d['volume'], label='posts')}"
                    f"<figcaption>posts ({sum(d['volume'])})</figcaption></figure>")
        for s in data.trends:
            name = signal_label(s.signal)
            body.append(f"<figure>{_svg_line(s.values, label=name)}<figcaption>{e(name)}: mean "
                        f"{_num(s.mean)}, share ≥ {d['threshold']:g} {_pct(s.share)}"
                        "</figcaption></figure>")
        body.append("</div>")
        body.append(_html_table(
            "Rising most", ["signal", "before", "recent", "change"],
            [[signal_label(r["signal"]), _num(r["before"]), _num(r["recent"]),
              _signed(r["change"])] for r in d["rising"]]))
        body.append(_html_table(
            "Authors to review", ["author", "posts", "recent", "z", "open alerts"],
            [[r["author"], r["posts"], _num(r["recent_mean"]), _num(r["z"], 1),
              _alert_brief(r["open_alerts"])] for r in d["review"]]))
        body.append("<h2>Sources (mean depression index)</h2>")
        body.append(_svg_bars([(r["source"], r["mean_index"]) for r in d["sources"]]))
        body.append(_html_table(
            "", ["source", "posts", "authors", "mean", "share", "Δ recent", "trend"],
            [[r["source"], r["posts"], r["authors"], _num(r["mean_index"]),
              _pct(r["share_high"]), _signed(r["recent_change"]),
              _Raw(_svg_line(r["index_by_period"], width=160, height=30, label=r["source"]))]
             for r in d["sources"]]))
        p = d["personality"]
        body.append(f"<h2>Personality ({p['authors']} authors with ≥ {p['min_posts']} posts; "
                    "median of author means)</h2>")
        if p["traits"]:
            body.append(_svg_bars([(t["trait"], t["median"]) for t in p["traits"]]))
            body.append(_html_table(
                "", ["trait", "mean", "p25", "median", "p75"],
                [[t["trait"], _num(t["mean"]), _num(t["p25"]), _num(t["median"]),
                  _num(t["p75"])] for t in p["traits"]]))
        else:
            body.append("<p>No author has enough posts yet.</p>")
    style = ("body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;"
             "padding:0 1rem;color:#222}table{border-collapse:collapse;margin:.5rem 0}"
             "td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:right}"
             "td:first-child,th:first-child{text-align:left}.grid{display:flex;flex-wrap:wrap;"
             "gap:.5rem}figure{margin:0}figcaption{font-size:.8rem}")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<title>emomon trend report</title>"
            f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


class _Raw(str):
    """Markup that _html_table must not escape (our own SVG)."""


def _html_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    out = [f"<h2>{html.escape(title)}</h2>"] if title else []
    out.append("<table><thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in headers)
               + "</tr></thead><tbody>")
    if not rows:
        out.append(f"<tr><td colspan=\"{len(headers)}\">none</td></tr>")
    for r in rows:
        out.append("<tr>" + "".join(
            f"<td>{c if isinstance(c, _Raw) else html.escape(str(c))}</td>" for c in r) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def export(data: ReportData, fmt: str) -> str:
    """The report in ``fmt`` (md, html, csv or json) as text.

    Raises:
        ValueError: ``fmt`` is not an export format.
    """
    if fmt == "md":
        return to_markdown(data)
    if fmt == "html":
        return to_html(data)
    if fmt == "csv":
        return to_csv(data)
    if fmt == "json":
        return to_json(data)
    raise ValueError(f"format must be one of md, html, csv, json, got {fmt!r}")
