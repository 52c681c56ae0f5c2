"""Incremental alerts: a run evaluates only the authors scored since the last run, and stores the
alerts a full evaluation stores.

Two stores get the same posts; after a day of new posts one runs incrementally and the other
evaluates every author (its runs forgotten), and their alerts must be the same. Real SQLite
files (or PostgreSQL with ``--backend postgres``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
from rich.console import Console
from sqlalchemy import Engine, delete, func, select

from monitor.alerts import rules
from monitor.alerts.stage import alerts_stage, evaluation_frame
from monitor.settings import Settings
from monitor.store import alerts as alert_store
from monitor.store import scores as score_store
from monitor.store.engine import ensure_schema, make_engine, session_scope
from monitor.store.schema import SCORE_COLUMNS, Author, Post, Run, Source
from monitor.trends import population

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CONFIG = '[alerts]\nchannels = ["file"]\n[channels.file]\npath = "alerts.jsonl"\n'
AUTHORS = 40


def history(rng: np.random.Generator) -> list[tuple[str, datetime, float]]:
    """60 days of posts by 40 authors at their own level; authors 0-4 had a bad week."""
    rows = []
    levels = rng.beta(2.0, 6.0, AUTHORS)
    for a in range(AUTHORS):
        for day in range(60, 1, -1):
            for _ in range(int(rng.integers(1, 3))):
                at = NOW - timedelta(days=day, minutes=int(rng.integers(0, 1440)))
                high = a < 5 and 20 <= day <= 24
                rows.append((f"a-{a:02d}", at, float(rng.uniform(0.9, 0.99) if high else np.clip(levels[a], 0, 1))))
    return rows


def new_day(rng: np.random.Generator) -> list[tuple[str, datetime, float]]:
    """A day of posts by authors 0-19; authors 5-9 post many high-scoring posts."""
    rows = []
    for a in range(20):
        for _ in range(8 if 5 <= a < 10 else 2):
            at = NOW - timedelta(hours=float(rng.uniform(1, 23)))
            rows.append((f"a-{a:02d}", at, float(rng.uniform(0.9, 0.99) if 5 <= a < 10 else rng.uniform(0.1, 0.4))))
    return rows


def write(engine: Engine, rows: list[tuple[str, datetime, float]], scored_at: datetime) -> None:
    """Posts and their scores, written as the ingest and score stages do."""
    with session_scope(engine) as s:
        source = s.scalar(select(Source).where(Source.name == "forum"))
        if source is None:
            source = Source(name="forum", kind="jsonl", location="forum.jsonl", paused=False, created_at=NOW)
            s.add(source)
            s.flush()
        ids = {a.pseudonym: a.id for a in s.scalars(select(Author))}
        first = (s.scalar(select(func.max(Post.id))) or 0) + 1
        scores = []
        for i, (who, at, index) in enumerate(rows, start=first):
            if who not in ids:
                author = Author(platform="file", handle=f"h-{who}", pseudonym=who)
                s.add(author)
                s.flush()
                ids[who] = author.id
            s.add(
                Post(
                    id=i,
                    source_id=source.id,
                    external_id=str(i),
                    author_id=ids[who],
                    created_at=at,
                    text=f"post {i}",
                    content_hash=f"{i:032d}",
                    ingested_at=scored_at,
                )
            )
            probs = np.full((1, len(SCORE_COLUMNS)), 0.1, dtype=np.float32)
            scores.append(
                {
                    "post_id": i,
                    "status": "scored",
                    "reason": None,
                    "depression_index": index,
                    "distress": index,
                    "probs": score_store.pack_probs(probs)[0],
                    "windows": 1,
                    "text_hash": f"{i:08d}",
                    "scored_at": scored_at,
                }
            )
        s.flush()
        score_store.write_scores(s, "test-v3", scores)


def run(engine: Engine, settings: Settings, now: datetime) -> dict[str, Any]:
    result = alerts_stage(engine, settings, console=Console(quiet=True), env={}, now=now)
    assert result.status == "ok", result.message
    return result.counts


def stored(engine: Engine) -> list[tuple[Any, ...]]:
    """Every alert, without its id and creation time."""
    with session_scope(engine) as s:
        docs = [alert_store.alert_dict(a) for a in alert_store.list_alerts(s)]
    keys = ("rule", "subject", "trigger_post_id", "trigger_index", "trigger_at", "window_start", "window_end")
    return sorted((*(d[k] for k in keys), repr(sorted(d["evidence"].items()))) for d in docs)


def test_an_incremental_run_stores_the_alerts_of_a_full_run(
    engine: Engine, make_db_url: Callable[[str], str], make_settings: Callable[..., Settings]
) -> None:
    full_url = make_db_url("full")
    full = make_engine(full_url)
    ensure_schema(full)
    settings = make_settings(CONFIG)
    full_settings = make_settings(CONFIG, EMOMON_DATABASE_URL=full_url)
    old, day = history(np.random.default_rng(1)), new_day(np.random.default_rng(2))
    for eng, st in ((engine, settings), (full, full_settings)):
        write(eng, old, NOW - timedelta(days=1))
        first = run(eng, st, NOW - timedelta(days=1))
        assert first["evaluated"] == first["posts"] > 0  # no earlier run: every author
        write(eng, day, NOW)
    assert stored(engine) == stored(full) != []
    before = len(stored(engine))

    incremental = run(engine, settings, NOW)
    with session_scope(full) as s:
        s.execute(delete(Run))  # no mark: every author is evaluated
    whole = run(full, full_settings, NOW)
    full.dispose()

    assert whole["evaluated"] == whole["posts"] == incremental["posts"]
    posted = {who for who, _, _ in day}
    assert incremental["evaluated"] == sum(who in posted for who, _, _ in old + day) < incremental["posts"]
    assert incremental["new"] == whole["new"] > 0
    assert len(stored(engine)) > before
    assert stored(engine) == stored(full)


def test_a_run_with_nothing_new_evaluates_nothing_and_a_changed_rule_evaluates_everyone(
    engine: Engine, make_settings: Callable[..., Settings]
) -> None:
    write(engine, history(np.random.default_rng(3)), NOW - timedelta(days=1))
    settings = make_settings(CONFIG)
    assert run(engine, settings, NOW)["evaluated"] > 0
    again = run(engine, settings, NOW)
    assert again["evaluated"] == 0 and again["candidates"] == 0 and again["posts"] > 0
    changed = make_settings(CONFIG + "[alerts.rules.level]\nthreshold = 0.6\n")
    assert run(engine, changed, NOW)["evaluated"] == again["posts"]


def test_some_authors_with_the_whole_window_prior_get_the_whole_windows_candidates(
    engine: Engine, make_settings: Callable[..., Settings]
) -> None:
    write(engine, history(np.random.default_rng(4)) + new_day(np.random.default_rng(5)), NOW)
    settings = make_settings(CONFIG)
    with session_scope(engine) as s:
        frame = evaluation_frame(s, settings, NOW, probs=False)
    a = settings.alerts
    kwargs: dict[str, Any] = {
        "prior_posts": settings.trends.baseline_prior_posts,
        "min_std": settings.trends.min_std,
        "shift_sources": (),  # a source's shift reads the whole source: the stage passes those whole
    }
    everyone = rules.evaluate(frame, a.rules, **kwargs)
    some = {f"a-{i:02d}" for i in range(0, AUTHORS, 3)}
    part = frame.filter(pl.col("author").is_in(sorted(some)))
    assert population(part, column="distress") != population(frame, column="distress")
    alone = rules.evaluate(part, a.rules, prior=population(frame, column="distress"), **kwargs)
    assert alone == [c for c in everyone if c.subject in some]
    assert {c.rule for c in alone} >= {"burst", "level"}
