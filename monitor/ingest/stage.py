"""The ingest stage: read sources, account for every record, store posts in batches.

Every record read ends as exactly one of inserted, updated (same id, changed text), duplicate,
rejected (stored in ``rejected`` with location, reason and the capped raw record) or excluded
(opt-out marker or excluded author; never stored). Each batch is one transaction, so a killed
run loses at most the batch in flight and the next run completes the work: records already
stored count as duplicates then.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.pool import SingletonThreadPool, StaticPool

from monitor.clock import utcnow
from monitor.errors import SourceError
from monitor.failures import ended_by
from monitor.identity import Exclusion, account
from monitor.ingest.limits import ReadLimits
from monitor.ingest.records import FeedResult, RawRecord
from monitor.ingest.registry import canonical_location, guess_kind, read_source
from monitor.ingest.text import (
    MarkerPattern,
    clean_text,
    content_hash,
    json_unescaped,
    marker_form,
    marker_pattern,
)
from monitor.redact import redact_url
from monitor.settings import Settings, SourceSettings
from monitor.store import posts as store
from monitor.store.engine import session_scope
from monitor.store.runs import finish_run, start_run

log = logging.getLogger(__name__)
COUNT_KEYS = ("read", "inserted", "updated", "duplicate", "rejected", "excluded")
Progress = Callable[[str, int], None]


@dataclass
class SourceReport:
    """What ingesting one source did; ``read`` always equals the sum of the other five counts."""

    name: str
    kind: str
    read: int = 0
    inserted: int = 0
    updated: int = 0
    duplicate: int = 0
    rejected: int = 0
    excluded: int = 0
    status: str = "ok"  # ok | not_modified | gone | retry_later | error
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    no_text: int = 0  # of the rejected: records without text (a column mapping that never matches)
    first_rejection: str | None = None  # the reason the first rejected record was given

    def counts(self) -> dict[str, int]:
        """The six counts by name."""
        return {key: getattr(self, key) for key in COUNT_KEYS}

    def to_json(self) -> dict[str, Any]:
        """JSON form: name, the six counts, status, error and warnings."""
        return {
            "name": self.name,
            **self.counts(),
            "status": self.status,
            "error": self.error,
            "warnings": self.warnings,
        }


@dataclass
class IngestReport:
    """The outcome of one ingest run."""

    sources: list[SourceReport]
    run_id: int | None = None

    @property
    def ok(self) -> bool:
        """True when no source failed as a whole."""
        return all(s.status != "error" for s in self.sources)

    def totals(self) -> dict[str, int]:
        """The six counts summed over sources."""
        return {key: sum(getattr(s, key) for s in self.sources) for key in COUNT_KEYS}

    def to_json(self) -> dict[str, Any]:
        """``{"sources": [...], "totals": {...}}`` as ``emomon ingest --json`` prints it."""
        return {"sources": [s.to_json() for s in self.sources], "totals": self.totals()}


def adhoc_source(location: str, kind: str | None = None) -> SourceSettings:
    """A source for a path or URL given on the command line (named by its canonical location)."""
    location = canonical_location(location)
    return SourceSettings.model_validate({"name": location, "kind": kind or guess_kind(location), "location": location})


def with_kind(source: SourceSettings, kind: str | None) -> SourceSettings:
    """The source with its kind replaced when ``kind`` is given."""
    return source.model_copy(update={"kind": kind}) if kind else source


def ingest(
    engine: Engine,
    settings: Settings,
    sources: Sequence[SourceSettings],
    *,
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest the given sources and record the run in ``runs``.

    A source that fails as a whole (missing file, unreachable feed, every record rejected so
    nothing could be stored) is reported with status ``"error"`` and the others still run.
    """
    run_id = start_run(engine, "ingest")
    with session_scope(engine) as session:
        salt = store.pseudonym_salt(session, settings.privacy.pseudonym_salt)
    exclusion = Exclusion.of(settings.privacy.exclude_authors)
    if exclusion is not None:
        with session_scope(engine) as session:
            store.forget_authors(session, exclusion)
    report = IngestReport(sources=[], run_id=run_id)
    readers: dict[str, str] = {}  # canonical location -> the source that reads it
    try:
        for source in sources:
            source = source.model_copy(update={"location": canonical_location(source.location)})
            first = readers.setdefault(source.location, source.name)
            if first != source.name:
                report.sources.append(_read_elsewhere(source, first))
                continue
            report.sources.append(_ingest_source(engine, settings, source, salt, progress))
    except BaseException as exc:
        status, why = ended_by(exc)
        _finish_run(engine, run_id, status, report, why)
        raise
    failed = [s for s in report.sources if s.status == "error"]
    message = "; ".join(f"{s.name}: {s.error}" for s in failed) or None
    _finish_run(engine, run_id, "failed" if failed else "ok", report, message)
    return report


