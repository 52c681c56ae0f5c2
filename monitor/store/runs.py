"""Run records, the run lock and the scheduler lock.

Every stage leaves one ``runs`` row, written "running" when the stage starts and closed with its
outcome (:func:`recorded_stage`, or :func:`start_run` / :func:`finish_run`), its stats and
message stored with URL secrets redacted (:mod:`monitor.redact`); a row a killed run left
"running" becomes "interrupted" when the next writer takes the run lock. The run lock keeps one
writer at a time across the scheduler, cron-started and manual runs (:func:`exclusive`); the
scheduler lock keeps one `emomon schedule` per database (:func:`scheduler_lock`).

On PostgreSQL a lock is a session advisory lock in the database (:class:`AdvisoryLock`), so
processes on different machines exclude each other. Elsewhere it is a file taken with
``fcntl.flock`` (:class:`RunLock`): it sits beside a SQLite database's real file
(``emomon.db.lock``, ``emomon.db.schedule.lock``; symlinks resolved), or in the temporary
directory, named after the database URL. Either way the lock goes when its holder's process
does, even after SIGKILL, so a crashed run never leaves a stale lock. A process that has to
wait is told the holder's pid and host. POSIX only.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, Self

from sqlalchemy import Connection, Engine, func, text, update
from sqlalchemy.engine import make_url

from monitor.clock import utcnow
from monitor.errors import RunLocked
from monitor.failures import ended_by
from monitor.redact import redact, redact_json
from monitor.store.engine import session_scope
from monitor.store.schema import Run

#: The advisory-lock key of the run lock (PostgreSQL keys advisory locks per database).
ADVISORY_KEY = int.from_bytes(hashlib.sha256(b"emomon run lock").digest()[:4], "big") >> 1
#: The advisory-lock key of the scheduler lock.
SCHEDULER_KEY = int.from_bytes(hashlib.sha256(b"emomon scheduler lock").digest()[:4], "big") >> 1

#: What a run that waited in vain for the run lock is told.
RUN_REFUSAL = (
    "another emomon run holds the lock {where} ({holder}); "
    "waited {timeout:g}s: let it finish, or raise schedule.lock_timeout"
)
#: What a second `emomon schedule` on one database is told.
SCHEDULER_REFUSAL = (
    "another emomon schedule already runs on this database ({holder}; lock {where}): "
    "stop that one first, or leave it running; two schedulers would run every job twice"
)

if TYPE_CHECKING:
    from monitor.settings import Settings


@dataclass
class StageResult:
    """What one stage of a run did."""

    name: str
    status: str  # ok | failed | skipped
    seconds: float
    counts: dict[str, Any] = field(default_factory=dict)
    message: str | None = None

    def stats(self) -> dict[str, Any]:
        """The ``runs.stats`` document: the counts and the seconds."""
        return {**self.counts, "seconds": self.seconds}

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "stage": self.name,
            "status": self.status,
            "seconds": round(self.seconds, 3),
            "counts": self.counts,
            "message": self.message,
        }


def lock_path(database_url: str, kind: str = "run") -> Path:
    """Where the lock file of the (non-PostgreSQL) database at ``database_url`` lives.

    A SQLite database's lock sits beside the file it really is (symlinks resolved), so every path
    that reaches one database, however spelled, takes the same lock. ``kind`` "run" is the run
    lock (``.lock``); another kind gets its own file (``.schedule.lock``).
    """
    suffix = ".lock" if kind == "run" else f".{kind}.lock"
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return Path(f"{os.path.realpath(url.database)}{suffix}")
    digest = hashlib.sha256(url.render_as_string(hide_password=True).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"emomon-{digest}{suffix}"


class _PollingLock:
    """An exclusive lock taken by polling :meth:`_try` until ``timeout`` seconds have passed."""

    def __init__(self, *, timeout: float, label: str, poll: float, refusal: str = RUN_REFUSAL) -> None:
        self.timeout = timeout
        self.label = label
        self.poll = poll
        self.refusal = refusal

    def acquire(self) -> None:
        """Take the lock, waiting as long as allowed.

        Raises:
            RunLocked: Another process still holds the lock after ``timeout`` seconds; the
                message is ``refusal`` with the lock (``where``), its ``holder`` (pid, label,
                since when, host) and the ``timeout``.
        """
        deadline = time.monotonic() + self.timeout
        self._open()
        while not self._try():
            if time.monotonic() >= deadline:
                holder, where = self._holder(), self._where()
                self._close()
                raise RunLocked(self.refusal.format(where=where, holder=holder, timeout=self.timeout))
            time.sleep(self.poll)

    def release(self) -> None:
        """Release the lock."""
        self._close()

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

    def _open(self) -> None:
        raise NotImplementedError

    def _try(self) -> bool:
        raise NotImplementedError

    def _holder(self) -> str:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError

    def _where(self) -> str:
        raise NotImplementedError


class RunLock(_PollingLock):
    """A lock file taken with ``flock``; waits up to ``timeout`` seconds, then raises :class:`RunLocked`.

    Use as a context manager::

        with RunLock(path, timeout=600, label="run"):
            ...
    """

    def __init__(
        self, path: Path, *, timeout: float, label: str = "run", poll: float = 0.2, refusal: str = RUN_REFUSAL
    ) -> None:
        super().__init__(timeout=timeout, label=label, poll=poll, refusal=refusal)
        self.path = path
        self._fh: IO[str] | None = None

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release()

    def _try(self) -> bool:
        assert self._fh is not None
        try:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        self._fh.seek(0)
        self._fh.truncate()
        self._fh.write(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "label": self.label,
                    "since": datetime.now(UTC).isoformat(timespec="seconds"),
                    "host": socket.gethostname(),
                }
            )
        )
        self._fh.flush()
        return True

    def _holder(self) -> str:
        assert self._fh is not None
        self._fh.seek(0)
        return _describe(self._fh.read())

    def _close(self) -> None:
        """Unlock and close (the file stays; its content names the last holder)."""
        if self._fh is not None:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None

    def _where(self) -> str:
        return repr(str(self.path))


class AdvisoryLock(_PollingLock):
    """A PostgreSQL session advisory lock, held on a dedicated connection of ``engine``.

    The server keys advisory locks per database, so writers on different machines that share
    one database exclude each other; the server releases the lock when the holding connection
    ends, even when its process was killed. The holder's note (pid, since when, host, label)
    travels as the connection's ``application_name``, which a waiting run reads from
    ``pg_stat_activity``. ``key`` picks the lock (:data:`ADVISORY_KEY`, :data:`SCHEDULER_KEY`).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        timeout: float,
        label: str = "run",
        poll: float = 0.2,
        key: int = ADVISORY_KEY,
        refusal: str = RUN_REFUSAL,
    ) -> None:
        super().__init__(timeout=timeout, label=label, poll=poll, refusal=refusal)
        self.engine = engine
        self.key = key
        self._conn: Connection | None = None

    def _open(self) -> None:
        self._conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")

    def _try(self) -> bool:
        assert self._conn is not None
        got = bool(self._conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}).scalar())
        if got:
            since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%MZ")
            host = "".join(socket.gethostname().split())[:24] or "?"
            note = f"emomon {os.getpid()} {since} {host} {self.label}"
            note = note.encode()[:63].decode("utf-8", "ignore")  # application_name keeps 63 bytes
            self._conn.execute(text("SELECT set_config('application_name', :note, false)"), {"note": note})
        return got

    def _holder(self) -> str:
        assert self._conn is not None
        note = self._conn.execute(
            text(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.database = "
                "(SELECT oid FROM pg_database WHERE datname = current_database()) "
                "AND l.classid = 0 AND l.objid = :key AND l.objsubid = 1"
            ),
            {"key": self.key},
        ).scalar()
        parts = (note or "").split(" ", 4)
        if len(parts) != 5 or parts[0] != "emomon":
            return "holder unknown"
        _, pid, since, host, label = parts
        return f"pid {pid}, {label} since {since}, on host {host}"

    def _close(self) -> None:
        """Close the dedicated connection (not back into the pool): the server drops its lock."""
        if self._conn is not None:
            self._conn.invalidate()
            self._conn.close()
            self._conn = None

    def _where(self) -> str:
        return f"pg_advisory_lock({self.key}) on database {self.engine.url.database!r}"


