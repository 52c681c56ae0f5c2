"""An alert's evidence for a person: what fired and why in plain words, and the posts behind it.

:func:`explain` turns an alert's stored evidence into one sentence; :func:`evidence_posts`
reads the posts the rule looked at (date, index, top emotions, and text where it is still
kept). ``emomon alerts show`` and the channel payloads both use them, so a reviewer reads the
same evidence in the terminal, a webhook and an e-mail. Subjects are pseudonyms, never handles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.numbers import plural
from monitor.store.engine import in_chunks
from monitor.store.schema import SCORE_COLUMNS, Post, Score
from monitor.store.scores import unpack_probs
from monitor.trends import INDEX, signal_label

TOP_EMOTIONS = 3


def _n(x: Any, digits: int = 2) -> str:
    return "?" if x is None else f"{float(x):.{digits}f}"


#: The evidence keys each rule's sentence needs; evidence without them (an older or unknown
#: rule) is shown as its plain figures instead of a sentence with gaps.
SENTENCE_KEYS: dict[str, tuple[str, ...]] = {
    "rise": ("run_mean", "baseline_mean", "cusum", "h"),
    "level": ("window_mean", "posts", "window_days", "threshold"),
    "burst": ("high_posts", "post_threshold", "window_hours"),
    "source_shift": ("day_mean", "baseline_mean", "z"),
}


def _rule_of(alert: Mapping[str, Any]) -> str | None:
    """The alert's rule when its evidence has what that rule's sentence needs, else None."""
    ev = alert.get("evidence") or {}
    rule = alert["rule"]
    keys = SENTENCE_KEYS.get(rule)
    return rule if keys is not None and all(ev.get(k) is not None for k in keys) else None


def explain(alert: Mapping[str, Any]) -> str:
    """One plain sentence saying what the rule saw and which limit it crossed.

    Args:
        alert: An alert as from :func:`monitor.store.alerts.alert_dict`.
    """
    ev: Mapping[str, Any] = alert.get("evidence") or {}
    who, rule = alert["subject"], _rule_of(alert)
    what = signal_label(ev.get("signal") or INDEX)  # alerts stored before distress: the index
    posts = len(ev.get("post_ids") or [])
    if rule == "rise":
        return (
            f"The {what} of {who} averaged {_n(ev.get('run_mean'))} over its last "
            f"{plural(posts, 'post')}, against its own baseline of "
            f"{_n(ev.get('baseline_mean'))} (sd {_n(ev.get('baseline_std'))}) over "
            f"{plural(ev.get('baseline_posts'), 'earlier post')}; the accumulated rise "
            f"(CUSUM of z-scores) reached {_n(ev.get('cusum'), 1)}, above the limit "
            f"h = {ev.get('h')} (rule `rise`, allowance k = {ev.get('k')}, "
            f"z capped at {ev.get('z_cap')})."
        )
    if rule == "level":
        return (
            f"The {what} of {who} averaged {_n(ev.get('window_mean'))} over "
            f"{plural(ev.get('posts'), 'post')} in the {ev.get('window_days')} days before "
            f"{str(alert['trigger_at'])[:10]}, at or above the threshold "
            f"{ev.get('threshold')} (rule `level`, needs at least {ev.get('min_posts')} "
            "posts)."
        )
    if rule == "burst":
        return (
            f"{plural(ev.get('high_posts'), 'post')} of {who} had a {what} of "
            f"at least {ev.get('post_threshold')} within {ev.get('window_hours')} hours "
            f"(highest {_n(ev.get('max_index'))}); rule `burst` fires at "
            f"{ev.get('count')}."
        )
    if rule == "source_shift":
        return (
            f"The mean depression index of source {who} was {_n(ev.get('day_mean'))} over "
            f"{plural(ev.get('posts'), 'post')} on {str(alert['window_start'])[:10]}, "
            f"z = {_n(ev.get('z'), 1)} against its baseline of "
            f"{_n(ev.get('baseline_mean'))} (sd {_n(ev.get('baseline_std'))}) over "
            f"{plural(ev.get('baseline_days'), 'day')} (rule `source_shift`, threshold "
            f"z = {ev.get('z_threshold')})."
        )
    figures = ", ".join(f"{k} = {v}" for k, v in ev.items() if k != "post_ids")
    return f"Rule `{alert['rule']}` fired for {who}: {figures}."


def brief(alert: Mapping[str, Any]) -> str:
    """The evidence in a few words, for lists: ``0.75 over 4 posts vs baseline 0.26``."""
    ev: Mapping[str, Any] = alert.get("evidence") or {}
    rule = _rule_of(alert)
    if rule == "rise":
        return (
            f"{_n(ev.get('run_mean'))} over {plural(len(ev.get('post_ids') or []), 'post')} "
            f"vs baseline {_n(ev.get('baseline_mean'))}; CUSUM {_n(ev.get('cusum'), 1)} > "
            f"{ev.get('h')}"
        )
    if rule == "level":
        return (
            f"mean {_n(ev.get('window_mean'))} over {plural(ev.get('posts'), 'post')} in "
            f"{ev.get('window_days')} d ≥ {ev.get('threshold')}"
        )
    if rule == "burst":
        return f"{plural(ev.get('high_posts'), 'post')} ≥ {ev.get('post_threshold')} in {ev.get('window_hours')} h"
    if rule == "source_shift":
        return f"day mean {_n(ev.get('day_mean'))} vs {_n(ev.get('baseline_mean'))}, z {_n(ev.get('z'), 1)}"
    return ", ".join(f"{k}={v}" for k, v in ev.items() if k != "post_ids")


def top_emotions(probs: Sequence[float], k: int = TOP_EMOTIONS) -> list[dict[str, Any]]:
    """The ``k`` most probable GoEmotions labels (``neutral`` left out) of one post."""
    pairs = [
        (name.removeprefix("goemo_"), float(p))
        for name, p in zip(SCORE_COLUMNS, probs, strict=True)
        if name.startswith("goemo_") and name != "goemo_neutral"
    ]
    pairs.sort(key=lambda x: -x[1])
    return [{"emotion": e, "p": round(p, 3)} for e, p in pairs[:k]]


def evidence_posts(
    session: Session, alert: Mapping[str, Any], *, with_text: bool = True, max_chars: int | None = None
) -> list[dict[str, Any]]:
    """The posts behind an alert, oldest first.

    Args:
        session: An open session.
        alert: An alert as from :func:`monitor.store.alerts.alert_dict`.
        with_text: Include each post's text where retention has not removed it.
        max_chars: Cut texts to this many characters (None: whole text).

    Returns:
        Dicts with ``post_id``, ``created_at`` (ISO), ``index``, ``distress`` (None for models
        without the distress head), ``top_emotions``,
        ``trigger`` (the post the rule fired at) and, with text, ``text`` (None once purged).
    """
    ids = [int(i) for i in (alert.get("evidence") or {}).get("post_ids") or []]
    rows: list[tuple[Any, ...]] = []
    for chunk in in_chunks(sorted(set(ids))):
        stmt = (
            select(Post.id, Post.created_at, Post.text, Score.depression_index, Score.probs, Score.distress)
            .join(Score, Score.post_id == Post.id)
            .where(Post.id.in_(chunk), Score.status == "scored")
        )
        if alert.get("model_version"):
            stmt = stmt.where(Score.model_version == alert["model_version"])
        rows += [tuple(r) for r in session.execute(stmt)]
    rows.sort(key=lambda r: (r[1], r[0]))
    probs = unpack_probs([r[4] for r in rows])
    out = []
    for row, p in zip(rows, probs, strict=True):
        doc: dict[str, Any] = {
            "post_id": int(row[0]),
            "created_at": row[1].isoformat().replace("+00:00", "Z"),
            "index": None if row[3] is None else round(float(row[3]), 3),
            "distress": None if row[5] is None else round(float(row[5]), 3),
            "top_emotions": top_emotions(p.tolist()),
            "trigger": int(row[0]) == alert.get("trigger_post_id"),
        }
        if with_text:
            text = row[2]
            if text is not None and max_chars is not None and len(text) > max_chars:
                text = text[: max_chars - 1] + "…"
            doc["text"] = text
        out.append(doc)
    return out
