"""Engine, sessions and schema migrations.

This is the only module allowed to know about backend differences (SQLite pragmas, the
dialect-specific ``INSERT ... ON CONFLICT``). Everything else goes through these helpers.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    ColumnElement,
    Connection,
    DateTime,
    Engine,
    Enum,
    Integer,
    String,
    Table,
    any_,
    bindparam,
    create_engine,
    event,
    func,
    inspect,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import QueryableAttribute, Session

from monitor.errors import ConfigError, EmomonError, SchemaOutOfDate
from monitor.redact import redact, redact_url

if TYPE_CHECKING:
    from monitor.settings import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
BUSY_TIMEOUT_MS = 30_000
T = TypeVar("T")
#: Ids per ``IN (...)`` list: well under SQLite's default limit of 999 bound parameters.
IN_CHUNK = 500


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite connections get WAL, foreign keys and a busy timeout.

    Args:
        url: SQLAlchemy URL, e.g. ``"sqlite:////data/emomon.db"``.

    Raises:
        ConfigError: The URL cannot be parsed or its driver is missing.
    """
    try:
        parsed = make_url(url)
        engine = create_engine(parsed)
    except (ArgumentError, ValueError) as exc:
        raise ConfigError(f"database.url {redact_url(url)!r} is not a valid database URL: {redact(str(exc))}") from exc
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"database.url {redact_url(url)!r} needs the driver {exc.name!r}: pip install {exc.name}"
        ) from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def open_store(settings: Settings, *, migrate: bool = True) -> Engine:
    """The engine of ``[database] url``, every caller's one way to open the store: a new database is
    created at head and an old one refused (:func:`ensure_schema`); ``migrate=False`` leaves the
    schema alone (for the commands that migrate it).

    Raises:
        ConfigError: The URL is not usable, or the database is not an emomon one.
        SchemaOutOfDate: The database is at an older revision.
    """
    engine = make_engine(settings.database.url)
    if migrate:
        try:
            ensure_schema(engine)
        except BaseException:
            engine.dispose()
            raise
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError as exc:
        if "readonly" not in str(exc):
            raise
        # A read-only file is read in its own journal mode; a write then fails as "readonly".
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA secure_delete=ON")  # purged text is overwritten, not left in free space
    cursor.close()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """Yield a session whose work is committed on success and rolled back on any error."""
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def in_chunks(items: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most ``size`` items, for ``IN (...)`` lists."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def any_of(
    session: Session | Connection, column: ColumnElement[Any] | QueryableAttribute[Any], values: Sequence[str | int]
) -> ColumnElement[bool]:
    """``column IN values`` with one bound parameter however many values: ``column = ANY(:array)``
    on PostgreSQL, ``column IN (SELECT value FROM json_each(:json))`` on SQLite.

    One statement (compiled and, on PostgreSQL, prepared once) per call instead of a list of
    :data:`IN_CHUNK` binds per query; both forms search the column's index. Values are texts or
    integers. SQLite's JSON functions end a text at a NUL character, so the rare text holding
    one is bound on its own (``OR column IN (...)``).
    """
    dialect = session.get_bind().dialect.name if isinstance(session, Session) else session.dialect.name
    if dialect == "postgresql":
        return column == any_(bindparam(None, list(values), type_=postgresql.ARRAY(column.type)))
    plain = [v for v in values if not (isinstance(v, str) and "\x00" in v)]
    listed = func.json_each(bindparam(None, json.dumps(plain, ensure_ascii=False), type_=String)).table_valued("value")
    found = column.in_(select(listed.c.value))
    if len(plain) == len(values):
        return found
    return or_(found, column.in_([v for v in values if isinstance(v, str) and "\x00" in v]))


def upsert_insert(session: Session | Connection, table: Table) -> Any:
    """Return the dialect's ``insert(table)`` that supports ``on_conflict_do_*``.

    Raises:
        ConfigError: The backend is neither SQLite nor PostgreSQL.
    """
    dialect = session.get_bind().dialect.name if isinstance(session, Session) else session.dialect.name
    if dialect == "sqlite":
        return sqlite.insert(table)
    if dialect == "postgresql":
        return postgresql.insert(table)
    raise ConfigError(f"database backend {dialect!r} is not supported: use sqlite or postgresql")


