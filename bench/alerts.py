"""Person alerts judged like eRisk, on author streams built from real posts.

Every author is a stream of real posts, spread over days at the author's own rate (log-normal
around 1.5 posts a day, exponential gaps; an archive of 2016). The posts come from the shared
datasets (read by path, never copied), one split at a time: the ``validation`` streams from
Dreaddit's validation posts (carved from its train file by ``post_id`` with
:func:`monitor.training.data.dreaddit_validation_posts`, as training does), the affective
headlines' validation part and GoEmotions' dev file; the ``test`` streams from the test parts only.

- ordinary posts: GoEmotions comments (a sample of 3,000 per split) and headlines. A comment
  labelled sadness, grief, remorse, disappointment, fear or nervousness is *sad content* when it
  has no first-person singular word (a reaction to something else: "that's so sad", "RIP
  [NAME]"); with one ("I miss my mom") it may be the author's own distress and is left out,
  since it belongs to neither side;
- positive authors (one in five): a run of 5-30 ordinary posts, then their own Dreaddit posts
  labelled as expressing stress (whole Reddit posts stay with one author, 3-7 segments), each
  following post being one of them with probability 0.7 until they are used up, then 0-10
  ordinary posts. The onset is their first Dreaddit-positive post;
- negative authors: 15-50 posts in one of four profiles: everyday (ordinary posts), news (60%
  headlines, half of them with sadness >= 50), sad reactions (50% sad content, above) and
  support forum (their own Dreaddit posts labelled *not* stressed, 3-8 of them, among
  ordinary posts).

Every distinct post is scored once per model through the one inference path
(:func:`monitor.model.predictor.load_model`, ``predict``) and cached under
``~/emomon-runs/erisk/cache/<model version>/<precision>.jsonl`` by text hash, so reruns are
instant and a new model version rescores by itself (``--score-only`` fills the caches). Posts
are scored in fp32, the reference that the int8 and bf16 paths are checked against, so the
figures do not move with a runtime's build recipe (``--precision`` picks another).

Three rule sets, side by side:

- ``emomon``: the configured person rules (``monitor.alerts.rules.evaluate``; level, rise and
  burst; ``[alerts] signal = auto``, i.e. distress) on the shipped model's scores;
- ``v2``: the rules on emomon-mtl-v2's scores with ``signal = depression_index``, from the
  values shipped with v2 (:data:`V2_RULES`; extract the model with ``git archive 8ceb19e^
  models/emomon-mtl-v2``; ``--v2-model``);
- ``keyword``: a lexicon of distress words (:data:`LEXICON`): a post is a hit when it holds one
  (whole words, any case); an author is alerted at the post where at least ``rate`` of their
  last ``window`` posts are hits, once per episode (a week's cooldown, as the rules).

The validation posts are dealt into streams three times (three seeds: three times the authors
to tune on); the reported split's once. Each rule set's thresholds are tuned on the validation
streams (the highest F_latency among the
settings with precision >= 0.8, detection >= 0.9 and median delay <= 5 posts; the highest
F_latency when none reaches them) and reported on the ``--split`` streams (test by default);
each entry also carries the figures of its rules before tuning (``untuned``: the configured rules,
the v2 values) and its validation figures.
Figures (:mod:`monitor.alerts.evaluation`): detection, median delay in posts, false alerts per
1,000 author-days, precision, ERDE_5, ERDE_50 and F_latency.

Usage: python bench/alerts.py [--json] [--split test|validation] [--score-only]
       [--model models/emomon-mtl-v3] [--v2-model ~/emomon-runs/erisk/models/emomon-mtl-v2]
The synthetic-stream benchmark of the rules on CARER sentences is bench/alerts_synthetic.py.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import itertools
import json
import math
import random
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor import trends  # noqa: E402
from monitor.alerts import evaluation  # noqa: E402
from monitor.alerts import rules as alert_rules  # noqa: E402
from monitor.settings import AlertRules, BurstRule, LevelRule, RiseRule, SourceShiftRule, load_settings  # noqa: E402
from monitor.training.data import dreaddit_validation_posts, read_goemotions, read_headlines  # noqa: E402

RUNS = Path.home() / "emomon-runs" / "erisk"
START = datetime(2016, 1, 1, tzinfo=UTC)
GOEMOTIONS_SAMPLE = 3000
#: GoEmotions labels that make a comment sad content.
SAD_GOEMOTIONS = ("sadness", "grief", "remorse", "disappointment", "fear", "nervousness")
#: A first-person singular word: a sad comment with one may be the author's own distress (a
#: negative author must not express it), so such comments are left out of the pools.
FIRST_PERSON = re.compile(r"\b(?:i|i'm|im|i've|i'd|i'll|me|my|mine|myself)\b", re.IGNORECASE)
TARGET_PRECISION, TARGET_DETECTION, TARGET_DELAY = 0.8, 0.9, 5.0
#: Settings of each rule kept (by :func:`objective` alone) for the search over combinations.
TOP = 8
RULE_SETS = ("emomon", "v2", "keyword")
#: The rules emomon shipped with emomon-mtl-v2 (on the depression index; tuned on CARER streams,
#: bench/alerts_synthetic.py): the ``v2`` rule set before tuning on these streams.
V2_RULES = AlertRules(
    level=LevelRule(threshold=0.75, window_days=7, min_posts=3, cooldown_hours=168.0),
    rise=RiseRule(k=0.5, h=6.5, z_cap=2.5, min_baseline_posts=10, cooldown_hours=168.0),
    burst=BurstRule(post_threshold=0.9, count=5, window_hours=24.0, cooldown_hours=72.0),
    source_shift=SourceShiftRule(enabled=False),
)
FIGURES = evaluation.FIGURES

#: The keyword rule's lexicon: words and phrases people use about their own distress (stress,
#: anxiety, low mood, hopelessness, pain, abuse, loss of housing or money, asking for help).
#: Written for this benchmark; matched as whole words, any case ("*" ends a prefix).
LEXICON = (
    "stress*",
    "anxiety",
    "anxious",
    "panic*",
    "depress*",
    "hopeless*",
    "worthless",
    "suicid*",
    "kill myself",
    "self harm",
    "self-harm",
    "overwhelm*",
    "exhausted",
    "can't sleep",
    "cannot sleep",
    "insomnia",
    "lonely",
    "alone",
    "scared",
    "afraid",
    "terrified",
    "cry",
    "crying",
    "cried",
    "tears",
    "hurt*",
    "pain",
    "abus*",
    "trauma*",
    "ptsd",
    "nightmare*",
    "flashback*",
    "desperate*",
    "struggl*",
    "miserable",
    "hate myself",
    "empty",
    "numb",
    "give up",
    "can't cope",
    "breakdown",
    "worried",
    "worry*",
    "fear*",
    "help me",
    "need help",
    "sad",
    "upset",
    "broke",
    "evict*",
    "homeless",
)
_LEXICON_RE = re.compile(
    r"\b(?:" + "|".join(re.escape(w[:-1]) + r"\w*" if w.endswith("*") else re.escape(w) for w in LEXICON) + r")\b",
    re.IGNORECASE,
)


def lexicon_hits(text: str) -> int:
    """Lexicon words and phrases in ``text``."""
    return len(_LEXICON_RE.findall(text.replace("\u2019", "'")))


# -- posts ------------------------------------------------------------------------------------
@dataclass
class Pools:
    """The posts of one split that streams are built from (texts)."""

    positive_posts: list[list[str]]  # Dreaddit posts: their stressed segments, in order
    negative_posts: list[list[str]]  # Dreaddit posts: their segments labelled not stressed
    headlines: list[str]
    sad_headlines: list[str]
    comments: list[str]
    sad_comments: list[str]

    def texts(self) -> list[str]:
        """Every distinct text of the pools."""
        out = [t for p in self.positive_posts + self.negative_posts for t in p]
        out += self.headlines + self.comments
        return sorted(set(out))


def read_dreaddit_posts(root: Path, split: str, seed: int = 13) -> dict[str, list[tuple[str, int]]]:
    """Dreaddit segments of ``split`` by ``post_id`` (validation carved from train as training does)."""
    name = "test.csv" if split == "test" else "train.csv"
    path = root / "dreaddit" / name
    if not path.exists():
        raise SystemExit(f"{path} not found: pass --datasets DIR (the shared datasets folder)")
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    if split != "test":
        held_out = dreaddit_validation_posts([r["post_id"] for r in rows], seed)
        rows = [r for r in rows if (r["post_id"] in held_out) == (split == "validation")]
    posts: dict[str, list[tuple[str, int]]] = {}
    for r in rows:
        posts.setdefault(r["post_id"], []).append((r["text"], int(r["label"])))
    return posts


def read_pools(root: Path, split: str, seed: int = 13) -> Pools:
    """The posts of ``split`` (``validation`` or ``test``)."""
    posts = read_dreaddit_posts(root, split, seed)
    positive = [[t for t, y in segs if y == 1] for _, segs in sorted(posts.items())]
    negative = [[t for t, y in segs if y == 0] for _, segs in sorted(posts.items())]
    headlines, sadness = read_headlines(root, split)
    goemotions = read_goemotions(root, split)
    rng = np.random.default_rng([seed, 23])
    pick = rng.choice(len(goemotions), size=min(GOEMOTIONS_SAMPLE, len(goemotions)), replace=False)
    labels = [l.strip() for l in (root / "goemotions" / "labels.txt").read_text(encoding="utf-8").splitlines()]
    sad_cols = [labels.index(name) for name in SAD_GOEMOTIONS]
    sad_labelled = [i for i in sorted(pick) if goemotions.targets[i, sad_cols].any()]
    personal = {i for i in sad_labelled if FIRST_PERSON.search(goemotions.texts[i])}
    comments = [goemotions.texts[i] for i in sorted(pick) if i not in personal]
    sad = [goemotions.texts[i] for i in sad_labelled if i not in personal]
    return Pools(
        positive_posts=[p for p in positive if p],
        negative_posts=[p for p in negative if p],
        headlines=headlines,
        sad_headlines=[h for h, s in zip(headlines, sadness, strict=True) if s >= 50],
        comments=comments,
        sad_comments=sad,
    )


# -- streams ----------------------------------------------------------------------------------
@dataclass
class Stream:
    """One author: texts, times and the onset (1-based) of a positive author's episode."""

    name: str
    texts: list[str] = field(default_factory=list)
    times: list[datetime] = field(default_factory=list)
    onset: int | None = None
    profile: str = "positive"

    def subject(self) -> evaluation.Subject:
        """The author's ground truth for :mod:`monitor.alerts.evaluation`."""
        end = self.times[-1] if self.onset is None else self.times[self.onset - 1]
        return evaluation.Subject(self.name, len(self.texts), self.onset, (end - self.times[0]).total_seconds() / 86400)


