"""The ingest stage: read sources, account for every record, store posts in batches.

Every record read ends as exactly one of inserted, updated (same id, changed text), duplicate,
rejected (stored in ``rejected`` with location, reason and the capped raw record) or excluded
(opt-out marker or excluded author; never stored). Each batch is one transaction, so a killed
run loses at most the batch in flight and the next run completes the work: records already
stored count as duplicates then.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from monitor.clock import utcnow
from monitor.errors import SourceError
from monitor.ingest.records import FeedResult, RawRecord
from monitor.ingest.registry import guess_kind, is_url, read_source
from monitor.ingest.text import clean_text, content_hash, marker_pattern
from monitor.settings import Settings, SourceSettings
from monitor.store import posts as store
from monitor.store.engine import session_scope
from monitor.store.runs import finish_run, start_run

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

    def counts(self) -> dict[str, int]:
        """The six counts by name."""
        return {key: getattr(self, key) for key in COUNT_KEYS}

    def to_json(self) -> dict[str, Any]:
        """JSON form: name, the six counts, status, error and warnings."""
        return {"name": self.name, **self.counts(), "status": self.status,
                "error": self.error, "warnings": self.warnings}


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
    """A source for a path or URL given on the command line (named by its absolute location)."""
    if not is_url(location):
        location = str(Path(location).expanduser().absolute())
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

    A source that fails as a whole (missing file, unreachable feed) is reported with status
    ``"error"`` and the others still run.
    """
    run_id = start_run(engine, "ingest")
    with session_scope(engine) as session:
        salt = store.pseudonym_salt(session, settings.privacy.pseudonym_salt)
    report = IngestReport(sources=[], run_id=run_id)
    try:
        for source in sources:
            report.sources.append(_ingest_source(engine, settings, source, salt, progress))
    except BaseException as exc:
        _finish_run(engine, run_id, "failed", report, f"{type(exc).__name__}: {exc}")
        raise
    failed = [s for s in report.sources if s.status == "error"]
    message = "; ".join(f"{s.name}: {s.error}" for s in failed) or None
    _finish_run(engine, run_id, "failed" if failed else "ok", report, message)
    return report


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
    batcher = _Batcher(engine, settings, source_id, source.author_platform(), salt, report, now)
    try:
        if source.kind == "feed":
            records: Iterable[RawRecord] = _fetch_feed(engine, settings, source_id, state, report, now)
        else:
            records = read_source(source)
        for record in records:
            batcher.add(record)
            if batcher.full():
                batcher.flush()
                if progress is not None:
                    progress(source.name, report.read)
        batcher.flush()
    except SourceError as exc:
        batcher.flush()
        report.status = "error"
        report.error = str(exc)
    if progress is not None:
        progress(source.name, report.read)
    if report.status != "error":
        with session_scope(engine) as session:
            store.mark_ingested(session, source_id, now)
    return report


def _fetch_feed(
    engine: Engine, settings: Settings, source_id: int, state: Any, report: SourceReport, now: datetime
) -> list[RawRecord]:
    """Fetch a feed source (the feed reader itself holds back a paused or backing-off source)."""
    # The feed reader pulls in httpx and feedparser; file-only runs never import them.
    from monitor.ingest.feeds import read_feed

    result: FeedResult = read_feed(
        state,
        timeout_s=settings.ingest.timeout_s,
        max_bytes=settings.ingest.max_bytes,
        user_agent=settings.ingest.user_agent,
        now=now,
    )
    with session_scope(engine) as session:
        store.save_feed_state(session, source_id, result.state)
    report.status = result.status
    report.warnings.extend(result.warnings)
    return result.records