def bulk_insert(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows in one executemany.

    On SQLite, rows whose columns are plain text/integers/timestamps go straight to the driver
    (timestamps written in SQLAlchemy's own SQLite format, naive UTC), skipping per-value bind
    processing that costs more than the insert itself. On PostgreSQL the rows go in one ``COPY``
    (:func:`_copy_rows`). Other cases use SQLAlchemy Core's executemany.
    """
    if not rows:
        return
    columns = list(rows[0])
    dialect = session.get_bind().dialect
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        _copy_rows(session, table, columns, rows)
        return
    kinds = [_fast_kind(table.c[name].type) for name in columns]
    if dialect.name != "sqlite" or None in kinds:
        session.execute(table.insert(), rows)
        return
    values = [[row[name] for row in rows] for name in columns]  # column by column: C-speed list building
    for i, kind in enumerate(kinds):
        if kind == "datetime":  # each distinct timestamp formatted once (a batch shares ingested_at)
            formatted = {value: _sqlite_stamp(value) for value in set(values[i]) if value is not None}
            values[i] = list(map(formatted.get, values[i]))
    tuples = list(zip(*values))
    names = ", ".join(f'"{name}"' for name in columns)
    marks = ", ".join("?" for _ in columns)
    session.connection().exec_driver_sql(f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})', tuples)


def _sqlite_stamp(value: Any) -> str:
    """A datetime as SQLAlchemy writes it to SQLite: naive UTC, ``YYYY-MM-DD HH:MM:SS.ffffff``."""
    if value.tzinfo is UTC:  # what readers give: the offset is the only thing to drop
        return str(value.isoformat(" ", "microseconds")[:26])
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return str(value.isoformat(" ", "microseconds"))


def _copy_rows(session: Session, table: Table, columns: list[str], rows: list[dict[str, Any]]) -> None:
    """``COPY table (columns) FROM STDIN`` on the session's own psycopg connection (its transaction).

    Each value passes the column type's bind processing first (UTC timestamps, JSON), so COPY
    stores what an INSERT of the same rows would.
    """
    dialect = session.get_bind().dialect
    processors = [table.c[name].type.bind_processor(dialect) for name in columns]
    names = ", ".join(f'"{name}"' for name in columns)
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row(
                [row[name] if process is None else process(row[name]) for name, process in zip(columns, processors)]
            )


def _fast_kind(column_type: Any) -> str | None:
    impl = getattr(column_type, "impl", column_type)
    if isinstance(impl, DateTime):
        return "datetime"
    if isinstance(impl, (String, Integer)) and not isinstance(impl, Enum):
        return "plain"
    return None


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic configuration pointing at the packaged ``migrations/``, optionally bound to a connection."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The newest migration revision this version of emomon knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the repository always ships revisions
        raise SchemaOutOfDate("no migrations found in " + str(MIGRATIONS_DIR))
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for a database emomon never touched."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Migrate the database to ``revision`` (default: head) on one shared connection.

    Returns:
        The revision the database is at afterwards.

    Raises:
        EmomonError: Alembic cannot go to ``revision`` (unknown, ambiguous, a relative step
            that does not exist); the message lists the known revisions. Nothing is changed.
    """
    from alembic.util import CommandError

    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), revision)
    except CommandError as exc:
        known = [s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()][::-1]
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EmomonError(
            f"cannot upgrade to revision {revision!r}: {reason}; use 'head' or one of {', '.join(known)} "
            "(`emomon db current` shows the database's revision)"
        ) from exc
    return current_revision(engine)


def ensure_schema(engine: Engine) -> None:
    """Create a new database at head; refuse to work on an older schema.

    Raises:
        SchemaOutOfDate: The database is at an older revision.
        ConfigError: The database has tables but is not an emomon database.
    """
    current = current_revision(engine)
    if current is None:
        if inspect(engine).get_table_names():
            raise ConfigError(
                f"database {engine.url.render_as_string(hide_password=True)!r} has tables but "
                "no emomon schema version: point database.url at a new file or an emomon database"
            )
        upgrade(engine)
        return
    if current != head_revision():
        raise SchemaOutOfDate("schema out of date: run `emomon db upgrade`")
