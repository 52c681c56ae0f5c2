"""Copy a whole store from one database to another (SQLite to PostgreSQL and back).

Every table of the ORM metadata is copied in foreign-key order (parents first), ids kept, so
the copy is the same store: meta (with the pseudonym salt, so pseudonyms stay the same),
sources, authors, posts, rejected records, scores, alerts with their deliveries and review
history, runs. The target must be empty; it is created at the head revision. Both databases are
held under their run locks while copying, so no writer changes either. Afterwards each table is
verified by its row count and a checksum of its rows read back through the schema's types, so
the figure is the same on any backend; on PostgreSQL the id sequences are moved past the copied
ids.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Integer, Table, func, select, text

from monitor.errors import EmomonError
from monitor.store.engine import current_revision, head_revision, make_engine, upgrade
from monitor.store.runs import database_lock
from monitor.store.schema import Base

#: Rows read and inserted per batch.
BATCH_ROWS = 5_000


@dataclass(frozen=True)
class TableCopy:
    """One copied table: its rows and checksum on both sides."""

    name: str
    rows: int
    checksum: str
    target_rows: int
    target_checksum: str

    @property
    def ok(self) -> bool:
        """Counts and checksums agree."""
        return (self.rows, self.checksum) == (self.target_rows, self.target_checksum)


@dataclass
class CopyReport:
    """What :func:`copy_store` copied, table by table."""

    source: str
    target: str
    tables: list[TableCopy] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every table verified."""
        return all(t.ok for t in self.tables)

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "from": self.source,
            "to": self.target,
            "ok": self.ok,
            "tables": [
                {
                    "table": t.name,
                    "rows": t.rows,
                    "checksum": t.checksum,
                    "target_rows": t.target_rows,
                    "target_checksum": t.target_checksum,
                    "ok": t.ok,
                }
                for t in self.tables
            ],
        }


def tables() -> list[Table]:
    """The store's tables, parents before children."""
    return list(Base.metadata.sorted_tables)


def copy_store(
    source_url: str, target_url: str, *, lock_timeout: float, progress: Callable[[str, int], None] | None = None
) -> CopyReport:
    """Copy every table from ``source_url`` into the empty database at ``target_url``.

    Args:
        source_url: The store to copy (at the head revision).
        target_url: An empty database, or one at head whose tables are all empty.
        lock_timeout: Seconds to wait for either database's run lock.
        progress: Called as ``progress(table, rows copied so far)``.

    Raises:
        EmomonError: Same database twice, source not at head, target not empty, or the copy
            does not verify.
        RunLocked: A run holds either database's lock past ``lock_timeout``.
    """
    source, target = make_engine(source_url), make_engine(target_url)
    try:
        if _same_database(source, target):
            raise EmomonError(
                f"the source and the target are the same database {_label(source)!r}: give another target",
                argument="target_database",
            )
        _check_source(source)
        report = CopyReport(_label(source), _label(target))
        with ExitStack() as held:
            held.enter_context(database_lock(source_url, label="db copy", timeout=lock_timeout, engine=source))
            held.enter_context(database_lock(target_url, label="db copy", timeout=lock_timeout, engine=target))
            _prepare_target(target)
            with source.connect() as src, target.begin() as dst:
                for table in tables():
                    _copy_table(src, dst, table, progress)
                _advance_sequences(dst)
            with source.connect() as src, target.connect() as dst:
                for table in tables():
                    rows, digest = table_checksum(src, table)
                    target_rows, target_digest = table_checksum(dst, table)
                    report.tables.append(TableCopy(table.name, rows, digest, target_rows, target_digest))
    finally:
        source.dispose()
        target.dispose()
    bad = [t.name for t in report.tables if not t.ok]
    if bad:
        raise EmomonError(
            f"the copy in {report.target!r} differs from the source in {', '.join(bad)}: "
            "report this; the source is unchanged"
        )
    return report


