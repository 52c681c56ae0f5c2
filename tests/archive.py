"""A generated archive for chart tests: invented authors over eight years (2009-2017) with bursts
and gaps, scored by a pretend model with the distress head, in a real SQLite store.

Every post and score is made up here (no real data). The authors cover the shapes that made
charts unreadable on real archives:

* ``a-decade000001``: every few days for eight years with a two-year silence (2012-2014), calm,
  then an episode of five distressed posts in four days in June 2016 (the alert rules fire).
* ``a-scarce000002``: 24 posts scattered over the eight years (daily points, no aggregate line).
* ``a-month0000003``: one month of daily posts (March 2015), raised over its last week.
* ``a-busy00000004``: several posts a day from 2015 to March 2017, a burst across New Year
  2016/17 (a year-crossing episode), a silent August 2016.
* ``a-winter000005``: December 2016 to January 2017 only, raised at its end.
* ``a-calm0000000N`` (N = 6..8): calm background authors, years apart.

:func:`generate` writes config.toml and emomon.db under a folder and returns the config path.
Running this module (``python tests/archive.py DIR``) does the same, for screenshots.
"""

from __future__ import annotations

import random
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from monitor.clock import utcnow
from monitor.store import scores as score_store
from monitor.store.engine import ensure_schema, make_engine, session_scope
from monitor.store.schema import SCORE_COLUMNS, Author, Post, Source

START = datetime(2009, 3, 2, 8, 0, tzinfo=UTC)
END = datetime(2017, 3, 30, 20, 0, tzinfo=UTC)
DECADE, SCARCE, MONTH, BUSY, WINTER = (
    "a-decade000001",
    "a-scarce000002",
    "a-month0000003",
    "a-busy00000004",
    "a-winter000005",
)
CALM = ("a-calm00000006", "a-calm00000007", "a-calm00000008")
EPISODE = datetime(2016, 6, 14, 9, 0, tzinfo=UTC)  # the decade author's distressed days start here


def _calm(rng: random.Random) -> float:
    return min(0.45, max(0.01, rng.gauss(0.14, 0.07)))


def _raised(rng: random.Random) -> float:
    return min(0.99, max(0.7, rng.gauss(0.9, 0.04)))


def posts_plan(seed: int = 24) -> list[tuple[str, str, datetime, float]]:
    """(pseudonym, source, created_at, distress) of every post, oldest first."""
    rng = random.Random(seed)
    plan: list[tuple[str, str, datetime, float]] = []

    def add(who: str, source: str, at: datetime, value: float) -> None:
        plan.append((who, source, at, round(value, 3)))

    t = START
    while t < END:  # the decade author: every 1-5 days, silent 2012-05 .. 2014-06
        if not (datetime(2012, 5, 1, tzinfo=UTC) <= t < datetime(2014, 6, 1, tzinfo=UTC)):
            if not (EPISODE - timedelta(days=3) <= t < EPISODE + timedelta(days=6)):
                add(DECADE, "forum", t, _calm(rng))
        t += timedelta(days=rng.randint(1, 5), hours=rng.randint(0, 10))
    for i in range(5):  # the episode: five distressed posts in four days
        add(DECADE, "forum", EPISODE + timedelta(hours=20 * i), _raised(rng))
    for i in range(24):  # scarce: one post every ~4 months
        add(SCARCE, "forum", START + timedelta(days=125 * i + rng.randint(0, 40), hours=rng.randint(0, 23)), _calm(rng))
    for d in range(31):  # one month, raised over the last week
        at = datetime(2015, 3, 1, 19, tzinfo=UTC) + timedelta(days=d, minutes=rng.randint(0, 240))
        add(MONTH, "blog", at, _raised(rng) if d >= 24 else _calm(rng))
    t = datetime(2015, 1, 5, 7, tzinfo=UTC)
    burst = (datetime(2016, 12, 26, tzinfo=UTC), datetime(2017, 1, 6, tzinfo=UTC))
    while t < END:  # busy: several posts a day, silent August 2016, a burst over New Year
        if t.year == 2016 and t.month == 8:
            t += timedelta(hours=7)
            continue
        raised = burst[0] <= t < burst[1] and rng.random() < 0.7
        add(BUSY, "microblog", t, _raised(rng) if raised else _calm(rng))
        t += timedelta(hours=rng.randint(2, 14))
    t = datetime(2016, 12, 1, 12, tzinfo=UTC)
    while t < datetime(2017, 1, 31, tzinfo=UTC):  # winter: across the year's end, raised at its end
        add(WINTER, "microblog", t, _raised(rng) if t >= datetime(2017, 1, 22, tzinfo=UTC) else _calm(rng))
        t += timedelta(hours=rng.randint(10, 40))
    for k, who in enumerate(CALM):  # background: a year each, three years apart
        t = START + timedelta(days=900 * k)
        for _ in range(120):
            add(who, "forum" if k % 2 else "blog", t, _calm(rng))
            t += timedelta(days=rng.randint(1, 6))
    return sorted(plan, key=lambda p: p[2])


