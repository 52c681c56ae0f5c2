"""The one chart module: server-side SVG charts over time, for the HTML report and the web pages.

Every public function takes plain data (:class:`Point` lists, alert dicts) and returns the SVG as
:class:`markupsafe.Markup`; every string in it is escaped, and nothing is fetched or scripted.
A page that shows these charts puts :data:`STYLE` in its stylesheet.

How a chart reads a span:

* The x axis runs over the data's own span (an author's first to last post), padded a little.
* Ticks (:func:`time_ticks`) step by days, weeks, months or years, whichever is the finest whose
  labels do not overlap at the chart's width; a tick carries its year (on a second line) where
  it is the first tick or the year changed since the tick before.
* Values are aggregated per day, week or month (:func:`choose_step`, from the span): the line is
  the mean per step and, for weeks and months, a band shows the min–max of the step's values.
  The line breaks where consecutive values are more than ``MAX_GAP_STEPS`` steps apart (with
  1, at any step without a value), so a gap is drawn as a gap.
* :func:`author_chart` also draws every post as a point, rings the posts an alert is about and
  marks the post at which each alert fired; the threshold and baseline lines are drawn exactly
  when the chart's own legend names them.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import numpy as np
import polars as pl
from markupsafe import Markup, escape

Step = Literal["day", "week", "month"]

CHAR_PX = 6.2  # width of one tick-label character at 10px (a generous estimate for sans-serif)
TICK_GAP_PX = 12  # least blank space between two tick labels
MIN_TICK_SPACING_PX = 56  # ticks closer than this are hard to read even when labels fit
MAX_GAP_STEPS = 1  # values more than this many steps apart are not joined: one empty step breaks the line
DAY_SPAN = 92  # spans up to this many days are aggregated per day
WEEK_SPAN = 3 * 366  # ... up to this many per week, longer spans per month
FEW_POSTS = 40  # an author with at most this many posts gets daily means whatever the span
MARK_NAMES = 5  # alerts named in the tooltip of one step's marker on a source chart
LEFT, RIGHT, TOP, BOTTOM = 44, 14, 30, 46  # plot margins: y labels, legend row, two tick rows + title


@dataclass(frozen=True)
class Point:
    """One value at one time: a post's score (``post_id`` set) or a period's mean (``weight`` posts)."""

    at: datetime
    value: float
    post_id: int | None = None
    weight: int = 1

    def __post_init__(self) -> None:
        if self.at.tzinfo is not UTC:
            object.__setattr__(self, "at", _utc(self.at))  # naive times are read as UTC


@dataclass(frozen=True)
class Tick:
    """One x-axis tick: its time, its label and, where the year must be said, the year below it."""

    at: datetime
    label: str
    year: str | None = None

    @property
    def width(self) -> float:
        """The estimated width of the label in pixels (the wider of its two lines)."""
        return max(len(self.label), len(self.year or "")) * CHAR_PX


@dataclass(frozen=True)
class Bucket:
    """The values of one aggregation step: ``index`` counts steps, so gaps can be measured;
    ``at`` is the mean time of its values (where its mean is drawn, so a step of one post is
    drawn on that post)."""

    start: datetime
    end: datetime
    at: datetime
    index: int
    mean: float
    low: float
    high: float
    posts: int


def _utc(t: datetime | date | str) -> datetime:
    if isinstance(t, datetime) and t.tzinfo is UTC:
        return t
    if isinstance(t, str):
        t = datetime.fromisoformat(t)  # Python 3.11+ reads "Z"
    if not isinstance(t, datetime):
        return datetime(t.year, t.month, t.day, tzinfo=UTC)
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


# --- ticks -------------------------------------------------------------------------------------

_TICK_STEPS: tuple[tuple[str, int], ...] = (
    ("day", 1),
    ("day", 2),
    ("week", 1),
    ("week", 2),
    ("month", 1),
    ("month", 2),
    ("month", 3),
    ("month", 6),
    ("year", 1),
    ("year", 2),
    ("year", 5),
    ("year", 10),
    ("year", 25),
    ("year", 50),
    ("year", 100),
)


# The longest a unit can be: ticks at least span / (n * this) - 1, so a step skipped for having
# more ticks than could fit never would have fitted.
_UNIT_DAYS = {"day": 1.0, "week": 7.0, "month": 31.0, "year": 366.0}


def _tick_dates(start: datetime, end: datetime, unit: str, n: int) -> list[datetime]:
    """Midnights (UTC) in [start, end] on the grid of ``n`` ``unit``s (weeks start on Monday,
    months and years are counted from January of year 0, so January is always on the grid)."""
    out: list[datetime] = []
    d = start.date()
    last = end.date()
    if unit in ("day", "week"):
        if unit == "week":
            d += timedelta(days=-d.weekday() % 7)  # the first Monday on or after start
        stride = n * (7 if unit == "week" else 1)
        if unit == "week" and n > 1:
            while (d.toordinal() // 7) % n:
                d += timedelta(days=7)
        while d <= last:
            out.append(datetime(d.year, d.month, d.day, tzinfo=UTC))
            d += timedelta(days=stride)
        return [t for t in out if t >= start]
    months = n if unit == "month" else 12 * n
    m = d.year * 12 + d.month - 1
    if d.day != 1:
        m += 1
    m += -m % months
    while True:
        t = datetime(m // 12, m % 12 + 1, 1, tzinfo=UTC)
        if t.date() > last:
            return out
        out.append(t)
        m += months


def _labels(dates: Sequence[datetime], unit: str) -> list[Tick]:
    ticks, year = [], None
    for t in dates:
        if unit == "year":
            ticks.append(Tick(t, str(t.year)))
            continue
        label = t.strftime("%b") if unit == "month" else f"{t.day} {t:%b}"
        ticks.append(Tick(t, label, str(t.year) if t.year != year else None))
        year = t.year
    return ticks


def time_ticks(
    start: datetime, end: datetime, *, width: float, left: float = 0.0, overhang: float = 12.0
) -> list[Tick]:
    """The x-axis ticks of a time axis ``width`` pixels long starting at pixel ``left``.

    The finest step (days, weeks, months, years) whose labels keep at least ``TICK_GAP_PX``
    apart and ``MIN_TICK_SPACING_PX`` between ticks, leaving out ticks whose label would reach
    more than ``overhang`` pixels past either end of the axis; the first tick and every tick
    whose year differs from the tick before carry the year. Empty only when the span holds no
    midnight.
    """
    start, end = _utc(start), _utc(end)
    x = _scale(start, end, left, left + width)
    best: list[Tick] = []
    span_days = (end - start).total_seconds() / 86400
    for unit, n in _TICK_STEPS:
        if span_days / (n * _UNIT_DAYS[unit]) - 1 > width / MIN_TICK_SPACING_PX + 1:
            continue  # more ticks than could ever fit: not worth labelling
        dates = _tick_dates(start, end, unit, n)
        if not dates:
            continue
        half = _label_px(unit) / 2
        fits = [t for t in dates if x(t) - half >= left - overhang and x(t) + half <= left + width + overhang]
        ticks = _labels(fits, unit)
        if not ticks:
            continue
        if not best:
            best = ticks
        if _apart(ticks, x):
            return ticks
        best = ticks
    return best[:1]


def _label_px(unit: str) -> float:
    return {"day": 6, "week": 6, "month": 4, "year": 4}[unit] * CHAR_PX


def _apart(ticks: Sequence[Tick], x: Callable[[datetime], float]) -> bool:
    for a, b in zip(ticks, ticks[1:], strict=False):
        gap = x(b.at) - x(a.at)
        if gap < MIN_TICK_SPACING_PX or gap < (a.width + b.width) / 2 + TICK_GAP_PX:
            return False
    return True


def _scale(start: datetime, end: datetime, lo: float, hi: float) -> Callable[[datetime], float]:
    t0, span = start.timestamp(), max(end.timestamp() - start.timestamp(), 1.0)

    def x(t: datetime) -> float:
        return lo + (hi - lo) * (t.timestamp() - t0) / span

    return x


# --- aggregation -------------------------------------------------------------------------------


def choose_step(start: datetime, end: datetime) -> Step:
    """The aggregation step for a span: days up to ``DAY_SPAN`` days, weeks up to
    ``WEEK_SPAN`` days, months beyond."""
    days = (_utc(end) - _utc(start)).total_seconds() / 86400
    if days <= DAY_SPAN:
        return "day"
    return "week" if days <= WEEK_SPAN else "month"


def _step_of(t: datetime, step: Step) -> tuple[int, datetime, datetime]:
    d = t.date()
    if step == "day":
        s = datetime(d.year, d.month, d.day, tzinfo=UTC)
        return d.toordinal(), s, s + timedelta(days=1)
    if step == "week":
        monday = d - timedelta(days=d.weekday())
        s = datetime(monday.year, monday.month, monday.day, tzinfo=UTC)
        return (monday.toordinal() - 1) // 7, s, s + timedelta(days=7)
    m = d.year * 12 + d.month - 1
    s = datetime(d.year, d.month, 1, tzinfo=UTC)
    return m, s, datetime((m + 1) // 12, (m + 1) % 12 + 1, 1, tzinfo=UTC)


def aggregate(points: Iterable[Point], step: Step) -> list[Bucket]:
    """The weighted mean, min and max of the points of each step that has any, in order."""
    groups: dict[int, list[Point]] = {}
    for p in points:
        groups.setdefault(_step_key(p.at, step), []).append(p)
    out = []
    for i in sorted(groups):
        ps = groups[i]
        _, s, e = _step_of(ps[0].at, step)
        n = sum(p.weight for p in ps)
        mean = sum(p.value * p.weight for p in ps) / n if n else sum(p.value for p in ps) / len(ps)
        at = datetime.fromtimestamp(sum(p.at.timestamp() for p in ps) / len(ps), UTC)
        out.append(Bucket(s, e, at, i, mean, min(p.value for p in ps), max(p.value for p in ps), n))
    return out


def _step_key(t: datetime, step: Step) -> int:
    """The index of ``t``'s step (days, Monday weeks or months since year 1), as :func:`_step_of`."""
    if step == "month":
        return t.year * 12 + t.month - 1
    ordinal = t.toordinal()
    return ordinal if step == "day" else (ordinal - 1) // 7