def build_streams(pools: Pools, seed: int, prefix: str = "") -> list[Stream]:
    """Positive and negative authors (one in five positive), see the module docstring; author
    names start with ``prefix``."""
    rng = random.Random(seed)

    def ordinary() -> str:
        r = rng.random()
        if r < 0.15:
            return rng.choice(pools.headlines)
        if r < 0.25:
            return rng.choice(pools.sad_comments)
        return rng.choice(pools.comments)

    positives = list(pools.positive_posts)
    rng.shuffle(positives)
    streams: list[Stream] = []
    while positives:
        want, episode = rng.randint(3, 7), []
        while positives and len(episode) < want:
            episode += positives.pop()
        s = Stream(f"{prefix}pos{len(streams):04d}")
        s.texts = [ordinary() for _ in range(rng.randint(5, 30))]
        s.onset = len(s.texts) + 1
        while episode:
            s.texts.append(episode.pop(0) if rng.random() < 0.7 or len(s.texts) + 1 == s.onset else ordinary())
        s.texts += [ordinary() for _ in range(rng.randint(0, 10))]
        streams.append(s)
    negatives = list(pools.negative_posts)
    rng.shuffle(negatives)
    for i in range(4 * len(streams)):
        profile = rng.choice(("everyday", "news", "sad reactions", "support forum"))
        if profile == "support forum" and not negatives:
            profile = "everyday"
        s = Stream(f"{prefix}neg{i:04d}", profile=profile)
        n = rng.randint(15, 50)
        own: list[str] = []
        if profile == "support forum":
            want = rng.randint(3, 8)
            while negatives and len(own) < want:
                own += negatives.pop()
            slots = set(rng.sample(range(max(n, len(own))), len(own)))
            n = max(n, len(own))
        for j in range(n):
            if profile == "support forum" and j in slots:
                s.texts.append(own.pop(0))
            elif profile == "news" and rng.random() < 0.6:
                s.texts.append(rng.choice(pools.sad_headlines if rng.random() < 0.5 else pools.headlines))
            elif profile == "sad reactions" and rng.random() < 0.5:
                s.texts.append(rng.choice(pools.sad_comments))
            else:
                s.texts.append(ordinary())
        streams.append(s)
    for s in streams:
        rate = 1.5 * math.exp(rng.gauss(0.0, 0.6))
        t = START + timedelta(days=rng.uniform(0, 365))
        for _ in s.texts:
            s.times.append(t)
            t += timedelta(days=rng.expovariate(rate))
    return streams