def _probs(value: float) -> bytes:
    p = np.full(len(SCORE_COLUMNS), 0.05, dtype=np.float32)
    p[SCORE_COLUMNS.index("goemo_sadness")] = value
    p[SCORE_COLUMNS.index("goemo_grief")] = value * 0.6
    p[SCORE_COLUMNS.index("goemo_joy")] = 1 - value
    p[SCORE_COLUMNS.index("carer_sadness")] = value * 0.9
    return score_store.pack_probs(p[None, :])[0]


def generate(folder: Path, *, extra_config: str = "") -> Path:
    """Write config.toml and a scored emomon.db under ``folder``; return the config path."""
    folder.mkdir(parents=True, exist_ok=True)
    cfg = folder / "config.toml"
    cfg.write_text(
        textwrap.dedent("""
        [database]
        url = "sqlite:///emomon.db"
        [alerts]
        channels = ["file"]
        [channels.file]
        path = "alerts.jsonl"
        """)
        + extra_config,
        encoding="utf-8",
    )
    engine = make_engine(f"sqlite:///{folder / 'emomon.db'}")
    ensure_schema(engine)
    plan = posts_plan()
    with session_scope(engine) as s:
        sources = {}
        for name, kind in (("forum", "jsonl"), ("blog", "rss"), ("microblog", "jsonl")):
            sources[name] = Source(name=name, kind=kind, location=f"{name}.example", paused=False, created_at=START)
            s.add(sources[name])
        names = sorted({p[0] for p in plan})
        for i, who in enumerate(names, start=1):
            s.add(Author(id=i, platform="forum", handle=f"handle_{i}", pseudonym=who))
        s.flush()
        ids = {who: i for i, who in enumerate(names, start=1)}
        arrived = utcnow()  # ingested today, like an archive: the alerts stage evaluates it
        rows = []
        for i, (who, source, at, value) in enumerate(plan, start=1):
            s.add(
                Post(
                    id=i,
                    source_id=sources[source].id,
                    external_id=str(i),
                    author_id=ids[who],
                    created_at=at,
                    text=f"invented post {i}",
                    url=f"https://{source}.example/{i}",
                    content_hash=f"{i:032d}",
                    ingested_at=arrived,
                )
            )
            rows.append(
                {
                    "post_id": i,
                    "status": "scored",
                    "reason": None,
                    "depression_index": round(value * 0.8, 3),
                    "distress": value,
                    "probs": _probs(value),
                    "windows": 1,
                    "text_hash": f"{i:08d}"[:8],
                    "scored_at": at,
                }
            )
        s.flush()
        score_store.write_scores(s, "archive-v1", rows)
    engine.dispose()
    return cfg


AUTHORS = (DECADE, SCARCE, MONTH, BUSY, WINTER)


def render(cfg: Path) -> list[Path]:
    """Run the alert rules over the archive, then write report.html and one page per author in
    :data:`AUTHORS` (``<pseudonym>.html``) beside ``cfg``, through the Python API; return the pages."""
    from monitor.api import Emomon
    from monitor.report.html import author_html, to_html

    with Emomon(cfg) as em:
        assert em.run(["alerts"]).ok
        pages = {"report.html": to_html(em.report())}
        pages |= {f"{a}.html": author_html(em.author(a)) for a in AUTHORS}
    for name, page in pages.items():
        (cfg.parent / name).write_text(page, encoding="utf-8")
    return [cfg.parent / name for name in pages]


if __name__ == "__main__":
    for path in render(generate(Path(sys.argv[1]))):
        print(path)