def runs(buckets: Sequence[Bucket], max_gap: int = MAX_GAP_STEPS) -> list[list[Bucket]]:
    """Buckets split into runs: a new run starts where the step index jumps by more than ``max_gap``."""
    out: list[list[Bucket]] = []
    for b in buckets:
        if out and b.index - out[-1][-1].index <= max_gap:
            out[-1].append(b)
        else:
            out.append([b])
    return out


# --- data in -----------------------------------------------------------------------------------


def post_points(frame: pl.DataFrame, column: str) -> list[Point]:
    """One point per post of a score frame (``post_id``, ``created_at``, ``column``), oldest first;
    posts without a value in ``column`` are left out."""
    if frame.height == 0 or column not in frame.columns:
        return []
    rows = frame.select("post_id", "created_at", column).drop_nulls(column).sort("created_at", "post_id")
    return [Point(_utc(at), float(v), int(pid)) for pid, at, v in rows.iter_rows()]


def daily_points(frame: pl.DataFrame, column: str) -> list[Point]:
    """One point per day with posts: the day's mean of ``column``, weighted by its posts."""
    if frame.height == 0 or column not in frame.columns:
        return []
    days = (
        frame.drop_nulls(column)
        .group_by(pl.col("created_at").dt.truncate("1d").alias("day"))
        .agg(pl.col(column).cast(pl.Float64).mean().alias("v"), pl.len().alias("n"))
        .sort("day")
    )
    return [Point(_utc(d), float(v), weight=int(n)) for d, v, n in days.iter_rows()]