def split_streams(pools: Pools, split: str, seed: int) -> list[Stream]:
    """The streams of a split: validation ones built three times over (seeds ``seed``,
    ``seed + 100``, ``seed + 200``: three times the authors for tuning, from the same posts), the
    reported ones once."""
    if split != "validation":
        return build_streams(pools, seed + 1)
    return [s for i in range(3) for s in build_streams(pools, seed + 100 * i, prefix=f"v{i}-")]


# -- scores -----------------------------------------------------------------------------------
def text_key(text: str) -> str:
    """The cache key of a text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class Scores:
    """Per-text scores of one model: depression index and (models with the head) distress."""

    version: str
    precision: str
    index: dict[str, float]
    distress: dict[str, float | None]


def score_texts(model_dir: Path, texts: Sequence[str], *, precision: str = "fp32", chunk: int = 1024) -> Scores:
    """Score every text not yet cached with the model (``load_model`` / ``predict``, the one
    inference path) and return the scores of all of them; each chunk is appended to the cache
    as it is scored, so a killed run loses one chunk."""
    from monitor.model.artifact import read_model_info
    from monitor.model.predictor import load_model

    version = read_model_info(model_dir).version
    index: dict[str, float] = {}
    distress: dict[str, float | None] = {}
    predictor = None
    resolved = precision
    cache_dir = RUNS / "cache" / version
    cache_dir.mkdir(parents=True, exist_ok=True)
    if precision == "auto":
        predictor = load_model(model_dir, device="cpu", precision="auto")
        resolved = predictor.precision
    path = cache_dir / f"{resolved}.jsonl"
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                index[row["key"]] = row["index"]
                distress[row["key"]] = row["distress"]
    todo = sorted({text_key(t): t for t in texts if text_key(t) not in index}.items())
    if todo:
        predictor = predictor or load_model(model_dir, device="cpu", precision=resolved)
        if predictor.precision != resolved:
            raise SystemExit(f"{model_dir} cannot score in {resolved} here (it fell back to {predictor.precision})")
        t0 = time.perf_counter()
        with path.open("a", encoding="utf-8") as fh:
            for i in range(0, len(todo), chunk):
                part = todo[i : i + chunk]
                for (key, _), out in zip(part, predictor.predict([t for _, t in part]), strict=True):
                    index[key], distress[key] = out["depression_index"], out.get("distress")
                    fh.write(json.dumps({"key": key, "index": index[key], "distress": distress[key]}) + "\n")
                fh.flush()
                print(
                    f"  {version} ({resolved}): {min(i + chunk, len(todo))}/{len(todo)} posts scored in "
                    f"{time.perf_counter() - t0:.0f}s",
                    file=sys.stderr,
                    flush=True,
                )
    return Scores(version, resolved, index, distress)


def score_frame(streams: Sequence[Stream], scores: Scores) -> pl.DataFrame:
    """The ``read_scores``-shaped frame of every stream's posts (distress only when the model has it)."""
    rows: dict[str, list[Any]] = {k: [] for k in ("author", "created_at", "depression_index", "distress")}
    for s in streams:
        for text, t in zip(s.texts, s.times, strict=True):
            key = text_key(text)
            rows["author"].append(s.name)
            rows["created_at"].append(t)
            rows["depression_index"].append(scores.index[key])
            rows["distress"].append(scores.distress[key])
    n = len(rows["author"])
    frame = pl.DataFrame(
        {
            "post_id": pl.Series(range(1, n + 1), dtype=pl.Int64),
            "source": ["streams"] * n,
            "author": rows["author"],
            "created_at": pl.Series(rows["created_at"], dtype=pl.Datetime("us", "UTC")),
            "model_version": [scores.version] * n,
            "depression_index": pl.Series(rows["depression_index"], dtype=pl.Float32),
        }
    )
    if any(d is not None for d in rows["distress"]):
        frame = frame.with_columns(pl.Series("distress", rows["distress"], dtype=pl.Float32))
    return frame


