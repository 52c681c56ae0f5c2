"""Readers on awkward files: a UTF-8 byte order mark, broken lines reported by their file line,
over-long lines rejected while the rest of the file is still read."""

from __future__ import annotations

import codecs
import gzip
import io
from pathlib import Path

import pytest

from monitor.ingest.archives import read_reddit
from monitor.ingest.files import read_csv, read_jsonl
from monitor.ingest.limits import OVERLONG_PREFIX, ReadLimits, iter_lines

BOM = codecs.BOM_UTF8


@pytest.mark.parametrize("name", ["bom.jsonl", "bom.jsonl.gz"])
def test_jsonl_with_a_byte_order_mark_keeps_its_first_record(tmp_path: Path, name: str) -> None:
    data = BOM + b'{"id": "1", "text": "first"}\n{"id": "2", "text": "second"}\n'
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    records = list(read_jsonl(str(path)))
    assert [(r.external_id, r.text, r.error) for r in records] == [("1", "first", None), ("2", "second", None)]


def test_csv_with_a_byte_order_mark_keeps_its_header(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(BOM + b'id,text\r\n1,first\r\n2,"two\r\nlines"\r\n')
    records = list(read_csv(str(path)))
    assert [(r.external_id, r.text, r.error) for r in records] == [("1", "first", None), ("2", "two\r\nlines", None)]
    assert [r.location.rsplit(":", 1)[1] for r in records] == ["2", "3"]


def test_broken_json_is_reported_at_its_line_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_bytes(b'{"id": "1", "text": "ok"}\n\n   \n{"id": "2",\n{"id": "3", "text": "ok"}\n')
    records = list(read_jsonl(str(path)))
    broken = [r for r in records if r.error]
    assert len(broken) == 1
    assert broken[0].location == f"{path}:4"
    assert broken[0].error is not None and broken[0].error.startswith("broken JSON line 4, column ")
    assert "line 2 column 1" not in broken[0].error
    assert [r.external_id for r in records if not r.error] == ["1", "3"]
    assert records[-1].location == f"{path}:5"


def test_an_over_long_jsonl_line_is_rejected_and_the_rest_is_read(tmp_path: Path) -> None:
    path = tmp_path / "long.jsonl"
    path.write_bytes(b'{"id": "1", "text": "a"}\n{"id": "2", "text": "' + b"x" * 5000 + b'"}\n{"id": "3", "text": "c"}')
    records = list(read_jsonl(str(path), limits=ReadLimits(max_line_bytes=1000)))
    assert [(r.location.rsplit(":", 1)[1], r.external_id) for r in records] == [("1", "1"), ("2", None), ("3", "3")]
    assert records[1].error == "line longer than 1000 bytes, the limit of [ingest] max_line_bytes"
    assert len(records[1].raw) == OVERLONG_PREFIX


def test_an_over_long_ndjson_line_is_rejected_too(tmp_path: Path) -> None:
    path = tmp_path / "dump.ndjson"
    path.write_bytes(
        b'{"id": "a1", "body": "' + b"y" * 3000 + b'", "created_utc": 1}\n'
        b'{"id": "a2", "body": "fine", "created_utc": 1700000000}\n'
    )
    records = list(read_reddit(str(path), limits=ReadLimits(max_line_bytes=1000)))
    assert records[0].error is not None and "max_line_bytes" in records[0].error
    assert records[1].external_id == "t1_a2" and records[1].text == "fine"


def test_an_over_long_csv_record_is_rejected_and_the_rest_is_read(tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    path.write_bytes(b"id,text\n1,a\n2," + b"x" * 5000 + b"\n3,c\n")
    records = list(read_csv(str(path), limits=ReadLimits(max_line_bytes=1000)))
    assert [(r.location.rsplit(":", 1)[1], r.external_id) for r in records] == [("2", "1"), ("3", None), ("4", "3")]
    assert records[1].error is not None and "max_line_bytes" in records[1].error


@pytest.mark.parametrize("block", [3, 7, 1 << 20])
def test_iter_lines_keeps_numbers_across_blocks_and_blank_runs(block: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor.ingest import limits

    monkeypatch.setattr(limits, "BLOCK_BYTES", block)
    data = BOM + b"a\r\n\n\n  \nbb\n" + b"c" * 20 + b"\nd\n\n\ne"
    lines = list(iter_lines(io.BytesIO(data), 10))
    assert [(n, long) for n, _, long in lines] == [(1, False), (5, False), (6, True), (7, False), (10, False)]
    assert [line for _, line, long in lines if not long] == [b"a\r", b"bb", b"d", b"e"]
    prefix = lines[2][1]
    assert prefix and prefix == b"c" * len(prefix)  # a piece of the long line, nothing after it
    kept = list(iter_lines(io.BytesIO(b"a\n\nb\n"), 10, skip_blank=False))
    assert kept == [(1, b"a", False), (2, b"", False), (3, b"b", False)]