def period_points(
    periods: Sequence[datetime | date | str], values: Sequence[float | None], weights: Sequence[int] | None = None
) -> list[Point]:
    """Points from a period series (None: no value, left out), weighted by ``weights`` posts."""
    w = list(weights) if weights is not None else [1] * len(values)
    return [
        Point(_utc(p), float(v), weight=max(1, int(n)))
        for p, v, n in zip(periods, values, w, strict=True)
        if v is not None
    ]


# --- drawing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Frame:
    """Pixel geometry of one chart."""

    width: int
    height: int
    start: datetime
    end: datetime
    y_max: float

    @property
    def left(self) -> float:
        return LEFT

    @property
    def right(self) -> float:
        return self.width - RIGHT

    @property
    def top(self) -> float:
        return TOP

    @property
    def bottom(self) -> float:
        return self.height - BOTTOM

    @functools.cached_property
    def _t0(self) -> float:
        return self.start.timestamp()

    @functools.cached_property
    def _px_per_s(self) -> float:
        return (self.right - self.left) / max(self.end.timestamp() - self._t0, 1.0)

    def x(self, t: datetime) -> float:
        return round(self.left + (_utc(t).timestamp() - self._t0) * self._px_per_s, 1)

    def y(self, v: float) -> float:
        return round(self.bottom - (self.bottom - self.top) * max(0.0, min(1.0, v / self.y_max)), 1)

    def xy(self, points: Sequence[Point]) -> tuple[list[float], list[float]]:
        """The pixel x and y of many points at once (what :meth:`x` and :meth:`y` give one by one)."""
        ts = np.fromiter((p.at.timestamp() for p in points), np.float64, len(points))
        vs = np.fromiter((p.value for p in points), np.float64, len(points))
        xs = np.round(self.left + (ts - self._t0) * self._px_per_s, 1)
        ys = np.round(self.bottom - (self.bottom - self.top) * np.clip(vs / self.y_max, 0.0, 1.0), 1)
        return xs.tolist(), ys.tolist()