# -- rule sets --------------------------------------------------------------------------------
Fired = dict[str, list[int]]


def positions(candidates: Iterable[Any]) -> Fired:
    """Alert candidates -> the 1-based post positions of each author's alerts."""
    out: Fired = {}
    for c in candidates:
        out.setdefault(c.subject, []).append(int(c.trigger_index))
    return out


def merge(*fired: Mapping[str, Sequence[int]]) -> Fired:
    """The union of several rules' alerts (``evaluate`` concatenates its rules' candidates)."""
    out: Fired = {}
    for f in fired:
        for name, hits in f.items():
            out.setdefault(name, []).extend(hits)
    return {k: sorted(v) for k, v in out.items()}


@dataclass(frozen=True)
class Keyword:
    """The keyword rule: at least ``rate`` of the last ``window`` posts hold a lexicon word."""

    window: int
    rate: float
    cooldown_hours: float = 168.0

    def fire(self, streams: Sequence[Stream]) -> Fired:
        """Alert positions: the first post of each run of posts where the rule holds, a
        ``cooldown_hours`` apart at least."""
        out: Fired = {}
        for s in streams:
            hits = [lexicon_hits(t) > 0 for t in s.texts]
            was, last = False, None
            for i in range(len(hits)):
                recent = hits[max(0, i + 1 - self.window) : i + 1]
                now = len(recent) == self.window and sum(recent) >= self.rate * self.window - 1e-9
                if now and not was and (last is None or s.times[i] >= last + timedelta(hours=self.cooldown_hours)):
                    out.setdefault(s.name, []).append(i + 1)
                    last = s.times[i]
                was = now
        return out