def _read_elsewhere(source: SourceSettings, first: str) -> SourceReport:
    """The report of a source whose location another source of the same run already reads."""
    return SourceReport(
        name=source.name,
        kind=source.kind,
        status="error",
        error=f"reads {redact_url(source.location)} like source {first!r}: remove one of the two [[sources]] entries",
    )


def _finish_run(engine: Engine, run_id: int, status: str, report: IngestReport, message: str | None) -> None:
    finish_run(engine, run_id, status, report.to_json(), message)


def _ingest_source(
    engine: Engine, settings: Settings, source: SourceSettings, salt: str, progress: Progress | None
) -> SourceReport:
    report = SourceReport(name=source.name, kind=source.kind)
    now = utcnow()
    with session_scope(engine) as session:
        row = store.get_or_create_source(session, name=source.name, kind=source.kind, location=source.location)
        source_id = row.id
        state = store.feed_state(row)
    feed_state = None  # a feed's new state, stored once all its records are
    batcher = _Batcher(
        engine,
        settings,
        source_id,
        source.author_platform(),
        salt,
        report,
        now,
        legacy_platforms=(source.name, source.location),
    )
    limits = ReadLimits.from_settings(settings.ingest)
    try:
        if source.kind == "feed":
            records: Iterable[RawRecord]
            records, feed_state = _fetch_feed(engine, settings, source_id, state, report, now, limits)
        else:
            records = read_source(source, limits)
        for record in records:
            limits.check_time()
            batcher.add(record)
            if batcher.full():
                batcher.flush()
                if progress is not None:
                    progress(source.name, report.read)
        batcher.flush()
        batcher.drain()
    except SourceError as exc:
        _source_failed(report, batcher, str(exc))
    except SQLAlchemyError:
        raise  # the database, not this source: the run cannot go on
    except Exception as exc:  # noqa: BLE001 - a reader's bug on one hostile source stops only it
        log.debug("source %s failed", source.name, exc_info=True)
        _source_failed(
            report, batcher, f"unexpected {type(exc).__name__} while reading: {exc}; please report this as a bug"
        )
    finally:
        batcher.close()
    if progress is not None:
        progress(source.name, report.read)
    if report.status != "error" and report.rejected and not (report.inserted + report.updated + report.duplicate):
        report.status, report.error = "error", _all_rejected(source, report)  # nothing stored: a failed source
    if report.status != "error":
        with session_scope(engine) as session:
            if feed_state is not None:
                store.save_feed_state(session, source_id, feed_state)
            store.mark_ingested(session, source_id, now)
    return report


def _source_failed(report: SourceReport, batcher: _Batcher, reason: str) -> None:
    """Keep what was read, and mark the source failed with a one-line reason."""
    batcher.flush()
    batcher.drain()
    report.status = "error"
    report.error = " ".join(reason.split())[:500]


def _all_rejected(source: SourceSettings, report: SourceReport) -> str:
    """Why a source whose every record was rejected failed: the text column when most records had
    no text, else the first record's reason."""
    if report.no_text * 2 >= report.rejected:
        return _text_column_warning(source)
    first = (report.first_rejection or "").rstrip(".")
    return (
        f"every record ({report.rejected}) was rejected, the first as {first!r}: fix the file or the "
        f"source's settings and ingest it again (the records are kept with their reasons)"
    )


def _text_column_warning(source: SourceSettings) -> str:
    """The reason for a source whose records had no text: which column, and what the file has."""
    from monitor.ingest.files import column_map, column_names

    wanted = column_map(source.columns)["text"]
    have = column_names(source.location, source.kind)
    found = f"the file has the columns {', '.join(have)}" if have else "check the file's columns"
    return (
        f"every record was rejected as 'no text': column {wanted!r} matched nothing; {found}; "
        f'map the text column: columns = {{text = "NAME"}} in [[sources]]'
    )


