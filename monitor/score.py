"""The score stage: every stored post scored once per model version, fast and resumable.

One run streams the posts that need a score (see :mod:`monitor.score_store`) in chunks of
``[scoring] chunk_size`` posts (the first one smaller, so the model starts early), in post-id
order::

    reader thread                                  main thread
    read chunk k+1 from the database               forward the batches of chunk k
    language check (langid) -> skipped rows        (torch.inference_mode, bf16 autocast
    tokenise without truncation                     where supported, fp32 otherwise)
    long posts -> overlapping windows              combine windows per post, index
    length-sorted batches under a token budget,    write chunk k (scored + skipped rows)
    padded to their longest member (pinned on GPU)  in one transaction
    (:func:`monitor.model.batching.plan_batches`)

Tokenising and reading overlap with the model where there is something to overlap with: on a
GPU, or on a CPU with a core that torch's threads leave free, the reader runs in a thread (the
tokenizer and torch release the GIL). Where torch already uses every core, the chunk is
prepared between two chunks' forwards instead (:func:`overlap_preparation`): the thread could
only take its cycles (about 3% of a run) from torch's threads.

A killed run loses at most the chunk in flight: the next run finds the same posts still
unscored. A post never gets two rows because the primary key is
(post, model version) and a new row replaces the post's row of another version in the same
transaction (``--rescore``).

Long posts are never truncated: a post longer than the model's window is split into windows
``window_stride`` tokens apart; emotions and the index take the max over windows (the post
expresses an emotion if any part does; CARER probabilities are renormalised to sum to 1 after
a max) and Big Five traits the mean (configurable). Such posts are counted as ``windowed``.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sqlalchemy import Engine, update

from monitor import score_store
from monitor.config import ScoringSettings, Settings
from monitor.db import session_scope
from monitor.errors import ConfigError, ModelNotFound
from monitor.language import language_filter
from monitor.memory import trim_if_above
from monitor.model import Predictor, load_model, split_windows
from monitor.model.batching import pad, plan_batches
from monitor.model.artifact import read_model_info
from monitor.model.index import DepressionIndex
from monitor.store import utcnow
from monitor.tables import SCORE_BIG5, SCORE_CARER, SCORE_GOEMOTIONS, Run

#: Called with the number of posts done since the last call.
Progress = Callable[[int], None]
#: Posts in the first chunk: the model idles while it is prepared (language check, tokenising),
#: so it is kept small; later chunks are prepared while the model works on the one before.
FIRST_CHUNK = 1024


@dataclass
class ScoreReport:
    """The outcome of one score run."""

    model_version: str | None
    scored: int = 0
    skipped: int = 0
    windowed: int = 0
    seconds: float = 0.0
    tokens: int = 0
    other_versions: dict[str, int] = field(default_factory=dict)
    message: str | None = None

    @property
    def posts(self) -> int:
        """Posts written (scored + skipped)."""
        return self.scored + self.skipped

    @property
    def posts_per_second(self) -> float:
        """Posts written per second of the run."""
        return self.posts / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        """The document ``emomon score --json`` prints."""
        return {
            "model_version": self.model_version,
            "scored": self.scored,
            "skipped": self.skipped,
            "windowed": self.windowed,
            "seconds": round(self.seconds, 3),
            "posts_per_second": round(self.posts_per_second, 1),
        }


@dataclass
class _Chunk:
    """One chunk prepared by the reader thread."""

    skipped: list[dict[str, Any]]
    post_ids: list[int]
    text_hashes: list[str]
    windows: np.ndarray  # [P] windows per scored post
    batches: list[tuple[list[int], torch.Tensor, torch.Tensor]]  # (window rows, ids, mask)
    n_windows: int
    tokens: int

    @property
    def size(self) -> int:
        return len(self.post_ids) + len(self.skipped)


def model_path(settings: Settings, override: Path | None = None) -> Path:
    """The model directory: ``override`` or ``[model] path`` relative to the config file."""
    path = Path(override) if override is not None else Path(settings.model.path).expanduser()
    return path if path.is_absolute() else settings.base_dir / path


def index_override(sc: ScoringSettings, predictor: Predictor) -> DepressionIndex | None:
    """The configured index weights, or None when [scoring.index] is empty.

    The model's Platt calibration (a, b) is kept; a head whose table is empty keeps the
    model's weights.

    Raises:
        ConfigError: A weight names a label the model does not have.
    """
    return _index_from_config(sc, predictor.index, predictor.goemotions_labels,
                              predictor.carer_labels)


def _index_from_config(sc: ScoringSettings, base: DepressionIndex, goemotions_labels: Sequence[str],
                       carer_labels: Sequence[str]) -> DepressionIndex | None:
    if not sc.index.goemotions and not sc.index.carer:
        return None
    index = DepressionIndex(
        goemotions=dict(sc.index.goemotions or base.goemotions),
        carer=dict(sc.index.carer or base.carer),
        a=base.a,
        b=base.b,
    )
    try:
        index.validate(goemotions_labels, carer_labels)
    except ValueError as exc:
        raise ConfigError(f"[scoring.index]: {exc}; use the model's labels") from exc
    return index


def scores_version(predictor: Predictor) -> str:
    """The model version stored with scores; custom index weights add ``+idx<hash>``."""
    if predictor.index is predictor.calibration.depression_index:
        return predictor.version
    return _with_index(predictor.version, predictor.index)


def _with_index(version: str, index: DepressionIndex | None) -> str:
    if index is None:
        return version
    weights = json.dumps(index.to_dict(), sort_keys=True).encode()
    return f"{version}+idx{hashlib.sha256(weights).hexdigest()[:6]}"


def configured_version(settings: Settings, model: Path | None = None) -> str | None:
    """The version a run would store, read from the model's JSON files without its weights.

    None when the model directory is missing or unreadable: a run with nothing to do needs no
    model, so that is not an error there.
    """
    try:
        info = read_model_info(model_path(settings, model))
    except (ModelNotFound, OSError, ValueError, KeyError):
        return None
    return _with_index(info.version, _index_from_config(
        settings.scoring, info.calibration.depression_index, info.goemotions_labels,
        info.carer_labels))


def load_predictor(
    settings: Settings, *, model: Path | None = None, device: str | None = None
) -> Predictor:
    """Load the configured model with the [scoring] device, precision and index weights.

    Raises:
        ModelNotFound: The model directory is missing or incomplete.
        ConfigError: A device or index weight is not usable.
    """
    sc = settings.scoring
    path = model_path(settings, model)
    if not path.is_dir():
        raise ModelNotFound(
            f"model directory {str(path)!r} not found: set [model] path in the config or pass "
            "--model PATH (e.g. train one with `emomon train`)"
        )
    try:
        predictor = load_model(path, device=device or sc.device, precision=sc.precision)
    except ValueError as exc:
        raise ConfigError(f"cannot load model {str(path)!r}: {exc}") from exc
    override = index_override(sc, predictor)
    if override is not None:
        predictor.index = override
    return predictor


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
        predictor: An already loaded model (takes precedence over ``model`` and ``device``).
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
        return _nothing_to_do(engine, None, t0, started, "--limit 0: nothing scored")
    if predictor is None and not rescore:
        with session_scope(engine) as session:  # version-independent: no model needed
            pending = score_store.count_candidates(session, model_version="", rescore=False)
        if pending == 0:
            return _nothing_to_do(engine, configured_version(settings, model), t0, started)
    if predictor is None:
        predictor = load_predictor(settings, model=model, device=device)
    version = scores_version(predictor)
    with session_scope(engine) as session:
        pending = score_store.count_candidates(session, model_version=version, rescore=rescore)
    if pending == 0:
        return _nothing_to_do(engine, version, t0, started)
    if limit is not None:
        pending = min(pending, limit)
    if on_total is not None:
        on_total(pending)
    scorer = _Scorer(predictor, settings.scoring, batch_tokens=batch_tokens)
    report = ScoreReport(model_version=version)
    with session_scope(engine) as session:
        run = Run(command="score", status="running", started_at=started)
        session.add(run)
        session.flush()
        run_id = run.id
    try:
        if overlap is None:
            overlap = overlap_preparation(predictor, settings.scoring.overlap)
        chunks = (_read_ahead(engine, scorer, version, rescore, pending) if overlap
                  else (scorer.prepare(c) for c in _candidate_chunks(engine, scorer, version, rescore, pending)))
        for chunk in chunks:
            shown = 0

            def tick(fraction: float) -> None:  # progress within the chunk, by windows done
                nonlocal shown
                target = int(fraction * len(chunk.post_ids))
                if progress is not None and target > shown:
                    progress(target - shown)
                    shown = target

            rows = scorer.score_chunk(chunk, tick)
            with session_scope(engine) as session:
                score_store.write_scores(session, version, rows)
            report.scored += len(chunk.post_ids)
            report.skipped += len(chunk.skipped)
            report.windowed += int((chunk.windows > 1).sum())
            report.tokens += chunk.tokens
            if progress is not None and chunk.size > shown:
                progress(chunk.size - shown)  # the rest of the chunk, skipped posts included
    except BaseException as exc:
        report.seconds = time.perf_counter() - t0
        _finish(engine, run_id, "failed", report, f"{type(exc).__name__}: {exc}")
        raise
    report.seconds = time.perf_counter() - t0
    with session_scope(engine) as session:
        others = score_store.version_counts(session)
    others.pop(version, None)
    report.other_versions = others
    report.message = _other_versions_note(others)
    _finish(engine, run_id, "ok", report, report.message)
    return report


def _nothing_to_do(
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
    with session_scope(engine) as session:
        session.add(Run(command="score", status="ok", started_at=started, finished_at=utcnow(),
                        stats=report.to_json(), message=report.message))
    return report


def _other_versions_note(others: dict[str, int]) -> str | None:
    if not others:
        return None
    listed = ", ".join(f"{n} by {v}" for v, n in sorted(others.items()))
    return f"scores of other model versions remain ({listed}): run `emomon score --rescore` to replace them"


def _finish(engine: Engine, run_id: int, status: str, report: ScoreReport, message: str | None) -> None:
    with session_scope(engine) as session:
        session.execute(
            update(Run).where(Run.id == run_id).values(
                status=status, finished_at=utcnow(), stats=report.to_json(), message=message
            )
        )


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
    engine: Engine, scorer: _Scorer, version: str, rescore: bool, limit: int,
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


def _read_ahead(
    engine: Engine, scorer: _Scorer, version: str, rescore: bool, limit: int
) -> Iterator[_Chunk]:
    """Yield prepared chunks while a thread reads and prepares the next one (queue depth 2)."""
    ready: queue.Queue[_Chunk | BaseException | None] = queue.Queue(maxsize=2)
    stop = threading.Event()

    def put(item: _Chunk | BaseException | None) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def reader() -> None:
        try:
            for candidates in _candidate_chunks(engine, scorer, version, rescore, limit, stop):
                if not put(scorer.prepare(candidates)):
                    return
            put(None)
        except BaseException as exc:  # handed to the main thread, which re-raises it
            put(exc)

    thread = threading.Thread(target=reader, name="emomon-score-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = ready.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


class _Scorer:
    """Turns candidate posts into prepared batches, and model outputs into score rows."""

    def __init__(self, predictor: Predictor, sc: ScoringSettings, *, batch_tokens: int | None = None) -> None:
        self.predictor = predictor
        self.chunk_size = sc.chunk_size
        self.batch_tokens = batch_tokens or sc.batch_tokens
        if self.batch_tokens < predictor.max_length:
            raise ConfigError(
                f"batch tokens {self.batch_tokens} is smaller than the model window "
                f"{predictor.max_length}: use at least {predictor.max_length}"
            )
        self.stride = sc.window_stride
        self.emotions = sc.window_emotions
        self.traits = sc.window_traits
        self.languages = language_filter(tuple(sc.languages), sc.language_prior)
        self.pad_id = predictor.tokenizer.pad_token_id or 0
        self.pin = predictor.device.type == "cuda"
        self.columns = _column_order(predictor)

    # ------------------------------------------------------------------ reader thread

    def prepare(self, candidates: Sequence[score_store.Candidate]) -> _Chunk:
        """Language check, tokenisation, windows and padded batches for one chunk."""
        now = utcnow()
        skipped: list[dict[str, Any]] = []
        keep: list[score_store.Candidate] = []
        with_text = [c for c in candidates if c.text and c.text.strip()]
        reasons = dict(zip((c.post_id for c in with_text), self.languages.skip_reasons(
            [c.text for c in with_text], [c.language for c in with_text])))
        for c in candidates:
            if c.text is None:
                reason = "no-text"
            elif not c.text.strip():
                reason = "empty"
            else:
                reason = reasons[c.post_id]
            if reason is None:
                keep.append(c)
            else:
                skipped.append(_skip_row(c, reason, now))
        pieces: list[list[int]] = []
        windows = np.zeros(len(keep), dtype=np.int64)
        tokens = 0
        if keep:
            for i, ids in enumerate(self.predictor.encode([c.text or "" for c in keep])):
                tokens += len(ids)
                parts = split_windows(ids, self.predictor.max_length, self.stride)
                windows[i] = len(parts)
                pieces.extend(parts)
        batches = []
        for rows in plan_batches([len(p) for p in pieces], self.batch_tokens):
            input_ids, mask = pad([pieces[r] for r in rows], self.pad_id)
            if self.pin:
                input_ids, mask = input_ids.pin_memory(), mask.pin_memory()
            batches.append((rows, input_ids, mask))
        return _Chunk(
            skipped=skipped,
            post_ids=[c.post_id for c in keep],
            text_hashes=[c.text_hash for c in keep],
            windows=windows,
            batches=batches,
            n_windows=len(pieces),
            tokens=tokens,
        )

    # ------------------------------------------------------------------ main thread

    def forward(self, chunk: _Chunk, tick: Callable[[float], None] | None = None) -> dict[str, np.ndarray]:
        """Per-window probabilities of every head, in window order; ``tick(fraction done)``."""
        out: dict[str, np.ndarray] = {}
        done = 0
        with torch.inference_mode():
            for rows, input_ids, mask in chunk.batches:
                result = self.predictor.forward_ids(input_ids, mask)
                for name, values in result.items():
                    if name not in out:
                        out[name] = np.empty((chunk.n_windows, values.shape[1]), dtype=np.float32)
                    out[name][rows] = values
                done += len(rows)
                trim_if_above()  # each batch shape fragments the heap a little differently
                if tick is not None:
                    tick(done / chunk.n_windows)
        return out

    def combine(self, chunk: _Chunk, probs: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Per-post ([P] index, [P, 39] probabilities in SCORE_COLUMNS order)."""
        goemotions, carer, big5 = probs["goemotions"], probs["carer"], probs["big5"]
        index = self.predictor.depression_index(goemotions, carer).astype(np.float32)
        if chunk.n_windows != len(chunk.post_ids):  # some posts were split into windows
            starts = np.concatenate([[0], np.cumsum(chunk.windows)[:-1]])
            goemotions = _reduce(goemotions, starts, chunk.windows, self.emotions)
            carer = _reduce(carer, starts, chunk.windows, self.emotions)
            carer = carer / carer.sum(axis=1, keepdims=True)
            big5 = _reduce(big5, starts, chunk.windows, self.traits)
            index = _reduce(index[:, None], starts, chunk.windows, self.emotions)[:, 0]
        packed = np.concatenate([goemotions, carer, big5], axis=1)[:, self.columns]
        return index, packed

    def score_chunk(self, chunk: _Chunk, tick: Callable[[float], None] | None = None) -> list[dict[str, Any]]:
        """Score rows (scored and skipped) for one prepared chunk; see :meth:`forward`."""
        rows = list(chunk.skipped)
        if not chunk.post_ids:
            return rows
        index, probs = self.combine(chunk, self.forward(chunk, tick))
        now = utcnow()
        blobs = score_store.pack_probs(probs)
        for i, post_id in enumerate(chunk.post_ids):
            rows.append({
                "post_id": post_id, "status": "scored", "reason": None,
                "depression_index": float(index[i]), "probs": blobs[i],
                "windows": int(chunk.windows[i]), "text_hash": chunk.text_hashes[i], "scored_at": now,
            })
        return rows