def rules_grid(base: AlertRules) -> tuple[list[AlertRules], list[AlertRules], list[AlertRules]]:
    """Candidate level, rise and burst settings (each alone; ``enabled = False`` among them)."""
    off = {"enabled": False}
    levels = [base.level.model_copy(update=off)] + [
        base.level.model_copy(update={"enabled": True, "threshold": t, "min_posts": m, "window_days": w})
        for t, m, w in itertools.product((0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.9), (2, 3, 4), (3, 7))
    ]
    rises = [base.rise.model_copy(update=off)] + [
        base.rise.model_copy(update={"enabled": True, "h": h, "k": k, "min_baseline_posts": b})
        for h, k, b in itertools.product((3.0, 4.0, 5.0, 6.5, 8.0), (0.5, 1.0), (5, 10))
    ]
    bursts = [base.burst.model_copy(update=off)] + [
        base.burst.model_copy(update={"enabled": True, "post_threshold": t, "count": c, "window_hours": w})
        for t, c, w in itertools.product((0.7, 0.8, 0.9, 0.95), (2, 3, 5), (24.0, 72.0))
    ]
    quiet = AlertRules(
        level=base.level.model_copy(update=off),
        rise=base.rise.model_copy(update=off),
        burst=base.burst.model_copy(update=off),
        source_shift=SourceShiftRule(enabled=False),
    )
    return (
        [quiet.model_copy(update={"level": r}) for r in levels],
        [quiet.model_copy(update={"rise": r}) for r in rises],
        [quiet.model_copy(update={"burst": r}) for r in bursts],
    )


def run_rules(frame: pl.DataFrame, rules: AlertRules, signal: str, prior: float, min_std: float) -> Fired:
    """The configured rules through ``monitor.alerts.rules.evaluate``."""
    return positions(alert_rules.evaluate(frame, rules, prior_posts=prior, min_std=min_std, signal=signal))


def objective(m: Mapping[str, float]) -> tuple[float, ...]:
    """Tuning order: settings reaching the targets first, then F_latency, then ERDE_50."""
    ok = (
        m["precision"] >= TARGET_PRECISION
        and m["detection"] >= TARGET_DETECTION
        and m["median_delay_posts"] <= TARGET_DELAY
    )
    f = m["f_latency"] if not math.isnan(m["f_latency"]) else 0.0
    return (float(ok), round(f, 6), -m["erde50"])


