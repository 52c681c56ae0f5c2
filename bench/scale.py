"""Scale benchmark: a store of millions of scored posts stays interactive.

Generates a store of scored posts (default 10 million posts over 50,000 authors and 5 years,
up to yesterday) straight into the real schema, made by the real migrations: posts, authors,
sources and float16 score blobs written with ``executemany`` (SQLite) or ``COPY`` (PostgreSQL).
Scores are plausible: each author has their own level of the depression index and distress,
posts scatter around it, and a few authors have bursts of high-scoring posts, so the alert
rules fire. Then, through the real CLI (one subprocess per command, its peak memory read with
``os.wait4``):

1. ``emomon alerts run`` over the store as generated (the first run),
2. a day's new posts (``--day-posts``, default 20,000, some from bursty authors) are added,
3. ``emomon alerts run`` again: the figure that matters (only what changed since the last run),
4. ``emomon report`` (terminal), ``emomon author <a bursty author>``, and
   ``emomon export --since <30 days ago>`` to Parquet.

Each figure is printed beside its target and beside the baseline: the same commands run by the
code of another checkout (``--base``, e.g. ``git worktree add --detach <dir> <commit>``) on a
copy of the same store at that checkout's schema. A command past ``--timeout`` is stopped and
shown as ``>timeout``.

Usage:
    python bench/scale.py                                    # 10M posts, 50,000 authors
    python bench/scale.py --posts 1000000 --authors 5000     # smaller
    python bench/scale.py --backend postgres --posts 1000000  # a throw-away PostgreSQL cluster
Stores and logs go under ``--dir`` (default ~/emomon-runs/scale).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.store.schema import SCORE_COLUMNS, SCORE_PROBS_DTYPE  # noqa: E402

MODEL_VERSION = "emomon-mtl-v3"
SOURCES = ("forum-a", "forum-b", "feed-c", "board-d")
CHUNK = 200_000
TARGETS = {
    "alerts run (day)": 30.0,
    "report": 10.0,
    "report (API call)": 10.0,
    "author": 1.0,
    "author (API, warm)": 1.0,
}
MEMORY_TARGET_MB = 2048.0
US = 1_000_000
CLI = "import sys; from monitor.cli import cli; sys.argv[0] = 'emomon'; cli()"
# The same call through the Python API, timed inside the process: the figure without start-up
# (and, for the author view, the second call: modules imported on first use already loaded, as
# in a long-running process such as the web workspace).
API = (
    "import sys, time; from monitor import Emomon; em = Emomon(sys.argv[1]); call = sys.argv[2]; "
    "em.author(sys.argv[3]) if call == 'author' else None; t0 = time.perf_counter(); "
    "em.report() if call == 'report' else em.author(sys.argv[3]); "
    "open('api-seconds', 'w').write(str(time.perf_counter() - t0))"
)


# ----------------------------------------------------------------------------- generation


@dataclass
class Posts:
    """Columns of generated posts, sorted by time (microseconds since the epoch, UTC)."""

    created: np.ndarray  # int64 us
    author: np.ndarray  # int32 author id (1-based)
    source: np.ndarray  # int8 source id (1-based)
    index: np.ndarray  # float64 depression index
    distress: np.ndarray  # float64


def author_traits(authors: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Posting weights (log-normal rates), own index level, and the bursty authors (0.5%)."""
    weights = rng.lognormal(0.0, 1.0, authors)
    level = rng.beta(2.0, 6.0, authors)
    bursty = rng.choice(authors, size=max(1, authors // 200), replace=False)
    return weights / weights.sum(), level, bursty


def make_posts(
    n: int, start_us: int, end_us: int, traits: tuple[np.ndarray, np.ndarray, np.ndarray], rng: np.random.Generator
) -> Posts:
    """``n`` posts in ``[start_us, end_us)``: ~1.5% of them in bursts of bursty authors."""
    weights, level, bursty = traits
    bursts = len(bursty) if n >= 1000 else 0
    per_burst = min(12, max(1, int(n * 0.015) // max(bursts, 1)))
    base_n = n - bursts * per_burst
    author = rng.choice(len(weights), size=base_n, p=weights)
    created = rng.integers(start_us, end_us, size=base_n)
    index = np.clip(level[author] + rng.normal(0.0, 0.12, base_n), 0.0, 1.0)
    if bursts:
        who = np.repeat(bursty, per_burst)
        at = np.repeat(rng.integers(start_us, max(start_us + 1, end_us - 36 * 3600 * US), size=bursts), per_burst)
        at = at + rng.integers(0, min(36 * 3600 * US, end_us - start_us), size=at.size)
        author = np.concatenate([author, who])
        created = np.concatenate([created, np.minimum(at, end_us - 1)])
        index = np.concatenate([index, rng.uniform(0.9, 0.99, who.size)])
    distress = np.clip(index * 0.95 + rng.normal(0.0, 0.05, index.size), 0.0, 1.0)
    order = np.argsort(created, kind="stable")
    source = (author % len(SOURCES)).astype(np.int8) + 1
    return Posts(created[order], author[order].astype(np.int32) + 1, source[order], index[order], distress[order])


def stamps(us: np.ndarray) -> list[str]:
    """Microseconds since the epoch -> the text SQLAlchemy stores for a naive UTC DateTime."""
    text = np.datetime_as_string(us.astype("datetime64[us]"), unit="us")
    return [t.replace("T", " ") for t in text.tolist()]


def prob_blobs(index: np.ndarray, rng: np.random.Generator) -> list[bytes]:
    """One float16 blob of the 39 probabilities per post, the sad emotions following the index."""
    probs = rng.uniform(0.0, 0.3, (index.size, len(SCORE_COLUMNS)))
    for name in ("goemo_sadness", "goemo_grief", "carer_sadness", "carer_fear", "goemo_nervousness"):
        probs[:, SCORE_COLUMNS.index(name)] = np.clip(index * rng.uniform(0.7, 1.0, index.size), 0.0, 1.0)
    flat = np.ascontiguousarray(probs, dtype=SCORE_PROBS_DTYPE).tobytes()
    width = 2 * len(SCORE_COLUMNS)
    return [flat[i * width : (i + 1) * width] for i in range(index.size)]


def pseudonym(author_id: int) -> str:
    """The generated pseudonym of an author (12 hex digits, as the store's own)."""
    return f"a-{(author_id * 2654435761) % (1 << 48):012x}"


def row_chunks(posts: Posts, first_id: int, rng: np.random.Generator) -> Iterator[tuple[list[Any], list[Any]]]:
    """(posts rows, scores rows) for the store, in chunks of :data:`CHUNK`."""
    for lo in range(0, posts.created.size, CHUNK):
        hi = min(lo + CHUNK, posts.created.size)
        ids = range(first_id + lo, first_id + hi)
        created = posts.created[lo:hi]
        ingested = created + rng.integers(60 * US, 600 * US, hi - lo)
        scored = ingested + rng.integers(60 * US, 3600 * US, hi - lo)
        created_s, ingested_s, scored_s = stamps(created), stamps(ingested), stamps(scored)
        hashes = [f"{i:032x}" for i in ids]
        authors = posts.author[lo:hi].tolist()
        post_rows = [
            (i, s, f"{i:012d}", a, c, f"generated post {i}", None, "en", h, g)
            for i, s, a, c, h, g in zip(
                ids, posts.source[lo:hi].tolist(), authors, created_s, hashes, ingested_s, strict=True
            )
        ]
        score_rows = [
            (i, MODEL_VERSION, "scored", None, x, d, b, 1, h[:8], t)
            for i, x, d, b, h, t in zip(
                ids,
                posts.index[lo:hi].tolist(),
                posts.distress[lo:hi].tolist(),
                prob_blobs(posts.index[lo:hi], rng),
                hashes,
                scored_s,
                strict=True,
            )
        ]
        yield post_rows, score_rows


POST_COLS = "id, source_id, external_id, author_id, created_at, text, url, language, content_hash, ingested_at"
SCORE_COLS = "post_id, model_version, status, reason, depression_index, distress, probs, windows, text_hash, scored_at"


class Store:
    """Writes generated rows into one store (SQLite file or PostgreSQL database)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sqlite = url.startswith("sqlite")

    def _connect(self) -> Any:
        if self.sqlite:
            import sqlite3

            con = sqlite3.connect(self.url.removeprefix("sqlite:///"))
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=OFF")
            con.execute("PRAGMA cache_size=-512000")
            return con
        import psycopg

        return psycopg.connect(self.url.replace("postgresql+psycopg://", "postgresql://"))

    def write_people(self, authors: int, created: str) -> None:
        con = self._connect()
        rows = [(i + 1, name, "jsonl", f"{name}.jsonl", False, created) for i, name in enumerate(SOURCES)]
        people = [(i, "file", f"user{i}", pseudonym(i)) for i in range(1, authors + 1)]
        self._many(con, "INSERT INTO sources (id, name, kind, location, paused, created_at) VALUES", rows)
        self._many(con, "INSERT INTO authors (id, platform, handle, pseudonym) VALUES", people)
        con.commit()
        con.close()

    def write_posts(self, posts: Posts, rng: np.random.Generator, *, bulk: bool = False) -> int:
        """Append posts and their scores; returns the id of the first.

        ``bulk``: the store's secondary indexes (their own SQL, as the migrations made them) are
        dropped first and made again after, by sorting instead of a random insert per row.
        """
        con = self._connect()
        last = con.execute("SELECT COALESCE(MAX(id), 0) FROM posts").fetchone()[0]
        indexes = []
        if bulk and self.sqlite:
            indexes = con.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                "AND tbl_name IN ('posts', 'scores') AND sql NOT LIKE 'CREATE UNIQUE%'"
            ).fetchall()
            for name, _ in indexes:
                con.execute(f'DROP INDEX "{name}"')
        for post_rows, score_rows in row_chunks(posts, last + 1, rng):
            self._many(con, f"INSERT INTO posts ({POST_COLS}) VALUES", post_rows, copy=f"posts ({POST_COLS})")
            self._many(con, f"INSERT INTO scores ({SCORE_COLS}) VALUES", score_rows, copy=f"scores ({SCORE_COLS})")
            con.commit()
        for _, sql in indexes:
            con.execute(sql)
        con.commit()
        if not self.sqlite:
            con.execute("ANALYZE")
            con.commit()
        con.close()
        return int(last) + 1

    def _many(self, con: Any, insert: str, rows: Sequence[tuple[Any, ...]], copy: str | None = None) -> None:
        width = len(rows[0])
        if self.sqlite:
            con.executemany(f"{insert} ({', '.join('?' * width)})", rows)
        elif copy is not None:
            with con.cursor().copy(f"COPY {copy} FROM STDIN") as out:
                for row in rows:
                    out.write_row(row)
        else:
            con.cursor().executemany(f"{insert} ({', '.join(['%s'] * width)})", rows)


# ----------------------------------------------------------------------------- measuring


@dataclass
class Figure:
    seconds: float | None  # None: stopped at the timeout
    peak_mb: float
    rc: int


# Run by a small launcher so that the peak memory read is the command's own, not the
# high-water mark of this process (which a forked child inherits on Linux).
LAUNCH = (
    "import resource, subprocess, sys; rc = subprocess.call(sys.argv[2:]); "
    "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)); sys.exit(rc)"
)


def measure(argv: Sequence[str], env: dict[str, str], timeout: float, folder: Path) -> Figure:
    """Run one command in ``folder``: its wall time and peak resident memory (ru_maxrss)."""
    peak = folder / "peak-kb"
    peak.unlink(missing_ok=True)
    with (folder / "commands.log").open("ab") as err:
        err.write(f"\n$ {' '.join(argv)}\n".encode())
        err.flush()
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-c", LAUNCH, str(peak), *argv],
            env=env,
            cwd=folder,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )
        seen_kb = 0  # sampled too, for a command stopped at the timeout (its launcher reports nothing)
        rc: int | None = None
        while rc is None and time.perf_counter() - t0 < timeout:
            seen_kb = max(seen_kb, session_rss_kb(proc.pid))
            try:
                rc = proc.wait(0.5)
            except subprocess.TimeoutExpired:
                pass
        seconds: float | None = time.perf_counter() - t0
        if rc is None:
            os.killpg(proc.pid, signal.SIGKILL)
            rc, seconds = proc.wait(), None
    peak_kb = int(peak.read_text()) if peak.exists() else seen_kb
    return Figure(seconds, peak_kb / 1024, rc)


def session_rss_kb(session: int) -> int:
    """Resident memory of the largest process of a session (Linux /proc), in KiB."""
    largest = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) == session:  # the session id follows state, ppid and pgrp
                largest = max(largest, int(fields[21]) * os.sysconf("SC_PAGE_SIZE") // 1024)  # rss in pages
        except (OSError, IndexError, ValueError):
            continue
    return largest


def write_config(folder: Path, url: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.toml"
    path.write_text(
        f'[database]\nurl = "{url}"\n[model]\npath = "{ROOT / "models" / MODEL_VERSION}"\n'
        f'[alerts]\nchannels = ["file"]\n[channels.file]\npath = "{folder / "alerts.jsonl"}"\n',
        encoding="utf-8",
    )
    return path


class Side:
    """One checkout's code (``code``) running the CLI on its own copy of the store."""

    def __init__(self, name: str, code: Path, folder: Path, url: str, timeout: float) -> None:
        self.name, self.code, self.folder, self.url, self.timeout = name, code, folder, url, timeout
        self.config = write_config(folder, url)
        self.env = {**os.environ, "PYTHONPATH": str(code), "COLUMNS": "100", "EMOMON_DATABASE_URL": url}
        self.figures: dict[str, Figure] = {}

    def python(self, code: str) -> None:
        subprocess.run([sys.executable, "-c", code], env=self.env, check=True, cwd=self.folder)

    def migrate(self) -> None:
        self.python(f"from monitor.store.engine import make_engine, upgrade; upgrade(make_engine({self.url!r}))")

    def api(self, label: str, *args: str) -> Figure:
        """One API call, timed in the process (start-up and opening the store left out)."""
        fig = measure([sys.executable, "-c", API, str(self.config), *args], self.env, self.timeout, self.folder)
        seconds = self.folder / "api-seconds"
        if fig.seconds is not None and fig.rc == 0:
            fig.seconds = float(seconds.read_text())
        seconds.unlink(missing_ok=True)
        return self._keep(label, fig)

    def run(self, label: str, *args: str) -> Figure:
        argv = [sys.executable, "-c", CLI, "--config", str(self.config), *args]
        return self._keep(label, measure(argv, self.env, self.timeout, self.folder))

    def _keep(self, label: str, fig: Figure) -> Figure:
        self.figures[label] = fig
        shown = "timeout" if fig.seconds is None else f"{fig.seconds:.2f} s"
        print(f"  [{self.name}] {label}: {shown}, peak {fig.peak_mb:.0f} MB, exit {fig.rc}", flush=True)
        return fig


def shown(fig: Figure | None, timeout: float) -> str:
    if fig is None:
        return "-"
    if fig.seconds is None:
        return f">{timeout:.0f} s"
    return f"{fig.seconds:.2f} s" + ("" if fig.rc == 0 else f" (exit {fig.rc})")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--posts", type=int, default=10_000_000)
    p.add_argument("--authors", type=int, default=50_000)
    p.add_argument("--years", type=float, default=5.0)
    p.add_argument("--day-posts", type=int, default=20_000)
    p.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--dir", type=Path, default=Path.home() / "emomon-runs" / "scale")
    p.add_argument("--base", type=Path, default=None, help="checkout whose code gives the baseline")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds before a command is stopped")
    p.add_argument("--seed", type=int, default=26)
    p.add_argument("--json", action="store_true", help="print the figures as one JSON document last")
    args = p.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    folder = args.dir / f"{args.backend}-{args.posts}"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    now = datetime.now(UTC).replace(tzinfo=None)
    now_us = int((now - datetime(1970, 1, 1)).total_seconds() * US)
    start_us = now_us - int(args.years * 365.25 * 86400 * US)
    day_us = now_us - 86400 * US

    cluster = None
    if args.backend == "postgres":
        sys.path.insert(0, str(ROOT / "tests"))
        from pgcluster import create_database, start_cluster  # type: ignore[import-not-found]

        cluster = start_cluster()
    try:
        names = ["base", "now"] if args.base is not None else ["now"]
        urls = {}
        for name in names:
            if cluster is not None:
                urls[name] = create_database(cluster.url)
            else:
                urls[name] = f"sqlite:///{folder / name / 'store.db'}"
        sides = [
            Side(n, args.base if n == "base" else ROOT, folder / n, urls[n], args.timeout)
            for n in names  # type: ignore[arg-type]
        ]
        traits = author_traits(args.authors, rng)
        t0 = time.perf_counter()
        posts = make_posts(args.posts, start_us, day_us, traits, rng)
        day = make_posts(args.day_posts, day_us, now_us, traits, np.random.default_rng(args.seed + 1))
        print(f"generated {args.posts:,} + {args.day_posts:,} posts in {time.perf_counter() - t0:.1f} s", flush=True)
        first = sides[0]
        first.migrate()
        t0 = time.perf_counter()
        store = Store(first.url)
        store.write_people(args.authors, stamps(np.array([start_us]))[0])
        store.write_posts(posts, np.random.default_rng(args.seed + 2), bulk=True)
        write_s = time.perf_counter() - t0
        print(f"stored {args.posts:,} posts in {write_s:.1f} s ({args.posts / write_s:,.0f} posts/s)", flush=True)
        for side in sides[1:]:
            t0 = time.perf_counter()
            copy_store(first.url, side.url)
            side.migrate()
            print(f"[{side.name}] copied and migrated in {time.perf_counter() - t0:.1f} s", flush=True)
        if cluster is None:
            size = sum(f.stat().st_size for f in (first.folder).glob("store.db*"))
            print(f"store size: {size / 1e9:.2f} GB", flush=True)
        bursty_author = pseudonym(int(traits[2][0]) + 1)
        since = (now - timedelta(days=30)).strftime("%Y-%m-%d")
        for side in sides:
            side.run("alerts run (first)", "alerts", "run", "--json")
            Store(side.url).write_posts(day, np.random.default_rng(args.seed + 3))
            side.run("alerts run (day)", "alerts", "run", "--json")
            side.run("report", "report")
            side.api("report (API call)", "report")
            side.run("author", "author", bursty_author)
            side.api("author (API, warm)", "author", bursty_author)
            side.run("export 30 days", "export", "--since", since, "--output", str(side.folder / "export.parquet"))
    finally:
        if cluster is not None:
            cluster.stop()

    now_side = sides[-1]
    base_side = sides[0] if len(sides) > 1 else None
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n{args.backend}: {args.posts:,} posts, {args.authors:,} authors, {args.years:g} years; CPU: {cpu_name()}")
    print(f"load average at the end (1, 5, 15 min): {load} on {os.cpu_count()} cores")
    print(f"{'command':<22}{'target':>10}{'baseline':>14}{'now':>12}{'peak MB (base/now)':>22}  ok")
    doc: dict[str, Any] = {"backend": args.backend, "posts": args.posts, "authors": args.authors, "figures": {}}
    for label, fig in now_side.figures.items():
        base = base_side.figures.get(label) if base_side else None
        target = TARGETS.get(label)
        ok = fig.seconds is not None and fig.rc == 0 and fig.peak_mb < MEMORY_TARGET_MB
        if target is not None:
            ok = ok and fig.seconds is not None and fig.seconds < target
        peak = f"{base.peak_mb:.0f}/{fig.peak_mb:.0f}" if base else f"{fig.peak_mb:.0f}"
        print(
            f"{label:<22}{(f'< {target:g} s' if target else '-'):>10}{shown(base, args.timeout):>14}"
            f"{shown(fig, args.timeout):>12}{peak:>22}  {'yes' if ok else 'NO'}"
        )
        doc["figures"][label] = {
            "target_s": target,
            "seconds": fig.seconds,
            "peak_mb": round(fig.peak_mb),
            "baseline_seconds": base.seconds if base else None,
            "baseline_peak_mb": round(base.peak_mb) if base else None,
        }
    print(f"peak memory target: < {MEMORY_TARGET_MB:.0f} MB for every command")
    if args.json:
        print(json.dumps(doc))
    return 0


def copy_store(src: str, dst: str) -> None:
    """A copy of the store: the SQLite file, or a PostgreSQL database made from it as template."""
    if src.startswith("sqlite"):
        import sqlite3

        con = sqlite3.connect(src.removeprefix("sqlite:///"))
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
        Path(dst.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src.removeprefix("sqlite:///"), dst.removeprefix("sqlite:///"))
        return
    import psycopg
    from sqlalchemy.engine import make_url

    s, d = make_url(src), make_url(dst)
    admin = d.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as pg:
        pg.execute(f'DROP DATABASE IF EXISTS "{d.database}"')  # type: ignore[arg-type]
        pg.execute(f'CREATE DATABASE "{d.database}" TEMPLATE "{s.database}"')  # type: ignore[arg-type]


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} x{os.cpu_count()}"
    except OSError:
        pass
    return "unknown"


if __name__ == "__main__":
    raise SystemExit(main())
