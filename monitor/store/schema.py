"""Database tables as a SQLAlchemy 2.0 typed ORM.

Every stage writes its own table; ``migrations/versions`` holds one revision per change here.
A test compares the head revision with this metadata, so the two cannot drift apart.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from monitor.labels import BIG5_TRAITS, CARER_LABELS, GOEMOTIONS_LABELS, KOREAN_LABELS

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as naive UTC and read back timezone-aware (UTC).

    SQLite has no time zones; storing naive UTC keeps ordering and comparisons right on every
    backend. Naive inputs are taken to be UTC already.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    """Declarative base with a constraint naming convention (stable names for migrations)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Meta(Base):
    """Key/value facts about this database (e.g. the pseudonym salt)."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Source(Base):
    """A configured or ad-hoc input, with its runtime fetch state."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(512), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    location: Mapped[str] = mapped_column(Text)
    # Feed state: the URL currently fetched (changes on 301/308), cache validators, 410/429.
    url: Mapped[str | None] = mapped_column(Text)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(String(128))
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    retry_after: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_ingested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Author(Base):
    """An author: platform, handle and pseudonym (the only form ever printed or sent).

    ``handle`` is the normal form of :func:`monitor.identity.account` (a placeholder once
    retention removed it); ``identity_hash`` is :func:`monitor.identity.author_digest`, the key a
    later post of the same author finds the row by, however the handle is written and after the
    handle is gone. Rows from before identities were normalised have no ``identity_hash`` until
    the author is ingested again (they keep their pseudonym).
    """

    __tablename__ = "authors"
    __table_args__ = (
        UniqueConstraint("platform", "handle"),
        Index("uq_authors_identity_hash", "identity_hash", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(255))
    handle: Mapped[str] = mapped_column(String(512))
    pseudonym: Mapped[str] = mapped_column(String(32), index=True)
    identity_hash: Mapped[str | None] = mapped_column(String(64))


class Post(Base):
    """One stored post; ``text`` becomes NULL when the retention period expires."""

    __tablename__ = "posts"
    __table_args__ = (
        UniqueConstraint("source_id", "external_id"),
        Index("ix_posts_created_at", "created_at"),
        Index("ix_posts_author_id", "author_id"),
        # The alerts window reaches back to the oldest post ingested in it (monitor.alerts.stage).
        Index("ix_posts_ingested_at", "ingested_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(512))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("authors.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    text: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(16))
    content_hash: Mapped[str] = mapped_column(String(32))
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Rejected(Base):
    """A record that could not be stored, with where it was and why (one row per location).

    ``author_id`` is set when the record's author could be read, so excluding the author
    removes the record too. ``reason`` never holds the record's text (at most a short date-like
    value, see :func:`monitor.ingest.text.shown_value`).
    """

    __tablename__ = "rejected"
    __table_args__ = (
        UniqueConstraint("source_id", "location"),
        Index("ix_rejected_author_id", "author_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    location: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text)
    rejected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("authors.id", ondelete="SET NULL"))


class Run(Base):
    """One execution of a stage or of the whole pipeline."""

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    command: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))  # running | ok | failed | interrupted
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stats: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    message: Mapped[str | None] = mapped_column(Text)


class Alert(Base):
    """A subject (author pseudonym or source) flagged by an alert rule for a human to review.

    ``trigger_*`` name the post at which the rule first fired, so detection latency can be
    measured; ``dedup_key`` makes one episode raise one alert however often rules re-run.
    """

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_rule_subject", "rule", "subject_kind", "subject"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule: Mapped[str] = mapped_column(String(32))  # level | rise | burst | source_shift
    subject_kind: Mapped[str] = mapped_column(String(16))  # author | source
    subject: Mapped[str] = mapped_column(String(512))  # pseudonym or source name
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    severity: Mapped[str] = mapped_column(String(16))  # low | medium | high
    status: Mapped[str] = mapped_column(String(16), index=True)  # new | acknowledged | resolved
    trigger_post_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id", ondelete="SET NULL"))
    trigger_index: Mapped[int | None] = mapped_column(Integer)
    trigger_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    model_version: Mapped[str | None] = mapped_column(String(128))
    dedup_key: Mapped[str] = mapped_column(String(255), unique=True)


class Delivery(Base):
    """One alert's delivery through one channel: pending while ``delivered_at`` is NULL.

    Rows are made when the alert is stored, one per configured channel; the alerts stage
    retries pending rows on every run until the channel accepts the alert.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("alert_id", "channel"),
        Index("ix_deliveries_pending", "channel", "delivered_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))  # terminal | file | webhook | email
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class AlertAction(Base):
    """What a reviewer did with an alert (acknowledged, resolved), who did it, when and why."""

    __tablename__ = "alert_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(16))  # acknowledged | resolved
    by: Mapped[str] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(Text)
    verdict: Mapped[str | None] = mapped_column(String(16))  # on resolve: true_alarm | false_alarm | unsure


class Reveal(Base):
    """One re-identification of a pseudonym (``emomon authors reveal``): who, when and why."""

    __tablename__ = "reveals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pseudonym: Mapped[str] = mapped_column(String(32))
    by: Mapped[str] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text)


class User(Base):
    """A reviewer's account for ``emomon serve``: name, role and an argon2 password hash."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # reviewer | lead
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


# ---------------------------------------------------------------------------- scores

SCORE_GOEMOTIONS: tuple[str, ...] = GOEMOTIONS_LABELS
SCORE_CARER: tuple[str, ...] = CARER_LABELS
SCORE_BIG5: tuple[str, ...] = tuple(t.lower() for t in BIG5_TRAITS)
#: The 39 probabilities packed in ``Score.probs``, in this order (the score-frame column names).
SCORE_COLUMNS: tuple[str, ...] = (
    *(f"goemo_{label}" for label in SCORE_GOEMOTIONS),
    *(f"carer_{label}" for label in SCORE_CARER),
    *(f"big5_{trait}" for trait in SCORE_BIG5),
)
#: The 6 Korean class probabilities packed in ``Score.korean`` (score-frame columns ``ko_<label>``).
SCORE_KOREAN: tuple[str, ...] = KOREAN_LABELS
#: numpy dtype of ``Score.probs``: little-endian IEEE float16.
SCORE_PROBS_DTYPE = "<f2"


class Score(Base):
    """One post scored (or skipped) by one model version; at most one row per post in practice.

    Layout, chosen for a million posts that trend reports read in one go:

    * ``probs`` packs the 39 head probabilities (28 GoEmotions, 6 CARER, 5 Big Five, in
      :data:`SCORE_COLUMNS` order) as little-endian float16: 78 bytes instead of the 312 that
      39 SQLite REAL columns take (SQLite stores every REAL as 8 bytes). Reading is one blob per
      row and one ``numpy.frombuffer`` for the whole result, not 39 Python floats per row.
      float16 keeps 3 significant digits (absolute error <= 2.5e-4 on a probability), finer
      than the model's own bf16 inference noise, and plenty for trends and thresholds.
    * ``depression_index`` is promoted to a REAL column: alert rules and ad-hoc SQL filter and
      aggregate it without decoding the blob, and it keeps full precision.
      ``distress`` (personal distress, from models with that head; NULL otherwise) likewise.
    * The primary key ``(post_id, model_version)`` is the uniqueness rule, and the table is
      ``WITHOUT ROWID`` on SQLite, so rows are clustered by post id: the join from ``posts``
      is one B-tree lookup and no separate unique index is stored.
    * ``text_hash`` (the first 8 hex digits of ``posts.content_hash``) marks a score stale when
      ingest later replaces the post's text, so it is scored again.

    A row is about 160 bytes, so a million scored posts take about 160 MB.
    """

    __tablename__ = "scores"
    # scored_at: the alerts stage finds what was scored since its last run (monitor.alerts.stage).
    __table_args__ = (Index("ix_scores_scored_at", "scored_at"), {"sqlite_with_rowid": False})

    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True)
    model_version: Mapped[str] = mapped_column(String(128), primary_key=True)
    status: Mapped[str] = mapped_column(String(8))  # scored | skipped
    reason: Mapped[str | None] = mapped_column(String(64))  # e.g. "language:de", "no-text"
    depression_index: Mapped[float | None] = mapped_column(Float)
    distress: Mapped[float | None] = mapped_column(Float)
    probs: Mapped[bytes | None] = mapped_column(LargeBinary)  # 39 x float16, SCORE_COLUMNS order
    # The network that read a scored post: "en" (probs) or "ko" (korean); NULL on skipped rows.
    language: Mapped[str | None] = mapped_column(String(8))
    korean: Mapped[bytes | None] = mapped_column(LargeBinary)  # 6 x float16, SCORE_KOREAN order (Korean posts)
    windows: Mapped[int] = mapped_column(SmallInteger)  # windows the post was split into (0: skipped)
    text_hash: Mapped[str] = mapped_column(String(8))
    scored_at: Mapped[datetime] = mapped_column(UTCDateTime)


def table_of(model: type[Base]) -> Table:
    """The Core table of an ORM class (``__table__`` is typed as a plain FromClause)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table
