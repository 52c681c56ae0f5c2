"""Alert-quality benchmark: emomon's alert rules beside the naive "any post over a threshold".

Synthetic author streams are built from labelled CARER sentences (the test split for the
report; read by path from the datasets folder, never copied): every author posts at their own
rate (log-normal around ``--posts-per-day``, Poisson arrival times) for ``--days`` days. Steady authors post
sadness/fear sentences (CARER labels 0 and 4) at ``--base-rate`` and joy/love/anger/surprise
sentences otherwise; shifted authors do the same until a known post, from which on
sadness/fear make up ``--shift-rate`` of their posts. Every distinct sentence is scored once
with the shipped model (``monitor.model.predictor.load_model``), then the configured author rules
(level, rise, burst; ``config.toml``) and the naive rule run over the same score frame.

The naive rule trades delay for false alerts through its threshold, so it is shown at several
thresholds, and compared at two thresholds tuned like our rules, on streams built from the
CARER *validation* sentences: the one with the fewest false alerts among those reaching the
detection and delay targets, and the one with the best detection within the false-alert
budget. At the level rule's threshold the naive rule fires on the very first sad post (delay 0)
and on every sad post of a steady author.

As a bound, an LLR CUSUM that knows how the streams were made (the base and shifted shares,
and the index distribution of sad/fearful and other validation sentences) is shown at the h
tuned on validation streams to the false-alert budget, and half a unit either side. For a known
change it is the optimal detector, so no rule reaches a lower delay at its false-alert rate.

Printed per detector (the eRisk-style latency is counted in posts):

- detection rate: shifted authors with an alert at or after their first shifted post;
- median delay: posts from the first shifted post to the alert (0 = that very post);
- false alerts per 1,000 author-days: alerts on steady authors, and on shifted authors
  before their change, over the days those streams cover.

Usage: python bench/alerts_synthetic.py [--model models/emomon-mtl-v3] [--authors 2400] [--days 90]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.alerts import rules as alerts  # noqa: E402
from monitor.settings import AlertRules, SourceShiftRule, load_settings  # noqa: E402

NEGATIVE = (0, 4)  # sadness, fear
OTHER = (1, 2, 3, 5)  # joy, love, anger, surprise
START = datetime(2025, 1, 1, tzinfo=UTC)
TARGET_DETECTION, TARGET_DELAY, TARGET_FALSE = 0.90, 5.0, 1.0


@dataclass
class Author:
    """One synthetic author: posts (text ids, times) and, if shifted, the first shifted post."""

    name: str
    texts: list[int]
    times: list[datetime]
    change: int | None  # 1-based index of the first shifted post


def load_carer(datasets: Path, split: str = "test") -> tuple[list[str], np.ndarray]:
    """CARER texts and labels of one split (rules are tuned on validation, reported on test)."""
    path = datasets / "carer_emotion" / f"{split}.jsonl"
    if not path.exists():
        raise SystemExit(f"{path} not found: pass --datasets DIR (the shared datasets folder)")
    texts, labels = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        texts.append(row["text"])
        labels.append(int(row["label"]))
    return texts, np.asarray(labels)


def build_authors(labels: np.ndarray, args: argparse.Namespace) -> list[Author]:
    """Steady and shifted authors with realistic, uneven posting rates."""
    rng = random.Random(args.seed)
    neg = [i for i, y in enumerate(labels) if y in NEGATIVE]
    other = [i for i, y in enumerate(labels) if y in OTHER]
    out = []
    for a in range(args.authors):
        shifted = a < int(args.authors * args.shifted_share)
        rate = args.posts_per_day * math.exp(rng.gauss(0.0, 0.6))  # posts/day, log-normal
        times, t = [], START
        while True:
            t += timedelta(days=rng.expovariate(rate))
            if t >= START + timedelta(days=args.days):
                break
            times.append(t)
        if len(times) < 2:
            continue
        change = None
        if shifted:
            lo = max(2, min(args.min_before, len(times) - 1))
            change = rng.randint(lo, max(lo, int(len(times) * 0.7)))
        texts = []
        for i in range(1, len(times) + 1):
            p = args.shift_rate if change is not None and i >= change else args.base_rate
            texts.append(rng.choice(neg) if rng.random() < p else rng.choice(other))
        out.append(Author(f"a-{'shift' if shifted else 'stead'}{a:05d}", texts, times, change))
    return out


def score_texts(model_dir: Path, texts: list[str]) -> dict[str, np.ndarray]:
    """Score every text once through the one inference path with the default [scoring] settings."""
    from monitor.model.configured import load_predictor
    from monitor.settings import load_settings

    settings = load_settings(None, {})
    predictor = load_predictor(settings, model=model_dir)
    out = predictor.score_ids(predictor.encode(texts))
    chunks = {"goemotions": [out.goemotions], "carer": [out.carer], "big5": [out.big5], "index": [out.index]}
    scores = {k: np.concatenate(v) for k, v in chunks.items()}
    scores["labels_goemotions"] = np.asarray(predictor.goemotions_labels)
    scores["labels_carer"] = np.asarray(predictor.carer_labels)
    scores["version"] = np.asarray([predictor.version])
    return scores


def score_frame(authors: list[Author], scores: dict[str, np.ndarray]) -> pl.DataFrame:
    """The read_scores-shaped frame for all synthetic posts."""
    ids, names, times, text_ids = [], [], [], []
    pid = 1
    for a in authors:
        for t, x in zip(a.times, a.texts, strict=True):
            ids.append(pid)
            names.append(a.name)
            times.append(t)
            text_ids.append(x)
            pid += 1
    idx = np.asarray(text_ids)
    cols: dict[str, object] = {
        "post_id": pl.Series(ids, dtype=pl.Int64),
        "source": ["synthetic"] * len(ids),
        "author": names,
        "created_at": pl.Series(times, dtype=pl.Datetime("us", "UTC")),
        "model_version": [str(scores["version"][0])] * len(ids),
        "depression_index": pl.Series(scores["index"][idx], dtype=pl.Float32),
    }
    for j, label in enumerate(scores["labels_goemotions"]):
        cols[f"goemo_{label}"] = pl.Series(scores["goemotions"][idx, j], dtype=pl.Float32)
    for j, label in enumerate(scores["labels_carer"]):
        cols[f"carer_{label}"] = pl.Series(scores["carer"][idx, j], dtype=pl.Float32)
    for j, trait in enumerate(("ext", "neu", "agr", "con", "opn")):
        cols[f"big5_{trait}"] = pl.Series(scores["big5"][idx, j], dtype=pl.Float32)
    return pl.DataFrame(cols)


def naive_alerts(frame: pl.DataFrame, threshold: float) -> dict[str, list[int]]:
    """Naive rule: every post with index >= threshold is an alert (1-based post positions)."""
    f = frame.sort("author", "created_at", "post_id").with_columns(
        pl.int_range(1, pl.len() + 1).over("author").alias("seq")
    )
    hits = f.filter(pl.col("depression_index") >= threshold)
    out: dict[str, list[int]] = {}
    for name, seq in hits.select("author", "seq").iter_rows():
        out.setdefault(name, []).append(int(seq))
    return out


def rule_alerts(frame: pl.DataFrame, rules: AlertRules, prior: float, min_std: float) -> dict[str, list[int]]:
    """Trigger positions of the configured rules (one entry per alert after cooldowns)."""
    out: dict[str, list[int]] = {}
    for c in alerts.evaluate(frame, rules, prior_posts=prior, min_std=min_std):
        out.setdefault(c.subject, []).append(int(c.trigger_index or 0))
    return out


def measure(authors: list[Author], fired: dict[str, list[int]]) -> dict[str, float]:
    """Detection rate, median delay (posts) and false alerts per 1,000 author-days."""
    detected, delays, false, days = 0, [], 0, 0.0
    shifted = [a for a in authors if a.change is not None]
    for a in authors:
        hits = sorted(fired.get(a.name, []))
        if a.change is None:
            false += len(hits)
            days += (a.times[-1] - START).total_seconds() / 86400
            continue
        before = [h for h in hits if h < a.change]
        false += len(before)
        days += (a.times[a.change - 1] - START).total_seconds() / 86400
        after = [h for h in hits if h >= a.change]
        if after:
            detected += 1
            delays.append(after[0] - a.change)
    return {
        "detection": detected / len(shifted) if shifted else float("nan"),
        "median_delay": statistics.median(delays) if delays else float("nan"),
        "mean_delay": statistics.fmean(delays) if delays else float("nan"),
        "false_per_1000_days": 1000 * false / days if days else float("nan"),
    }


def build_and_score(
    args: argparse.Namespace, split: str
) -> tuple[list[Author], pl.DataFrame, str, dict[str, np.ndarray]]:
    """Streams from one CARER split, scored with the model: (authors, score frame, summary,
    the per-sentence scores with each sentence's ``negative`` label)."""
    texts, labels = load_carer(args.datasets, split)
    authors = build_authors(labels, args)
    used = sorted({x for a in authors for x in a.texts})
    t0 = time.perf_counter()
    scored = score_texts(args.model, [texts[i] for i in used])
    scored["negative"] = np.isin(labels[used], NEGATIVE)
    remap = np.full(len(texts), -1)
    remap[used] = np.arange(len(used))
    for a in authors:
        a.texts = [int(remap[x]) for x in a.texts]
    frame = score_frame(authors, scored)
    shifted = sum(a.change is not None for a in authors)
    summary = (
        f"{split}: model {scored['version'][0]}; {len(used)} distinct CARER {split} "
        f"sentences scored in {time.perf_counter() - t0:.1f}s; {len(authors)} authors "
        f"({shifted} shifted), {frame.height} posts over {args.days} days"
    )
    return authors, frame, summary, scored


def _logit_bins(scores: dict[str, np.ndarray], edges: np.ndarray) -> np.ndarray:
    """The histogram bin of each scored sentence's index on the logit scale."""
    p = np.clip(scores["index"].astype(np.float64), 1e-6, 1 - 1e-6)
    return np.clip(np.searchsorted(edges, np.log(p / (1 - p)), side="right") - 1, 0, len(edges) - 2)


def fit_llr(
    scores: dict[str, np.ndarray], base_rate: float, shift_rate: float, bins: int = 40
) -> tuple[np.ndarray, np.ndarray]:
    """The oracle's per-post evidence: log-likelihood ratio of "shifted" against "steady" for a
    post's index, ``log((s f_neg + (1-s) f_other) / (b f_neg + (1-b) f_other))``, from
    histograms of the index of labelled sentences (logit scale, quantile bins, add-one
    smoothing). Returns (bin edges, LLR per bin)."""
    p = np.clip(scores["index"].astype(np.float64), 1e-6, 1 - 1e-6)
    edges = np.quantile(np.log(p / (1 - p)), np.linspace(0.0, 1.0, bins + 1))
    edges[0], edges[-1] = -np.inf, np.inf
    which = _logit_bins(scores, edges)
    neg = scores["negative"]
    f_neg = (np.bincount(which[neg], minlength=bins) + 1) / (neg.sum() + bins)
    f_other = (np.bincount(which[~neg], minlength=bins) + 1) / ((~neg).sum() + bins)
    llr = np.log((shift_rate * f_neg + (1 - shift_rate) * f_other) / (base_rate * f_neg + (1 - base_rate) * f_other))
    return edges, llr


def oracle_evidence(scores: dict[str, np.ndarray], model: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """The LLR of every scored sentence under the oracle's model (:func:`fit_llr`)."""
    edges, llr = model
    return llr[_logit_bins(scores, edges)]


def oracle_alerts(
    authors: list[Author], evidence: np.ndarray, h: float, cooldown: timedelta = timedelta(hours=168)
) -> dict[str, list[int]]:
    """An LLR CUSUM (Page 1954) that knows how the streams were made: the base and shifted
    shares of sad/fearful posts and the index distribution of each kind (:func:`fit_llr`).
    For a known change this is the optimal detector (Lorden 1971, Moustakides 1986): no rule
    on the same posts detects faster at the same false-alarm rate. Restarts after each alarm;
    the same cooldown as the rules."""
    fired: dict[str, list[int]] = {}
    for a in authors:
        s, last = 0.0, None
        for pos, (x, t) in enumerate(zip(a.texts, a.times, strict=True), 1):
            s = max(0.0, s + evidence[x])
            if s > h and (last is None or t >= last + cooldown):
                fired.setdefault(a.name, []).append(pos)
                last, s = t, 0.0
    return fired


def tune_oracle(authors: list[Author], evidence: np.ndarray) -> float:
    """The oracle's h on (validation) streams: the lowest median delay (then mean delay) within
    the false-alert budget."""
    best: tuple[tuple[float, float], float] | None = None
    for h in np.arange(3.0, 9.01, 0.1):
        m = measure(authors, oracle_alerts(authors, evidence, float(h)))
        if m["false_per_1000_days"] <= TARGET_FALSE:
            key = (m["median_delay"], m["mean_delay"])
            if best is None or key < best[0]:
                best = (key, float(h))
    return best[1] if best is not None else 9.0


def tune_naive(
    authors: list[Author],
    frame: pl.DataFrame,
    *,
    max_delay: float | None = None,
    min_detection: float = 0.0,
    max_false: float | None = None,
) -> float:
    """A naive threshold chosen on (validation) streams.

    With ``max_delay``: the fewest false alerts among thresholds reaching ``min_detection`` and
    that median delay. With ``max_false``: the best detection (then lowest delay) among
    thresholds within that false-alert rate. Falls back to the best-detecting threshold.
    """
    values = np.unique(np.round(frame["depression_index"].to_numpy(), 4))
    grid = np.unique(np.quantile(values, np.linspace(0.0, 1.0, 201)))
    best: tuple[tuple[float, ...], float] | None = None
    fallback: tuple[tuple[float, ...], float] | None = None
    for t in grid:
        m = measure(authors, naive_alerts(frame, float(t)))
        delay = m["median_delay"] if not math.isnan(m["median_delay"]) else float("inf")
        if max_delay is not None:
            ok = m["detection"] >= min_detection and delay <= max_delay
            key: tuple[float, ...] = (-m["false_per_1000_days"], -float(t))
        else:
            ok = max_false is not None and m["false_per_1000_days"] <= max_false
            key = (m["detection"], -delay, -float(t))
        if ok and (best is None or key > best[0]):
            best = (key, float(t))
        back = (m["detection"], -m["false_per_1000_days"], float(t))
        if fallback is None or back > fallback[0]:
            fallback = (back, float(t))
    assert fallback is not None
    return best[1] if best is not None else fallback[1]


def main() -> None:
    """Build streams, score them, run the detectors and print the comparison."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, default=ROOT / "models" / "emomon-mtl-v3")
    p.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    p.add_argument("--config", type=Path, default=ROOT / "config.toml")
    p.add_argument("--authors", type=int, default=2400)
    p.add_argument("--shifted-share", type=float, default=0.25)
    p.add_argument("--days", type=int, default=90)
    p.add_argument("--posts-per-day", type=float, default=1.5)
    p.add_argument("--base-rate", type=float, default=0.10, help="share of sadness/fear posts of steady authors")
    p.add_argument("--shift-rate", type=float, default=0.70, help="share of sadness/fear posts after the change")
    p.add_argument(
        "--min-before", type=int, default=20, help="posts before the change, at least (when the stream is long enough)"
    )
    p.add_argument("--seed", type=int, default=13)
    p.add_argument(
        "--split",
        choices=["validation", "test"],
        default="test",
        help="CARER split the reported streams come from: tune rules on validation, report on test",
    )
    args = p.parse_args()

    settings = load_settings(args.config, {})
    rules = settings.alerts.rules.model_copy(update={"source_shift": SourceShiftRule(enabled=False)})
    val_authors, val_frame, val_summary, val_scores = build_and_score(args, "validation")
    if args.split == "validation":
        authors, frame, summary, scores = val_authors, val_frame, val_summary, val_scores
    else:
        authors, frame, summary, scores = build_and_score(args, args.split)
    print(summary)
    print(f"base rate {args.base_rate:.0%} sadness/fear, after the change {args.shift_rate:.0%}")
    naive_tuned = tune_naive(val_authors, val_frame, max_delay=TARGET_DELAY, min_detection=TARGET_DETECTION)
    naive_budget = tune_naive(val_authors, val_frame, max_false=TARGET_FALSE)
    print(
        f"naive thresholds tuned on validation streams: {naive_tuned:.4f} (fewest false alerts "
        f"with detection >= {TARGET_DETECTION:.0%} and median delay <= {TARGET_DELAY:g} posts), "
        f"{naive_budget:.4f} (best detection within {TARGET_FALSE:g} false alert per 1,000 "
        "author-days)"
    )
    tr = settings.trends
    off = AlertRules(
        level=rules.level.model_copy(update={"enabled": False}),
        rise=rules.rise.model_copy(update={"enabled": False}),
        burst=rules.burst.model_copy(update={"enabled": False}),
        source_shift=SourceShiftRule(enabled=False),
    )
    ours_name = "emomon rules (level+rise+burst)"
    naive_name = f"naive, tuned: any post >= {naive_tuned:.4f}"
    detectors = {
        ours_name: rule_alerts(frame, rules, tr.baseline_prior_posts, tr.min_std),
        "  level only": rule_alerts(
            frame, off.model_copy(update={"level": rules.level}), tr.baseline_prior_posts, tr.min_std
        ),
        "  rise only": rule_alerts(
            frame, off.model_copy(update={"rise": rules.rise}), tr.baseline_prior_posts, tr.min_std
        ),
        "  burst only": rule_alerts(
            frame, off.model_copy(update={"burst": rules.burst}), tr.baseline_prior_posts, tr.min_std
        ),
        naive_name: naive_alerts(frame, naive_tuned),
        f"naive, false budget: >= {naive_budget:.4f}": naive_alerts(frame, naive_budget),
    }
    for t in (0.5, rules.level.threshold, 0.99, 0.995):
        detectors[f"naive: any post >= {t:g}"] = naive_alerts(frame, t)
    # The oracle's evidence model comes from validation sentences, its h from validation streams.
    oracle = fit_llr(val_scores, args.base_rate, args.shift_rate)
    oracle_h = tune_oracle(val_authors, oracle_evidence(val_scores, oracle))
    evidence = oracle_evidence(scores, oracle)
    print(
        f"oracle LLR CUSUM (knows the stream model; a bound, not a rule): h = {oracle_h:.1f}, "
        f"the lowest delay within {TARGET_FALSE:g} false alert per 1,000 author-days on validation"
    )
    for h in (oracle_h - 0.5, oracle_h, oracle_h + 0.5):
        detectors[f"oracle CUSUM, h = {h:.1f}"] = oracle_alerts(authors, evidence, h)
    print(f"\n{'detector':40} {'detection':>9} {'median delay':>13} {'mean delay':>11} {'false/1k author-days':>21}")
    results = {}
    for name, fired in detectors.items():
        m = measure(authors, fired)
        results[name] = m
        print(
            f"{name:40} {m['detection']:>9.1%} {m['median_delay']:>7.1f} posts "
            f"{m['mean_delay']:>11.2f} {m['false_per_1000_days']:>21.2f}"
        )
    ours = results[ours_name]
    print(
        f"\ntargets: detection >= {TARGET_DETECTION:.0%}, median delay <= {TARGET_DELAY:g} "
        f"posts, <= {TARGET_FALSE:g} false alert per 1,000 author-days, better than the naive "
        "rule on all three"
    )
    checks = {
        f"detection >= {TARGET_DETECTION:.0%}": ours["detection"] >= TARGET_DETECTION,
        f"median delay <= {TARGET_DELAY:g}": ours["median_delay"] <= TARGET_DELAY,
        f"false <= {TARGET_FALSE:g}/1k days": ours["false_per_1000_days"] <= TARGET_FALSE,
    }
    print("  ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in checks.items()))
    for label, name in (
        ("naive tuned to the delay target", naive_name),
        ("naive tuned to the false-alert budget", f"naive, false budget: >= {naive_budget:.4f}"),
    ):
        print(
            f"against the {label}: "
            + "  ".join(f"{axis} {verdict}" for axis, verdict in compare(ours, results[name]).items())
        )


def compare(ours: dict[str, float], naive: dict[str, float]) -> dict[str, str]:
    """Per axis, whether emomon is "better", "tied" or "WORSE" than a naive detector (a naive
    rule that never fires has no delay, which any measured delay beats)."""

    def verdict(a: float, b: float, higher_is_better: bool) -> str:
        if math.isnan(b):
            return "better"
        if a == b:
            return "tied"
        return "better" if (a > b) == higher_is_better else "WORSE"

    return {
        "detection": verdict(ours["detection"], naive["detection"], True),
        "median delay": verdict(ours["median_delay"], naive["median_delay"], False),
        "false alerts": verdict(ours["false_per_1000_days"], naive["false_per_1000_days"], False),
    }


if __name__ == "__main__":
    main()
