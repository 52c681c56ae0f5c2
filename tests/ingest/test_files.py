import gzip
import json

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.errors import SourceError
from monitor.ingest import files
from monitor.ingest.files import read_csv, read_jsonl, read_parquet


def test_jsonl_fast_path_reads_mapped_and_nested_columns(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text(
        json.dumps({"pid": 7, "body": "hello", "user": {"name": "ann"}, "ts": "2024-01-01T00:00:00Z"}) + "\n",
        encoding="utf-8",
    )
    (record,) = read_jsonl(str(path), {"id": "pid", "text": "body", "author": "user.name", "created_at": "ts"})
    assert (record.external_id, record.text, record.author) == ("7", "hello", "ann")
    assert record.created_at.isoformat() == "2024-01-01T00:00:00+00:00"
    assert record.location == f"{path}:1"


def test_jsonl_bad_lines_become_error_records_with_line_numbers(tmp_path):
    path = tmp_path / "b.jsonl"
    path.write_bytes(
        b'{"id": 1, "text": "ok"}\n'
        b'{"id": 2, "text": \n'
        b"\n"
        b'\xff\xfe{"id": 3}\n'
        b"[1, 2]\n"
        b'{"id": 4, "text": "t", "created_at": "not a date"}\n'
        b'{"id": 5, "text": {"nested": true}}\n'
        b'{"id": 6, "text": "last"}'
    )
    records = list(read_jsonl(str(path)))
    by_line = {r.location.rsplit(":", 1)[1]: r for r in records}
    assert sorted(by_line, key=int) == ["1", "2", "4", "5", "6", "7", "8"]
    assert by_line["1"].error is None and by_line["1"].text == "ok"
    assert by_line["2"].error.startswith("broken JSON line")
    assert by_line["4"].error.startswith("undecodable bytes")
    assert by_line["5"].error.startswith("not a JSON object")
    assert by_line["6"].error.startswith("unparsable date")
    assert by_line["7"].error.startswith("bad field")
    assert by_line["8"].text == "last"


def test_jsonl_fast_and_slow_paths_agree(tmp_path):
    rows = [{"id": 1, "text": "a"}, {"id": 2.0, "text": "b", "author": 5}, {"id": "x", "text": "c", "author": True}]
    good = tmp_path / "good.jsonl"
    good.write_text("".join(json.dumps(r) + "\n" for r in rows))
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(json.dumps(r) + "\n" for r in rows) + "{broken\n")
    fast = [(r.external_id, r.text, r.author) for r in read_jsonl(str(good))]
    slow = [(r.external_id, r.text, r.author) for r in read_jsonl(str(bad)) if r.error is None]
    assert fast == slow == [("1", "a", None), ("2", "b", "5"), ("x", "c", "true")]


def test_jsonl_gz_and_glob(tmp_path):
    with gzip.open(tmp_path / "p1.jsonl.gz", "wt") as fh:
        fh.write('{"id": 1, "text": "one"}\n')
    (tmp_path / "p2.jsonl").write_text('{"id": 2, "text": "two"}\n')
    records = list(read_jsonl(str(tmp_path / "p*.jsonl*")))
    assert [r.text for r in records] == ["one", "two"]


def test_missing_file_and_empty_glob_are_source_errors(tmp_path):
    with pytest.raises(SourceError, match="not found"):
        list(read_jsonl(str(tmp_path / "nope.jsonl")))
    with pytest.raises(SourceError, match="no files match"):
        list(read_csv(str(tmp_path / "*.csv")))


def test_jsonl_chunks_keep_line_numbers(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "CHUNK_BYTES", 64)
    path = tmp_path / "c.jsonl"
    path.write_text("".join(json.dumps({"id": i, "text": f"post {i}"}) + "\n" for i in range(50)))
    records = list(read_jsonl(str(path)))
    assert [r.location for r in records] == [f"{path}:{i + 1}" for i in range(50)]
    assert [r.external_id for r in records] == [str(i) for i in range(50)]


def test_csv_mapping_multiline_fields_and_bad_rows(tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes(
        b"\xef\xbb\xbfpid,body,who,when\n"
        b'1,"two\nlines",ann,2024-01-01\n'
        b"2,short\n"
        b"3,\xff\xfe,bob,2024-01-02\n"
        b"\n"
        b"4,fine,cy,2024-01-03\n"
    )
    cols = {"id": "pid", "text": "body", "author": "who", "created_at": "when"}
    records = list(read_csv(str(path), cols))
    assert [r.location.rsplit(":", 1)[1] for r in records] == ["2", "4", "5", "7"]
    assert records[0].text == "two\nlines" and records[0].author == "ann"
    assert records[1].error == "broken CSV line: expected 4 fields, got 2"
    assert records[2].error == "undecodable bytes (not UTF-8)"
    assert records[3].external_id == "4"


def test_parquet_reader(tmp_path):
    path = tmp_path / "p.parquet"
    pl.DataFrame({"id": [1, 2], "text": ["a", None], "created_at": ["2024-01-01T00:00:00Z", None]}).write_parquet(path)
    records = list(read_parquet(str(path)))
    assert [(r.external_id, r.text) for r in records] == [("1", "a"), ("2", None)]
    assert records[0].location == f"{path}:1"


def test_broken_parquet_is_source_error(tmp_path):
    path = tmp_path / "x.parquet"
    path.write_bytes(b"not parquet")
    with pytest.raises(SourceError, match="Parquet"):
        list(read_parquet(str(path)))


FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20))
json_objects = st.dictionaries(st.sampled_from(["id", "text", "author", "created_at", "x"]), json_scalars, max_size=5)
lines = st.one_of(
    json_objects.map(lambda d: json.dumps(d).encode()),
    st.binary(max_size=40).filter(lambda b: b"\n" not in b),
    st.text(max_size=30).filter(lambda t: "\n" not in t).map(lambda t: t.encode("utf-8", "surrogatepass")),
)


@FUZZ
@given(st.lists(lines, max_size=25))
def test_fuzz_jsonl_never_crashes_and_accounts_each_line(tmp_path_factory, body):
    path = tmp_path_factory.mktemp("fuzz") / "f.jsonl"
    path.write_bytes(b"\n".join(body))
    records = list(read_jsonl(str(path)))
    nonblank = [i + 1 for i, line in enumerate(b"\n".join(body).split(b"\n")) if line.strip(b" \t\r\x0b\x0c")]
    located = [int(r.location.rsplit(":", 1)[1]) for r in records]
    assert located == sorted(located)
    assert set(located) <= set(nonblank)
    for r in records:
        assert r.error is not None or r.created_at is None or r.created_at.tzinfo is not None


@FUZZ
@given(st.lists(st.lists(st.text(max_size=12), min_size=0, max_size=5), max_size=20), st.binary(max_size=30))
def test_fuzz_csv_never_crashes_and_locates_each_record(tmp_path_factory, rows, junk):
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["id", "text", "author", "created_at"])
    for row in rows:
        writer.writerow(row)
    path = tmp_path_factory.mktemp("fuzz") / "f.csv"
    path.write_bytes(buf.getvalue().encode("utf-8", "surrogatepass") + junk)
    records = list(read_csv(str(path)))
    located = [int(r.location.rsplit(":", 1)[1]) for r in records]
    assert located == sorted(set(located)) and all(n >= 2 for n in located)  # one record per line, after the header
    written_ids = {row[0] for row in rows if row}
    for r in records:
        if r.error is None and r.external_id is not None and not junk:
            assert r.external_id in written_ids