def tune_rules(
    frame: pl.DataFrame, streams: Sequence[Stream], base: AlertRules, signal: str, prior: float, min_std: float
) -> tuple[AlertRules, dict[str, float]]:
    """The level + rise + burst combination with the best :func:`objective` on ``streams``.

    Each rule's settings are run once (the real rule functions) and ranked alone; then every
    combination of each rule's :data:`TOP` best settings (and the rule switched off) is ranked,
    its alerts being the union of its rules' alerts, as ``evaluate`` makes them; the best is
    then improved one rule at a time (coordinate ascent over the whole grids)."""
    subjects = [s.subject() for s in streams]
    shortlist: list[list[tuple[AlertRules, Fired]]] = []
    for grid in rules_grid(base):
        ranked = []
        for rules in grid:
            fired = run_rules(frame, rules, signal, prior, min_std)
            ranked.append((objective(evaluation.summarize(subjects, fired)), rules, fired))
        ranked.sort(key=lambda r: r[0], reverse=True)
        shortlist.append([(grid[0], {})] + [(r, f) for _, r, f in ranked[:TOP] if r is not grid[0]])
    best: tuple[tuple[float, ...], tuple[AlertRules, ...], dict[str, float]] | None = None
    for combo in itertools.product(*shortlist):
        m = evaluation.summarize(subjects, merge(*(f for _, f in combo)))
        if best is None or objective(m) > best[0]:
            best = (objective(m), tuple(r for r, _ in combo), m)
    assert best is not None
    # Coordinate ascent from there: each rule's every setting with the other two fixed, until
    # no single change improves (a setting weak alone can help in a combination).
    grids = rules_grid(base)
    cache: dict[int, Fired] = {}

    def fire(rules: AlertRules) -> Fired:
        if id(rules) not in cache:
            cache[id(rules)] = run_rules(frame, rules, signal, prior, min_std)
        return cache[id(rules)]

    current, score, figures = list(best[1]), best[0], best[2]
    improved = True
    while improved:
        improved = False
        for g, grid in enumerate(grids):
            for rules in grid:
                trial = current[:g] + [rules] + current[g + 1 :]
                m = evaluation.summarize(subjects, merge(*(fire(r) for r in trial)))
                if objective(m) > score:
                    current, score, figures, improved = trial, objective(m), m, True
    level, rise, burst = current
    chosen = AlertRules(
        level=level.level, rise=rise.rise, burst=burst.burst, source_shift=SourceShiftRule(enabled=False)
    )
    return chosen, figures


def tune_keyword(streams: Sequence[Stream]) -> tuple[Keyword, dict[str, float]]:
    """The keyword rule's window and rate with the best :func:`objective` on ``streams``."""
    subjects = [s.subject() for s in streams]
    best: tuple[tuple[float, ...], Keyword, dict[str, float]] | None = None
    for w in (1, 2, 3, 4, 5, 6, 8, 10):
        for hits in range(1, w + 1):
            rule = Keyword(w, hits / w)
            m = evaluation.summarize(subjects, rule.fire(streams))
            if best is None or objective(m) > best[0]:
                best = (objective(m), rule, m)
    assert best is not None
    return best[1], best[2]


def describe(rules: AlertRules) -> dict[str, Any]:
    """The person rules' settings, for the report."""
    out: dict[str, Any] = {}
    for name in ("level", "rise", "burst"):
        r = getattr(rules, name)
        out[name] = r.model_dump(exclude={"severity"}) if r.enabled else {"enabled": False}
    return out


# -- main -------------------------------------------------------------------------------------
def rounded(m: Mapping[str, float]) -> dict[str, float | None]:
    """Figures rounded for the JSON (NaN -> null)."""
    return {k: (None if isinstance(v, float) and math.isnan(v) else round(float(v), 4)) for k, v in m.items()}


