"""Bounded work for every input: `emomon ingest` runs as a subprocess on small bombs (a gzipped
256 MiB line, gzipped newlines, a Mastodon zip bomb, a source over its time budget), its
peak memory and time are measured, and the records after the bomb are still read."""

from __future__ import annotations

import gzip
import json
import sqlite3
import subprocess
import sys
import textwrap
import zipfile
import zlib
from datetime import datetime
from pathlib import Path

import pytest

MB = 1 << 20
# Run `emomon ingest` as the only child of a fresh interpreter and print its peak RSS (KiB).
MEASURE = textwrap.dedent("""
    import resource, subprocess, sys
    proc = subprocess.run([sys.executable, "-c", "from monitor.cli import cli; cli()", *sys.argv[1:]],
                          capture_output=True, text=True, timeout=300)
    sys.stderr.write(proc.stderr)
    print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, proc.returncode)
    print(proc.stdout)
""")


def ingest(tmp_path: Path, sources: list[tuple[str, str, Path]], ingest_keys: str = "") -> tuple[float, float, dict]:
    """Run `emomon ingest --json`; return (peak RSS in MiB, seconds of the ingest run, the JSON report).

    The seconds are those of the run's `runs` row (interpreter start-up and imports left out:
    on a loaded test machine they vary more than the work measured).
    """
    cfg = tmp_path / "config.toml"
    body = f'[database]\nurl = "sqlite:///{tmp_path / "emomon.db"}"\n[ingest]\n{ingest_keys}\n'
    for name, kind, location in sources:
        body += f'[[sources]]\nname = "{name}"\nkind = "{kind}"\nlocation = "{location}"\n'
    cfg.write_text(body)
    proc = subprocess.run(
        [sys.executable, "-c", MEASURE, "--config", str(cfg), "ingest", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    first, _, rest = proc.stdout.partition("\n")
    rss_kib, _code = first.split()
    with sqlite3.connect(tmp_path / "emomon.db") as db:
        ((started, finished),) = db.execute("SELECT started_at, finished_at FROM runs WHERE command = 'ingest'")
    seconds = (datetime.fromisoformat(finished) - datetime.fromisoformat(started)).total_seconds()
    return int(rss_kib) / 1024, seconds, json.loads(rest)


def good_file(tmp_path: Path) -> Path:
    path = tmp_path / "good.jsonl"
    path.write_text('{"id": "g1", "text": "a good post"}\n')
    return path


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> float:
    """Peak RSS (MiB) of `emomon ingest` on one tiny file."""
    tmp = tmp_path_factory.mktemp("baseline")
    rss, _, report = ingest(tmp, [("good", "jsonl", good_file(tmp))])
    assert report["totals"]["inserted"] == 1
    return rss


def gzip_stream(path: Path, parts: list[tuple[bytes, int]]) -> None:
    """Write a gzip file of each ``(piece, times)`` repeated, without holding it expanded."""
    co = zlib.compressobj(9, zlib.DEFLATED, 31)
    with path.open("wb") as fh:
        for piece, times in parts:
            for _ in range(times):
                fh.write(co.compress(piece))
        fh.write(co.flush())


def test_a_gzipped_quarter_gigabyte_line_costs_bounded_memory(tmp_path: Path, baseline: float) -> None:
    bomb = tmp_path / "bomb.jsonl.gz"
    gzip_stream(
        bomb,
        [(b'{"id": "x", "text": "', 1), (b"a" * MB, 256), (b'"}\n{"id": "after", "text": "read after the bomb"}\n', 1)],
    )
    assert bomb.stat().st_size < 1 * MB
    rss, seconds, report = ingest(tmp_path, [("bomb", "jsonl", bomb), ("good", "jsonl", good_file(tmp_path))])
    bomb_report, good_report = report["sources"]
    assert bomb_report["rejected"] == 1 and bomb_report["inserted"] == 1  # the line after it
    assert good_report["inserted"] == 1
    assert rss < baseline + 64, f"peak RSS {rss:.0f} MiB, baseline {baseline:.0f} MiB"
    assert seconds < 60


def test_gzipped_newlines_are_skipped_quickly(tmp_path: Path, baseline: float) -> None:
    bomb = tmp_path / "newlines.jsonl.gz"
    gzip_stream(bomb, [(b"\n" * MB, 100), (b'{"id": "last", "text": "after the newlines"}\n', 1)])
    assert bomb.stat().st_size < 200_000
    rss, seconds, report = ingest(tmp_path, [("newlines", "jsonl", bomb)])
    assert report["sources"][0]["inserted"] == 1 and report["sources"][0]["read"] == 1
    assert seconds < 15  # it took 257 s line by line
    assert rss < baseline + 64


def test_a_mastodon_zip_bomb_is_refused_and_the_next_source_is_read(tmp_path: Path, baseline: float) -> None:
    bomb = tmp_path / "archive.zip"
    with (
        zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf,
        zf.open("outbox.json", "w", force_zip64=True) as fh,
    ):
        fh.write(b'{"orderedItems": [')
        for _ in range(300):
            fh.write(b" " * MB)
        fh.write(b"]}")
    assert bomb.stat().st_size < 1 * MB
    rss, seconds, report = ingest(
        tmp_path, [("bomb", "mastodon", bomb), ("good", "jsonl", good_file(tmp_path))], "max_document_bytes = 100000000"
    )
    bomb_report, good_report = report["sources"]
    assert bomb_report["status"] == "error" and "max_document_bytes" in bomb_report["error"]
    assert good_report["inserted"] == 1
    assert rss < baseline + 64 and seconds < 60


def test_a_source_over_its_time_budget_stops_and_the_run_goes_on(tmp_path: Path) -> None:
    slow = tmp_path / "many.csv.gz"
    rows = "".join(f"{i},post number {i} of a long dump\n" for i in range(400_000))
    slow.write_bytes(gzip.compress(("id,text\n" + rows).encode(), compresslevel=1))
    assert slow.stat().st_size < 2 * MB
    _, seconds, report = ingest(
        tmp_path,
        [("slow", "csv", slow), ("good", "jsonl", good_file(tmp_path))],
        "source_budget_s = 3.0\nbatch_size = 500",
    )
    slow_report, good_report = report["sources"]
    assert slow_report["status"] == "error" and "source_budget_s" in slow_report["error"]
    assert 0 < slow_report["inserted"] < 400_000  # what was read before the stop is kept
    assert slow_report["read"] == sum(
        slow_report[k] for k in ("inserted", "updated", "duplicate", "rejected", "excluded")
    )
    assert good_report["inserted"] == 1
    assert seconds < 15  # the budget, the good source and writing what was read
