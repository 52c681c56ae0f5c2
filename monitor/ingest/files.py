"""Readers for JSON Lines, CSV and Parquet files (plain or ``.gz``, one path or a glob).

Every reader yields one :class:`RawRecord` per record in the file and never raises for a bad
record: broken lines, undecodable bytes and unparsable dates become records with ``error`` set.
Only whole-source problems (no file matches, unreadable file) raise :class:`SourceError`.

JSON Lines are parsed with polars a chunk at a time; a chunk polars refuses (a broken line,
invalid UTF-8, mixed types) is re-read line by line so every other line still counts. CSV is read
with the standard ``csv`` module, which reports the exact line of each record and lets one broken
row be rejected without losing the rest. Both read lines through :mod:`monitor.ingest.limits`
(bounded line length, decompressed size and time; a UTF-8 byte order mark is accepted), and
every location names the record's line in the file.
"""

from __future__ import annotations

import csv
import glob
import io
import json
import math
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import polars as pl

from monitor.errors import SourceError
from monitor.ingest.limits import (
    ReadLimits,
    iter_lines,
    open_bounded,
    overlong_reason,
    read_capped,
)
from monitor.ingest.records import RawRecord
from monitor.ingest.text import parse_datetime, shown_value
from monitor.locations import is_glob

DEFAULT_COLUMNS = {
    "id": "id",
    "text": "text",
    "author": "author",
    "created_at": "created_at",
    "url": "url",
    "language": "language",
}
CHUNK_BYTES = 8 * 1024 * 1024


def column_map(columns: Mapping[str, str]) -> dict[str, str]:
    """The default column names with the source's mapping applied."""
    merged = dict(DEFAULT_COLUMNS)
    merged.update(columns)
    return merged


def expand(location: str) -> list[Path]:
    """The files a location names: one path, or every match of a glob (sorted).

    Raises:
        SourceError: Nothing matches, or the path is not a file.
    """
    if is_glob(location):
        matches = sorted(Path(p) for p in glob.glob(location, recursive=True) if Path(p).is_file())
        if not matches:
            raise SourceError(f"no files match {location!r}: check the source's location")
        return matches
    path = Path(location)
    if not path.is_file():
        raise SourceError(f"file {location!r} not found: check the source's location")
    return [path]


def _csv_getter(obj: dict[str, str]) -> Callable[[str], str | None]:
    """Field lookup of one CSV row: an empty cell reads as missing."""
    return lambda key: obj.get(key) or None