def _attr(v: object) -> str:
    return str(escape(str(v)))


def _span(points: Sequence[Point], start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    """The padded span of the x axis: ``start``/``end`` or the points' own first and last time."""
    lo = _utc(start) if start is not None else (min(p.at for p in points) if points else datetime.now(UTC))
    hi = _utc(end) if end is not None else (max(p.at for p in points) if points else lo)
    pad = max((hi - lo) * 0.02, timedelta(hours=12))
    return lo - pad, hi + pad


def _step_name(step: Step) -> str:
    return {"day": "daily", "week": "weekly", "month": "monthly"}[step]


def _axes(f: _Frame, y_title: str, x_title: str, y_ticks: Sequence[float], y_format: str = "g") -> list[str]:
    out = [f'<rect x="{f.left}" y="{f.top}" width="{f.right - f.left}" height="{f.bottom - f.top}" class="plot"/>']
    for v in y_ticks:
        y = f.y(v)
        out.append(
            f'<line x1="{f.left}" x2="{f.right}" y1="{y}" y2="{y}" class="grid"/>'
            f'<text x="{f.left - 4}" y="{y + 3}" class="tick y-tick" text-anchor="end">{format(v, y_format)}</text>'
        )
    for t in time_ticks(f.start, f.end, width=f.right - f.left, left=f.left):
        x = f.x(t.at)
        out.append(
            f'<line x1="{x}" x2="{x}" y1="{f.bottom}" y2="{f.bottom + 4}" class="axis"/>'
            f'<text x="{x}" y="{f.bottom + 15}" class="tick x-tick" text-anchor="middle">{_attr(t.label)}</text>'
        )
        if t.year:
            out.append(
                f'<text x="{x}" y="{f.bottom + 27}" class="tick x-tick year" text-anchor="middle">{t.year}</text>'
            )
    out.append(
        f'<line x1="{f.left}" x2="{f.right}" y1="{f.bottom}" y2="{f.bottom}" class="axis"/>'
        f'<line x1="{f.left}" x2="{f.left}" y1="{f.top}" y2="{f.bottom}" class="axis"/>'
        f'<text x="{(f.left + f.right) / 2}" y="{f.height - 4}" class="axis-title x-title" '
        f'text-anchor="middle">{_attr(x_title)}</text>'
        f'<text transform="translate(11 {(f.top + f.bottom) / 2}) rotate(-90)" class="axis-title y-title" '
        f'text-anchor="middle">{_attr(y_title)}</text>'
    )
    return out


_SWATCH = {
    "posts": '<circle cx="{x}" cy="10" r="2.5" class="post"/>',
    "mean": '<line x1="{x0}" x2="{x1}" y1="10" y2="10" class="series"/>',
    "range": '<rect x="{x0}" y="5" width="14" height="10" class="band"/>',
    "threshold": '<line x1="{x0}" x2="{x1}" y1="10" y2="10" class="threshold"/>',
    "baseline": '<line x1="{x0}" x2="{x1}" y1="10" y2="10" class="baseline"/>',
    "alert": '<path d="M{x0},5 h10 l-5,8 z" class="marker"/>',
    "evidence": '<circle cx="{x}" cy="10" r="3.5" class="evidence"/>',
    "bars": '<rect x="{x0}" y="5" width="10" height="10" class="bar"/>',
}


def _legend(items: Sequence[tuple[str, str]], width: int) -> str:
    """The chart's own key (kind, label) in one row above the plot, wrapping nothing: items that
    do not fit are left out, so a chart is never keyed for what it does not draw."""
    out, x = ['<g class="legend">'], float(LEFT)
    for kind, label in items:
        w = 18 + len(label) * CHAR_PX + 14
        if x + w > width:
            break
        swatch = _SWATCH[kind].format(x=x + 7, x0=x, x1=x + 14)
        out.append(
            f'<g class="key key-{kind}">{swatch}<text x="{x + 18}" y="14" class="tick">{_attr(label)}</text></g>'
        )
        x += w
    out.append("</g>")
    return "".join(out)


def _open(f: _Frame, title: str, css: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart time {css}" width="{f.width}" height="{f.height}" '
        f'viewBox="0 0 {f.width} {f.height}" role="img" aria-label="{_attr(title)}"><title>{_attr(title)}</title>'
    )


def _series(f: _Frame, buckets: Sequence[Bucket], *, band: bool) -> list[str]:
    """The mean line per run of buckets, its min–max band, and a dot for a run of one."""
    out = []
    for run in runs(buckets):
        xs = [f.x(b.at) for b in run]
        if band and len(run) > 1:
            upper = " ".join(f"{x},{f.y(b.high)}" for x, b in zip(xs, run, strict=True))
            lower = " ".join(f"{x},{f.y(b.low)}" for x, b in reversed(list(zip(xs, run, strict=True))))
            out.append(f'<polygon class="band" points="{upper} {lower}"/>')
        elif band and run[0].high > run[0].low:
            out.append(
                f'<line x1="{xs[0]}" x2="{xs[0]}" y1="{f.y(run[0].low)}" y2="{f.y(run[0].high)}" class="band-bar"/>'
            )
        if len(run) > 1:
            pts = " ".join(f"{x},{f.y(b.mean)}" for x, b in zip(xs, run, strict=True))
            out.append(f'<polyline class="series" points="{pts}"/>')
        else:
            out.append(f'<circle cx="{xs[0]}" cy="{f.y(run[0].mean)}" r="2.4" class="mean-dot"/>')
    return out


def _hline(f: _Frame, value: float, kind: str, label: str) -> str:
    y = f.y(value)
    line = f'<line x1="{f.left}" x2="{f.right}" y1="{y}" y2="{y}" class="{kind}"/>'
    return f'<g class="{kind}-line"><title>{_attr(label)}</title>{line}</g>'


def _id(p: Point) -> int | str:
    return "" if p.post_id is None else p.post_id


def _nothing(f: _Frame) -> str:
    x, y = (f.left + f.right) / 2, (f.top + f.bottom) / 2
    return f'<text x="{x}" y="{y}" text-anchor="middle" class="tick">no posts</text>'


def _fmt(v: float) -> str:
    return f"{v:.2f}"


def author_chart(
    points: Sequence[Point] | pl.DataFrame,
    *,
    signal: str = "depression_index",
    alerts: Sequence[Mapping[str, Any]] = (),
    threshold: float | None = None,
    threshold_label: str = "level threshold",
    baseline: float | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    title: str | None = None,
    width: int = 760,
    height: int = 260,
) -> Markup:
    """One author's signal over their own span: every post a point, the mean per day/week/month
    (with the min–max band for weeks and months), baseline and threshold lines, and alerts.

    Args:
        points: The author's posts (:func:`post_points`), or a score frame of them (then
            ``signal`` names the column to read).
        signal: The per-post score plotted (``distress`` or ``depression_index``; see
            :func:`monitor.trends.person_signal`); it names the y axis.
        alerts: Alert dicts (``id``, ``rule``, ``status``, ``trigger_at``, optionally
            ``trigger_post_id``, ``severity`` and ``evidence.post_ids`` or ``post_ids``): each is
            marked at the post it fired at, and the posts it is about are ringed.
        threshold: A score drawn as a dashed line (and named in the legend); None: none.
        threshold_label: The legend's name for it.
        baseline: The author's baseline mean, drawn as a dotted line; None: none.
        start: First time of the x axis (default: the first post).
        end: Last time of the x axis (default: the last post).
        title: Accessible title (default: ``<signal> per post``).
        width: Width in pixels.
        height: Height in pixels.
    """
    if isinstance(points, pl.DataFrame):
        points = post_points(points, signal)
    lo, hi = _span(points, start, end)
    shown = [p for p in points if lo <= p.at <= hi]
    f = _Frame(width, height, lo, hi, 1.0)
    name = signal.replace("_", " ")
    step: Step = "day" if len(shown) <= FEW_POSTS else choose_step(lo, hi)
    buckets = aggregate(shown, step)
    band = step != "day" and any(b.high > b.low for b in buckets)
    by_id: dict[int | None, Point] = {p.post_id: p for p in shown if p.post_id is not None}
    legend: list[tuple[str, str]] = [("posts", f"post ({len(shown)})"), ("mean", f"{_step_name(step)} mean")]
    if band:
        legend.append(("range", f"{_step_name(step)} min–max"))
    body = _axes(f, f"{name} (0–1)", "date (UTC)", (0.0, 0.25, 0.5, 0.75, 1.0))
    if band or buckets:
        body.extend(_series(f, buckets, band=band))
    body.append('<g class="posts">')
    body.extend(
        f'<circle cx="{x}" cy="{y}" r="1.8" class="post" data-post="{_id(p)}"/>'
        for p, x, y in zip(shown, *f.xy(shown), strict=True)
    )
    body.append("</g>")
    if baseline is not None:
        label = f"baseline {_fmt(baseline)}"
        body.append(_hline(f, baseline, "baseline", label))
        legend.append(("baseline", label))
    if threshold is not None:
        label = f"{threshold_label} {_fmt(threshold)}"
        body.append(_hline(f, threshold, "threshold", label))
        legend.append(("threshold", label))
    marks, ringed = _alert_marks(f, alerts, shown, by_id)
    if ringed:
        legend.append(("evidence", "alert's posts"))
    if marks:
        legend.append(("alert", "alert fired"))
    body.extend(ringed)
    body.extend(marks)
    if not shown:
        body.append(_nothing(f))
    return Markup(_open(f, title or f"{name} per post", "author") + _legend(legend, width) + "".join(body) + "</svg>")


def _alert_marks(
    f: _Frame, alerts: Sequence[Mapping[str, Any]], shown: Sequence[Point], by_id: Mapping[int | None, Point]
) -> tuple[list[str], list[str]]:
    """Each alert's marker (a triangle above the plot and a ring on the post it fired at) and
    rings on the posts it is about."""
    marks, rings, ringed = [], [], set()
    for a in alerts:
        at = _utc(a["trigger_at"])
        fired = by_id.get(a.get("trigger_post_id"))
        if fired is None and shown:
            fired = min(shown, key=lambda p: abs((p.at - at).total_seconds()))
            if abs((fired.at - at).total_seconds()) > 86400:
                fired = None
        if not (f.start <= at <= f.end):
            continue
        ids = a.get("post_ids") or (a.get("evidence") or {}).get("post_ids") or []
        for pid in ids:
            p = by_id.get(int(pid))
            if p is not None and p.post_id not in ringed:
                ringed.add(p.post_id)
                rings.append(
                    f'<circle cx="{f.x(p.at)}" cy="{f.y(p.value)}" r="3.6" class="evidence" data-post="{p.post_id}"/>'
                )
        tip = f"alert #{a['id']} {a['rule']} ({a.get('severity', '')} {a['status']}) at {at:%Y-%m-%d %H:%M} UTC"
        x = f.x(fired.at if fired is not None else at)
        ring = ""
        if fired is not None:
            tip += f"; {fired.value:.2f} on the post it fired at"
            ring = f'<circle cx="{x}" cy="{f.y(fired.value)}" r="5" class="fired" data-post="{_id(fired)}"/>'
        marks.append(
            f'<g class="alert" data-alert="{_attr(a["id"])}"><title>{_attr(tip)}</title>'
            f'<line x1="{x}" x2="{x}" y1="{f.top}" y2="{f.bottom}" class="alert-rule"/>'
            f'<path d="M{x - 5},{f.top - 9} h10 l-5,8 z" class="marker"/>{ring}</g>'
        )
    return marks, rings


def source_chart(
    points: Sequence[Point],
    *,
    title: str,
    y_title: str = "depression index (0–1)",
    threshold: float | None = None,
    threshold_label: str = "threshold",
    alerts: Sequence[Mapping[str, Any]] = (),
    range_label: str = "min–max",
    start: datetime | None = None,
    end: datetime | None = None,
    width: int = 320,
    height: int = 200,
) -> Markup:
    """A signal of a source (or of everyone) over time: the mean per day/week/month with the
    min–max band of its periods, breaking across gaps.

    Args:
        points: Period means (:func:`daily_points` or :func:`period_points`), each weighted by
            its posts.
        title: Accessible title.
        y_title: The y axis' title (values are on a fixed 0–1 scale).
        threshold: A value drawn as a dashed line and named in the legend; None: none.
        threshold_label: The legend's name for it.
        alerts: Alert dicts (``id``, ``rule``, ``trigger_at``): one marker above the plot
            per aggregation step with alerts, its tooltip naming them.
        range_label: The legend's name for the band (e.g. ``min–max of days`` for daily points).
        start: First time of the x axis (default: the first point).
        end: Last time of the x axis (default: the last point).
        width: Width in pixels.
        height: Height in pixels.
    """
    lo, hi = _span(points, start, end)
    f = _Frame(width, height, lo, hi, 1.0)
    step = choose_step(lo, hi)
    buckets = aggregate([p for p in points if lo <= p.at <= hi], step)
    band = step != "day" and any(b.high > b.low for b in buckets)
    legend: list[tuple[str, str]] = [("mean", f"{_step_name(step)} mean")]
    if band:
        legend.append(("range", range_label))
    body = _axes(f, y_title, "date (UTC)", (0.0, 0.25, 0.5, 0.75, 1.0))
    body.extend(_series(f, buckets, band=band))
    if threshold is not None:
        label = f"{threshold_label} {_fmt(threshold)}"
        body.append(_hline(f, threshold, "threshold", label))
        legend.append(("threshold", label))
    marks = _step_marks(f, alerts, step)
    if marks:
        legend.append(("alert", "alerts"))
    body.extend(marks)
    if not buckets:
        body.append(_nothing(f))
    return Markup(_open(f, title, "source") + _legend(legend, width) + "".join(body) + "</svg>")


def _step_marks(f: _Frame, alerts: Sequence[Mapping[str, Any]], step: Step) -> list[str]:
    """One marker per aggregation step with alerts (however many: a store may hold thousands),
    its tooltip naming the first few."""
    groups: dict[int, list[tuple[datetime, Mapping[str, Any]]]] = {}
    for a in alerts:
        at = _utc(a["trigger_at"])
        if f.start <= at <= f.end:
            groups.setdefault(_step_key(at, step), []).append((at, a))
    out = []
    for key in sorted(groups):
        group = sorted(groups[key], key=lambda g: g[0])
        x = f.x(group[0][0] + (group[-1][0] - group[0][0]) / 2)
        names = ", ".join(f"#{a['id']} {a['rule']}" for _, a in group[:MARK_NAMES])
        more = f" and {len(group) - MARK_NAMES} more" if len(group) > MARK_NAMES else ""
        tip = f"{len(group)} alert{'s' if len(group) != 1 else ''} {group[0][0]:%Y-%m-%d}: {names}{more}"
        out.append(
            f'<g class="alert" data-alerts="{len(group)}"><title>{_attr(tip)}</title>'
            f'<line x1="{x}" x2="{x}" y1="{f.top}" y2="{f.bottom}" class="alert-rule"/>'
            f'<path d="M{x - 5},{f.top - 9} h10 l-5,8 z" class="marker"/></g>'
        )
    return out


def volume_chart(
    counts: Sequence[tuple[datetime | date | str, int]],
    *,
    title: str,
    start: datetime | None = None,
    end: datetime | None = None,
    width: int = 760,
    height: int = 170,
) -> Markup:
    """Posts per day/week/month as bars, from ``(time, posts)`` pairs (posts, days or periods)."""
    points = [Point(_utc(t), 0.0, weight=int(n)) for t, n in counts if n]
    lo, hi = _span(points, start, end)
    step = choose_step(lo, hi)
    buckets = aggregate([p for p in points if lo <= p.at <= hi], step)
    top = _nice(max((b.posts for b in buckets), default=1))
    f = _Frame(width, height, lo, hi, top)
    body = _axes(f, "posts", "date (UTC)", [top * i / 4 for i in range(5)], "g")
    for b in buckets:
        x0, x1 = max(f.x(b.start), f.left), min(f.x(b.end), f.right)
        y = f.y(b.posts)
        body.append(
            f"<g><title>{b.start:%Y-%m-%d}: {b.posts}</title>"
            f'<rect x="{x0}" y="{y}" width="{max(1.0, round(x1 - x0 - 0.6, 1))}" height="{round(f.bottom - y, 1)}" '
            'class="bar"/></g>'
        )
    legend = [("bars", f"posts per {step} ({sum(b.posts for b in buckets)} in all)")]
    return Markup(_open(f, title, "volume") + _legend(legend, width) + "".join(body) + "</svg>")


def _nice(peak: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k at or above ``peak`` / 4, times 4 (whole quarter ticks)."""
    quarter = max(peak, 1) / 4
    mag = 10.0 ** math.floor(math.log10(quarter))
    for m in (1, 2, 2.5, 5, 10):
        if m * mag >= quarter and (m * mag).is_integer():
            return 4 * m * mag
    return 4 * 10 * mag


# The chart styles, for the pages that embed these SVGs (one stylesheet, no inline scripts).
STYLE = (
    "svg .plot{fill:#fafafa;stroke:none}svg .grid{stroke:#e8e8e8}svg .axis{stroke:#888}"
    "svg .tick{font-size:10px;fill:#555}svg .year{font-weight:600;fill:#333}"
    "svg .axis-title{font-size:10px;fill:#333;font-weight:600}"
    "svg .series{fill:none;stroke:#1f5fa8;stroke-width:1.6;stroke-linejoin:round}"
    "svg .mean-dot{fill:#1f5fa8}svg .band{fill:#9ec3ea;fill-opacity:.45;stroke:none}"
    "svg .band-bar{stroke:#9ec3ea;stroke-width:3}"
    "svg .post{fill:#555;fill-opacity:.45}svg .evidence{fill:none;stroke:#e08a00;stroke-width:1.4}"
    "svg .fired{fill:none;stroke:#c0392b;stroke-width:2}"
    "svg .alert-rule{stroke:#c0392b;stroke-opacity:.35;stroke-dasharray:2 3}"
    "svg .threshold{stroke:#c0392b;stroke-dasharray:6 3;stroke-width:1.3}"
    "svg .baseline{stroke:#555;stroke-dasharray:2 2;stroke-width:1.3}"
    "svg .marker{fill:#c0392b}svg .bar{fill:#73a9d6}"
)