class _Batcher:
    """Collects records and stores each full batch in one transaction."""

    def __init__(
        self, engine: Engine, settings: Settings, source_id: int, platform: str, salt: str,
        report: SourceReport, now: datetime,
    ) -> None:
        self.engine = engine
        self.source_id = source_id
        self.platform = platform
        self.salt = salt
        self.report = report
        self.now = now
        self.batch_size = settings.ingest.batch_size
        self.max_text = settings.ingest.max_text_chars
        self.max_raw = settings.ingest.max_raw_chars
        self.markers = marker_pattern(settings.privacy.opt_out_markers)
        self.excluded_authors = {a.strip().lower() for a in settings.privacy.exclude_authors if a.strip()}
        self.records: list[RawRecord] = []
        self.author_ids: dict[tuple[str, str], int] = {}

    def add(self, record: RawRecord) -> None:
        self.records.append(record)

    def full(self) -> bool:
        return len(self.records) >= self.batch_size

    def _is_excluded_author(self, author: str | None) -> bool:
        if not self.excluded_authors or not author:
            return False
        handle = author.lower()
        return handle in self.excluded_authors or f"{self.platform.lower()}:{handle}" in self.excluded_authors

    def flush(self) -> None:
        """Account for and store the collected records in one transaction."""
        records, self.records = self.records, []
        if not records:
            return
        counts = dict.fromkeys(COUNT_KEYS, 0)
        rejected: list[dict[str, Any]] = []
        pending: dict[str, dict[str, Any]] = {}
        excluded_ids: list[str] = []
        source_id, now = self.source_id, self.now

        def reject(record: RawRecord, reason: str) -> None:
            counts["rejected"] += 1
            rejected.append({"source_id": source_id, "location": record.location, "reason": reason,
                             "raw": record.raw[: self.max_raw], "rejected_at": now})

        for record in records:
            counts["read"] += 1
            if record.error:
                reject(record, record.error)
                continue
            text = clean_text(record.text)
            if not text:
                reject(record, "no text")
                continue
            if len(text) > self.max_text:
                reject(record, f"text of {len(text)} characters is over ingest.max_text_chars = {self.max_text}")
                continue
            if self._is_excluded_author(record.author) or (self.markers and self.markers.search(text)):
                counts["excluded"] += 1
                if record.external_id:
                    excluded_ids.append(record.external_id)
                continue
            digest = content_hash(text)
            ext = record.external_id or digest
            previous = pending.get(ext)
            if previous is not None:
                counts["duplicate" if previous["content_hash"] == digest else "updated"] += 1
            pending[ext] = {
                "source_id": source_id, "external_id": ext, "author": record.author,
                "created_at": record.created_at or now, "text": text, "url": record.url,
                "language": record.language, "content_hash": digest, "ingested_at": now,
            }

        with session_scope(self.engine) as session:
            handles = {(self.platform, r["author"]) for r in pending.values() if r["author"]}
            new_keys = [k for k in handles if k not in self.author_ids]
            new_ids = store.upsert_authors(session, new_keys, self.salt) if new_keys else {}
            author_ids = {**self.author_ids, **new_ids}
            existing = store.existing_posts(session, source_id, list(pending) + excluded_ids)
            inserts: list[dict[str, Any]] = []
            updates: list[dict[str, Any]] = []
            for ext, row in pending.items():
                author = row.pop("author")
                row["author_id"] = author_ids[(self.platform, author)] if author else None
                stored = existing.get(ext)
                if stored is None:
                    counts["inserted"] += 1
                    inserts.append(row)
                elif stored[1] == row["content_hash"]:
                    counts["duplicate"] += 1
                else:
                    counts["updated"] += 1
                    row["post_id"] = stored[0]
                    updates.append(row)
            store.insert_posts(session, inserts)
            store.update_posts(session, updates)
            store.upsert_rejected(session, rejected)
            gone = [existing[e][0] for e in excluded_ids if e in existing]
            if gone:
                store.delete_posts(session, gone)
        self.author_ids = author_ids
        for key, value in counts.items():
            setattr(self.report, key, getattr(self.report, key) + value)