def scalar_str(value: Any) -> str | None:
    """A JSON scalar as the string we store (ints and integral floats alike: ``1.0`` -> ``"1"``).

    Raises:
        ValueError: The value is a list or object.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return str(int(value))
        return repr(value)
    raise ValueError(f"expected a text or number, got {type(value).__name__}")


def make_record(location: str, raw: str, get: Callable[[str], Any], cols: Mapping[str, str]) -> RawRecord:
    """Build a record from a field getter, turning bad values into an ``error`` record."""
    return record_from_values(
        location,
        raw,
        get(cols["id"]),
        get(cols["text"]),
        get(cols["author"]),
        get(cols["created_at"]),
        get(cols["url"]),
        get(cols["language"]),
        cols["created_at"],
    )


def record_from_values(
    location: str,
    raw: str,
    ext: Any,
    text: Any,
    author: Any,
    created_raw: Any,
    url: Any,
    language: Any,
    created_key: str = "created_at",
) -> RawRecord:
    """Build a record from field values, turning bad values into an ``error`` record.

    An error record keeps the author when that field could be read, so an excluded author's
    record is excluded rather than stored as rejected.
    """
    try:
        if author.__class__ is not str:
            author = scalar_str(author)
    except ValueError as exc:
        return RawRecord(location, raw, None, None, None, None, error=f"bad field: {exc}")
    author = author or None
    try:
        if ext.__class__ is not str:
            ext = scalar_str(ext)
        if text.__class__ is not str:
            text = scalar_str(text)
        if url is not None:
            url = scalar_str(url)
        if language is not None:
            language = scalar_str(language)
    except ValueError as exc:
        return RawRecord(location, raw, None, None, author, None, error=f"bad field: {exc}")
    created = None
    if created_raw is not None and created_raw != "":
        try:
            created = parse_datetime(created_raw)
        except ValueError:
            return RawRecord(
                location,
                raw,
                ext,
                text,
                author,
                None,
                url,
                language,
                error=f"unparsable date {shown_value(created_raw)} in column {created_key!r}",
            )
    return RawRecord(location, raw, ext or None, text, author, created, url, language)


def _getter(obj: dict[str, Any]) -> Callable[[str], Any]:
    def get(key: str) -> Any:
        if key in obj:
            return obj[key]
        value: Any = obj
        for part in key.split("."):
            if not isinstance(value, dict) or part not in value:
                return None
            value = value[part]
        return value

    return get


# ---------------------------------------------------------------------------- JSON Lines

Line = tuple[int, bytes]  # (line number in the file, the line without its newline)


def read_jsonl(
    location: str, columns: Mapping[str, str] | None = None, limits: ReadLimits | None = None
) -> Iterator[RawRecord]:
    """Yield a record per non-blank line of every file the location names."""
    cols = column_map(columns or {})
    limits = limits or ReadLimits()
    for path in expand(location):
        yield from _read_jsonl_file(path, cols, limits)


def iter_json_lines(
    path: Path, limits: ReadLimits | None = None
) -> Iterator[tuple[str, str, dict[str, Any] | None, str | None]]:
    """Yield ``(location, raw, object, error)`` per non-blank line, parsed by ``json``."""
    limits = limits or ReadLimits()
    with _reading(path), open_bounded(path, limits) as fh:
        for lineno, line, too_long in iter_lines(fh, limits.max_line_bytes):
            if too_long:
                yield (
                    f"{path}:{lineno}",
                    line.decode("utf-8", "replace"),
                    None,
                    overlong_reason(limits.max_line_bytes),
                )
            else:
                yield from _json_line(path, lineno, line)


def _json_line(path: Path, lineno: int, line: bytes) -> Iterator[tuple[str, str, dict[str, Any] | None, str | None]]:
    location = f"{path}:{lineno}"
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        yield (
            location,
            line.decode("utf-8", "replace").rstrip("\r"),
            None,
            f"undecodable bytes (not UTF-8): {exc.reason} at byte {exc.start}",
        )
        return
    if not text.strip():
        return
    raw = text.rstrip("\r")
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        yield location, raw, None, f"broken JSON line {lineno}, column {exc.colno}: {exc.msg}"
        return
    except RecursionError:
        yield location, raw, None, f"broken JSON line {lineno}: nested too deeply"
        return
    if not isinstance(obj, dict):
        yield location, raw, None, f"not a JSON object: got {type(obj).__name__}"
        return
    yield location, raw, obj, None


@contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Turn read errors of a file (I/O, broken gzip) into SourceError."""
    try:
        yield
    except (OSError, EOFError, zlib.error) as exc:
        raise SourceError(f"cannot read {str(path)!r}: {exc}") from exc


def _read_jsonl_file(path: Path, cols: dict[str, str], limits: ReadLimits) -> Iterator[RawRecord]:
    chunk: list[Line] = []
    size = 0
    with _reading(path), open_bounded(path, limits) as fh:
        try:
            for lineno, line, too_long in iter_lines(fh, limits.max_line_bytes):
                if too_long:
                    yield from _parse_chunk(path, chunk, cols)
                    chunk, size = [], 0
                    yield RawRecord(
                        f"{path}:{lineno}",
                        line.decode("utf-8", "replace"),
                        None,
                        None,
                        None,
                        None,
                        error=overlong_reason(limits.max_line_bytes),
                    )
                    continue
                chunk.append((lineno, line))
                size += len(line) + 1
                if size >= CHUNK_BYTES:
                    yield from _parse_chunk(path, chunk, cols)
                    chunk, size = [], 0
        except SourceError:  # a cap hit mid-file: the lines read before it still count
            yield from _parse_chunk(path, chunk, cols)
            raise
        yield from _parse_chunk(path, chunk, cols)


def _parse_chunk(path: Path, lines: list[Line], cols: dict[str, str]) -> list[RawRecord]:
    if not lines:
        return []
    return _fast_chunk(path, lines, cols) or _slow_chunk(path, lines, cols)


def _slow_chunk(path: Path, lines: list[Line], cols: dict[str, str]) -> list[RawRecord]:
    out: list[RawRecord] = []
    for lineno, line in lines:
        for location, raw, obj, error in _json_line(path, lineno, line):
            if error is not None or obj is None:
                out.append(RawRecord(location, raw, None, None, None, None, error=error))
            else:
                out.append(make_record(location, raw, _getter(obj), cols))
    return out