def _describe(note: str) -> str:
    try:
        info = json.loads(note or "{}")
    except json.JSONDecodeError:
        return "holder unknown"
    if not info or not isinstance(info, dict):
        return "holder unknown"
    host = f", on host {info['host']}" if info.get("host") else ""
    return f"pid {info.get('pid')}, {info.get('label')} since {info.get('since')}{host}"


def run_lock(
    settings: Settings, *, label: str, timeout: float | None = None, engine: Engine | None = None
) -> RunLock | AdvisoryLock:
    """The run lock of the configured database (``timeout`` default: schedule.lock_timeout)."""
    wait = settings.schedule.lock_timeout if timeout is None else timeout
    return database_lock(settings.database.url, label=label, timeout=wait, engine=engine)


def database_lock(
    url: str, *, label: str, timeout: float, engine: Engine | None = None, kind: str = "run"
) -> RunLock | AdvisoryLock:
    """The run lock (``kind`` "run") or the scheduler lock ("schedule") of the database at ``url``.

    On PostgreSQL an advisory lock in the database itself (so machines sharing the database
    share it; ``engine``, when given, must be on ``url``); elsewhere a lock file
    (:func:`lock_path`).
    """
    key, refusal = (ADVISORY_KEY, RUN_REFUSAL) if kind == "run" else (SCHEDULER_KEY, SCHEDULER_REFUSAL)
    if make_url(url).get_backend_name() == "postgresql":
        from monitor.store.engine import make_engine

        return AdvisoryLock(
            engine if engine is not None else make_engine(url), timeout=timeout, label=label, key=key, refusal=refusal
        )
    return RunLock(lock_path(url, kind), timeout=timeout, label=label, refusal=refusal)


