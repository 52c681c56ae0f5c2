"""A timeline chart in plain text: a score per day on a fixed 0–1 scale with a date axis.

Columns are days (or groups of days when there are more days than columns); a day without
posts stays an empty column, so gaps show. A column's bar is its post-weighted mean and ``•``
marks its highest post where that stands above the bar, so a short episode is not averaged
away. The baseline is a dotted line, alerts are ``▲`` under their day, a row of block
characters shows posts per day, and the date axis takes its ticks from
:func:`monitor.report.charts.time_ticks` (days, weeks, months or years; the year where it changes).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from monitor.report.charts import CHAR_PX, time_ticks

BLOCKS = " ▁▂▃▄▅▆▇█"
ROWS = 8
LABEL = 5  # width of the y-axis labels ("1.0 ┤")


def _buckets(
    days: Sequence[date],
    index: Sequence[float | None],
    posts: Sequence[int],
    highs: Sequence[float | None],
    columns: int,
) -> tuple[list[date], list[float | None], list[int], list[float | None], int]:
    """Group consecutive days so they fit ``columns``; a group's index is post-weighted and its
    high the highest of its days."""
    per = max(1, math.ceil(len(days) / max(columns, 1)))
    starts, values, counts, tops = [], [], [], []
    for i in range(0, len(days), per):
        n = sum(posts[i : i + per])
        total = sum((v or 0.0) * c for v, c in zip(index[i : i + per], posts[i : i + per], strict=True))
        present = [h for h in highs[i : i + per] if h is not None]
        starts.append(days[i])
        counts.append(n)
        values.append(total / n if n else None)
        tops.append(max(present) if present else None)
    return starts, values, counts, tops, per


def _cell(value: float | None, row: int) -> str:
    """The block drawn in ``row`` (0 = top) for a bar of height ``value`` on 0..1."""
    if value is None:
        return " "
    eighths = round(max(0.0, min(1.0, value)) * ROWS * 8)
    base = (ROWS - 1 - row) * 8
    return BLOCKS[max(0, min(8, eighths - base))]


def _axis_labels(first: date, per: int, columns: int, step: int, width: int) -> str:
    """Tick labels under ``columns`` groups of ``per`` days, ``step`` characters each, left to
    right with at least 2 blanks between them; a label carries its year where it is the first
    one shown or the year changed."""
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    end = start + timedelta(days=per * columns)
    line = [" "] * width
    last_end, last_year = -3, None
    for t in time_ticks(start, end, width=columns * step * CHAR_PX):
        pos = (t.at.date() - first).days // per * step
        label = t.label if t.label.isdigit() or t.at.year == last_year else f"{t.label} {t.at.year}"
        if pos <= last_end + 2 or pos + len(label) > width:
            continue
        line[pos : pos + len(label)] = list(label)
        last_end, last_year = pos + len(label) - 1, t.at.year
    return "".join(line).rstrip()


def timeline(
    days: Sequence[date],
    index: Sequence[float | None],
    posts: Sequence[int],
    *,
    baseline: float | None = None,
    alert_days: Sequence[date] = (),
    highs: Sequence[float | None] | None = None,
    width: int = 80,
) -> list[str]:
    """The chart as lines no wider than ``width``.

    Args:
        days: Every day of the span, in order.
        index: Mean index per day (None: no posts that day).
        posts: Posts per day.
        baseline: The author's baseline mean, drawn as ``┈`` where no bar covers it.
        alert_days: Days an alert fired (``▲`` under the day).
        highs: The highest post of each day (``•`` where it stands above the bar); None: not drawn.
        width: Total width in columns.
    """
    if not days:
        return ["(no posts in this span)"]
    room = max(10, width - LABEL - 1)
    starts, values, counts, tops, per = _buckets(days, index, posts, highs or [None] * len(days), room)
    step = max(1, min(6, room // len(starts)))  # columns per day: wider bars for short spans
    base_row = None if baseline is None else min(ROWS - 1, int((1 - baseline) * ROWS))
    lines = []
    for row in range(ROWS):
        label = {0: "1.0", ROWS // 2: "0.5", ROWS - 1: "0.0"}.get(row, "")
        cells = []
        for v, top in zip(values, tops, strict=True):
            c = _cell(v, row)
            if c == " " and row == base_row:
                c = "┈"
            raised = top is not None and v is not None and top - v >= 1 / ROWS  # a row above the mean
            if raised and c in " ┈" and row == min(ROWS - 1, int((1 - top) * ROWS)):  # type: ignore[operator]
                c = "•"
            cells.append(c * step)
        lines.append(f"{label:>3} ┤" + "".join(cells))
    lines.append("    └" + "─" * (len(starts) * step))
    marks = [" "] * (len(starts) * step)
    for d in alert_days:
        i = next((j for j, s in enumerate(starts) if s <= d < s + timedelta(days=per)), None)
        if i is not None:
            marks[i * step] = "▲"
    if any(m != " " for m in marks):
        lines.append("alert" + "".join(marks).rstrip())
    top = max(counts) or 1
    lines.append("posts" + "".join((BLOCKS[max(1, round(8 * n / top))] if n else " ") * step for n in counts))
    lines.append(" " * LABEL + _axis_labels(days[0], per, len(starts), step, width - LABEL))
    return [line[:width] for line in lines]