def _fetch_feed(
    engine: Engine,
    settings: Settings,
    source_id: int,
    state: store.FeedState,
    report: SourceReport,
    now: datetime,
    limits: ReadLimits,
) -> tuple[list[RawRecord], store.FeedState]:
    """Fetch a feed source (the feed reader itself holds back a paused or backing-off source).

    Returns the records and the state to store once they all are. The new URL, pause and back-off
    are stored at once; the new validators (ETag, Last-Modified) only then: stored before, they
    would answer the next run's conditional request with 304 and lose the records a cut-short
    or killed run did not store. The stored validators always describe a body stored whole.
    """
    # The feed reader pulls in httpx and feedparser; file-only runs never import them.
    from monitor.ingest.feeds import read_feed

    result: FeedResult = read_feed(
        state,
        timeout_s=settings.ingest.timeout_s,
        max_bytes=settings.ingest.max_bytes,
        user_agent=settings.ingest.user_agent,
        now=now,
        time_left=limits.time_left(),
    )
    with session_scope(engine) as session:
        store.save_feed_state(
            session, source_id, replace(result.state, etag=state.etag, last_modified=state.last_modified)
        )
    report.status = result.status
    report.warnings.extend(result.warnings)
    return result.records, result.state


@dataclass(frozen=True)
class DateBounds:
    """The dates a post may have: from ``[ingest] earliest`` to the run's clock plus the tolerance."""

    earliest: datetime
    latest: datetime
    tolerance_hours: float

    @classmethod
    def of(cls, settings: Settings, now: datetime) -> DateBounds:
        """The bounds of a run whose clock reads ``now``."""
        day: date = settings.ingest.earliest
        hours = settings.ingest.future_tolerance_hours
        return cls(datetime(day.year, day.month, day.day, tzinfo=UTC), now + timedelta(hours=hours), hours)

    def problem(self, created_at: datetime) -> str | None:
        """Why a post dated ``created_at`` is rejected, or None when the date is plausible."""
        if created_at > self.latest:
            return (
                f"date {created_at.isoformat()} is more than ingest.future_tolerance_hours = "
                f"{self.tolerance_hours:g} hours after this run's clock"
            )
        if created_at < self.earliest:
            return f"date {created_at.isoformat()} is before ingest.earliest = {self.earliest.date().isoformat()}"
        return None


#: The longest rejection reason stored (reasons name the problem, never carry the record's text).
MAX_REASON = 300


class _Batch(NamedTuple):
    """A batch accounted for and ready to store."""

    counts: dict[str, int]
    pending: dict[str, dict[str, Any]]  # external id -> the posts row to store (with its author's handle)
    rejected: list[dict[str, Any]]
    excluded_ids: list[str]  # ids of opted-out posts (deleted where stored)
    excluded_at: list[tuple[str, datetime]]  # (author, created_at) of opted-out records without an id
    opted_out: list[str]  # locations of opted-out records (never stored, even rejected)


