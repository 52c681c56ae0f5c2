"""Server-side render time of the web workspace's heaviest pages on a generated store.

The store is made with the real migrations (``ensure_schema``) and filled by direct inserts: one
author with ``--posts`` (5,000) scored posts over eight years, ``--others`` authors with two posts
each, and ``--alerts`` (10,000) alerts over them in every rule, status and severity, the long
author's among them. The app is the one ``emomon serve`` runs (``create_app``), logged in as a
reviewer; each page is requested ``--runs`` times in process through Starlette's ``TestClient``
(the median and the slowest of these are the figures), then once over a real loopback socket
(uvicorn). Beside each figure: the median CPU time the process spent per request, the target
(300 ms), the SQL statements the page ran (the same number whatever the store's size: no query
per row), the load average, and the baseline measured in the same run, ``/healthz`` through the
same stack (what the framework costs before a page does any work).

Usage: python bench/web.py [--runs 15] [--posts 5000] [--alerts 10000] [--others 2000] [--json]
       [--postgres | --db-url postgresql+psycopg://...] (default: a SQLite file in a temporary folder)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import event, insert

from monitor.api import Emomon
from monitor.store import scores as score_store
from monitor.store.engine import ensure_schema, make_engine, session_scope
from monitor.store.schema import SCORE_COLUMNS, Alert, Author, Post, Source

TARGET_MS = 300.0
PASSWORD = "bench password, long enough"
START = datetime(2016, 1, 1, tzinfo=UTC)
BIG = "a-bench0000big"
RULES = ("level", "rise", "burst", "source_shift")


def evidence(rule: str, post_ids: list[int], rng: random.Random) -> dict[str, Any]:
    """Evidence shaped as each rule stores it (the figures are invented)."""
    mean = round(rng.uniform(0.5, 0.95), 3)
    if rule == "rise":
        return {"post_ids": post_ids, "run_mean": mean, "baseline_mean": 0.2, "baseline_std": 0.05,
                "baseline_posts": 30, "cusum": 6.1, "h": 5.0, "k": 0.5, "z_cap": 4.0}  # fmt: skip
    if rule == "level":
        return {"post_ids": post_ids, "window_mean": mean, "posts": len(post_ids), "window_days": 7,
                "threshold": 0.6, "min_posts": 3}  # fmt: skip
    if rule == "burst":
        return {"post_ids": post_ids, "high_posts": len(post_ids), "post_threshold": 0.8, "window_hours": 24,
                "max_index": mean, "count": 3}  # fmt: skip
    return {"day_mean": mean, "posts": 40, "z": 3.4, "baseline_mean": 0.2, "baseline_std": 0.04,
            "baseline_days": 28, "z_threshold": 3.0}  # fmt: skip


def generate(url: str, *, posts: int, others: int, alerts: int, seed: int = 7) -> None:
    """Fill the empty database at ``url`` (migrated first)."""
    rng = random.Random(seed)
    engine = make_engine(url)
    ensure_schema(engine)
    now = datetime.now(UTC)
    probs = np.full((1, len(SCORE_COLUMNS)), 0.05, dtype=np.float32)
    with session_scope(engine) as s:
        s.execute(
            insert(Source),
            [
                {
                    "id": i + 1,
                    "name": f"forum{i}",
                    "kind": "jsonl",
                    "location": f"forum{i}.jsonl",
                    "paused": False,
                    "created_at": START,
                }
                for i in range(3)
            ],  # fmt: skip
        )
        s.execute(
            insert(Author),
            [{"id": 1, "platform": "forum", "handle": "big_talker", "pseudonym": BIG}]
            + [
                {"id": i + 2, "platform": "forum", "handle": f"h{i}", "pseudonym": f"a-bench{i:07d}"}
                for i in range(others)
            ],
        )
        post_rows: list[dict[str, Any]] = []
        by_author: dict[int, list[tuple[int, datetime]]] = {}
        span = 8 * 365 * 86400
        for _ in range(posts):  # the long author: bursts and gaps over eight years
            at = START + timedelta(seconds=int(span * (rng.random() ** 1.3)))
            post_rows.append({"author_id": 1, "created_at": at})
        for a in range(others):
            for _ in range(2):
                post_rows.append({"author_id": a + 2, "created_at": START + timedelta(seconds=rng.randrange(span))})
        post_rows.sort(key=lambda r: r["created_at"])
        for pid, row in enumerate(post_rows, start=1):
            row.update(id=pid, source_id=1 + pid % 3, external_id=str(pid), text=f"generated post {pid}",
                       url=None, content_hash=f"{pid:032d}", ingested_at=now)  # fmt: skip
            by_author.setdefault(row["author_id"], []).append((pid, row["created_at"]))
        s.execute(insert(Post), post_rows)
        score_rows = []
        for row in post_rows:
            index = rng.betavariate(2, 5)
            p = probs.copy()
            p[0, SCORE_COLUMNS.index("goemo_sadness")] = index
            score_rows.append({"post_id": row["id"], "status": "scored", "reason": None, "depression_index": index,
                               "probs": score_store.pack_probs(p)[0], "windows": 1,
                               "text_hash": f"{row['id']:08d}", "scored_at": now})  # fmt: skip
        score_store.write_scores(s, "bench-v1", score_rows)
        alert_rows = []
        big_posts = by_author[1]
        for n in range(alerts):
            rule = RULES[n % 4] if n % 50 else "rise"
            if rule == "source_shift":
                subject_kind, subject, ids = "source", f"forum{n % 3}", []
                at = START + timedelta(seconds=rng.randrange(span))
                trigger = None
            else:
                owner = 1 if n % 300 == 0 else 2 + n % others
                mine = big_posts[rng.randrange(len(big_posts) - 4) :][:4] if owner == 1 else by_author[owner]
                ids = [pid for pid, _ in mine]
                at, trigger = mine[-1][1], mine[-1][0]
                subject_kind, subject = "author", BIG if owner == 1 else f"a-bench{owner - 2:07d}"
            alert_rows.append({
                "rule": rule, "subject_kind": subject_kind, "subject": subject,
                "window_start": at - timedelta(days=7), "window_end": at, "evidence": evidence(rule, ids, rng),
                "severity": ("low", "medium", "high")[n % 3], "status": ("new", "acknowledged", "resolved")[n % 3],
                "trigger_post_id": trigger, "trigger_index": None, "trigger_at": at, "created_at": now,
                "updated_at": None, "model_version": "bench-v1", "dedup_key": f"bench-{n}",
            })  # fmt: skip
        s.execute(insert(Alert), alert_rows)
    engine.dispose()


@contextmanager
def counting(api: Emomon) -> Iterator[list[str]]:
    """The SQL statements run on ``api``'s engine while inside."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(api.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(api.engine, "before_cursor_execute", record)


