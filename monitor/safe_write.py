"""Writing a file the user named, without destroying anything on the way.

:func:`write_text_atomic` writes a temporary file beside the target, flushes it to disk and
renames it over the target, so a crash or a full disk leaves either the old file or the new
one, never half of either. It never writes through a symbolic link, and it refuses to replace
the database, the config file or a link unless told to (``force``, the ``--force`` options).
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path

from monitor.errors import EmomonError
from monitor.failures import describe_os_error


def write_text_atomic(path: Path, text: str, *, protected: Mapping[Path, str] | None = None,
                      force: bool = False) -> None:
    """Replace (or create) ``path`` with ``text`` (UTF-8) in one atomic rename.

    Args:
        path: The file to write.
        text: Its new content.
        protected: Files that must not be replaced without ``force``, with what each one is
            (e.g. ``{Path("emomon.db"): "the database"}``); compared as files, so another
            name or a hard link for one of them is refused too.
        force: Replace a protected file, or a symbolic link (the link itself is replaced by
            the new file; what it pointed to is left alone).

    Raises:
        EmomonError: The target is protected, a link, a directory or not a regular file, its
            directory does not exist, or writing failed (disk full, no permission...); the
            message names the file and the fix. A failed write leaves the old file as it was.
    """
    check_target(path, protected or {}, force=force)
    data = text.encode("utf-8")
    try:
        _replace(path, data)
    except OSError as exc:
        raise EmomonError(describe_os_error(exc, path, action="write")) from exc


def check_target(path: Path, protected: Mapping[Path, str], *, force: bool = False) -> None:
    """Raise :class:`EmomonError` when ``path`` may not be (over)written."""
    shown = repr(str(path))
    if not path.parent.is_dir():
        raise EmomonError(f"cannot write {shown}: the directory {str(path.parent)!r} does not exist; "
                          "create it first or name a file in an existing directory")
    if path.is_symlink():
        if not force:
            raise EmomonError(f"refusing to write {shown}: it is a symbolic link (to "
                              f"{os.readlink(path)!r}); name another file, or pass --force to "
                              "replace the link (what it points to is left alone)")
        return
    what = next((what for other, what in protected.items() if _same_file(path, other)), None)
    if what is not None and not force:
        raise EmomonError(f"refusing to overwrite {shown}: it is {what}; name another file, "
                          "or pass --force if you really mean to replace it")
    if path.exists() and not path.is_file():
        kind = "a directory" if path.is_dir() else "not a regular file"
        raise EmomonError(f"cannot write {shown}: it is {kind}; name a regular file")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


def _replace(path: Path, data: bytes) -> None:
    """Write ``data`` to a new file beside ``path``, fsync it, rename it over ``path``."""
    directory = path.parent
    temp = directory / f".{path.name[:100]}.{secrets.token_hex(4)}.tmp"
    mode = _kept_mode(path)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)  # umask applies
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_directory(directory)


def _kept_mode(path: Path) -> int | None:
    """The permission bits of the regular file being replaced (None for a new file or a link)."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return None
    return stat.S_IMODE(info.st_mode) if stat.S_ISREG(info.st_mode) else None


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