def scheduler_lock(settings: Settings, *, engine: Engine | None = None) -> RunLock | AdvisoryLock:
    """The lock one `emomon schedule` holds on its database for as long as it runs.

    It does not wait: a second scheduler on the same database is refused at once
    (:class:`~monitor.errors.RunLocked`, naming the first one's pid and host). It is not the run
    lock, which the scheduler's jobs take for each run.
    """
    return database_lock(settings.database.url, label="schedule", timeout=0, engine=engine, kind="schedule")


@contextmanager
def exclusive(settings: Settings, engine: Engine, *, label: str) -> Iterator[None]:
    """Hold the run lock; on entry, close ``runs`` rows that a killed run left "running".

    Every command that writes to the database holds this lock (``emomon run``, the scheduler,
    cron, ``ingest``, ``score``, ``purge``, ``alerts`` status changes, ``sources remove
    --purge``, ``db upgrade`` and ``db copy``), so a row still "running" when the lock is free
    belongs to a dead process.

    Raises:
        RunLocked: Another run kept the lock past ``schedule.lock_timeout``.
    """
    with run_lock(settings, label=label, engine=engine):
        close_interrupted_runs(engine)
        yield


def close_interrupted_runs(engine: Engine) -> int:
    """Mark ``runs`` rows still "running" as "interrupted"; returns how many there were."""
    with session_scope(engine) as session:
        result = session.execute(
            update(Run)
            .where(Run.status == "running")
            .values(
                status="interrupted",
                finished_at=func.coalesce(Run.finished_at, Run.started_at),
                message="the process ended before the run finished (killed or crashed)",
            )
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


@dataclass
class RecordedStage:
    """The ``runs`` row of a stage in progress (:func:`recorded_stage`)."""

    engine: Engine
    run_id: int
    result: StageResult | None = None

    def done(self, result: StageResult) -> StageResult:
        """Close the row with ``result`` (its status, stats and message); returns ``result``."""
        finish_run(self.engine, self.run_id, result.status, result.stats(), result.message)
        self.result = result
        return result


@contextmanager
def recorded_stage(engine: Engine, command: str) -> Iterator[RecordedStage]:
    """The ``runs`` row of one stage: written "running" on entry, so a killed or hung run leaves a
    trace (the next writer marks it "interrupted", :func:`close_interrupted_runs`); closed by
    :meth:`RecordedStage.done`, or with the error that ends the block (Ctrl-C: "interrupted"),
    which is re-raised."""
    stage = RecordedStage(engine, start_run(engine, command))
    try:
        yield stage
    except BaseException as exc:
        if stage.result is None:
            status, message = ended_by(exc)
            finish_run(engine, stage.run_id, status, {}, message)
        raise
    if stage.result is None:
        finish_run(engine, stage.run_id, "failed", {}, "the stage ended without a result")


def start_run(engine: Engine, command: str) -> int:
    """Insert a "running" ``runs`` row for ``command``; returns its id."""
    with session_scope(engine) as session:
        run = Run(command=command, status="running", started_at=utcnow())
        session.add(run)
        session.flush()
        return int(run.id)


def finish_run(engine: Engine, run_id: int, status: str, stats: dict[str, Any], message: str | None) -> None:
    """Close the ``runs`` row ``run_id`` with its outcome."""
    with session_scope(engine) as session:
        session.execute(
            update(Run)
            .where(Run.id == run_id)
            .values(status=status, finished_at=utcnow(), stats=redact_json(stats), message=_redacted(message))
        )


def record_run(
    engine: Engine, command: str, started: datetime, status: str, stats: dict[str, Any], message: str | None
) -> None:
    """Write the finished ``runs`` row of a stage that records only at its end."""
    with session_scope(engine) as session:
        session.add(
            Run(
                command=command,
                status=status,
                started_at=started,
                finished_at=utcnow(),
                stats=redact_json(stats),
                message=_redacted(message),
            )
        )


def _redacted(message: str | None) -> str | None:
    """A run message with the secrets of any URL in it masked (runs rows outlive the run)."""
    return None if message is None else redact(message)
