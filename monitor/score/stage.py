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
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from sqlalchemy import Engine

from monitor.clock import utcnow
from monitor.errors import ConfigError
from monitor.failures import ended_by
from monitor.model.configured import configured_version, load_predictor, scores_version
from monitor.model.predictor import Predictor
from monitor.score.prepare import Chunk, ChunkScorer
from monitor.store import scores as score_store
from monitor.store.engine import session_scope
from monitor.store.runs import finish_run, record_run, start_run

if TYPE_CHECKING:
    from monitor.settings import Settings

#: Called with the number of posts done since the last call.
Progress = Callable[[int], None]
#: Posts in the first chunk: the model idles while it is prepared (language check, tokenising),
#: so it is kept small; later chunks are prepared while the model works on the one before.
FIRST_CHUNK = 1024
#: The steps of preparing a chunk (see :meth:`ChunkScorer.prepare`), in :attr:`ScoreReport.stage_seconds`.
PREPARATION_STEPS = ("read", "language", "tokenise")


@dataclass
class ScoreReport:
    """The outcome of one score run."""

    model_version: str | None
    scored: int = 0
    skipped: int = 0
    windowed: int = 0
    seconds: float = 0.0
    scoring_seconds: float = 0.0  # of ``seconds``: after the model was loaded
    tokens: int = 0
    #: Seconds per step of the run: "read", "language", "tokenise" (tokenising, windows and padded
    #: batches) prepare a chunk, in the reader thread when it overlaps the model (then the steps
    #: add up to more than the run); "model", "write"; and "waiting": the model waiting for a
    #: prepared chunk after the first. Empty for the Ray engine, whose actors keep their own.
    stage_seconds: dict[str, float] = field(default_factory=dict)
    other_versions: dict[str, int] = field(default_factory=dict)
    message: str | None = None

    @property
    def posts(self) -> int:
        """Posts written (scored + skipped)."""
        return self.scored + self.skipped

    @property
    def posts_per_second(self) -> float:
        """Posts written per second of scoring (model loading not counted), as the bar shows it."""
        return self.posts / self.scoring_seconds if self.scoring_seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        """The document ``emomon score --json`` prints."""
        return {
            "model_version": self.model_version,
            "scored": self.scored,
            "skipped": self.skipped,
            "windowed": self.windowed,
            "seconds": round(self.seconds, 3),
            "load_seconds": round(self.seconds - self.scoring_seconds, 3),
            "posts_per_second": round(self.posts_per_second, 1),
            "stage_seconds": {k: round(v, 3) for k, v in self.stage_seconds.items()},
        }

    def add_seconds(self, seconds: dict[str, float]) -> None:
        """Count ``seconds`` (step -> seconds) into :attr:`stage_seconds`."""
        for step, value in seconds.items():
            self.stage_seconds[step] = self.stage_seconds.get(step, 0.0) + value

    def bound_by(self) -> str | None:
        """The step that bounds the run. Prepared in a thread: the slower of the model and the
        writes, unless they waited for chunks (``waiting`` 5% of their time or more), then the
        slowest preparation step. Prepared inline: the slowest step."""
        st = self.stage_seconds
        if not st:
            return None
        if "waiting" not in st:
            return max(st, key=st.__getitem__)
        if st["waiting"] < 0.05 * (st.get("model", 0.0) + st.get("write", 0.0)):
            return max((k for k in ("model", "write") if k in st), key=st.__getitem__, default="model")
        return max((k for k in PREPARATION_STEPS if k in st), key=st.__getitem__)


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
    t0, started = time.perf_counter(), utcnow()
    if limit is not None and limit < 0:
        raise ConfigError(f"--limit {limit!r} must be 0 or more")
    if limit == 0:
        return nothing_to_do(engine, None, t0, started, "--limit 0: nothing scored")
    if predictor is None and not rescore:
        with session_scope(engine) as session:  # version-independent: no model needed
            pending = score_store.count_candidates(session, model_version="", rescore=False)
        if pending == 0:
            return nothing_to_do(engine, configured_version(settings, model), t0, started)
    if predictor is None:
        predictor = load_predictor(settings, model=model, device=device, batch_tokens=batch_tokens)
    version = scores_version(predictor)
    with session_scope(engine) as session:
        pending = score_store.count_candidates(session, model_version=version, rescore=rescore)
    if pending == 0:
        return nothing_to_do(engine, version, t0, started)
    if limit is not None:
        pending = min(pending, limit)
    if on_total is not None:
        on_total(pending)
    # The predictor's windows and batch budget were set when it was loaded (load_predictor).
    scorer = ChunkScorer(predictor, settings.scoring)
    with recorded_run(engine, version, t0) as report:
        if overlap is None:
            overlap = overlap_preparation(predictor, settings.scoring.overlap)
        prepared = functools.partial(_prepared_chunks, engine, scorer, version, rescore, pending)
        chunks = _read_ahead(prepared, report) if overlap else prepared()
        for chunk in chunks:
            _write_chunk(engine, scorer, version, chunk, report, progress)
    return report


