"""Early-risk evaluation of person alerts, as eRisk judges early detection systems.

Each author is a subject with a ground truth: negative, or positive from a known post on (the
*onset*: the first post in which the author expresses their own distress). The alerts raised on
an author are their 1-based post positions. The decision on a positive author is the first alert
at or after the onset; an alert before the onset (or any alert on a negative author) is a false
alert. ``k``, the number of posts a decision took, counts the posts from the onset to the alert,
both included (``k = 1``: the onset post itself; eRisk counts from an author's first writing,
which here is our own construction's prefix of ordinary posts).

- detection: share of positive authors decided (an alert at or after the onset);
- median delay: median of ``k - 1`` over the decided positives, in posts;
- false alerts per 1,000 author-days: false alerts over the days in which they could happen
  (a negative author's whole stream, a positive author's stream before the onset);
- precision: decided positives over all authors with any alert;
- ERDE_o (Losada & Crestani 2016): per author ``c_fp`` for an alerted negative, ``c_fn`` for a
  missed positive, ``lc_o(k) * c_tp`` for a decided positive with ``lc_o(k) = 1 - 1 / (1 +
  exp(k - o))``, 0 for a quiet negative; the mean over authors. As in eRisk, ``c_fn = c_tp = 1``
  and ``c_fp`` is the share of positive authors in the collection. Lower is better.
- F_latency (Sadeque et al. 2018): ``F1 * (1 - median_{decided} penalty(k))`` with ``penalty(k)
  = -1 + 2 / (1 + exp(-p (k - 1)))``; ``p`` is chosen, as they do, so that the penalty is 0.5 at
  the median number of posts per author (eRisk's 0.0078 fits its ~140-post median). Higher is
  better.

The functions are pure, so reviewers' verdicts in a store can be scored the same way once their
authors' ground truth is known.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Subject:
    """One author's ground truth.

    Attributes:
        name: The author (pseudonym).
        posts: Posts in the author's stream.
        onset: 1-based position of the first post of the distress episode; None for a negative
            author.
        days: Author-days in which an alert would be false: the whole stream of a negative
            author, the time before the onset of a positive one.
    """

    name: str
    posts: int
    onset: int | None
    days: float

    def __post_init__(self) -> None:
        if self.onset is not None and not 1 <= self.onset <= self.posts:
            raise ValueError(f"onset {self.onset} of {self.name!r} is outside its {self.posts} posts")
        if self.days < 0:
            raise ValueError(f"days {self.days} of {self.name!r} must not be negative")


def latency_cost(k: int, o: int) -> float:
    """ERDE's latency cost factor ``lc_o(k) = 1 - 1 / (1 + exp(k - o))`` (0.5 at ``k = o``)."""
    if k < 1:
        raise ValueError(f"k must be at least 1 post, got {k}")
    x = k - o
    return 1.0 / (1.0 + math.exp(-x)) if x > -700 else 0.0


def erde_cost(decided: bool, positive: bool, k: int | None, o: int, c_fp: float) -> float:
    """ERDE_o of one subject: its decision (alerted or not), truth and posts to decide (``k``)."""
    if decided and not positive:
        return c_fp
    if not decided and positive:
        return 1.0
    if decided and positive:
        if k is None:
            raise ValueError("a decided positive needs k, the posts its decision took")
        return latency_cost(k, o)
    return 0.0


def latency_penalty(k: int, p: float) -> float:
    """Sadeque et al.'s penalty ``-1 + 2 / (1 + exp(-p (k - 1)))``: 0 at ``k = 1``, toward 1 later."""
    if k < 1:
        raise ValueError(f"k must be at least 1 post, got {k}")
    return -1.0 + 2.0 / (1.0 + math.exp(-p * (k - 1)))


def penalty_rate(median_posts: float) -> float:
    """The ``p`` whose latency penalty is 0.5 at ``median_posts`` (Sadeque et al.'s choice)."""
    if median_posts <= 1:
        raise ValueError(f"the median number of posts must exceed 1, got {median_posts}")
    return math.log(3.0) / (median_posts - 1)


