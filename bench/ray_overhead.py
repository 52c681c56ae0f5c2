"""Benchmark of `emomon score --engine ray` on one machine: the local-Ray figure beside the
in-process figure on the same posts, and the SQLite write rate of score rows.

Prints, in one run:

* the in-process engine (``run_score``, torch's threads over every core) on a store of
  ``--posts`` posts: seconds and posts/s end to end;
* the same with one torch thread (what one CPU actor does, without Ray);
* the Ray engine (``run_distributed``, a local Ray instance of ``--actors`` CPU actors, one
  thread each) on a second store with the same posts: seconds and posts/s end to end, the
  start-up (Ray, the actors' model loads, until the first range is written) and the steady
  rate after it, per actor too; and the overhead ratios against the in-process figure;
* score rows written per second to SQLite through the same upsert (``write_scores``), in
  transactions of ``--chunk-size`` rows, on ``--write-rows`` posts: the database's bound for
  the capacity plan in the README.

The posts are the training texts of the three datasets read by path (as in bench/score.py).

Usage (from the repository root, with ``pip install -e '.[ray]'``):
    python bench/ray_overhead.py                  # 4,000 posts, 2 actors, ranges of 256
    python bench/ray_overhead.py --posts 500      # a smoke run
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from score import build_store, model_dir, read_texts, take  # noqa: E402  (bench/score.py)

import monitor  # noqa: E402,F401  (sets the oneDNN cache cap before torch starts)
from monitor.score.distributed import run_distributed  # noqa: E402
from monitor.score.plan import ScoreReport  # noqa: E402
from monitor.score.stage import run_score  # noqa: E402
from monitor.settings import Settings, load_settings  # noqa: E402
from monitor.store import scores as score_store  # noqa: E402
from monitor.store.engine import make_engine, session_scope  # noqa: E402
from monitor.store.schema import SCORE_COLUMNS  # noqa: E402


def settings_for(url: str, model: Path, actors: int, chunk_size: int) -> Settings:
    """The same [scoring] settings for both engines (device cpu, the configured precision)."""
    return load_settings(
        None,
        {
            "EMOMON_DATABASE_URL": url,
            "EMOMON_MODEL_PATH": str(model),
            "EMOMON_SCORING_DEVICE": "cpu",
            "EMOMON_SCORING_CHUNK_SIZE": str(chunk_size),
            "EMOMON_SCORING_RAY_ACTORS": str(actors),
        },
    )


def timed(run: Callable[..., ScoreReport], url: str, settings: Settings) -> Timed:
    """Run one engine on the store at ``url``, noting (seconds since start, posts) at each progress call."""
    engine = make_engine(url)
    done: list[tuple[float, int]] = []
    t0 = time.perf_counter()
    report = run(engine, settings, progress=lambda n: done.append((time.perf_counter() - t0, n)))
    seconds = time.perf_counter() - t0
    engine.dispose()
    return Timed(report, seconds, done)


@dataclass
class Timed:
    """One engine's run: its report, wall seconds, and the progress calls."""

    report: ScoreReport
    seconds: float
    done: list[tuple[float, int]]

    @property
    def posts_per_second(self) -> float:
        return self.report.posts / self.seconds

    @property
    def first(self) -> float:
        """Seconds until the first posts were done (start-up: model load, for Ray the instance too)."""
        return self.done[0][0]

    def steady(self, skip: int = 1) -> float:
        """Posts per second after the first ``skip`` progress calls (for Ray: one range per actor,
        whose first ranges finish together)."""
        start = self.done[skip - 1][0]
        return sum(n for _, n in self.done[skip:]) / (self.done[-1][0] - start)