def login(post: Callable[..., Any], get: Callable[[str], Any]) -> None:
    import re

    token = re.search(r'name="csrf_token" value="([^"]+)"', get("/login").text)
    assert token, "no login form"
    r = post("/login", data={"csrf_token": token.group(1), "username": "bench", "password": PASSWORD})
    assert r.status_code == 303, r.status_code


def timed(get: Callable[[str], Any], path: str, runs: int, cpu: list[float] | None = None) -> list[float]:
    """Wall milliseconds of ``runs`` requests; the process's CPU milliseconds of each go to ``cpu``."""
    times = []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        r = get(path)
        times.append((time.perf_counter() - t0) * 1000)
        if cpu is not None:
            cpu.append((time.process_time() - c0) * 1000)
        assert r.status_code == 200, (path, r.status_code)
    return times


def over_socket(app: Any, paths: list[str]) -> dict[str, float]:
    """Each path once over a real loopback socket (uvicorn in a thread), after a login."""
    import httpx
    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", follow_redirects=False, timeout=60) as client:
            login(client.post, client.get)
            return {p: timed(client.get, p, 1)[0] for p in paths}
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def database(args: argparse.Namespace) -> Iterator[str | None]:
    """``--db-url``, a new database in a throw-away PostgreSQL cluster (``--postgres``), or None."""
    if not args.postgres:
        yield args.db_url
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    import pgcluster

    with pgcluster.throwaway_database() as url:
        yield url


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--posts", type=int, default=5000)
    parser.add_argument("--alerts", type=int, default=10000)
    parser.add_argument("--others", type=int, default=2000)
    parser.add_argument("--db-url", default=None, help="an empty database (default: a SQLite file)")
    parser.add_argument("--postgres", action="store_true", help="a new database in a throw-away PostgreSQL cluster")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from starlette.testclient import TestClient

    from monitor.web.app import create_app

    with tempfile.TemporaryDirectory() as tmp, database(args) as given:
        root = Path(tmp)
        url = given or f"sqlite:///{root / 'emomon.db'}"
        t0 = time.perf_counter()
        generate(url, posts=args.posts, others=args.others, alerts=args.alerts)
        made_s = time.perf_counter() - t0
        (root / "config.toml").write_text(f'[database]\nurl = "{url}"\n', encoding="utf-8")
        api = Emomon(root / "config.toml")
        api.add_user("bench", "reviewer", PASSWORD)
        app = create_app(api)
        pages = {
            f"queue (/alerts, {args.alerts} alerts)": "/alerts",
            "queue, filtered (/alerts?status=new&rule=rise&page=3)": "/alerts?status=new&rule=rise&page=3",
            f"author ({args.posts} posts)": f"/authors/{BIG}",
        }
        results = []
        with TestClient(app, follow_redirects=False) as client:
            login(client.post, client.get)
            floor = statistics.median(timed(client.get, "/healthz", args.runs))
            for name, path in pages.items():
                timed(client.get, path, 1)  # warm: templates compiled, first connection
                with counting(api) as statements:
                    client.get(path)
                cpu: list[float] = []
                times = timed(client.get, path, args.runs, cpu)
                results.append(
                    {
                        "page": name,
                        "path": path,
                        "median_ms": round(statistics.median(times), 1),
                        "max_ms": round(max(times), 1),
                        "cpu_ms": round(statistics.median(cpu), 1),
                        "queries": len(statements),
                        "bytes": len(client.get(path).content),
                    }
                )
        socket_ms = over_socket(app, list(pages.values()))
        api.close()
    for r in results:
        r["socket_ms"] = round(socket_ms[r["path"]], 1)
        r["holds"] = r["median_ms"] < TARGET_MS and r["socket_ms"] < TARGET_MS
    backend = url.split(":", 1)[0]
    load = os.getloadavg()[0]
    if args.json:
        print(json.dumps({"backend": backend, "target_ms": TARGET_MS, "healthz_ms": round(floor, 1),
                          "store_s": round(made_s, 1), "runs": args.runs, "load": load, "cpus": os.cpu_count(),
                          "pages": results}, indent=2))  # fmt: skip
    else:
        print(f"store: {backend}, {args.alerts} alerts, an author with {args.posts} posts (made in {made_s:.1f} s)")
        print(f"baseline /healthz through the same stack: {floor:.1f} ms (median of {args.runs})")
        print(f"load average {load:.1f} on {os.cpu_count()} CPUs (wall times grow with it; CPU times less)")
        print(f"{'page':56} {'median':>8} {'CPU':>8} {'max':>8} {'socket':>8} {'target':>8} {'SQL':>4}")
        for r in results:
            print(
                f"{r['page']:56} {r['median_ms']:>6.1f}ms {r['cpu_ms']:>6.1f}ms {r['max_ms']:>6.1f}ms "
                f"{r['socket_ms']:>6.1f}ms "
                f"{'<' + str(int(TARGET_MS)) + 'ms':>8} {r['queries']:>4}  {'holds' if r['holds'] else 'MISSES'}"
            )
    return 0 if all(r["holds"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