def _label(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _same_database(a: Engine, b: Engine) -> bool:
    if a.dialect.name != b.dialect.name:
        return False
    if a.dialect.name == "sqlite":
        import os

        return os.path.realpath(a.url.database or "") == os.path.realpath(b.url.database or "")
    return (a.url.host, a.url.port, a.url.database) == (b.url.host, b.url.port, b.url.database)


def _check_source(source: Engine) -> None:
    revision = current_revision(source)
    if revision is None:
        raise EmomonError(
            f"the source database {_label(source)!r} is not an emomon database (no schema version): check the URL",
            argument="source_database",
        )
    if revision != head_revision():
        raise EmomonError(
            f"the source database {_label(source)!r} is at revision {revision}: "
            f"run `emomon --db URL db upgrade` on it first (head {head_revision()})"
        )


def _prepare_target(target: Engine) -> None:
    """Create the target at head, or accept one at head with every table empty."""
    revision = current_revision(target)
    if revision is None:
        from sqlalchemy import inspect

        if inspect(target).get_table_names():
            raise EmomonError(
                f"the target database {_label(target)!r} has tables but no emomon schema: give an empty database",
                argument="target_database",
            )
        upgrade(target)
        return
    if revision != head_revision():
        raise EmomonError(
            f"the target database {_label(target)!r} is at revision {revision}: give an empty database",
            argument="target_database",
        )
    with target.connect() as conn:
        filled = [t.name for t in tables() if conn.execute(select(func.count()).select_from(t)).scalar()]
    if filled:
        raise EmomonError(
            f"the target database {_label(target)!r} is not empty ({', '.join(filled)} have rows): "
            "give an empty database; a copy never merges",
            argument="target_database",
        )


def _rows(conn: Connection, table: Table) -> Iterator[list[dict[str, Any]]]:
    """The table's rows in primary-key order, in batches of dicts keyed by column."""
    keys = [c.key for c in table.columns]
    order = list(table.primary_key.columns) or list(table.columns)
    result = conn.execution_options(stream_results=True, yield_per=BATCH_ROWS).execute(select(table).order_by(*order))
    for part in result.partitions(BATCH_ROWS):
        yield [dict(zip(keys, row)) for row in part]


def _copy_table(src: Connection, dst: Connection, table: Table, progress: Callable[[str, int], None] | None) -> None:
    done = 0
    for batch in _rows(src, table):
        dst.execute(table.insert(), batch)
        done += len(batch)
        if progress is not None:
            progress(table.name, done)


def _advance_sequences(conn: Connection) -> None:
    """On PostgreSQL, move each serial id's sequence past the ids the copy inserted."""
    if conn.dialect.name != "postgresql":
        return
    for table in tables():
        for column in table.primary_key.columns:
            if not isinstance(column.type, Integer) or column.autoincrement is False:
                continue
            sequence = conn.execute(
                text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": column.name}
            ).scalar()
            if sequence is None:
                continue
            top = conn.execute(select(func.max(column))).scalar()
            conn.execute(
                text("SELECT setval(CAST(:s AS regclass), :v, :called)"),
                {"s": sequence, "v": top or 1, "called": top is not None},
            )


def table_checksum(conn: Connection, table: Table) -> tuple[int, str]:
    """Row count and SHA-256 of a table's rows, read in primary-key order through the schema's types.

    Values are put in one canonical form first (timestamps as UTC ISO text, JSON with sorted
    keys, bytes as hex, floats by their repr), so a table holds the same checksum on SQLite and
    on PostgreSQL when it holds the same data.
    """
    digest, count = hashlib.sha256(), 0
    for batch in _rows(conn, table):
        for row in batch:
            digest.update(json.dumps(row, sort_keys=True, default=_canonical).encode())
            digest.update(b"\n")
        count += len(batch)
    return count, digest.hexdigest()


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        plain = value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)
        return {"t": plain.isoformat()}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"b": bytes(value).hex()}
    return {"v": str(value)}
