"""Reads and writes of the ``scores`` table. Every function takes a Session; callers commit.

A post needs scoring when it has no score row, when its text changed since it was scored
(``scores.text_hash`` differs from ``posts.content_hash``), or, with ``rescore``, when its row
is from another model version. Writing a post's new row deletes its rows of other versions in
the same transaction, so each post keeps exactly one score and an old score stays until its
replacement is committed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import ColumnElement, and_, delete, exists, func, or_, select, type_coerce
from sqlalchemy.orm import Session
from sqlalchemy.types import String

from monitor.store.engine import IN_CHUNK, in_chunks, upsert_insert
from monitor.store.schema import (
    SCORE_COLUMNS,
    SCORE_KOREAN,
    SCORE_PROBS_DTYPE,
    Author,
    Post,
    Score,
    Source,
    table_of,
)

if TYPE_CHECKING:
    import polars as pl  # imported where a frame is built: scoring itself never needs it

HASH_CHARS = 8
_UPDATED = (
    "status",
    "reason",
    "depression_index",
    "distress",
    "probs",
    "windows",
    "text_hash",
    "scored_at",
    "language",
    "korean",
)
_SQLITE_UPSERT = (
    f"INSERT INTO {Score.__tablename__} (post_id, model_version, {', '.join(_UPDATED)}) "
    f"VALUES ({', '.join('?' * (2 + len(_UPDATED)))}) "
    f"ON CONFLICT (post_id, model_version) DO UPDATE SET " + ", ".join(f"{name} = excluded.{name}" for name in _UPDATED)
)


@dataclass(frozen=True)
class Candidate:
    """A post to score: its id, text (None once purged), source language tag and hash."""

    post_id: int
    text: str | None
    language: str | None
    content_hash: str

    @property
    def text_hash(self) -> str:
        """The prefix of ``content_hash`` stored with the score."""
        return self.content_hash[:HASH_CHARS]


def _needs_score(model_version: str, rescore: bool) -> ColumnElement[bool]:
    """SQL condition on ``posts``: this post is to be scored (see the module docstring)."""
    has_text = Post.text.is_not(None)
    any_score = exists().where(Score.post_id == Post.id)
    stale = exists().where(
        Score.post_id == Post.id,
        Score.text_hash != func.substr(Post.content_hash, 1, HASH_CHARS),
    )
    condition = or_(~any_score, and_(has_text, stale))
    if rescore:
        other = exists().where(Score.post_id == Post.id, Score.model_version != model_version)
        condition = or_(condition, and_(has_text, other))
    return condition


def next_candidates(
    session: Session, *, after_id: int, limit: int, model_version: str, rescore: bool
) -> list[Candidate]:
    """Up to ``limit`` posts to score with id > ``after_id``, by id (keyset pagination)."""
    rows = session.execute(
        select(Post.id, Post.text, Post.language, Post.content_hash)
        .where(Post.id > after_id, _needs_score(model_version, rescore))
        .order_by(Post.id)
        .limit(limit)
    )
    return [Candidate(*row) for row in rows]


def count_candidates(session: Session, *, model_version: str, rescore: bool) -> int:
    """How many posts :func:`next_candidates` would return in all."""
    return session.scalar(select(func.count()).select_from(Post).where(_needs_score(model_version, rescore))) or 0


def version_counts(session: Session) -> dict[str, int]:
    """Score rows per model version."""
    rows = session.execute(select(Score.model_version, func.count()).group_by(Score.model_version))
    return {version: count for version, count in rows}


def pack_probs(probs: np.ndarray) -> list[bytes]:
    """[N, 39] probabilities in :data:`SCORE_COLUMNS` order -> one float16 blob per row."""
    packed = np.ascontiguousarray(probs, dtype=SCORE_PROBS_DTYPE)
    return [row.tobytes() for row in packed]


def unpack_probs(blobs: Sequence[bytes | None], width: int = len(SCORE_COLUMNS)) -> np.ndarray:
    """Blobs written by :func:`pack_probs` -> [N, width] float32; NaN rows where a blob is None
    (the English heads of a Korean post, the Korean classes of an English one)."""
    if not blobs:
        return np.zeros((0, width), dtype=np.float32)
    missing = np.full(width, np.nan, dtype=SCORE_PROBS_DTYPE).tobytes()
    flat = np.frombuffer(b"".join(missing if blob is None else blob for blob in blobs), dtype=SCORE_PROBS_DTYPE)
    return flat.reshape(len(blobs), width).astype(np.float32)


def write_scores(session: Session, model_version: str, rows: Sequence[dict[str, Any]]) -> None:
    """Store one chunk of score rows (keys: the ``scores`` columns) for ``model_version``.

    Rows of other versions for the same posts are deleted first, in the caller's transaction.
    """
    if not rows:
        return
    post_ids = [row["post_id"] for row in rows]
    for chunk in in_chunks(post_ids):
        session.execute(
            delete(Score).where(
                Score.post_id.in_(chunk),
                Score.model_version != model_version,
            )
        )
    if session.get_bind().dialect.name == "sqlite":
        _upsert_sqlite(session, model_version, rows)
    else:
        _upsert_statement(session, model_version, rows)


def _upsert_statement(session: Session, model_version: str, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows, replacing a post's row of the same version (any supported backend)."""
    stmt = upsert_insert(session, table_of(Score))
    stmt = stmt.on_conflict_do_update(
        index_elements=["post_id", "model_version"],
        set_={name: getattr(stmt.excluded, name) for name in _UPDATED},
    )
    session.execute(stmt, [{**row, "model_version": model_version} for row in rows])