def main() -> None:
    """Build the streams, score them, tune each rule set on validation and report on ``--split``."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, default=ROOT / "models" / "emomon-mtl-v3")
    p.add_argument("--v2-model", type=Path, default=RUNS / "models" / "emomon-mtl-v2")
    p.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    p.add_argument("--config", type=Path, default=ROOT / "config.toml")
    p.add_argument("--split", choices=["validation", "test"], default="test")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument(
        "--precision",
        default="fp32",
        help="scoring precision: fp32 (the reference, default), bf16, int8 or auto (the [scoring] default)",
    )
    p.add_argument("--score-only", action="store_true", help="fill the score caches and stop")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON document (last line)")
    args = p.parse_args()
    say: Callable[..., None] = (lambda *a: print(*a, file=sys.stderr)) if args.json else print
    if not args.v2_model.exists():
        raise SystemExit(
            f"{args.v2_model} not found: git archive 8ceb19e^ models/emomon-mtl-v2 | tar -x -C {RUNS} "
            "(or pass --v2-model DIR)"
        )

    splits = ["validation"] + ([args.split] if args.split != "validation" else [])
    pools = {s: read_pools(args.datasets, s, args.seed) for s in splits}
    streams = {s: split_streams(pools[s], s, args.seed) for s in splits}
    texts = sorted({t for s in splits for st in streams[s] for t in st.texts})
    models = {"emomon": args.model, "v2": args.v2_model}
    scores = {name: score_texts(path, texts, precision=args.precision) for name, path in models.items()}
    if args.score_only:
        return

    settings = load_settings(args.config, {})
    configured = {
        "emomon": settings.alerts.rules.model_copy(update={"source_shift": SourceShiftRule(enabled=False)}),
        "v2": V2_RULES,
    }
    prior, min_std = settings.trends.baseline_prior_posts, settings.trends.min_std
    signals = {"emomon": settings.alerts.signal, "v2": trends.INDEX}
    frames = {(name, s): score_frame(streams[s], scores[name]) for name in models for s in splits}
    report = streams[args.split]
    subjects = [s.subject() for s in report]
    for s in splits:
        pos = sum(st.onset is not None for st in streams[s])
        say(
            f"{s}: {len(streams[s])} authors ({pos} positive), {sum(len(st.texts) for st in streams[s])} posts, "
            f"{sum(x.days for x in (st.subject() for st in streams[s] if st.onset is None)):.0f} negative author-days"
        )
    say(f"models: emomon {scores['emomon'].version} ({scores['emomon'].precision}), v2 {scores['v2'].version}")

    results: dict[str, dict[str, Any]] = {}
    for name in ("emomon", "v2"):
        shipped = run_rules(frames[(name, args.split)], configured[name], signals[name], prior, min_std)
        tuned, val = tune_rules(
            frames[(name, "validation")], streams["validation"], configured[name], signals[name], prior, min_std
        )
        fired = run_rules(frames[(name, args.split)], tuned, signals[name], prior, min_std)
        results[name] = {
            **rounded(evaluation.summarize(subjects, fired)),
            "model": scores[name].version,
            "signal": trends.person_signal(frames[(name, args.split)], signals[name]),
            "rules": describe(tuned),
            "validation": rounded(val),
            "untuned": {**rounded(evaluation.summarize(subjects, shipped)), "rules": describe(configured[name])},
        }
    keyword, val = tune_keyword(streams["validation"])
    results["keyword"] = {
        **rounded(evaluation.summarize(subjects, keyword.fire(report))),
        "rule": {"window_posts": keyword.window, "rate": keyword.rate, "lexicon_size": len(LEXICON)},
        "validation": rounded(val),
    }

    say(f"\n{args.split} streams; thresholds tuned on validation streams")
    say(f"{'rule set':24}" + "".join(f"{f[:18]:>19}" for f in FIGURES))
    rows = [(n, results[n]) for n in RULE_SETS] + [(f"{n} (untuned)", results[n]["untuned"]) for n in ("emomon", "v2")]
    for label, m in rows:
        say(f"{label:24}" + "".join(f"{'-' if m[f] is None else m[f]:>19}" for f in FIGURES))
    for n in ("emomon", "v2"):
        say(f"{n} tuned rules: {json.dumps(results[n]['rules'])}")
    say(f"keyword rule: {json.dumps(results['keyword']['rule'])}")
    if args.json:
        print(json.dumps({"split": args.split, "rules": results}))


if __name__ == "__main__":
    main()
