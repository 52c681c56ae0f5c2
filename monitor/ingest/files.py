"""Readers for JSON Lines, CSV and Parquet files (plain or ``.gz``, one path or a glob).

Every reader yields one :class:`RawRecord` per record in the file and never raises for a bad
record: broken lines, undecodable bytes and unparsable dates become records with ``error`` set.
Only whole-source problems (no file matches, unreadable file) raise :class:`SourceError`.

JSON Lines are parsed with polars a chunk at a time; a chunk polars refuses (a broken line,
invalid UTF-8, mixed types) is re-read line by line so every other line still counts. CSV is read
with the standard ``csv`` module, which reports the exact line of each record and lets one broken
row be rejected without losing the rest.
"""

from __future__ import annotations

import csv
import glob
import gzip
import io
import json
import math
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any, cast

import polars as pl

from monitor.errors import SourceError
from monitor.ingest.records import RawRecord
from monitor.ingest.text import parse_datetime

DEFAULT_COLUMNS = {
    "id": "id",
    "text": "text",
    "author": "author",
    "created_at": "created_at",
    "url": "url",
    "language": "language",
}
CHUNK_BYTES = 8 * 1024 * 1024
_GLOB_CHARS = frozenset("*?[")


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
    if _GLOB_CHARS & set(location):
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


def open_binary(path: Path) -> IO[bytes]:
    """Open a file for reading bytes, decompressing ``.gz`` transparently."""
    try:
        if path.suffix == ".gz":
            return cast(IO[bytes], gzip.open(path, "rb"))
        return path.open("rb")
    except OSError as exc:
        raise SourceError(f"cannot open {str(path)!r}: {exc.strerror or exc}") from exc


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
        location, raw, get(cols["id"]), get(cols["text"]), get(cols["author"]),
        get(cols["created_at"]), get(cols["url"]), get(cols["language"]), cols["created_at"],
    )


def record_from_values(
    location: str, raw: str, ext: Any, text: Any, author: Any, created_raw: Any, url: Any,
    language: Any, created_key: str = "created_at",
) -> RawRecord:
    """Build a record from field values, turning bad values into an ``error`` record."""
    try:
        if ext.__class__ is not str:
            ext = scalar_str(ext)
        if text.__class__ is not str:
            text = scalar_str(text)
        if author.__class__ is not str:
            author = scalar_str(author)
        if url is not None:
            url = scalar_str(url)
        if language is not None:
            language = scalar_str(language)
    except ValueError as exc:
        return RawRecord(location, raw, None, None, None, None, error=f"bad field: {exc}")
    created = None
    if created_raw is not None and created_raw != "":
        try:
            created = parse_datetime(created_raw)
        except ValueError:
            return RawRecord(
                location, raw, ext, text, author, None, url, language,
                error=f"unparsable date {created_raw!r} in column {created_key!r}",
            )
    return RawRecord(location, raw, ext or None, text, author or None, created, url, language)


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

def read_jsonl(location: str, columns: Mapping[str, str] | None = None) -> Iterator[RawRecord]:
    """Yield a record per non-blank line of every file the location names."""
    cols = column_map(columns or {})
    for path in expand(location):
        yield from _read_jsonl_file(path, cols)


