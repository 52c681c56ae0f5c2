"""Bounded work for every input: caps on decompressed bytes, line length and time per source.

Readers open files through :func:`open_bounded` and split lines with :func:`iter_lines`, so a
gzip bomb, one gigabyte-long line or a file of nothing but newlines costs bounded memory and
time. Going over a cap on the whole source raises :class:`SourceError` (the records read before
it are kept); an over-long line is one rejected record and the rest of the file is still read.
"""

from __future__ import annotations

import codecs
import gzip
import io
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, cast

from monitor.errors import SourceError

if TYPE_CHECKING:
    from monitor.settings import IngestSettings

BLOCK_BYTES = 1 << 20
#: Bytes of an over-long line kept as its rejected record's raw text.
OVERLONG_PREFIX = 200
# The first byte that is not whitespace: the lines before it are blank and skipped in one step.
_NOT_SPACE = re.compile(rb"[^ \t\r\n\f\v]")
_SPACE_BYTES = frozenset(b" \t\r\n\f\v")


@dataclass(frozen=True, slots=True)
class ReadLimits:
    """The caps that one source is read under (``[ingest]`` settings of the same names).

    Attributes:
        max_line_bytes: Longest JSON Lines / CSV / NDJSON line; longer lines are rejected.
        max_decompressed_bytes: Most bytes read out of one ``.gz`` file or ``.tar.gz``.
        max_document_bytes: Largest document read whole (Mastodon ``outbox.json``, X
            ``tweets.js``, gzipped Parquet), compressed or not.
        source_budget_s: Seconds one source may take; None for no limit.
        started: ``time.monotonic()`` when reading the source began.
    """

    max_line_bytes: int = 1_000_000
    max_decompressed_bytes: int = 2_000_000_000
    max_document_bytes: int = 200_000_000
    source_budget_s: float | None = None
    started: float = field(default_factory=time.monotonic)

    @classmethod
    def from_settings(cls, ingest: IngestSettings) -> ReadLimits:
        """The limits of ``[ingest]``, with the clock starting now."""
        return cls(
            max_line_bytes=ingest.max_line_bytes,
            max_decompressed_bytes=ingest.max_decompressed_bytes,
            max_document_bytes=ingest.max_document_bytes,
            source_budget_s=ingest.source_budget_s,
        )

    def time_left(self) -> float | None:
        """Seconds left of the budget (None without one)."""
        if self.source_budget_s is None:
            return None
        return max(0.0, self.source_budget_s - (time.monotonic() - self.started))

    def check_time(self) -> None:
        """Raise once the source has used up its time budget.

        Raises:
            SourceError: More than ``source_budget_s`` seconds have passed.
        """
        budget = self.source_budget_s
        if budget is not None and self.time_left() == 0:
            raise SourceError(
                f"stopped after {budget:g} s, the limit of [ingest] source_budget_s (records "
                "read before are kept); fix: raise source_budget_s or split the source"
            )