def _fast_chunk(path: Path, lines: list[Line], cols: dict[str, str]) -> list[RawRecord] | None:
    """Parse a chunk with polars; None when the chunk needs line-by-line handling."""
    data = b"\n".join(line for _, line in lines)
    try:
        texts = data.decode("utf-8").split("\n")
    except UnicodeDecodeError:
        return None
    if len(texts) != len(lines):
        return None
    # Every line an object: told by one count when no line is indented, else line by line.
    starts = data.startswith(b"{") and data.count(b"\n{") == len(lines) - 1
    if not starts and any(not t.lstrip().startswith("{") for t in texts):
        return None
    try:
        frame = pl.read_ndjson(io.BytesIO(data), infer_schema_length=None)
    except Exception:  # noqa: BLE001 - any polars refusal means: parse this chunk line by line
        return None
    if frame.height != len(lines):
        return None
    wanted = list(dict.fromkeys(cols.values()))
    if any("." in c and c not in frame.columns for c in wanted):
        return None
    for c in (c for c in wanted if c in frame.columns):
        if isinstance(frame.schema[c], (pl.Struct, pl.List, pl.Array, pl.Object)) and c in (
            cols["id"],
            cols["text"],
            cols["author"],
            cols["url"],
            cols["language"],
        ):
            return None
    height = frame.height
    fields = [cols[k] for k in ("id", "text", "author", "created_at", "url", "language")]
    series = [frame.get_column(c).to_list() if c in frame.columns else [None] * height for c in fields]
    prefix = f"{path}:"
    created_key = cols["created_at"]
    return [
        record_from_values(
            f"{prefix}{lineno}", raw.rstrip("\r"), ext, text, author, created, url, language, created_key
        )
        for (lineno, _), raw, ext, text, author, created, url, language in zip(lines, texts, *series)
    ]


# ---------------------------------------------------------------------------- CSV


def read_csv(
    location: str, columns: Mapping[str, str] | None = None, limits: ReadLimits | None = None
) -> Iterator[RawRecord]:
    """Yield a record per CSV row (the first row is the header) of every matching file."""
    cols = column_map(columns or {})
    limits = limits or ReadLimits()
    for path in expand(location):
        yield from _read_csv_file(path, cols, limits)


def _csv_lines(stream: IO[bytes], max_line: int, overlong: list[Line]) -> Iterator[str]:
    """Physical lines for ``csv.reader``; an over-long line is noted and read as an empty one."""
    for lineno, line, too_long in iter_lines(stream, max_line, skip_blank=False):
        if too_long:
            overlong.append((lineno, line))
            yield "\n"
        else:
            yield line.decode("utf-8", "surrogateescape") + "\n"


def _read_csv_file(path: Path, cols: dict[str, str], limits: ReadLimits) -> Iterator[RawRecord]:
    overlong: list[Line] = []
    with _reading(path), open_bounded(path, limits) as fb:
        reader = csv.reader(_csv_lines(fb, limits.max_line_bytes, overlong))
        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise SourceError(f"{str(path)!r}: the CSV header cannot be read: {exc}") from exc
        if overlong:
            raise SourceError(f"{str(path)!r}: the CSV header is a {overlong_reason(limits.max_line_bytes)}")
        if any(_has_surrogates(h) for h in header):
            raise SourceError(f"{str(path)!r}: the CSV header is not UTF-8 text: save the file as UTF-8")
        width = len(header)
        start = reader.line_num + 1
        while True:
            try:
                row: list[str] | None = next(reader)
                error = None
            except StopIteration:
                break
            except csv.Error as exc:
                row, error = None, f"broken CSV line: {exc}"
            location = f"{path}:{start}"
            start = reader.line_num + 1
            if overlong:  # the record spans an over-long line: reject it whole
                lineno, prefix = overlong[0]
                overlong.clear()
                yield RawRecord(
                    f"{path}:{lineno}",
                    prefix.decode("utf-8", "replace"),
                    None,
                    None,
                    None,
                    None,
                    error=overlong_reason(limits.max_line_bytes),
                )
            elif row is None:
                yield RawRecord(location, "", None, None, None, None, error=error)
            elif row and not (row == [""] * len(row) and len(row) <= 1):  # else a blank line
                yield _csv_record(location, row, header, width, cols)


