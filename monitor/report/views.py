"""Terminal views of the review loop: one alert with its evidence, one author's timeline.

Each function takes plain data (alert dicts, :class:`~monitor.report.author.AuthorView`) and
returns a rich renderable sized to ``width``; nothing here queries the store. Every value from
the store enters as :func:`monitor.safe_text.text` (cleaned, never read as markup).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from monitor.report.author import AuthorView
from monitor.report.common import NOTE, day, legend, num
from monitor.report.textchart import timeline
from monitor.safe_text import clean, text
from monitor.trends import signal_label


def _emotions(items: Sequence[Mapping[str, Any]], key: str) -> str:
    return ", ".join(f"{e['emotion']} {num(e[key])}" for e in items) or "–"


def legend_text(lines: Sequence[tuple[str, str]]) -> Text:
    """The legend as dim ``term: meaning`` lines."""
    out = Text(style="dim")
    for i, (term, meaning) in enumerate(lines):
        out.append(("\n" if i else "") + f"{term}: ", style="bold dim").append(clean(meaning))
    return out


def alert_view(
    alert: Mapping[str, Any],
    explanation: str,
    posts: Sequence[Mapping[str, Any]],
    history: Sequence[Mapping[str, Any]],
    *,
    width: int,
) -> RenderableType:
    """What fired and why, the window, the posts behind it in order, and the history."""
    head = text(
        (f"alert {alert['id']}", "bold"),
        f"  {alert['status']}  {alert['severity']}  rule {alert['rule']}  {alert['subject_kind']} {alert['subject']}",
        (
            f"\nwindow {day(alert['window_start'])} – {day(alert['window_end'])}"
            f"  triggered {str(alert['trigger_at'])[:16].replace('T', ' ')} UTC"
            f"\nmodel {alert.get('model_version') or '–'}",
            "dim",
        ),
    )
    parts: list[RenderableType] = [head, text(explanation), Text(NOTE, style="italic dim")]
    table = Table(
        title=f"Posts behind it ({len(posts)}, oldest first; ▶ the post it fired at)", title_justify="left", width=width
    )
    table.add_column("", width=1, no_wrap=True)
    table.add_column("date", no_wrap=True, width=16)
    table.add_column("index", justify="right", width=5)
    table.add_column("top emotions", min_width=14, ratio=1)
    table.add_column("text", ratio=2, overflow="fold")
    for p in posts:
        body = p.get("text")
        table.add_row(
            "▶" if p.get("trigger") else "",
            text(p["created_at"][:16].replace("T", " ")),
            num(p["index"]),
            text(_emotions(p["top_emotions"], "p")),
            text(body) if body is not None else Text("(text removed by retention)", style="dim"),
        )
    parts.append(table)
    if history:
        h = Table(title="History", title_justify="left", width=width)
        for col in ("when", "action", "by"):
            h.add_column(col, no_wrap=True)
        h.add_column("note", ratio=1)
        for row in history:
            h.add_row(*(text(v) for v in (row["at"][:16].replace("T", " "), row["action"], row["by"], row["note"])))
        parts.append(h)
    else:
        parts.append(Text("History: no action yet (`emomon alerts ack ID --note …`)", style="dim"))
    return Group(*parts)


def author_view(view: AuthorView, *, width: int) -> RenderableType:
    """The author's summary, timeline chart, alerts, top emotions and (caveated) Big Five."""
    s = view.summary
    if view.empty:
        return text(f"{view.author}: no scored posts in this span (widen the time window).")
    head = text(
        (f"author {view.author}", "bold"),
        f"  {s['posts']} posts, {view.series.days[0]} – {view.series.days[-1]}"
        f"\nrecent {num(s.get('recent_mean'))} ({s.get('recent_posts')} posts)"
        f"  baseline {num(s.get('baseline_mean'))}  z {num(s.get('z'), 1)}",
    )
    alert_days = [date.fromisoformat(a["trigger_at"][:10]) for a in view.alerts]
    means, highs = _per_day(view)
    chart = Text(
        "\n".join(
            timeline(
                view.series.days,
                means,
                view.series.posts,
                baseline=s.get("baseline_mean"),
                alert_days=alert_days,
                highs=highs,
                width=width,
            )
        )
    )
    parts: list[RenderableType] = [
        head,
        Text(
            f"{signal_label(view.signal).capitalize()} per day (0–1; mean, • top post; ┈ baseline; blank: no posts)",
            style="bold",
        ),
        chart,
    ]
    if view.alerts:
        at = Table(title="Alerts", title_justify="left", width=width)
        for col in ("id", "date", "rule", "status"):
            at.add_column(col, no_wrap=True)
        at.add_column("why", ratio=1)
        for a in view.alerts:
            at.add_row(*(text(v) for v in (a["id"], day(a["trigger_at"]), a["rule"], a["status"], a["explanation"])))
        parts.append(at)
    parts.append(text(f"Top emotions (mean probability): {_emotions(view.top_emotions, 'mean')}"))
    parts.append(_big5(view.big5))
    parts.append(legend_text(legend(view.recent_days, view.end, view.threshold, view.min_std, signal=view.signal)))
    parts.append(Text(NOTE, style="italic dim"))
    return Group(*parts)


def _per_day(view: AuthorView) -> tuple[list[float | None], list[float | None]]:
    """The mean and the highest of the author's signal (the score the alerts read) on each day."""
    by_day: dict[date, list[float]] = {}
    for p in view.points:
        by_day.setdefault(p.at.date(), []).append(p.value)
    days = view.series.days
    return (
        [sum(by_day[d]) / len(by_day[d]) if d in by_day else None for d in days],
        [max(by_day[d]) if d in by_day else None for d in days],
    )


def _big5(big5: Mapping[str, Any]) -> Text:
    if not big5.get("shown"):
        return text(f"Big Five: not shown below {big5.get('min_posts')} posts.", style="dim")
    traits = "  ".join(f"{t['trait']} {num(t['mean'])}" for t in big5.get("traits", []))
    return text(f"Big Five (mean probability): {traits}\n  {big5['caveat']}")