def _upsert_sqlite(session: Session, model_version: str, rows: Sequence[dict[str, Any]]) -> None:
    """:func:`_upsert_statement` for SQLite, as one driver-level executemany.

    Writes run on the model's thread, and SQLAlchemy's per-row parameter processing cost about
    2.4 s of CPU per 50,000 rows (profiled with the model stubbed out). Values here are already
    plain Python types; timestamps go through the column type's own bind processor, once per
    distinct value, so the stored text is the same (tested).
    """
    dialect = session.get_bind().dialect
    stamp_type = table_of(Score).c.scored_at.type
    to_db = stamp_type.dialect_impl(dialect).bind_processor(dialect)  # as the compiled statement does
    stamps: dict[datetime, Any] = {}
    params = []
    for row in rows:
        stamp = row["scored_at"]
        if stamp not in stamps:
            stamps[stamp] = to_db(stamp) if to_db is not None else stamp
        params.append(
            (
                row["post_id"],
                model_version,
                row["status"],
                row["reason"],
                row["depression_index"],
                row.get("distress"),
                row["probs"],
                row["windows"],
                row["text_hash"],
                stamps[stamp],
                row.get("language"),
                row.get("korean"),
            )
        )
    session.connection().exec_driver_sql(_SQLITE_UPSERT, params)


def read_scores(
    session: Session,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    source: str | None = None,
    author: str | None = None,
    model_version: str | None = None,
    probs: bool = True,
) -> pl.DataFrame:
    """Scored posts as a score frame, by ``created_at`` then ``post_id``.

    Columns: ``post_id`` (i64), ``source`` (name), ``author`` (pseudonym, null when unknown),
    ``created_at`` (UTC), ``model_version``, ``depression_index`` (f32), ``distress`` (f32, null
    for models without the distress head; for Korean posts the Korean depression index, their
    person signal), ``language`` (the network that read the post: ``en`` or ``ko``), then the 39
    probabilities ``goemo_<label>``, ``carer_<label>``, ``big5_<trait>`` (f32; null for Korean
    posts) and the 6 ``ko_<label>`` (null for English posts). Skipped posts are left out.

    Args:
        session: An open session.
        since: Only posts created at or after this time.
        until: Only posts created before this time.
        source: Only this source (by name).
        author: Only this author (by pseudonym).
        model_version: Only scores of this model version.
        probs: Include the probabilities (False: the frame ends at ``language``; the alert
            rules need no more, and the blobs are most of what is read).
    """
    import polars as pl

    sqlite = session.get_bind().dialect.name == "sqlite"
    # On SQLite the timestamp is read as its stored text and parsed by polars in one go; source
    # names and pseudonyms are mapped from their small tables instead of joined on every row.
    created = type_coerce(Post.created_at, String) if sqlite else Post.created_at
    stmt = (
        select(
            Score.post_id,
            Post.source_id,
            Post.author_id,
            created,
            Score.model_version,
            Score.depression_index,
            Score.distress,
            Score.language,
            *([Score.probs, Score.korean] if probs else []),
        )
        .join(Post, Post.id == Score.post_id)
        .where(Score.status == "scored")
        .order_by(Post.created_at, Score.post_id)
    )
    if since is not None:
        stmt = stmt.where(Post.created_at >= since)
    if until is not None:
        stmt = stmt.where(Post.created_at < until)
    if source is not None:
        stmt = stmt.where(Post.source_id.in_(select(Source.id).where(Source.name == source)))
    if author is not None:
        stmt = stmt.where(Post.author_id.in_(select(Author.id).where(Author.pseudonym == author)))
    if model_version is not None:
        stmt = stmt.where(Score.model_version == model_version)
    result = session.connection().execute(stmt)
    try:
        # The driver's rows (plain tuples) a chunk at a time, each made columns at once: no
        # Row object per row, and no more than one chunk of Python values held at a time.
        parts = [_frame_part(rows, probs=probs, sqlite=sqlite) for rows in _chunks(result.cursor)]
    finally:
        result.close()
    ids = pl.concat(parts) if parts else _frame_part([], probs=probs, sqlite=sqlite)
    names = dict(session.execute(select(Source.id, Source.name)).all())
    wanted = ids["author_id"].drop_nulls().unique().sort().to_list()
    pseudonyms: dict[int, str] = {}
    if len(wanted) > 20 * IN_CHUNK:  # many authors: one pass over the table beats IN lists
        pseudonyms.update(session.execute(select(Author.id, Author.pseudonym)).all())
    else:
        for part in in_chunks(wanted):
            pseudonyms.update(session.execute(select(Author.id, Author.pseudonym).where(Author.id.in_(part))).all())
    return (
        korean_signal(ids)
        .with_columns(
            pl.col("source_id").replace_strict(names, return_dtype=pl.String).alias("source_id"),
            pl.col("author_id").replace_strict(pseudonyms, default=None, return_dtype=pl.String).alias("author_id"),
        )
        .rename({"source_id": "source", "author_id": "author"})
    )


