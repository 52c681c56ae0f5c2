"""Reads and writes of the scores table (monitor/score_store.py) and the score frame contract."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
import pytest
from sqlalchemy import Engine, func, select

from monitor.store import posts as store
from monitor.store import scores as score_store
from monitor.store.engine import session_scope
from monitor.store.schema import SCORE_COLUMNS, SCORE_KOREAN, Score

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def seed(engine: Engine) -> dict[str, int]:
    """Two sources, two authors, five posts; returns post ids by external id."""
    ids: dict[str, int] = {}
    with session_scope(engine) as s:
        salt = store.pseudonym_salt(s, "test-salt")
        authors = store.upsert_authors(s, [("masto", "ann"), ("masto", "bob")], salt)
        for name, posts in (
            ("feed-a", [("a1", "ann", 0), ("a2", "bob", 1), ("a3", None, 2)]),
            ("feed-b", [("b1", "ann", 3), ("b2", "bob", 4)]),
        ):
            src = store.get_or_create_source(s, name=name, kind="jsonl", location=f"{name}.jsonl")
            rows = [
                {
                    "source_id": src.id,
                    "external_id": ext,
                    "author_id": authors[("masto", who)] if who else None,
                    "created_at": T0 + timedelta(days=day),
                    "text": f"text {ext}",
                    "url": None,
                    "language": None,
                    "content_hash": f"{ext:0>32}",
                    "ingested_at": T0,
                }
                for ext, who, day in posts
            ]
            store.insert_posts(s, rows)
            stored = store.existing_posts(s, src.id, [r["external_id"] for r in rows])
            ids.update({k: v.id for k, v in stored.items()})
    return ids


def row(post_id: int, value: float, *, status: str = "scored") -> dict[str, Any]:
    probs = np.full((1, len(SCORE_COLUMNS)), value, dtype=np.float32)
    return {
        "post_id": post_id,
        "status": status,
        "reason": None if status == "scored" else "language:de",
        "depression_index": value if status == "scored" else None,
        "probs": score_store.pack_probs(probs)[0] if status == "scored" else None,
        "windows": 1,
        "text_hash": "0" * 8,
        "scored_at": T0,
    }


def test_frame_follows_the_contract(engine: Engine) -> None:
    ids = seed(engine)
    with session_scope(engine) as s:
        score_store.write_scores(
            s,
            "m-v1",
            [
                row(ids["a1"], 0.25),
                row(ids["a2"], 0.5),
                row(ids["a3"], 0.75),
                row(ids["b1"], 0.125),
                row(ids["b2"], 0.0, status="skipped"),
            ],
        )
    with session_scope(engine) as s:
        frame = score_store.read_scores(s)
        salt = store.pseudonym_salt(s, "test-salt")
    expected = {
        "post_id": pl.Int64,
        "source": pl.String,
        "author": pl.String,
        "created_at": pl.Datetime("us", "UTC"),
        "model_version": pl.String,
        "depression_index": pl.Float32,
        "distress": pl.Float32,  # null for models without the distress head
        "language": pl.String,  # the network that read the post: en or ko
    }
    expected |= {name: pl.Float32 for name in SCORE_COLUMNS}
    expected |= {f"ko_{name}": pl.Float32 for name in SCORE_KOREAN}
    assert dict(frame.schema) == expected
    assert len(SCORE_COLUMNS) == 39 and "goemo_neutral" in SCORE_COLUMNS and "big5_opn" in SCORE_COLUMNS
    assert frame["post_id"].to_list() == [ids["a1"], ids["a2"], ids["a3"], ids["b1"]]  # skipped left out
    assert frame["created_at"].to_list() == [T0 + timedelta(days=d) for d in range(4)]
    assert frame["author"].to_list() == [
        store.pseudonym(salt, "masto", "ann"),
        store.pseudonym(salt, "masto", "bob"),
        None,
        store.pseudonym(salt, "masto", "ann"),
    ]
    assert frame["source"].to_list() == ["feed-a"] * 3 + ["feed-b"]
    assert frame["goemo_sadness"].to_list() == [0.25, 0.5, 0.75, 0.125]  # exact in float16
    assert frame["depression_index"].to_list() == [0.25, 0.5, 0.75, 0.125]


def test_filters(engine: Engine) -> None:
    ids = seed(engine)
    with session_scope(engine) as s:
        score_store.write_scores(s, "m-v1", [row(ids[k], 0.5) for k in ("a1", "a2", "a3", "b1")])
        score_store.write_scores(s, "m-v2", [row(ids["b2"], 0.5)])
    with session_scope(engine) as s:
        ann = store.pseudonym(store.pseudonym_salt(s, "test-salt"), "masto", "ann")
        assert score_store.read_scores(s, since=T0 + timedelta(days=1))["post_id"].to_list() == [
            ids["a2"],
            ids["a3"],
            ids["b1"],
            ids["b2"],
        ]
        assert score_store.read_scores(s, until=T0 + timedelta(days=1))["post_id"].to_list() == [ids["a1"]]
        assert score_store.read_scores(s, source="feed-b")["post_id"].to_list() == [ids["b1"], ids["b2"]]
        assert score_store.read_scores(s, author=ann)["post_id"].to_list() == [ids["a1"], ids["b1"]]
        assert score_store.read_scores(s, model_version="m-v2")["post_id"].to_list() == [ids["b2"]]
        empty = score_store.read_scores(s, source="nope")
    assert empty.height == 0 and len(empty.columns) == 8 + len(SCORE_COLUMNS) + len(SCORE_KOREAN)


def test_writing_another_version_replaces_the_post_row(engine: Engine) -> None:
    ids = seed(engine)
    with session_scope(engine) as s:
        score_store.write_scores(s, "m-v1", [row(ids["a1"], 0.25), row(ids["a2"], 0.25)])
    with session_scope(engine) as s:
        score_store.write_scores(s, "m-v2", [row(ids["a1"], 0.5)])
        score_store.write_scores(s, "m-v2", [row(ids["a1"], 0.75)])  # same version: updated
    with session_scope(engine) as s:
        rows = {(r.post_id, r.model_version): r.depression_index for r in s.scalars(select(Score))}
        assert score_store.version_counts(s) == {"m-v1": 1, "m-v2": 1}
    assert rows == {(ids["a1"], "m-v2"): 0.75, (ids["a2"], "m-v1"): 0.25}


def test_candidates_follow_version_text_and_rescore(engine: Engine) -> None:
    ids = seed(engine)
    with session_scope(engine) as s:
        score_store.write_scores(s, "m-v1", [row(ids["a1"], 0.5), row(ids["a2"], 0.5)])
        stale = row(ids["a3"], 0.5) | {"text_hash": "deadbeef"}
        score_store.write_scores(s, "m-v1", [stale])
    with session_scope(engine) as s:
        plain = score_store.next_candidates(s, after_id=0, limit=10, model_version="m-v2", rescore=False)
        again = score_store.next_candidates(s, after_id=0, limit=10, model_version="m-v2", rescore=True)
        same = score_store.count_candidates(s, model_version="m-v1", rescore=True)
        page = score_store.next_candidates(s, after_id=ids["a3"], limit=1, model_version="m-v2", rescore=False)
    assert [c.post_id for c in plain] == [ids["a3"], ids["b1"], ids["b2"]]  # a3: text changed
    assert [c.post_id for c in again] == sorted(ids.values())
    assert same == 3
    assert [c.post_id for c in page] == [ids["b1"]]
    assert plain[1].text == "text b1" and plain[1].text_hash == "0" * 8


def test_deleting_a_post_deletes_its_scores(engine: Engine) -> None:
    ids = seed(engine)
    with session_scope(engine) as s:
        score_store.write_scores(s, "m-v1", [row(ids["a1"], 0.5)])
    with session_scope(engine) as s:
        store.delete_posts(s, [ids["a1"]])
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(Score)) == 0


def test_pack_round_trip_is_float16_exact() -> None:
    rng = np.random.default_rng(0)
    probs = rng.random((5, len(SCORE_COLUMNS))).astype(np.float32)
    blobs = score_store.pack_probs(probs)
    assert all(len(b) == 78 for b in blobs)
    back = score_store.unpack_probs(blobs)
    assert back.dtype == np.float32 and back.shape == probs.shape
    np.testing.assert_allclose(back, probs, atol=2.5e-4)  # half a float16 step below 1
    assert score_store.unpack_probs([]).shape == (0, len(SCORE_COLUMNS))


@pytest.mark.sqlite_only(reason="SQLite stores timestamps as text; this reads ones written without a fraction")
@pytest.mark.parametrize("stamp", ["2025-03-01 08:00:00", "2025-03-01 08:00:00.250000"])
def test_timestamps_without_fraction_parse(engine: Engine, stamp: str) -> None:
    ids = seed(engine)
    with session_scope(engine) as s:
        s.connection().exec_driver_sql("UPDATE posts SET created_at = ? WHERE id = ?", (stamp, ids["a1"]))
        score_store.write_scores(s, "m-v1", [row(ids["a1"], 0.5)])
    with session_scope(engine) as s:
        got = score_store.read_scores(s)["created_at"][0]
    assert got == datetime.fromisoformat(stamp).replace(tzinfo=UTC)


@pytest.mark.sqlite_only(reason="compares the SQLite driver-level upsert with the statement")
def test_sqlite_fast_upsert_stores_what_the_statement_stores(tmp_path) -> None:
    from monitor.store.engine import ensure_schema, make_engine

    stored = []
    for name, write in (("fast", score_store._upsert_sqlite), ("statement", score_store._upsert_statement)):
        url = f"sqlite:///{tmp_path / name}.db"
        engine = make_engine(url)
        ensure_schema(engine)
        ids = seed(engine)
        rows = [
            row(ids["a1"], 0.25),
            {**row(ids["a2"], 0.5), "scored_at": T0 + timedelta(microseconds=7)},
            row(ids["b2"], 0.0, status="skipped"),
        ]
        with session_scope(engine) as s:
            write(s, "m-v1", rows)
            write(s, "m-v1", [row(ids["a1"], 0.75)])  # the same post and version again: updated
        with engine.connect() as connection:
            stored.append(connection.exec_driver_sql("SELECT * FROM scores ORDER BY post_id").fetchall())
        with session_scope(engine) as s:
            frame = score_store.read_scores(s)
        engine.dispose()
        assert frame.filter(pl.col("post_id") == ids["a1"])["depression_index"].to_list() == [0.75]
    assert stored[0] == stored[1]
    assert len(stored[0]) == 3
