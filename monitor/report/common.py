"""What every report format shares: the note, number formatting, sparklines, the legend.

Every renderer draws a :class:`monitor.report.data.ReportData` (or its plain dict,
:func:`monitor.report.data.report_dict`); none of them queries anything, so the same numbers appear
in every format. A leaf of the report package: it imports none of the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

BLOCKS = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 24
NOTE = "Scores support review by people; they are not a diagnosis."


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


MIN_WIDTH, MAX_WIDTH = 60, 200


def fit_width(width: int | None, detected: int) -> int:
    """The width to draw at: ``width`` if given, else the terminal's, kept within 60..200."""
    return max(MIN_WIDTH, min(MAX_WIDTH, width if width is not None else detected))


def legend(
    recent_days: int, end: datetime | None, threshold: float, min_std: float, *, signal: str = "depression_index"
) -> list[tuple[str, str]]:
    """What the report's terms mean, one line each (shown under every report and view).

    ``end`` is the report's newest post (rising signals and sources are measured up to it);
    ``signal`` is the per-post score the author figures read (:func:`monitor.trends.person_signal`).
    """
    what = "distress" if signal == "distress" else "index"
    lines = [
        (
            "index",
            "depression-emotion index of a post, 0–1: how strongly it expresses sadness, "
            "grief, fear and related emotions; not a diagnosis",
        ),
    ]
    if signal == "distress":
        lines.append(
            (
                "distress",
                "how likely a post's author expresses their own distress (stress, "
                "hopelessness, pain, a need for help), 0–1; news, quotes and "
                "reposts score 0; not a diagnosis",
            )
        )
    until = f"; signals and sources up to {day(end)}" if end is not None else ""
    return [
        *lines,
        (
            "recent",
            f"mean {what} of an author's posts in the {recent_days} days up to the author's own latest post{until}",
        ),
        ("baseline", f"mean {what} of the same author's posts before the recent window"),
        (
            "z",
            f"(recent − baseline) ÷ the baseline's standard deviation (at least {min_std:g}); "
            "2 or more puts an author on the review list",
        ),
        (f"share ≥ {threshold:g}", f"percentage of posts whose score is at least {threshold:g}"),
    ]


def signal_label(signal: str) -> str:
    """A readable name: ``depression index``, ``CARER sadness``, ``grief``."""
    if signal == "depression_index":
        return "depression index"
    if signal.startswith("carer_"):
        return "CARER " + signal.removeprefix("carer_")
    return signal.removeprefix("goemo_")


def num(x: float | None, digits: int = 2) -> str:
    """``x`` with ``digits`` decimals, ``–`` for none."""
    return "–" if x is None else f"{x:.{digits}f}"


def pct(x: float | None) -> str:
    """A share as a whole percentage, ``–`` for none."""
    return "–" if x is None else f"{100 * x:.0f}%"


def signed(x: float | None) -> str:
    """A change with its sign and two decimals, ``–`` for none."""
    return "–" if x is None else f"{x:+.2f}"


def day(x: datetime | str | None) -> str:
    """The date part (``YYYY-MM-DD``) of a time or ISO string, ``–`` for none."""
    if x is None:
        return "–"
    if isinstance(x, str):
        return x[:10]
    return x.strftime("%Y-%m-%d")


def iso(x: datetime | None) -> str | None:
    """ISO 8601 with ``Z`` for UTC, or None."""
    return None if x is None else x.isoformat().replace("+00:00", "Z")


def alert_brief(alerts: Sequence[dict[str, Any]]) -> str:
    """Open alerts in one phrase: ``#3 rise high, #5 level medium`` (or ``none``)."""
    return ", ".join(f"#{a['id']} {a['rule']} {a['severity']}" for a in alerts) or "none"


def shift_brief(shifts: Sequence[dict[str, Any]]) -> str:
    """A source's latest mood shift in a few words: ``2025-03-14 z 3.4 (+1 earlier)``, or ``–``."""
    if not shifts:
        return "–"
    last = shifts[-1]
    more = f" (+{len(shifts) - 1} earlier)" if len(shifts) > 1 else ""
    return f"{day(last['day'])} z {last['z']:.1f}{more}" if last["z"] is not None else day(last["day"])


def last_value(values: Sequence[float | None]) -> float | None:
    """The latest value that is not None."""
    return next((v for v in reversed(values) if v is not None), None)
