"""Ingest speed: emomon against the floor (raw sqlite3 executemany of the same rows, same schema).

Writes N JSON Lines posts, ingests them with ``monitor.ingest.stage.ingest`` into a fresh SQLite
file, then inserts the same rows (same values emomon stored, same batch size) with plain
``sqlite3.executemany`` into a second fresh file created by the same migrations. Prints both
posts/s figures (with the CPU seconds of this process: on a shared machine the wall-clock ratio
follows the share of the CPUs each part got) and their ratio. With ``--db URL`` (an empty
PostgreSQL database, or one at the head revision without posts) it also ingests the same file
there and prints that figure beside SQLite's; ``--postgres`` does the same in a throw-away
cluster of the local PostgreSQL (``initdb`` + ``pg_ctl`` as ``tests/pgcluster.py`` starts it for
the test suite: fsync and synchronous commit off, so the figure is an upper bound for a durable
server).

Usage: python bench/ingest.py [--posts 200000] [--batch-size 2000] [--db postgresql+psycopg://... | --postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from monitor.ingest.stage import adhoc_source, ingest
from monitor.settings import load_settings
from monitor.store.engine import ensure_schema, make_engine


def write_posts(path: Path, n: int) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(
                json.dumps(
                    {
                        "id": f"p{i}",
                        "text": f"Post {i}: some days are harder than others, but today felt a little lighter.",
                        "author": f"user{i % 5000}",
                        "created_at": f"2025-03-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00Z",
                    }
                )
                + "\n"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument(
        "--db",
        default=None,
        metavar="URL",
        help="another (empty) database to ingest the same posts into, e.g. PostgreSQL",
    )
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="also ingest into a throw-away cluster of the local PostgreSQL (as the test suite starts one)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, other_database(args) as other:
        work = Path(tmp)
        source = work / "posts.jsonl"
        write_posts(source, args.posts)

        url = f"sqlite:///{work / 'emomon.db'}"
        settings = load_settings(None, {"EMOMON_DATABASE_URL": url, "EMOMON_INGEST_BATCH_SIZE": str(args.batch_size)})
        engine = make_engine(url)
        ensure_schema(engine)
        load = os.getloadavg()[0]
        started, cpu = time.perf_counter(), time.process_time()
        report = ingest(engine, settings, [adhoc_source(str(source))])
        emomon_s, emomon_cpu = time.perf_counter() - started, time.process_time() - cpu
        assert report.totals()["inserted"] == args.posts, report.totals()
        engine.dispose()

        # The floor: the very rows emomon stored, inserted by plain sqlite3 into the same schema.
        with sqlite3.connect(work / "emomon.db") as con:
            rows = con.execute(
                "select source_id, external_id, author_id, created_at, text, url, language, "
                "content_hash, ingested_at from posts order by id"
            ).fetchall()
        floor_url = f"sqlite:///{work / 'floor.db'}"
        floor_engine = make_engine(floor_url)
        ensure_schema(floor_engine)
        floor_engine.dispose()
        con = sqlite3.connect(work / "floor.db")
        con.execute("pragma journal_mode=wal")
        con.execute("pragma synchronous=normal")
        con.execute("pragma foreign_keys=off")
        con.execute(
            "insert into sources (id, name, kind, location, paused, created_at) "
            "values (1, 's', 'jsonl', 'x', 0, '2025-01-01 00:00:00')"
        )
        con.commit()
        sql = (
            "insert into posts (source_id, external_id, author_id, created_at, text, url, language, "
            "content_hash, ingested_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        started, cpu = time.perf_counter(), time.process_time()
        for start in range(0, len(rows), args.batch_size):
            with con:
                con.executemany(sql, rows[start : start + args.batch_size])
        floor_s, floor_cpu = time.perf_counter() - started, time.process_time() - cpu
        con.close()
        other_s = timed_ingest(other, source, args) if other else None

    emomon_rate, floor_rate = args.posts / emomon_s, args.posts / floor_s
    print(f"posts: {args.posts}, batch size: {args.batch_size}, CPUs: {os.cpu_count()}, load average: {load:.1f}")
    print(
        f"emomon ingest (read JSONL, clean, hash, account, authors, store): "
        f"{emomon_rate:,.0f} posts/s ({emomon_s:.2f} s, {emomon_cpu:.2f} s CPU)"
    )
    print(
        f"floor (sqlite3 executemany of the same rows): {floor_rate:,.0f} posts/s "
        f"({floor_s:.2f} s, {floor_cpu:.2f} s CPU)"
    )
    print(f"ratio: {emomon_rate / floor_rate:.2f}x (target >= 0.50x)")
    if other_s is not None:
        other_rate = args.posts / other_s
        print(
            f"emomon ingest into {make_engine(other).url.get_backend_name()} ({other.split('@')[-1]}): "
            f"{other_rate:,.0f} posts/s ({other_s:.2f} s), {other_rate / emomon_rate:.2f}x SQLite's (target >= 0.50x)"
        )


@contextmanager
def other_database(args: argparse.Namespace) -> Iterator[str | None]:
    """The URL of the second database: ``--db``, a new database in a throw-away cluster, or None."""
    if not args.postgres:
        yield args.db
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    import pgcluster

    with pgcluster.throwaway_database() as url:
        yield url


def timed_ingest(url: str, source: Path, args: argparse.Namespace) -> float:
    """Seconds to ingest ``source`` into the database at ``url`` (which must hold no posts)."""
    settings = load_settings(None, {"EMOMON_DATABASE_URL": url, "EMOMON_INGEST_BATCH_SIZE": str(args.batch_size)})
    engine = make_engine(url)
    ensure_schema(engine)
    started = time.perf_counter()
    report = ingest(engine, settings, [adhoc_source(str(source))])
    seconds = time.perf_counter() - started
    engine.dispose()
    if report.totals()["inserted"] != args.posts:
        raise SystemExit(f"--db {url.split('@')[-1]!r} already held some of these posts: give an empty database")
    return seconds


if __name__ == "__main__":
    main()