def korean_signal(frame: pl.DataFrame) -> pl.DataFrame:
    """Korean posts have no distress head: where the English posts of the frame carry distress
    (or there are none), the Korean depression index is the Korean posts' ``distress``, the
    person signal alerts read. Where English distress is absent (a model without the head),
    every post's signal is the index already."""
    import polars as pl

    korean = pl.col("language") == "ko"
    english = frame.filter(~korean.fill_null(False))
    if english.height and english["distress"].null_count() == english.height:
        return frame
    return frame.with_columns(
        pl.when(korean).then(pl.col("depression_index")).otherwise(pl.col("distress")).alias("distress")
    )


READ_CHUNK = 100_000


def _chunks(cursor: Any) -> Iterator[list[tuple[Any, ...]]]:
    while rows := cursor.fetchmany(READ_CHUNK):
        yield rows


def _frame_part(rows: Sequence[tuple[Any, ...]], *, probs: bool, sqlite: bool) -> pl.DataFrame:
    """One chunk of :func:`read_scores` rows as a frame (ids where names go)."""
    import polars as pl

    width = 10 if probs else 8
    post_ids, source_ids, author_ids, times, versions, index, distress, language, *blobs = (
        zip(*rows) if rows else ((),) * width
    )
    if sqlite:  # the stored text, parsed by polars in one go
        created_at = pl.Series("created_at", times, dtype=pl.String).str.to_datetime(
            "%Y-%m-%d %H:%M:%S%.f", time_unit="us", time_zone="UTC"
        )
    else:  # naive UTC, as stored
        created_at = pl.Series("created_at", times, dtype=pl.Datetime("us")).dt.replace_time_zone("UTC")
    frame = pl.DataFrame(
        [
            pl.Series("post_id", post_ids, dtype=pl.Int64),
            pl.Series("source_id", source_ids, dtype=pl.Int64),
            pl.Series("author_id", author_ids, dtype=pl.Int64),
            created_at,
            pl.Series("model_version", versions, dtype=pl.String),
            pl.Series("depression_index", index, dtype=pl.Float32),
            pl.Series("distress", distress, dtype=pl.Float32),
            pl.Series("language", language, dtype=pl.String),
        ]
    )
    if not probs:
        return frame
    values = unpack_probs(blobs[0])
    korean = unpack_probs(blobs[1], len(SCORE_KOREAN))
    return frame.hstack(
        [pl.Series(name, values[:, i], dtype=pl.Float32, nan_to_null=True) for i, name in enumerate(SCORE_COLUMNS)]
        + [
            pl.Series(f"ko_{name}", korean[:, i], dtype=pl.Float32, nan_to_null=True)
            for i, name in enumerate(SCORE_KOREAN)
        ]
    )
