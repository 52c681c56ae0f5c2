"""The hot queries of a large store use their indexes: EXPLAIN QUERY PLAN on SQLite (and EXPLAIN
on PostgreSQL with sequential scans priced out, so the plan shows whether an index can serve it).

The statements are the ones the alerts stage, the report and the author view really send: they
are recorded from the engine while those run, then explained with their own parameters. A
full scan of ``posts`` or ``scores`` in any of them would make ``emomon alerts run``, ``report``
or ``author`` read the whole store (bench/scale.py measures them on 10 million posts).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from rich.console import Console
from sqlalchemy import Engine, event

from monitor.alerts.stage import alerts_stage
from monitor.report.author import load_author_view
from monitor.report.data import load_report_data
from monitor.settings import Settings
from monitor.store import scores as score_store
from monitor.store.engine import session_scope
from monitor.store.schema import SCORE_COLUMNS, Author, Post, Source

NOW = datetime(2026, 6, 1, tzinfo=UTC)
CONFIG = '[alerts]\nchannels = ["file"]\n[channels.file]\npath = "alerts.jsonl"\n'


def seed(engine: Engine) -> None:
    """Three authors' posts over 200 days, scored."""
    probs = score_store.pack_probs(np.full((1, len(SCORE_COLUMNS)), 0.2, dtype=np.float32))[0]
    with session_scope(engine) as s:
        s.add(Source(id=1, name="forum", kind="jsonl", location="forum.jsonl", paused=False, created_at=NOW))
        s.add_all(Author(id=i, platform="file", handle=f"h{i}", pseudonym=f"a-{i:012x}") for i in (1, 2, 3))
        s.flush()
        rows = []
        for i in range(1, 601):
            at = NOW - timedelta(days=200 - i // 3)
            s.add(
                Post(
                    id=i,
                    source_id=1,
                    external_id=str(i),
                    author_id=1 + i % 3,
                    created_at=at,
                    text="t",
                    content_hash=f"{i:032d}",
                    ingested_at=at,
                )
            )
            rows.append(
                {
                    "post_id": i,
                    "status": "scored",
                    "reason": None,
                    "depression_index": 0.3,
                    "distress": 0.3,
                    "probs": probs,
                    "windows": 1,
                    "text_hash": f"{i:08d}",
                    "scored_at": at,
                }
            )
        s.flush()
        score_store.write_scores(s, "test-v3", rows)


@contextmanager
def recorded(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The SELECT statements sent to ``engine`` in the block, with their parameters."""
    seen: list[tuple[str, Any]] = []

    def keep(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT") and not executemany:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", keep)


def plans(engine: Engine, statements: list[tuple[str, Any]]) -> dict[str, str]:
    """Each statement that reads posts or scores -> its plan, one line per step."""
    out = {}
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET enable_seqscan = off")
        for statement, parameters in statements:
            if " posts" not in statement and " scores" not in statement:
                continue
            explain = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
            rows = conn.exec_driver_sql(explain + statement, parameters).all()
            out[statement] = "\n".join(str(r[-1] if engine.dialect.name == "sqlite" else r[0]) for r in rows)
    return out


def full_scans(plan: str, sqlite: bool) -> list[str]:
    """Steps that read a whole table of posts or scores."""
    if sqlite:
        return [line for line in plan.splitlines() if line.startswith(("SCAN posts", "SCAN scores"))]
    return [line for line in plan.splitlines() if "Seq Scan on posts" in line or "Seq Scan on scores" in line]


def test_the_alerts_report_and_author_queries_use_their_indexes(
    engine: Engine, make_settings: Callable[..., Settings]
) -> None:
    seed(engine)
    settings = make_settings(CONFIG)
    sqlite = engine.dialect.name == "sqlite"
    with recorded(engine) as alerts:
        alerts_stage(engine, settings, console=Console(quiet=True), env={}, now=NOW)  # the first: full
        alerts_stage(engine, settings, console=Console(quiet=True), env={}, now=NOW)  # then incremental
    with recorded(engine) as author, session_scope(engine) as s:
        load_author_view(s, settings, "a-000000000002")
    with recorded(engine) as report, session_scope(engine) as s:
        load_report_data(s, settings, since=NOW - timedelta(days=30), now=NOW)

    found = {**plans(engine, alerts), **plans(engine, author), **plans(engine, report)}
    assert found
    for statement, plan in found.items():
        assert full_scans(plan, sqlite) == [], f"{statement}\n{plan}"
    text = "\n".join(found.values())
    for index in ("ix_posts_ingested_at", "ix_scores_scored_at", "ix_posts_created_at", "ix_posts_author_id"):
        assert index in text, index