def iter_json_lines(path: Path) -> Iterator[tuple[str, str, dict[str, Any] | None, str | None]]:
    """Yield ``(location, raw, object, error)`` per non-blank line, parsed by ``json``."""
    with open_binary(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            yield from _json_line(path, lineno, line)


def _json_line(
    path: Path, lineno: int, line: bytes
) -> Iterator[tuple[str, str, dict[str, Any] | None, str | None]]:
    location = f"{path}:{lineno}"
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        yield (location, line.decode("utf-8", "replace").rstrip("\r\n"), None,
               f"undecodable bytes (not UTF-8): {exc.reason} at byte {exc.start}")
        return
    if not text.strip():
        return
    raw = text.rstrip("\r\n")
    try:
        obj = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        yield location, raw, None, f"broken JSON line: {exc}"
        return
    if not isinstance(obj, dict):
        yield location, raw, None, f"not a JSON object: got {type(obj).__name__}"
        return
    yield location, raw, obj, None


def _read_jsonl_file(path: Path, cols: dict[str, str]) -> Iterator[RawRecord]:
    try:
        with open_binary(path) as fh:
            first = 1
            while True:
                lines = fh.readlines(CHUNK_BYTES)
                if not lines:
                    break
                records = _fast_chunk(path, first, lines, cols)
                if records is None:
                    records = _slow_chunk(path, first, lines, cols)
                yield from records
                first += len(lines)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise SourceError(f"cannot read {str(path)!r}: {exc}") from exc


def _slow_chunk(path: Path, first: int, lines: list[bytes], cols: dict[str, str]) -> list[RawRecord]:
    out: list[RawRecord] = []
    for offset, line in enumerate(lines):
        for location, raw, obj, error in _json_line(path, first + offset, line):
            if error is not None or obj is None:
                out.append(RawRecord(location, raw, None, None, None, None, error=error))
            else:
                out.append(make_record(location, raw, _getter(obj), cols))
    return out


def _fast_chunk(path: Path, first: int, lines: list[bytes], cols: dict[str, str]) -> list[RawRecord] | None:
    """Parse a chunk with polars; None when the chunk needs line-by-line handling."""
    data = b"".join(lines)
    try:
        texts = data.decode("utf-8").split("\n")[: len(lines)]
    except UnicodeDecodeError:
        return None
    if any(not t.strip() or not t.lstrip().startswith("{") for t in texts):
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
            cols["id"], cols["text"], cols["author"], cols["url"], cols["language"]
        ):
            return None
    height = frame.height
    fields = [cols[k] for k in ("id", "text", "author", "created_at", "url", "language")]
    series = [frame.get_column(c).to_list() if c in frame.columns else [None] * height for c in fields]
    prefix = f"{path}:"
    created_key = cols["created_at"]
    return [
        record_from_values(f"{prefix}{first + offset}", raw.rstrip("\r"), ext, text, author, created, url, language,
                           created_key)
        for offset, (raw, ext, text, author, created, url, language) in enumerate(zip(texts, *series))
    ]


# ---------------------------------------------------------------------------- CSV

def read_csv(location: str, columns: Mapping[str, str] | None = None) -> Iterator[RawRecord]:
    """Yield a record per CSV row (the first row is the header) of every matching file."""
    cols = column_map(columns or {})
    for path in expand(location):
        yield from _read_csv_file(path, cols)


def _read_csv_file(path: Path, cols: dict[str, str]) -> Iterator[RawRecord]:
    try:
        with open_binary(path) as fb:
            fh = io.TextIOWrapper(fb, encoding="utf-8-sig", errors="surrogateescape", newline="")
            reader = csv.reader(fh)
            try:
                header = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise SourceError(f"{str(path)!r}: the CSV header cannot be read: {exc}") from exc
            if any(_has_surrogates(h) for h in header):
                raise SourceError(f"{str(path)!r}: the CSV header is not UTF-8 text: save the file as UTF-8")
            width = len(header)
            start = reader.line_num + 1
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    location = f"{path}:{start}"
                    yield RawRecord(location, "", None, None, None, None, error=f"broken CSV line: {exc}")
                    start = reader.line_num + 1
                    continue
                location = f"{path}:{start}"
                start = reader.line_num + 1
                if not row or row == [""] * len(row) and len(row) <= 1:
                    continue  # blank line
                raw = _csv_raw(row)
                if any(_has_surrogates(v) for v in row):
                    yield RawRecord(location, raw.encode("utf-8", "surrogateescape").decode("utf-8", "replace"),
                                    None, None, None, None, error="undecodable bytes (not UTF-8)")
                    continue
                if len(row) != width:
                    yield RawRecord(location, raw, None, None, None, None,
                                    error=f"broken CSV line: expected {width} fields, got {len(row)}")
                    continue
                obj = dict(zip(header, row))
                yield make_record(location, raw, _csv_getter(obj), cols)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise SourceError(f"cannot read {str(path)!r}: {exc}") from exc


def _has_surrogates(value: str) -> bool:
    return not value.isascii() and any("\udc80" <= ch <= "\udcff" for ch in value)


def _csv_raw(row: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(row)
    return buffer.getvalue()[:-2]


# ---------------------------------------------------------------------------- Parquet

def read_parquet(location: str, columns: Mapping[str, str] | None = None) -> Iterator[RawRecord]:
    """Yield a record per row of every matching Parquet file."""
    cols = column_map(columns or {})
    for path in expand(location):
        try:
            if path.suffix == ".gz":
                with gzip.open(path, "rb") as fh:
                    frame = pl.read_parquet(io.BytesIO(fh.read()))
            else:
                frame = pl.read_parquet(path)
        except Exception as exc:  # noqa: BLE001 - polars raises many types for a bad file
            raise SourceError(f"cannot read Parquet file {str(path)!r}: {exc}") from exc
        for number, obj in enumerate(frame.iter_rows(named=True), start=1):
            raw = json.dumps(obj, default=str, ensure_ascii=False)
            yield make_record(f"{path}:{number}", raw, _getter(obj), cols)