@contextmanager
def recorded_run(engine: Engine, version: str, t0: float) -> Iterator[ScoreReport]:
    """The ``runs`` row of one score run that started at ``t0`` (``time.perf_counter``):
    "running" while the block counts into the report it yields, then "ok" (with a note on
    scores of other versions) or "failed" with the error, which is re-raised."""
    report = ScoreReport(model_version=version)
    run_id = start_run(engine, "score")
    begun = time.perf_counter()
    try:
        yield report
    except BaseException as exc:
        report.seconds, report.scoring_seconds = time.perf_counter() - t0, time.perf_counter() - begun
        status, message = ended_by(exc)
        _finish(engine, run_id, status, report, message)
        raise
    report.seconds, report.scoring_seconds = time.perf_counter() - t0, time.perf_counter() - begun
    with session_scope(engine) as session:
        others = score_store.version_counts(session)
    others.pop(version, None)
    report.other_versions = others
    report.message = _other_versions_note(others)
    _finish(engine, run_id, "ok", report, report.message)


def score_candidates(engine: Engine, scorer: ChunkScorer, version: str,
                     candidates: list[score_store.Candidate], report: ScoreReport) -> None:
    """Prepare, score and write one chunk of candidates in one transaction, counted in ``report``
    (the unit of work another engine, such as :mod:`monitor.score.distributed`, hands out)."""
    _write_chunk(engine, scorer, version, scorer.prepare(candidates), report, None)


def _write_chunk(engine: Engine, scorer: ChunkScorer, version: str, chunk: Chunk, report: ScoreReport,
                 progress: Progress | None) -> None:
    """Score one prepared chunk, write its rows in one transaction, count it, report progress."""
    shown = 0

    def tick(fraction: float) -> None:  # progress within the chunk, by windows done
        nonlocal shown
        target = int(fraction * len(chunk.post_ids))
        if progress is not None and target > shown:
            progress(target - shown)
            shown = target

    t0 = time.perf_counter()
    rows = scorer.score_chunk(chunk, tick)
    t1 = time.perf_counter()
    with session_scope(engine) as session:
        score_store.write_scores(session, version, rows)
    report.add_seconds({**chunk.seconds, "model": t1 - t0, "write": time.perf_counter() - t1})
    report.scored += len(chunk.post_ids)
    report.skipped += len(chunk.skipped)
    report.windowed += int((chunk.plan.windows > 1).sum())
    report.tokens += chunk.plan.tokens
    if progress is not None and chunk.size > shown:
        progress(chunk.size - shown)  # the rest of the chunk, skipped posts included


def nothing_to_do(
    engine: Engine, version: str | None, t0: float, started: datetime, message: str | None = None
) -> ScoreReport:
    """The report (and ``runs`` row) of a run that found nothing to score."""
    with session_scope(engine) as session:
        stored = score_store.version_counts(session)
    total = sum(stored.values())
    # Without a loaded model (default mode, nothing to do) no version is "other".
    others = {v: n for v, n in stored.items() if version is not None and v != version}
    report = ScoreReport(model_version=version, other_versions=others, message=message)
    if message is None and total == 0:
        report.message = "no posts stored yet: run `emomon ingest` first; nothing to score"
    elif message is None:
        report.message = f"all {total} stored posts are already scored; nothing to do"
        note = _other_versions_note(others)
        if note:
            report.message += f" ({note})"
        elif version is None:  # the model was not loaded: name what the scores came from
            listed = ", ".join(f"{n} by {v}" for v, n in sorted(stored.items()))
            report.message += f" ({listed}; `--rescore` re-scores them with another model)"
    report.seconds = time.perf_counter() - t0
    record_run(engine, "score", started, "ok", report.to_json(), report.message)
    return report


def _other_versions_note(others: dict[str, int]) -> str | None:
    if not others:
        return None
    listed = ", ".join(f"{n} by {v}" for v, n in sorted(others.items()))
    return f"scores of other model versions remain ({listed}): run `emomon score --rescore` to replace them"


def _finish(engine: Engine, run_id: int, status: str, report: ScoreReport, message: str | None) -> None:
    finish_run(engine, run_id, status, report.to_json(), message)


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


def _candidate_chunks(
    engine: Engine, scorer: ChunkScorer, version: str, rescore: bool, limit: int,
    stop: threading.Event | None = None,
) -> Iterator[list[score_store.Candidate]]:
    """Posts to score in post-id order, in chunks (the first one small, so the model starts early)."""
    after, left = 0, limit
    size = min(scorer.chunk_size, FIRST_CHUNK)
    while left > 0 and (stop is None or not stop.is_set()):
        with session_scope(engine) as session:
            candidates = score_store.next_candidates(
                session, after_id=after, limit=min(size, left), model_version=version, rescore=rescore,
            )
        if not candidates:
            return
        after = candidates[-1].post_id
        left -= len(candidates)
        size = scorer.chunk_size
        yield list(candidates)


def _prepared_chunks(
    engine: Engine, scorer: ChunkScorer, version: str, rescore: bool, limit: int,
    stop: threading.Event | None = None,
) -> Iterator[Chunk]:
    """The candidates' chunks, read and prepared, each with the seconds its reading took."""
    candidates = _candidate_chunks(engine, scorer, version, rescore, limit, stop)
    while True:
        t0 = time.perf_counter()
        batch = next(candidates, None)
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


def run_engine(engine: Engine, settings: Settings, *, kind: str | None = None, address: str | None = None,
               **options: Any) -> ScoreReport:
    """Score with the engine ``kind`` (default ``[scoring] engine``): this process, or Ray.

    Every caller (``emomon score``, ``emomon run``, the schedule) goes through here, so the
    setting means the same everywhere. ``options`` are :func:`run_score`'s.
    """
    if (kind or settings.scoring.engine) == "ray":
        from monitor.score.distributed import run_distributed

        return run_distributed(engine, settings, address=address, **options)
    return run_score(engine, settings, **options)
