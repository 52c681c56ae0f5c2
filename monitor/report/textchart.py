"""A timeline chart in plain text: the index per day on a fixed 0–1 scale with a date axis.

Columns are days (or groups of days when there are more days than columns); a day without
posts stays an empty column, so gaps show. The baseline is a dotted line, alerts are ``▲``
under their day, and a row of block characters shows posts per day.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, timedelta

BLOCKS = " ▁▂▃▄▅▆▇█"
ROWS = 8
LABEL = 5  # width of the y-axis labels ("1.0 ┤")


def _buckets(
    days: Sequence[date], index: Sequence[float | None], posts: Sequence[int], columns: int
) -> tuple[list[date], list[float | None], list[int], int]:
    """Group consecutive days so they fit ``columns``; a group's index is post-weighted."""
    per = max(1, math.ceil(len(days) / max(columns, 1)))
    starts, values, counts = [], [], []
    for i in range(0, len(days), per):
        n = sum(posts[i : i + per])
        total = sum((v or 0.0) * c for v, c in zip(index[i : i + per], posts[i : i + per], strict=True))
        starts.append(days[i])
        counts.append(n)
        values.append(total / n if n else None)
    return starts, values, counts, per


def _cell(value: float | None, row: int) -> str:
    """The block drawn in ``row`` (0 = top) for a bar of height ``value`` on 0..1."""
    if value is None:
        return " "
    eighths = round(max(0.0, min(1.0, value)) * ROWS * 8)
    base = (ROWS - 1 - row) * 8
    return BLOCKS[max(0, min(8, eighths - base))]


def _axis_labels(starts: Sequence[date], step: int, width: int) -> str:
    """Tick labels placed left to right with at least 3 blanks between them (``MM-DD``; the
    full date at the first tick and where the year changes)."""
    line = [" "] * width
    last_end, last_year = -4, None
    for i, d in enumerate(starts):
        label = d.strftime("%m-%d") if d.year == last_year else d.isoformat()
        pos = i * step
        if pos <= last_end + 3 or pos + len(label) > width:
            continue
        line[pos : pos + len(label)] = list(label)
        last_end, last_year = pos + len(label) - 1, d.year
    return "".join(line).rstrip()


def timeline(
    days: Sequence[date],
    index: Sequence[float | None],
    posts: Sequence[int],
    *,
    baseline: float | None = None,
    alert_days: Sequence[date] = (),
    width: int = 80,
) -> list[str]:
    """The chart as lines no wider than ``width``.

    Args:
        days: Every day of the span, in order.
        index: Mean index per day (None: no posts that day).
        posts: Posts per day.
        baseline: The author's baseline mean, drawn as ``┈`` where no bar covers it.
        alert_days: Days an alert fired (``▲`` under the day).
        width: Total width in columns.
    """
    if not days:
        return ["(no posts in this span)"]
    room = max(10, width - LABEL - 1)
    starts, values, counts, per = _buckets(days, index, posts, room)
    step = max(1, min(6, room // len(starts)))  # columns per day: wider bars for short spans
    base_row = None if baseline is None else min(ROWS - 1, int((1 - baseline) * ROWS))
    lines = []
    for row in range(ROWS):
        label = {0: "1.0", ROWS // 2: "0.5", ROWS - 1: "0.0"}.get(row, "")
        cells = []
        for v in values:
            c = _cell(v, row)
            if c == " " and row == base_row:
                c = "┈"
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
    lines.append(" " * LABEL + _axis_labels(starts, step, width - LABEL))
    return [line[:width] for line in lines]