class BoundedStream(io.RawIOBase):
    """A readable stream that checks the time budget, and caps the bytes read out of it.

    ``cap_key`` names the setting in the error; a plain file on disk is passed with
    ``cap=None`` and only has its time checked.
    """

    def __init__(
        self,
        inner: IO[bytes],
        limits: ReadLimits,
        *,
        name: str,
        cap: int | None = None,
        cap_key: str = "max_decompressed_bytes",
    ) -> None:
        super().__init__()
        self.inner = inner
        self.limits = limits
        self.name = name
        self.cap = cap
        self.cap_key = cap_key
        self.position = 0

    def readable(self) -> bool:
        """Always true."""
        return True

    def seekable(self) -> bool:
        """Whether the wrapped stream can seek (gzip can, forward by decompressing)."""
        return self.inner.seekable()

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        """Read into ``buffer``, checking the time and the cap first."""
        self.limits.check_time()
        view = memoryview(buffer).cast("B")
        data = self.inner.read(len(view))
        self._advance(self.position + len(data))
        view[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Seek the wrapped stream (counts toward the cap like reading up to there)."""
        self.limits.check_time()
        target = self.inner.seek(offset, whence)
        self._advance(target)
        return target

    def tell(self) -> int:
        """The position in the (decompressed) stream."""
        return self.position

    def close(self) -> None:
        """Close the wrapped stream too."""
        if not self.closed:
            self.inner.close()
        super().close()

    def _advance(self, position: int) -> None:
        self.position = position
        if self.cap is not None and position > self.cap:
            raise SourceError(
                f"{self.name} expands to more than {self.cap} bytes, the limit of "
                f"[ingest] {self.cap_key}; fix: raise it if the file is genuine"
            )


def open_bounded(path: Path, limits: ReadLimits) -> IO[bytes]:
    """Open a file for reading bytes under ``limits``, decompressing ``.gz``/``.tgz`` transparently.

    Raises:
        SourceError: The file cannot be opened.
    """
    try:
        if path.suffix in (".gz", ".tgz"):
            raw = BoundedStream(
                cast(IO[bytes], gzip.open(path, "rb")), limits, name=repr(str(path)), cap=limits.max_decompressed_bytes
            )
        else:
            raw = BoundedStream(path.open("rb"), limits, name=repr(str(path)))
    except OSError as exc:
        raise SourceError(f"cannot open {str(path)!r}: {exc.strerror or exc}") from exc
    return io.BufferedReader(raw, BLOCK_BYTES)


def read_capped(stream: IO[bytes], cap: int, what: str) -> bytes:
    """Read a whole document of at most ``cap`` bytes (``[ingest] max_document_bytes``).

    Raises:
        SourceError: The document is larger.
    """
    data = stream.read(cap + 1)
    if len(data) > cap:
        raise document_too_large(what, cap)
    return data


def document_too_large(what: str, cap: int) -> SourceError:
    """The error for a document over ``[ingest] max_document_bytes``."""
    return SourceError(
        f"{what} is larger than {cap} bytes, the limit of [ingest] max_document_bytes; "
        "fix: raise it if the archive is genuine"
    )


def iter_lines(stream: IO[bytes], max_line: int, *, skip_blank: bool = True) -> Iterator[tuple[int, bytes, bool]]:
    """Split a stream into lines with bounded memory; a UTF-8 BOM at the start is dropped.

    Yields:
        ``(line number, line without its "\\n", too_long)``. A line over ``max_line`` bytes
        is yielded once with ``too_long`` set and at most its first ``OVERLONG_PREFIX`` bytes
        (fewer when the cut came earlier), and is never held whole. With ``skip_blank``, lines of only whitespace
        are skipped.
    """
    lineno, buf, skipping, first = 1, b"", False, True
    while block := stream.read(BLOCK_BYTES):
        if first:
            first = False
            if block.startswith(codecs.BOM_UTF8):
                block = block[len(codecs.BOM_UTF8) :]
        if skipping:
            newline = block.find(b"\n")
            if newline < 0:
                continue
            block, skipping, lineno = block[newline + 1 :], False, lineno + 1
        buf = buf + block if buf else block
        pos = 0
        while True:
            if skip_blank:
                pos, lineno = _skip_blank_lines(buf, pos, lineno)
            newline = buf.find(b"\n", pos)
            if newline < 0:
                break
            too_long = newline - pos > max_line
            yield lineno, buf[pos : min(newline, pos + OVERLONG_PREFIX) if too_long else newline], too_long
            lineno, pos = lineno + 1, newline + 1
        buf = buf[pos:]
        if len(buf) > max_line:
            yield lineno, buf[:OVERLONG_PREFIX], True
            buf, skipping = b"", True
    if buf and not skipping and (not skip_blank or buf.strip()):
        yield lineno, buf, False


def _skip_blank_lines(buf: bytes, pos: int, lineno: int) -> tuple[int, int]:
    """Move past the whole blank lines at ``pos``; return the new position and line number."""
    if pos < len(buf) and buf[pos] not in _SPACE_BYTES:  # the common case: a line starts here
        return pos, lineno
    found = _NOT_SPACE.search(buf, pos)
    end = found.start() if found else len(buf)
    last = buf.rfind(b"\n", pos, end)
    if last < 0:
        return pos, lineno
    return last + 1, lineno + buf.count(b"\n", pos, last + 1)


def overlong_reason(max_line: int) -> str:
    """The rejection reason of a line over ``[ingest] max_line_bytes``."""
    return f"line longer than {max_line} bytes, the limit of [ingest] max_line_bytes"
