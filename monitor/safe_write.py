"""Writing a file the user named, without destroying anything on the way.

:func:`write_text_atomic` writes a temporary file beside the target, flushes it to disk and
renames it over the target, so a crash or a full disk leaves either the old file or the new
one, never half of either. It never writes through a symbolic link, and it refuses to replace
the database, the config file or a link unless told to (``force``, the ``--force`` options).

:func:`protected_as` is the one test of whether a path is one of the files emomon must never
write (see :meth:`monitor.settings.Settings.protected_paths`): under any name, through symbolic
links or hard links, or inside a protected directory. :func:`append_text` (the alerts file)
checks it again on the file it opened, so a link swapped in after the check is refused too.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path

from monitor.errors import EmomonError
from monitor.failures import describe_os_error


def write_text_atomic(
    path: Path, text: str, *, protected: Mapping[Path, str] | None = None, force: bool = False
) -> None:
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


def write_bytes_atomic(
    path: Path, data: bytes, *, protected: Mapping[Path, str] | None = None, force: bool = False
) -> None:
    """:func:`write_text_atomic` for bytes (a Parquet file, say): the same checks, the same rename."""
    check_target(path, protected or {}, force=force)
    try:
        _replace(path, data)
    except OSError as exc:
        raise EmomonError(describe_os_error(exc, path, action="write")) from exc


def check_target(path: Path, protected: Mapping[Path, str], *, force: bool = False) -> None:
    """Raise :class:`EmomonError` when ``path`` may not be (over)written."""
    shown = repr(str(path))
    if not path.parent.is_dir():
        raise EmomonError(
            f"cannot write {shown}: the directory {str(path.parent)!r} does not exist; "
            "create it first or name a file in an existing directory"
        )
    if path.is_symlink():
        if not force:
            raise EmomonError(
                f"refusing to write {shown}: it is a symbolic link (to "
                f"{os.readlink(path)!r}); name another file, or force the write to "
                "replace the link (what it points to is left alone)",
                argument="force",
            )
        return
    what = protected_as(path, protected)
    if what is not None and not force:
        raise EmomonError(
            f"refusing to overwrite {shown}: it is {what}; name another file, "
            "or force the write if you really mean to replace it",
            argument="force",
        )
    if path.exists() and not path.is_file():
        kind = "a directory" if path.is_dir() else "not a regular file"
        raise EmomonError(f"cannot write {shown}: it is {kind}; name a regular file")


def protected_as(path: Path, protected: Mapping[Path, str]) -> str | None:
    """What ``path`` is among ``protected`` (e.g. "the database"), or None when it is none of them.

    A path is protected when it names a protected file (symbolic links resolved, so a name the
    file does not have yet, such as the database's ``-wal``, counts too), when it is the same
    file under another name (a hard link: same device and inode), or when it lies inside a
    protected directory.
    """
    real = Path(os.path.realpath(path))
    info = _stat(path)
    for other, what in protected.items():
        other_real = Path(os.path.realpath(other))
        other_info = _stat(other)
        if real == other_real or (info is not None and other_info is not None and _same(info, other_info)):
            return what
        if other_info is not None and stat.S_ISDIR(other_info.st_mode) and real.is_relative_to(other_real):
            return f"a file in {what}"
    return None


def check_protected(path: Path, protected: Mapping[Path, str], *, action: str = "write") -> None:
    """Raise :class:`EmomonError` when ``path`` is one of the ``protected`` files (:func:`protected_as`)."""
    what = protected_as(path, protected)
    if what is not None:
        raise EmomonError(f"refusing to {action} {str(path)!r}: it is {what}; name another file")


def append_text(path: Path, text: str, *, protected: Mapping[Path, str]) -> None:
    """Append ``text`` (UTF-8) to ``path``, created with its directory if missing, and fsync it.

    The protected files are checked by name before the file is opened and by device and inode
    on the opened file, so a name turned into a link to the database in between is refused too.

    Raises:
        EmomonError: ``path`` is protected, or writing failed (the message names the file).
    """
    check_protected(path, protected, action="append to")
    data = text.encode("utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)  # umask applies
        with os.fdopen(fd, "ab") as fh:
            opened = os.fstat(fh.fileno())
            what = next(
                (w for other, w in protected.items() if (info := _stat(other)) is not None and _same(opened, info)),
                None,
            )
            if what is not None:
                raise EmomonError(f"refusing to append to {str(path)!r}: it is {what}; name another file")
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        raise EmomonError(describe_os_error(exc, path, action="append to")) from exc


def _stat(path: Path) -> os.stat_result | None:
    """``os.stat`` (links followed), None for a path that does not exist or cannot be reached."""
    try:
        return os.stat(path)
    except (OSError, ValueError):
        return None


def _same(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


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
