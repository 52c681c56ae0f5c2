"""The score stage: every stored post scored once per model version, fast and resumable.

One run streams the posts that need a score (see :mod:`monitor.store.scores`) in chunks of
``[scoring] chunk_size`` posts (the first one smaller, so the model starts early), in post-id
order::

    reader thread                                  main thread
    read chunk k+1 from the database               forward the batches of chunk k
    language check (langid) -> skipped rows        (bf16 where native, int8 through ONNX
    tokenise without truncation                     Runtime on other CPUs, or fp32)
    long posts -> overlapping windows              combine windows per post, index
    length-sorted batches under a token budget,    write chunk k (scored + skipped rows)
    padded to their longest member (pinned on GPU)  in one transaction

Preparing and scoring a chunk is :mod:`monitor.score.prepare`, over the predictor's one
inference path (:meth:`monitor.model.predictor.Predictor.plan`, ``window_logits``, ``combine``).

Tokenising and reading overlap with the model where there is something to overlap with: on a
GPU, or on a CPU with a core that torch's threads leave free, the reader runs in a thread (the
tokenizer and torch release the GIL). Where torch already uses every core, the chunk is
prepared between two chunks' forwards instead (:func:`overlap_preparation`): the thread could
only take its cycles (about 3% of a run) from torch's threads.

A killed run loses at most the chunk in flight: the next run finds the same posts still
unscored. A post never gets two rows because the primary key is
(post, model version) and a new row replaces the post's row of another version in the same
transaction (``--rescore``).

Long posts are windowed, never truncated (see :mod:`monitor.model.predictor`); such posts
are counted as ``windowed``.
"""

from __future__ import annotations

import functools
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from sqlalchemy import Engine

from monitor.model.configured import load_predictor, scores_version
from monitor.model.predictor import Predictor
from monitor.score.plan import Progress, RunPlan, ScoreReport, recorded_run, write_chunk
from monitor.score.prepare import Chunk, ChunkScorer

if TYPE_CHECKING:
    from monitor.settings import Settings

#: Posts in the first chunk: the model idles while it is prepared (language check, tokenising),
#: so it is kept small; later chunks are prepared while the model works on the one before.
FIRST_CHUNK = 1024


def run_score(
    engine: Engine,
    settings: Settings,
    *,
    model: Path | None = None,
    predictor: Predictor | None = None,
    limit: int | None = None,
    rescore: bool = False,
    device: str | None = None,
    batch_tokens: int | None = None,
    progress: Progress | None = None,
    on_total: Callable[[int], None] | None = None,
    overlap: bool | None = None,
) -> ScoreReport:
    """Score the posts that need it and record the run in ``runs``.

    Without ``rescore``, posts never scored (or whose text changed) are scored; with it, posts
    whose score is from another model version are scored again too. An empty store, or one
    with nothing to score, returns at once; the default mode does not even load the model then.

    Args:
        engine: The database.
        settings: Loaded settings ([scoring], [model]).
        model: Model directory instead of ``[model] path``.
        predictor: An already loaded model (takes precedence over ``model``, ``device`` and
            ``batch_tokens``: its windows and batches are those it was loaded with).
        limit: Score at most this many posts.
        rescore: Also replace scores of other model versions.
        device: ``auto``, ``cpu`` or ``cuda`` instead of ``[scoring] device``.
        batch_tokens: Token budget per batch instead of ``[scoring] batch_tokens``.
        progress: Called with the number of posts done since the last call, after each batch
            (an estimate from the windows run) and after each written chunk (the rest).
        on_total: Called once with the number of posts this run will write.
        overlap: Prepare the next chunk in a thread while the model works (True) or between
            chunks (False); None follows ``[scoring] overlap`` ("auto": :func:`overlap_preparation`).
    """
    plan = RunPlan(engine, limit, rescore)
    done = plan.done_before_loading(settings, model, loaded=predictor is not None)
    if done is not None:
        return done
    if predictor is None:
        predictor = load_predictor(settings, model=model, device=device, batch_tokens=batch_tokens)
    version = scores_version(predictor)
    pending = plan.pending(version)
    if pending == 0:
        return plan.nothing_to_do(version)
    if on_total is not None:
        on_total(pending)
    # The predictor's windows and batch budget were set when it was loaded (load_predictor).
    scorer = ChunkScorer(predictor, settings.scoring)
    with recorded_run(engine, version, plan.t0) as report:
        if overlap is None:
            overlap = overlap_preparation(predictor, settings.scoring.overlap)
        prepared = functools.partial(_prepared_chunks, plan, scorer, version, pending)
        chunks = _read_ahead(prepared, report) if overlap else prepared()
        for chunk in chunks:
            write_chunk(engine, scorer, version, chunk, report, progress)
    return report


