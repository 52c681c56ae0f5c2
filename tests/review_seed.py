"""A real SQLite database for review-loop tests: two invented authors scored by a fake model.

``a-drift0000001`` posts calmly for 40 days (a gap of 5 days without posts in the middle),
then 8 days of raised index; ``a-steady000002`` stays calm and posts two days longer, so
"recent" measured from one author's own last post differs from the report's. Scores are written through
``monitor.store.scores.write_scores``, so every reader sees them as it would after
``emomon score``.
"""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from monitor.clock import utcnow
from monitor.store import scores as score_store
from monitor.store.engine import ensure_schema, make_engine, session_scope
from monitor.store.schema import SCORE_COLUMNS, Author, Post, Source

T0 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
DRIFT, STEADY = "a-drift0000001", "a-steady000002"
DRIFT_HANDLE = "quiet_harbor"
GAP_DAYS = range(20, 25)


def _probs(index: float) -> bytes:
    p = np.full(len(SCORE_COLUMNS), 0.05, dtype=np.float32)
    p[SCORE_COLUMNS.index("goemo_sadness")] = index
    p[SCORE_COLUMNS.index("goemo_grief")] = index * 0.8
    p[SCORE_COLUMNS.index("goemo_joy")] = 1 - index
    return score_store.pack_probs(p[None, :])[0]


def posts_plan() -> list[tuple[str, datetime, float]]:
    """(pseudonym, created_at, index) of every post, oldest first."""
    plan = []
    for d in range(50):
        if d in GAP_DAYS:
            continue
        if d < 48:  # the drifting author stops two days before the other one
            raised = d >= 40
            plan.append((DRIFT, T0 + timedelta(days=d), 0.75 if raised else 0.18 + 0.04 * (d % 3)))
        plan.append((STEADY, T0 + timedelta(days=d, hours=3), 0.2 + 0.03 * (d % 2)))
    return sorted(plan, key=lambda p: p[1])


def seed(tmp: Path, *, extra_config: str = "", channels: str = '["file"]', db_url: str | None = None) -> Path:
    """Write config.toml and a scored emomon.db under ``tmp`` (or into the empty database
    ``db_url``); return the config path."""
    tmp.mkdir(parents=True, exist_ok=True)
    cfg = tmp / "config.toml"
    cfg.write_text(
        textwrap.dedent(f"""
        [database]
        url = "{db_url or "sqlite:///emomon.db"}"
        [alerts]
        channels = {channels}
        [channels.file]
        path = "alerts.jsonl"
    """)
        + extra_config,
        encoding="utf-8",
    )
    engine = make_engine(db_url or f"sqlite:///{tmp / 'emomon.db'}")
    ensure_schema(engine)
    with session_scope(engine) as s:
        src = Source(name="forum", kind="jsonl", location="forum.jsonl", paused=False, created_at=T0)
        s.add(src)
        s.add(Author(id=1, platform="forum", handle=DRIFT_HANDLE, pseudonym=DRIFT))
        s.add(Author(id=2, platform="forum", handle="plain_sky", pseudonym=STEADY))
        s.flush()
        rows = []
        arrived = utcnow()  # ingested today, like an archive: the alerts stage evaluates it
        for i, (who, at, index) in enumerate(posts_plan(), start=1):
            s.add(
                Post(
                    id=i,
                    source_id=src.id,
                    external_id=str(i),
                    author_id=1 if who == DRIFT else 2,
                    created_at=at,
                    text=f"invented post {i} about the weather",
                    url=f"https://forum.example/{'quiet_harbor' if who == DRIFT else 'plain_sky'}/{i}",
                    content_hash=f"{i:032d}",
                    ingested_at=arrived,
                )
            )
            rows.append(
                {
                    "post_id": i,
                    "status": "scored",
                    "reason": None,
                    "depression_index": index,
                    "probs": _probs(index),
                    "windows": 1,
                    "text_hash": f"{i:08d}"[:8],
                    "scored_at": at,
                }
            )
        s.flush()
        score_store.write_scores(s, "test-v1", rows)
    engine.dispose()
    return cfg