def write_rate(path: Path, rows: int, chunk: int) -> float:
    """Score rows per second written by ``write_scores`` in transactions of ``chunk`` rows."""
    url = build_store(path, [f"post {i}" for i in range(rows)])
    engine = make_engine(url)
    rng = np.random.default_rng(0)
    blobs = score_store.pack_probs(rng.random((rows, len(SCORE_COLUMNS)), dtype=np.float32))
    now = datetime.now(UTC)
    all_rows = [
        {
            "post_id": i + 1,
            "status": "scored",
            "reason": None,
            "depression_index": float(i % 100) / 100,
            "probs": blobs[i],
            "windows": 1,
            "text_hash": "0123abcd",
            "scored_at": now,
        }
        for i in range(rows)
    ]
    t0 = time.perf_counter()
    for start in range(0, rows, chunk):
        with session_scope(engine) as s:
            score_store.write_scores(s, "bench-v1", all_rows[start : start + chunk])
    seconds = time.perf_counter() - t0
    engine.dispose()
    return rows / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=4_000, help="posts in each store (default 4,000)")
    parser.add_argument("--actors", type=int, default=2, help="CPU actors of the local Ray instance (default 2)")
    parser.add_argument(
        "--chunk-size", type=int, default=256, help="posts per range / transaction, both engines (default 256)"
    )
    parser.add_argument("--write-rows", type=int, default=50_000, help="score rows of the write-rate run")
    parser.add_argument("--model", type=Path, default=REPO / "models" / "emomon-mtl-v3")
    parser.add_argument("--datasets", type=Path, default=REPO.parent / "shared" / "datasets")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="emomon-raybench-"))
    try:
        texts = take(read_texts(args.datasets), args.posts)
        model, trained = model_dir(args.model, work)
        print(
            f"machine: {os.cpu_count()} CPUs, torch {torch.__version__}, {torch.get_num_threads()} threads; "
            f"model {model.name} ({'trained' if trained else 'UNTRAINED, same architecture'}); "
            f"{args.posts:,} posts, ranges/chunks of {args.chunk_size}; load average {os.getloadavg()[0]:.1f}"
        )

        url = build_store(work / "local.db", texts)
        local = timed(run_score, url, settings_for(url, model, args.actors, args.chunk_size))
        print(
            f"in-process ({torch.get_num_threads()} threads): {local.report.posts:,} posts "
            f"({local.report.scored:,} scored) in {local.seconds:.1f} s = {local.posts_per_second:,.1f} posts/s "
            f"end to end; first posts after {local.first:.1f} s (model load), then {local.steady():,.1f} posts/s"
        )

        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # what one CPU actor does, without Ray
        url = build_store(work / "single.db", texts)
        single = timed(run_score, url, settings_for(url, model, args.actors, args.chunk_size))
        torch.set_num_threads(threads)
        print(
            f"in-process (1 thread): {single.report.posts:,} posts in {single.seconds:.1f} s = "
            f"{single.posts_per_second:,.1f} posts/s end to end; then {single.steady():,.1f} posts/s"
        )

        url = build_store(work / "ray.db", texts)
        ray = timed(run_distributed, url, settings_for(url, model, args.actors, args.chunk_size))
        assert ray.report.posts == local.report.posts, (ray.report.posts, local.report.posts)
        steady = ray.steady(skip=args.actors)
        print(
            f"local Ray ({args.actors} CPU actors, 1 thread each): {ray.report.posts:,} posts in {ray.seconds:.1f} s "
            f"= {ray.posts_per_second:,.1f} posts/s end to end; first range after {ray.first:.1f} s (Ray start, "
            f"model load per actor), then {steady:,.1f} posts/s = {steady / args.actors:,.1f} per actor"
        )
        print(
            f"in-process / local Ray: {local.posts_per_second / ray.posts_per_second:.2f}x end to end, "
            f"{local.steady() / steady:.2f}x in the steady state; one actor / in-process 1 thread: "
            f"{steady / args.actors / single.steady():.2f}x"
        )

        rate = write_rate(work / "write.db", args.write_rows, args.chunk_size)
        print(
            f"SQLite write rate: {rate:,.0f} score rows/s (write_scores, {args.chunk_size} rows per "
            f"transaction, {args.write_rows:,} rows); load average {os.getloadavg()[0]:.1f}"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