def overlap_preparation(predictor: Predictor, setting: str = "auto") -> bool:
    """Whether to prepare the next chunk in a thread while the model works.

    ``setting`` is ``[scoring] overlap``: "thread" and "inline" decide; "auto" asks whether the
    thread can overlap with the model. On a GPU it can: the CPU is free while the GPU works.
    On a CPU it can only when torch leaves a core unused; otherwise the thread only takes cycles
    from the model's threads, and the inline way is the simpler one. On 2 cores both measure
    the same: 73% of the bf16 roofline with the thread, 73-74% inline (``python
    bench/score.py --overlap thread|inline --repeats 2``).
    """
    if setting != "auto":
        return setting == "thread"
    if predictor.device.type == "cuda":
        return True
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity masks on this platform (macOS)
        cores = os.cpu_count() or 1
    return cores > torch.get_num_threads()


def _prepared_chunks(
    plan: RunPlan, scorer: ChunkScorer, version: str, limit: int, stop: threading.Event | None = None
) -> Iterator[Chunk]:
    """The plan's first ``limit`` posts in chunks (the first one small, so the model starts early), read
    and prepared, each with the seconds its reading took."""
    pages = plan.pages(version, scorer.chunk_size, first=min(scorer.chunk_size, FIRST_CHUNK), limit=limit, stop=stop)
    while True:
        t0 = time.perf_counter()
        batch = next(pages, None)
        if batch is None:
            return
        read = time.perf_counter() - t0
        chunk = scorer.prepare(batch)
        chunk.seconds["read"] = read
        yield chunk


def _read_ahead(prepared: Callable[[threading.Event], Iterator[Chunk]], report: ScoreReport) -> Iterator[Chunk]:
    """Yield prepared chunks while a thread reads and prepares the next one (queue depth 2);
    the time spent waiting for one after the first is counted as ``waiting`` in ``report``."""
    ready: queue.Queue[Chunk | BaseException | None] = queue.Queue(maxsize=2)
    stop = threading.Event()

    def put(item: Chunk | BaseException | None) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def reader() -> None:
        try:
            for chunk in prepared(stop):
                if not put(chunk):
                    return
            put(None)
        except BaseException as exc:  # noqa: BLE001  (handed to the main thread, which re-raises it)
            put(exc)

    thread = threading.Thread(target=reader, name="emomon-score-reader", daemon=True)
    thread.start()
    first = True  # the model always waits for the first chunk: that is start-up, not a bound
    try:
        while True:
            t0 = time.perf_counter()
            item = ready.get()
            if not first:
                report.add_seconds({"waiting": time.perf_counter() - t0})
            first = False
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


def run_engine(
    engine: Engine, settings: Settings, *, kind: str | None = None, address: str | None = None, **options: Any
) -> ScoreReport:
    """Score with the engine ``kind`` (default ``[scoring] engine``): this process, or Ray.

    Every caller (``emomon score``, ``emomon run``, the schedule) goes through here, so the
    setting means the same everywhere. ``options`` are :func:`run_score`'s.
    """
    if (kind or settings.scoring.engine) == "ray":
        from monitor.score.distributed import run_distributed

        return run_distributed(engine, settings, address=address, **options)
    return run_score(engine, settings, **options)