def decisions(subjects: Sequence[Subject], fired: Mapping[str, Sequence[int]]) -> dict[str, int | None]:
    """Each positive author's ``k`` (posts from the onset to the first alert at or after it,
    both included), or None when no alert came at or after the onset."""
    out: dict[str, int | None] = {}
    for s in subjects:
        if s.onset is None:
            continue
        after = [h for h in fired.get(s.name, ()) if h >= s.onset]
        out[s.name] = min(after) - s.onset + 1 if after else None
    return out


def false_alerts(subjects: Sequence[Subject], fired: Mapping[str, Sequence[int]]) -> int:
    """Alerts on negative authors plus alerts on positive authors before their onset."""
    n = 0
    for s in subjects:
        hits = fired.get(s.name, ())
        n += len(hits) if s.onset is None else sum(1 for h in hits if h < s.onset)
    return n


def false_alerts_per_1000_days(subjects: Sequence[Subject], fired: Mapping[str, Sequence[int]]) -> float:
    """:func:`false_alerts` per 1,000 of the author-days in which they could happen."""
    days = sum(s.days for s in subjects)
    return 1000.0 * false_alerts(subjects, fired) / days if days > 0 else math.nan


def median_delay(subjects: Sequence[Subject], fired: Mapping[str, Sequence[int]]) -> float:
    """Median posts from the onset to the decision (0: the onset post) over decided positives."""
    ks = [k for k in decisions(subjects, fired).values() if k is not None]
    return float(statistics.median(k - 1 for k in ks)) if ks else math.nan


def erde(subjects: Sequence[Subject], fired: Mapping[str, Sequence[int]], o: int) -> float:
    """ERDE_o over the collection (mean per author; ``c_fp`` = share of positive authors).

    A negative author counts as decided when any alert was raised on them; a positive author
    only by an alert at or after the onset.
    """
    if not subjects:
        return math.nan
    c_fp = sum(s.onset is not None for s in subjects) / len(subjects)
    ks = decisions(subjects, fired)
    total = 0.0
    for s in subjects:
        if s.onset is None:
            total += erde_cost(bool(fired.get(s.name)), False, None, o, c_fp)
        else:
            k = ks[s.name]
            total += erde_cost(k is not None, True, k, o, c_fp)
    return total / len(subjects)


def confusion(subjects: Sequence[Subject], fired: Mapping[str, Sequence[int]]) -> tuple[int, int, int]:
    """(true positives, false positives, false negatives) over authors: a decided positive is a
    true positive; an alerted author that is not one (a negative, or a positive alerted only
    before the onset) a false positive; an undecided positive a false negative."""
    ks = decisions(subjects, fired)
    tp = sum(1 for k in ks.values() if k is not None)
    fn = len(ks) - tp
    alerted = sum(1 for s in subjects if fired.get(s.name))
    return tp, alerted - tp, fn


def f_latency(subjects: Sequence[Subject], fired: Mapping[str, Sequence[int]], p: float | None = None) -> float:
    """Latency-weighted F1 (Sadeque et al. 2018); ``p`` defaults to :func:`penalty_rate` of the
    median number of posts per author."""
    tp, fp, fn = confusion(subjects, fired)
    if tp == 0:
        return 0.0
    f1 = 2 * tp / (2 * tp + fp + fn)
    if p is None:
        p = penalty_rate(statistics.median(s.posts for s in subjects))
    ks = [k for k in decisions(subjects, fired).values() if k is not None]
    return f1 * (1.0 - statistics.median(latency_penalty(k, p) for k in ks))


#: The figures :func:`summarize` reports, in the order tables print them.
FIGURES = (
    "detection",
    "median_delay_posts",
    "false_alerts_per_1000_author_days",
    "precision",
    "erde5",
    "erde50",
    "f_latency",
)


def summarize(subjects: Sequence[Subject], fired: Mapping[str, Sequence[int]]) -> dict[str, float]:
    """Every figure above for one rule set's alerts (1-based post positions per author)."""
    positives = [s for s in subjects if s.onset is not None]
    tp, fp, _ = confusion(subjects, fired)
    return {
        "detection": tp / len(positives) if positives else math.nan,
        "median_delay_posts": median_delay(subjects, fired),
        "false_alerts_per_1000_author_days": false_alerts_per_1000_days(subjects, fired),
        "precision": tp / (tp + fp) if tp + fp else math.nan,
        "erde5": erde(subjects, fired, 5),
        "erde50": erde(subjects, fired, 50),
        "f_latency": f_latency(subjects, fired),
    }