class _Batcher:
    """Collects records and stores each full batch in one transaction."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        source_id: int,
        platform: str,
        salt: str,
        report: SourceReport,
        now: datetime,
        *,
        legacy_platforms: Sequence[str] = (),
    ) -> None:
        self.engine = engine
        self.source_id = source_id
        self.platform = platform
        self.legacy_platforms = tuple(legacy_platforms)  # how an older store keyed this source's authors
        self.salt = salt
        self.report = report
        self.now = now
        self.batch_size = settings.ingest.batch_size
        self.max_text = settings.ingest.max_text_chars
        self.max_raw = settings.ingest.max_raw_chars
        self.dates = DateBounds.of(settings, now)
        days = settings.retention.raw_text_days
        # A purged post sent again gets its text back only while inside retention.
        self.keeps_text_since = now - timedelta(days=days) if days else None
        self.markers = marker_pattern(settings.privacy.opt_out_markers)
        self.exclusion = Exclusion.of(settings.privacy.exclude_authors)
        # Excluded names as they may appear in a raw record that failed to parse.
        self.excluded_names = self.exclusion.raw_pattern() if self.exclusion is not None else None
        self.records: list[RawRecord] = []
        self.author_ids: dict[str, int] = {}  # handle as written -> authors row
        self.restored: set[int] = set()  # authors rows whose handle this run already gave back (or kept)
        # Batches are stored on a thread of their own while the next one is read, except where a
        # connection cannot be shared between threads (an in-memory SQLite database).
        shared = not isinstance(engine.pool, (SingletonThreadPool, StaticPool))
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="emomon-ingest") if shared else None
        self._in_flight: Future[None] | None = None

    def add(self, record: RawRecord) -> None:
        self.records.append(record)

    def full(self) -> bool:
        return len(self.records) >= self.batch_size

    def _is_excluded_author(self, author: str | None) -> bool:
        if self.exclusion is None or not author:
            return False
        return self.exclusion.matches(self.platform, author)

    def _opted_out(self, record: RawRecord, markers: MarkerPattern | None) -> bool:
        """An excluded author, or a marker anywhere in the record (text, title, other fields)."""
        if self._is_excluded_author(record.author):
            return True
        if markers is None:
            return False
        return any(markers.search(field) for field in _marker_fields(record) if field)

    def _batch_markers(self, records: Sequence[RawRecord]) -> MarkerPattern | None:
        """The opt-out markers to search each record of a batch for: None when no record of the
        batch can hold one (the common case, told by one pass over the whole batch)."""
        markers = self.markers
        if markers is None:
            return None
        fields = [f for r in records for f in (r.text, r.author, r.raw)]
        fields += [json_unescaped(r.raw) for r in records if "\\u" in r.raw]
        if not markers.may_occur(fields):
            return None
        return markers

    def _names_excluded(self, raw: str) -> bool:
        """The raw record names an excluded author (its author field may not have been read)."""
        names = self.excluded_names
        return names is not None and (names.search(raw) or names.search(json_unescaped(raw)))

    def _earlier_hashes(self, text: str | None) -> list[str]:
        """Content hashes an earlier copy of an opted-out post without an id may be stored under:
        its text's, and its text's without the markers (the marker added later)."""
        if not text:
            return []
        hashes = [content_hash(text)]
        if self.markers is not None:
            bare = clean_text(self.markers.pattern.sub(" ", marker_form(text)))
            if bare and bare != text:
                hashes.append(content_hash(bare))
        return hashes

    def _inside_retention(self, ingested_at: datetime) -> bool:
        """True when a post first ingested at ``ingested_at`` may still keep its text."""
        return self.keeps_text_since is None or ingested_at >= self.keeps_text_since

    def flush(self) -> None:
        """Account for the collected records and hand them to the writer, which stores them in one
        transaction while the caller reads and accounts for the next batch (:meth:`drain` waits).

        Batches are stored one at a time, in order, so the outcome is the sequential one; only
        the Python work of one batch overlaps the database work of the one before.
        """
        records, self.records = self.records, []
        batch = self._account(records) if records else None
        self.drain()
        if batch is None:
            return
        if self._writer is None:
            self._store(batch)
        else:
            self._in_flight = self._writer.submit(self._store, batch)

    def drain(self) -> None:
        """Wait until every batch handed to the writer is stored (raising the error of one that failed)."""
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is not None:
            in_flight.result()

    def close(self) -> None:
        """Stop the writer thread once the batch it stores (if any) is done."""
        if self._writer is not None:
            self._writer.shutdown(wait=True)

    def _account(self, records: list[RawRecord]) -> _Batch:
        """Clean, check and key the records of a batch (no database work)."""
        counts = dict.fromkeys(COUNT_KEYS, 0)
        rejected: list[dict[str, Any]] = []
        pending: dict[str, dict[str, Any]] = {}
        excluded_ids: list[str] = []
        # (author, created_at) of opted-out records without an id: their earlier copy is found by
        # author and time, whatever its text (and so its content hash) was.
        excluded_at: list[tuple[str, datetime]] = []
        opted_out: list[str] = []  # locations of opted-out records (never stored, even rejected)
        source_id, now = self.source_id, self.now
        markers = self._batch_markers(records)

        def exclude(record: RawRecord, text: str | None) -> None:
            counts["excluded"] += 1
            opted_out.append(record.location)
            gone = [record.external_id] if record.external_id else self._earlier_hashes(text)
            if not record.external_id and record.author and record.created_at is not None:
                excluded_at.append((record.author, record.created_at))
                who = account(record.author)
                gone += [
                    ext
                    for ext, row in pending.items()
                    if row["created_at"] == record.created_at and row["author"] and account(row["author"]) == who
                ]
            for gone_id in dict.fromkeys(gone):
                excluded_ids.append(gone_id)
                if pending.pop(gone_id, None) is not None:  # an earlier version in this batch
                    counts["excluded"] += 1

        def reject(record: RawRecord, reason: str) -> None:
            if self._names_excluded(record.raw):
                exclude(record, None)  # the raw record names an excluded author: never store it
                return
            counts["rejected"] += 1
            if self.report.first_rejection is None:
                self.report.first_rejection = reason
            rejected.append(
                {
                    "source_id": source_id,
                    "location": record.location,
                    "reason": " ".join(reason.split())[:MAX_REASON],
                    "raw": record.raw[: self.max_raw],
                    "rejected_at": now,
                    "author": record.author,
                }
            )

        counts["read"] = len(records)
        may_opt_out = markers is not None or self.exclusion is not None
        earliest, latest = self.dates.earliest, self.dates.latest
        for record in records:
            text = clean_text(record.text)
            if may_opt_out and self._opted_out(record, markers):
                exclude(record, text)
                continue
            if record.error:
                reject(record, record.error)
                continue
            if not text:
                reject(record, "no text")
                self.report.no_text += 1
                continue
            created_at = record.created_at
            if created_at is not None and not earliest <= created_at <= latest:
                reject(record, self.dates.problem(created_at) or "")
                continue
            if len(text) > self.max_text:
                reject(record, f"text of {len(text)} characters is over ingest.max_text_chars = {self.max_text}")
                continue
            digest = content_hash(text)
            ext = record.external_id or digest
            previous = pending.get(ext)
            if previous is not None:
                counts["duplicate" if previous["content_hash"] == digest else "updated"] += 1
            pending[ext] = {
                "source_id": source_id,
                "external_id": ext,
                "author": record.author,
                "created_at": created_at or now,
                "text": text,
                "url": record.url,
                "language": record.language,
                "content_hash": digest,
                "ingested_at": now,
            }
        return _Batch(counts, pending, rejected, excluded_ids, excluded_at, opted_out)

    def _store(self, batch: _Batch) -> None:
        """Store an accounted batch in one transaction; its counts join the report once committed."""
        counts, pending, rejected, excluded_ids, excluded_at, opted_out = batch
        source_id = self.source_id
        with session_scope(self.engine) as session:
            author_ids = self._author_ids(session, [*pending.values(), *rejected])
            existing = store.existing_posts(session, source_id, list(pending) + excluded_ids)
            inserts: list[dict[str, Any]] = []
            updates: list[dict[str, Any]] = []
            for ext, row in pending.items():
                author = row.pop("author")
                row["author_id"] = author_ids.get(author) if author else None
                stored = existing.get(ext)
                if stored is None:
                    counts["inserted"] += 1
                    inserts.append(row)
                elif stored.content_hash == row["content_hash"]:
                    counts["duplicate"] += 1
                    if stored.purged and self._inside_retention(stored.ingested_at):
                        updates.append({**row, "post_id": stored.id, "ingested_at": stored.ingested_at})
                else:
                    counts["updated"] += 1
                    row["post_id"] = stored[0]
                    updates.append(row)
            written = {r["author_id"] for r in (*inserts, *updates) if r["author_id"] is not None}
            for row in rejected:
                author = row.pop("author")
                row["author_id"] = author_ids.get(author) if author else None
                written.add(row["author_id"])
            store.insert_posts(session, inserts)
            store.update_posts(session, updates)
            store.upsert_rejected(session, rejected)
            # A handle given back (or found in place) stays so for the rest of the run: check each author once.
            if unchecked := written - self.restored:
                store.restore_handles(session, {i: h for h, i in author_ids.items() if i in unchecked})
            store.delete_rejected(session, source_id, opted_out)
            # an opted-out record followed by a kept version of the same post in this batch: kept
            gone = [existing[e][0] for e in excluded_ids if e in existing and e not in pending]
            gone += self._stored_at(session, excluded_at, set(pending))
            if gone:
                forgotten = store.delete_posts(session, gone)
                author_ids = {k: v for k, v in author_ids.items() if v not in forgotten}
        self.author_ids = author_ids
        self.restored.update(i for i in written if i is not None)
        for key, value in counts.items():
            setattr(self.report, key, getattr(self.report, key) + value)

    def _author_ids(self, session: Session, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
        """The authors rows of the handles in ``rows`` (made when missing), by handle as written."""
        handles = {r["author"] for r in rows if r["author"] and r["author"] not in self.author_ids}
        found = (
            store.upsert_authors(
                session, [(self.platform, h) for h in handles], self.salt, legacy_platforms=self.legacy_platforms
            )
            if handles
            else {}
        )
        return {**self.author_ids, **{h: i for (_, h), i in found.items()}}

    def _stored_at(self, session: Session, excluded_at: Sequence[tuple[str, datetime]], kept: set[str]) -> list[int]:
        """Stored posts of this source by the author at the time of an opted-out record without an id."""
        if not excluded_at:
            return []
        ids = store.upsert_authors(
            session,
            [(self.platform, a) for a, _ in excluded_at],
            self.salt,
            legacy_platforms=self.legacy_platforms,
            create=False,
        )
        pairs = [(ids[(self.platform, a)], at) for a, at in excluded_at if (self.platform, a) in ids]
        return [pid for pid, ext in store.posts_by_author_at(session, self.source_id, pairs) if ext not in kept]


def _marker_fields(record: RawRecord) -> tuple[str | None, ...]:
    """The fields of a record searched for opt-out markers: text, author, the raw record and, as
    the raw record of a JSON reader spells non-ASCII characters as \\uXXXX escapes ("＃nobots" is
    "\\uff03nobots" there), its unescaped form."""
    return (record.text, record.author, record.raw, json_unescaped(record.raw))
