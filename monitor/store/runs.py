"""Run records and the run lock.

Every stage leaves one ``runs`` row (:func:`start_run` / :func:`finish_run`, or
:func:`record_run` for a stage that records only at its end). The run lock keeps one writer at a
time across the scheduler, cron-started and manual runs (:func:`exclusive`).

The lock is a file taken with ``fcntl.flock``: the kernel releases it when the holder exits, even
after SIGKILL, so a crashed run never leaves a stale lock. The file sits beside a SQLite
database (``emomon.db.lock``); for other databases it lives in the temporary directory,
named after the database URL, so runs on one machine share it. POSIX only.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

from sqlalchemy import Engine, func, update
from sqlalchemy.engine import make_url

from monitor.clock import utcnow
from monitor.errors import RunLocked
from monitor.store.engine import session_scope
from monitor.store.schema import Run

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
        return {"stage": self.name, "status": self.status, "seconds": round(self.seconds, 3),
                "counts": self.counts, "message": self.message}


def lock_path(database_url: str) -> Path:
    """Where the lock file of the database at ``database_url`` lives."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return Path(f"{url.database}.lock")
    digest = hashlib.sha256(url.render_as_string(hide_password=True).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"emomon-{digest}.lock"


class RunLock:
    """An exclusive lock; waits up to ``timeout`` seconds, then raises :class:`RunLocked`.

    Use as a context manager::

        with RunLock(path, timeout=600, label="run"):
            ...
    """

    def __init__(self, path: Path, *, timeout: float, label: str = "run",
                 poll: float = 0.2) -> None:
        self.path = path
        self.timeout = timeout
        self.label = label
        self.poll = poll
        self._fh: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock, waiting as long as allowed.

        Raises:
            RunLocked: Another process still holds the lock after ``timeout`` seconds.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release()
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _holder(fh)
                    fh.close()
                    raise RunLocked(
                        f"another emomon run holds the lock {str(self.path)!r} ({holder}); "
                        f"waited {self.timeout:g}s: let it finish, or raise "
                        "schedule.lock_timeout"
                    ) from None
                time.sleep(self.poll)
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps({"pid": os.getpid(), "label": self.label,
                             "since": datetime.now(UTC).isoformat(timespec="seconds")}))
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        """Release the lock (the file stays; its content names the last holder)."""
        if self._fh is not None:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def _holder(fh: IO[str]) -> str:
    fh.seek(0)
    try:
        info = json.loads(fh.read() or "{}")
    except json.JSONDecodeError:
        return "holder unknown"
    if not info:
        return "holder unknown"
    return f"pid {info.get('pid')}, {info.get('label')} since {info.get('since')}"


def run_lock(settings: Settings, *, label: str, timeout: float | None = None) -> RunLock:
    """The run lock of the configured database (``timeout`` default: schedule.lock_timeout)."""
    wait = settings.schedule.lock_timeout if timeout is None else timeout
    return RunLock(lock_path(settings.database.url), timeout=wait, label=label)


@contextmanager
def exclusive(settings: Settings, engine: Engine, *, label: str) -> Iterator[None]:
    """Hold the run lock; on entry, close ``runs`` rows that a killed run left "running".

    Every writer (``emomon run``, the scheduler, cron, ``emomon ingest``, ``emomon score`` and
    ``emomon purge``) holds this lock, so a row still "running" when the lock is free belongs to
    a dead process.

    Raises:
        RunLocked: Another run kept the lock past ``schedule.lock_timeout``.
    """
    with run_lock(settings, label=label):
        close_interrupted_runs(engine)
        yield


def close_interrupted_runs(engine: Engine) -> int:
    """Mark ``runs`` rows still "running" as "interrupted"; returns how many there were."""
    with session_scope(engine) as session:
        result = session.execute(
            update(Run).where(Run.status == "running").values(
                status="interrupted", finished_at=func.coalesce(Run.finished_at, Run.started_at),
                message="the process ended before the run finished (killed or crashed)",
            )
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


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
        session.execute(update(Run).where(Run.id == run_id).values(
            status=status, finished_at=utcnow(), stats=stats, message=message))


def record_run(engine: Engine, command: str, started: datetime, status: str, stats: dict[str, Any],
               message: str | None) -> None:
    """Write the finished ``runs`` row of a stage that records only at its end."""
    with session_scope(engine) as session:
        session.add(Run(command=command, status=status, started_at=started, finished_at=utcnow(),
                        stats=stats, message=message))