def _skip_row(c: score_store.Candidate, reason: str, now: datetime) -> dict[str, Any]:
    return {"post_id": c.post_id, "status": "skipped", "reason": reason, "depression_index": None,
            "probs": None, "windows": 0, "text_hash": c.text_hash, "scored_at": now}


def _reduce(values: np.ndarray, starts: np.ndarray, counts: np.ndarray, how: str) -> np.ndarray:
    """Combine consecutive window rows per post: [W, K] -> [P, K] by max or mean."""
    if how == "max":
        return np.maximum.reduceat(values, starts, axis=0)
    return (np.add.reduceat(values, starts, axis=0) / counts[:, None]).astype(np.float32)


def _column_order(predictor: Predictor) -> np.ndarray:
    """Positions in [goemotions | carer | big5] model order of each SCORE_COLUMNS entry.

    Raises:
        ModelNotFound: The model lacks a label the score table stores.
    """
    heads = (
        ("GoEmotions", SCORE_GOEMOTIONS, [l.lower() for l in predictor.goemotions_labels]),
        ("CARER", SCORE_CARER, [l.lower() for l in predictor.carer_labels]),
        ("Big Five", SCORE_BIG5, [t.lower() for t in predictor.big5_traits]),
    )
    order: list[int] = []
    offset = 0
    for head, wanted, labels in heads:
        for label in wanted:
            if label not in labels:
                raise ModelNotFound(
                    f"model {str(predictor.path)!r} has no {head} output {label!r}: emomon score "
                    f"needs the labels {', '.join(wanted)}; use a model trained by `emomon train`"
                )
            order.append(offset + labels.index(label))
        offset += len(labels)
    return np.asarray(order)
