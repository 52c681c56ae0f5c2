"""One line for the failures that come from outside emomon's own checks: the database and the
file system.

Each line names the thing (the database, the file) and the fix. It is built from the driver's
or the operating system's own reason, never from an exception's full text: SQLAlchemy appends
the SQL and its parameters (post text, handles) to its messages, and URLs may carry secrets
(:func:`monitor.redact.redact` runs over every line).

Light to import: SQLAlchemy is imported only when an exception is described.
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import TYPE_CHECKING

from monitor.redact import redact

if TYPE_CHECKING:
    from sqlalchemy.exc import DBAPIError

#: The fix for an operating-system error, by errno.
OS_FIXES: dict[int, str] = {
    errno.ENOSPC: "free disk space (or raise the quota) and run again",
    errno.EDQUOT: "free disk space (or raise the quota) and run again",
    errno.EROFS: "the file system is read-only: use a path on a writable one",
    errno.EACCES: "give the user running emomon access to it (and its directory), or use another path",
    errno.EPERM: "give the user running emomon access to it (and its directory), or use another path",
    errno.EISDIR: "it is a directory: name a file",
    errno.ENOTDIR: "a part of the path is a file, not a directory: fix the path",
    errno.ENOENT: "check the path: it does not exist",
    errno.ENAMETOOLONG: "use a shorter name",
    errno.ELOOP: "the path has a loop of symbolic links: fix the path",
    errno.EMFILE: "too many open files: raise the limit (ulimit -n)",
    errno.ENFILE: "too many open files: raise the limit (ulimit -n)",
    errno.EIO: "the disk reported an error: check it",
    errno.ECONNREFUSED: "check that the server is running and reachable",
    errno.ETIMEDOUT: "check that the server is running and reachable",
}
OS_FIX = "check the path and its permissions"

#: The fix for a database error, by a phrase of the driver's reason (lower case), first match.
DATABASE_FIXES: tuple[tuple[str, str], ...] = (
    (
        "readonly",
        "emomon must be able to write the database file and its directory: fix the "
        "permissions, or point [database] url at a writable copy",
    ),
    (
        "read-only",
        "emomon must be able to write the database: fix the permissions, or point [database] url at a writable copy",
    ),
    ("disk is full", "free space on the disk that holds the database and run again"),
    ("not a database", "point [database] url at an emomon database or a new file"),
    ("malformed", "the database file is damaged: restore it from a backup"),
    ("locked", "another program holds a lock on the database: wait for it to finish, then run again"),
    ("disk i/o error", "check the disk that holds the database (and its free space)"),
    (
        "no such table",
        "this is not an emomon database at the current schema: run `emomon db upgrade` "
        "or point [database] url at an emomon database",
    ),
    ("no such column", "the schema is not the current one: run `emomon db upgrade`"),
    ("unable to open", "check that the path names a file in a directory that exists and that emomon can write"),
)
DATABASE_FIX = "check [database] url and that the database server is reachable"
INTEGRITY_FIX = (
    "a write broke a database constraint (another writer at the same time?): run the "
    "command again; if it fails again, report it with the output of `emomon -v`"
)


def describe(exc: BaseException, *, database: str | None = None) -> str | None:
    """The one line for a database or file-system failure, None for anything else.

    Args:
        exc: The exception.
        database: How to name the database (a redacted URL or a path), when known.
    """
    from sqlalchemy.exc import DBAPIError

    if isinstance(exc, DBAPIError):
        return describe_database_error(exc, database)
    if isinstance(exc, OSError) and not isinstance(exc, BrokenPipeError):  # click handles EPIPE
        return describe_os_error(exc)
    return None


def summary(exc: BaseException) -> str:
    """One line for any exception, safe to print or store in a ``runs`` row.

    Database and file-system errors get their :func:`describe` line; anything else its type
    and the first line of its message, URLs redacted.
    """
    line = describe(exc)
    if line is not None:
        return line
    text = first_line(exc)
    return redact(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)


def describe_database_error(exc: DBAPIError, database: str | None = None) -> str:
    """``database 'x': <driver's reason>; fix: ...``, without the SQL or its parameters."""
    from sqlalchemy.exc import IntegrityError

    reason = first_line(exc.orig) if exc.orig is not None else type(exc).__name__
    what = f"database {database!r}" if database else "the database"
    if isinstance(exc, IntegrityError):
        fix = INTEGRITY_FIX
    elif _is_directory(database):
        reason, fix = "it is a directory", "name a file, e.g. sqlite:///DIRECTORY/emomon.db"
    else:
        low = reason.lower()
        fix = next((f for phrase, f in DATABASE_FIXES if phrase in low), DATABASE_FIX)
    return redact(f"{what}: {reason}; fix: {fix}")


def describe_os_error(exc: OSError, path: str | Path | None = None, *, action: str = "use") -> str:
    """``cannot <action> 'file': <reason>; fix: ...`` (without a file: ``<reason>; fix: ...``)."""
    name = path if path is not None else exc.filename
    reason = exc.strerror or first_line(exc) or type(exc).__name__
    fix = OS_FIXES.get(exc.errno or 0, OS_FIX)
    if name is None:
        return redact(f"{reason} ({type(exc).__name__}); fix: {fix}")
    return redact(f"cannot {action} {str(name)!r}: {reason}; fix: {fix}")


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (drivers put details and values below it)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def _is_directory(database: str | None) -> bool:
    return database is not None and Path(database).is_dir()


def ended_by(exc: BaseException) -> tuple[str, str]:
    """The ``runs`` status and message of a run that ``exc`` ended: Ctrl-C is "interrupted"."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted", "interrupted (Ctrl-C): the next run continues where this one stopped"
    return "failed", summary(exc)