def _csv_record(location: str, row: list[str], header: list[str], width: int, cols: dict[str, str]) -> RawRecord:
    raw = _csv_raw(row)
    if any(_has_surrogates(v) for v in row):
        return RawRecord(
            location,
            raw.encode("utf-8", "surrogateescape").decode("utf-8", "replace"),
            None,
            None,
            None,
            None,
            error="undecodable bytes (not UTF-8)",
        )
    if len(row) != width:
        return RawRecord(
            location, raw, None, None, None, None, error=f"broken CSV line: expected {width} fields, got {len(row)}"
        )
    return make_record(location, raw, _csv_getter(dict(zip(header, row))), cols)


def _has_surrogates(value: str) -> bool:
    return not value.isascii() and any("\udc80" <= ch <= "\udcff" for ch in value)


def _csv_raw(row: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(row)
    return buffer.getvalue()[:-2]


# ---------------------------------------------------------------------------- Parquet


def read_parquet(
    location: str, columns: Mapping[str, str] | None = None, limits: ReadLimits | None = None
) -> Iterator[RawRecord]:
    """Yield a record per row of every matching Parquet file (a ``.gz`` one is read whole)."""
    cols = column_map(columns or {})
    limits = limits or ReadLimits()
    for path in expand(location):
        source: Path | io.BytesIO = path
        if path.suffix == ".gz":
            with _reading(path), open_bounded(path, limits) as fh:
                source = io.BytesIO(read_capped(fh, limits.max_document_bytes, repr(str(path))))
        try:
            frame = pl.read_parquet(source)
        except Exception as exc:  # noqa: BLE001 - polars raises many types for a bad file
            raise SourceError(f"cannot read Parquet file {str(path)!r}: {exc}") from exc
        for number, obj in enumerate(frame.iter_rows(named=True), start=1):
            limits.check_time()
            raw = json.dumps(obj, default=str, ensure_ascii=False)
            yield make_record(f"{path}:{number}", raw, _getter(obj), cols)


def column_names(location: str, kind: str) -> list[str] | None:
    """The columns the first file of a JSON lines or CSV location has (its header, or the keys of
    its first JSON object), read from at most its first 64 KiB; None when that cannot be told."""
    if kind not in ("jsonl", "csv"):
        return None
    try:
        path = expand(location)[0]
        with _open_text_head(path) as head:
            if kind == "csv":
                return next(csv.reader(head), None)
            for line in head:
                if line.strip():
                    obj = json.loads(line)
                    return list(obj) if isinstance(obj, dict) else None
    except (SourceError, OSError, ValueError, EOFError, zlib.error, csv.Error):
        return None
    return None


def unmatched_columns(location: str, kind: str, columns: Mapping[str, str]) -> tuple[dict[str, str], list[str]] | None:
    """The fields of ``columns`` (field -> input column; ``text`` defaulted) that name a column no
    record at the head of a JSON lines or CSV location has, and the columns it has (a CSV
    header; the keys of the first JSON objects, dotted paths reaching into them). None when
    that cannot be told: another kind, no file there (yet), nothing readable in its first 64 KiB.
    """
    if kind not in ("jsonl", "csv"):
        return None
    records: list[dict[str, Any]] = []
    try:
        with _open_text_head(expand(location)[0]) as head:
            if kind == "csv":
                records = [dict.fromkeys(next(csv.reader(head), None) or ())]
            else:
                for line in head:
                    try:
                        obj = json.loads(line) if line.strip() else None
                    except ValueError:
                        continue
                    if isinstance(obj, dict):
                        records.append(obj)
    except (SourceError, OSError, ValueError, EOFError, zlib.error, csv.Error):
        return None
    found = list(dict.fromkeys(key for record in records for key in record))
    if not found:
        return None
    wanted = {"text": DEFAULT_COLUMNS["text"], **columns}
    missing = {
        field: name
        for field, name in wanted.items()
        if not any(_getter(record)(name) is not None or name in record for record in records)
    }
    return missing, found


@contextmanager
def _open_text_head(path: Path) -> Iterator[io.StringIO]:
    """The first 64 KiB of a file (gunzipped when it ends in .gz) as text lines, BOM removed."""
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        data = fh.read(65536)
    text = data.decode("utf-8-sig", errors="replace")
    yield io.StringIO(text if len(data) < 65536 else text.rsplit("\n", 1)[0])
