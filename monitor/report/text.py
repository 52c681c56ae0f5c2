"""The report as text exports: JSON, long-form CSV and Markdown (and :func:`export` for all)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from monitor.report.common import (
    NOTE,
    alert_brief,
    day,
    last_value,
    num,
    pct,
    shift_brief,
    signal_label,
    signed,
    sparkline,
)
from monitor.report.data import ReportData, report_dict
from monitor.report.html import to_html

FORMATS = ("terminal", "md", "html", "csv", "json")


def to_json(data: ReportData) -> str:
    """The report as one JSON document."""
    return json.dumps(report_dict(data), indent=2, ensure_ascii=False)


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


def to_markdown(data: ReportData) -> str:
    """The report as GitHub-flavoured Markdown (tables; sparklines in code spans)."""
    d = report_dict(data)
    lines = _md_head(d)
    if data.empty:
        return "\n".join(lines + ["", "No scored posts match these filters.", ""])
    lines += _md_trends(data, d) + _md_rising(d) + _md_review(d) + _md_sources(d)
    lines += _md_personality(d) + _md_legend(d)
    return "\n".join(lines) + "\n"


def _md_legend(d: dict[str, Any]) -> list[str]:
    return ["", "## What the numbers mean", ""] + [f"- **{term}**: {meaning}" for term, meaning in d["legend"].items()]


def _md_head(d: dict[str, Any]) -> list[str]:
    o, counts = d["overview"], d["alert_counts"]
    lines = [
        "# emomon trend report",
        "",
        f"_{NOTE}_",
        "",
        f"- posts: {o['posts']}, authors: {o['authors']}, sources: {o['sources']}",
        f"- span: {day(o['first'])} – {day(o['last'])}, by {d['by']}",
        f"- model: {', '.join(o['model_versions']) or '–'}",
        (
            f"- alerts: new {counts.get('new', 0)}, acknowledged "
            f"{counts.get('acknowledged', 0)}, resolved {counts.get('resolved', 0)}"
        ),
        f"- generated: {d['generated_at']}",
    ]
    if d["filters"]:
        lines.append("- filters: " + ", ".join(f"{k}={v}" for k, v in d["filters"].items()))
    return lines


def _md_trends(data: ReportData, d: dict[str, Any]) -> list[str]:
    lines = [
        "",
        f"## Trends (mean; share ≥ {d['threshold']:g})",
        "",
        "| signal | trend | mean | share | last |",
        "|---|---|---:|---:|---:|",
        f"| posts | `{sparkline(d['volume'])}` | {sum(d['volume'])} | | {d['volume'][-1]} |",
    ]
    for s in data.trends:
        lines.append(
            f"| {signal_label(s.signal)} | `{sparkline(s.values)}` | {num(s.mean)} "
            f"| {pct(s.share)} | {num(last_value(s.values))} |"
        )
    return lines


def _md_rising(d: dict[str, Any]) -> list[str]:
    lines = ["", "## Rising most", "", "| signal | before | recent | change |", "|---|---:|---:|---:|"]
    for r in d["rising"]:
        lines.append(
            f"| {signal_label(r['signal'])} | {num(r['before'])} | {num(r['recent'])} | {signed(r['change'])} |"
        )
    return lines


def _md_review(d: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "## Authors to review",
        "",
        "| author | posts | recent | z | open alerts |",
        "|---|---:|---:|---:|---|",
    ]
    for r in d["review"]:
        lines.append(
            f"| {r['author']} | {r['posts']} | {num(r['recent_mean'])} | "
            f"{num(r['z'], 1)} | {alert_brief(r['open_alerts'])} |"
        )
    return lines


def _md_sources(d: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "## Sources (depression index)",
        "",
        "| source | posts | authors | mean | share | Δ recent | trend | mood shift |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in d["sources"]:
        lines.append(
            f"| {_md(r['source'])} | {r['posts']} | {r['authors']} | "
            f"{num(r['mean_index'])} | {pct(r['share_high'])} | "
            f"{signed(r['recent_change'])} | `{sparkline(r['index_by_period'])}` | "
            f"{shift_brief(r.get('shifts', []))} |"
        )
    return lines


def _md_personality(d: dict[str, Any]) -> list[str]:
    p = d["personality"]
    lines = [
        "",
        f"## Personality ({p['authors']} authors with ≥ {p['min_posts']} posts)",
        "",
        f"_Big Five: {p['caveat']}._",
        "",
    ]
    if not p["traits"]:
        return lines + ["No author has enough posts yet."]
    lines += ["| trait | mean | p25 | median | p75 |", "|---|---:|---:|---:|---:|"]
    for tr in p["traits"]:
        lines.append(
            f"| {tr['trait']} | {num(tr['mean'])} | {num(tr['p25'])} | {num(tr['median'])} | {num(tr['p75'])} |"
        )
    return lines


def _md(text: str) -> str:
    return text.replace("|", "\\|")


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
