"""One score run as both engines (this process, Ray) see it: its start, its pages of posts, its report.

:class:`RunPlan` is the start of a run (a limit checked, nothing to do found before a model loads) and the
one keyset pager over the posts that need a score; :func:`recorded_run` is its ``runs`` row;
:func:`score_candidates` prepares, scores and writes one chunk, the unit of work of either engine.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from monitor.clock import utcnow
from monitor.errors import ConfigError
from monitor.failures import ended_by
from monitor.model.configured import configured_version
from monitor.score.prepare import Chunk, ChunkScorer
from monitor.store import scores as score_store
from monitor.store.engine import session_scope
from monitor.store.runs import finish_run, record_run, start_run

if TYPE_CHECKING:
    import threading

    from monitor.settings import Settings

#: Called with the number of posts done since the last call.
Progress = Callable[[int], None]
#: The steps of preparing a chunk (see :meth:`ChunkScorer.prepare`), in :attr:`ScoreReport.stage_seconds`.
PREPARATION_STEPS = ("read", "language", "tokenise")


@dataclass
class ScoreReport:
    """The outcome of one score run."""

    model_version: str | None
    scored: int = 0
    skipped: int = 0
    windowed: int = 0
    korean: int = 0  # of ``scored``: read by the Korean network
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
            "korean": self.korean,
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


@dataclass
class RunPlan:
    """The start of one score run: at most ``limit`` posts (None: all), ``rescore`` or not."""

    engine: Engine
    limit: int | None = None
    rescore: bool = False
    t0: float = field(default_factory=time.perf_counter)
    started: datetime = field(default_factory=utcnow)

    def __post_init__(self) -> None:
        if self.limit is not None and self.limit < 0:
            raise ConfigError(f"a limit of {self.limit!r} posts: give 0 or more")

    def done_before_loading(
        self, settings: Settings, model: Path | None, *, loaded: bool = False
    ) -> ScoreReport | None:
        """The report of a run found to have nothing to do before a model loads: a limit of 0, or (without
        ``rescore`` and a ``loaded`` model) no post without a score of any version; None when it has work."""
        if self.limit == 0:
            return self.nothing_to_do(None, "a limit of 0 posts: nothing scored")
        if not self.rescore and not loaded:
            with session_scope(self.engine) as session:  # version-independent: no model needed
                if score_store.count_candidates(session, model_version="", rescore=False) == 0:
                    return self.nothing_to_do(configured_version(settings, model))
        return None

    def pending(self, version: str) -> int:
        """How many posts this run will score with ``version`` (the limit applied)."""
        with session_scope(self.engine) as session:
            count = score_store.count_candidates(session, model_version=version, rescore=self.rescore)
        return count if self.limit is None else min(count, self.limit)

    def pages(
        self,
        version: str,
        size: int,
        *,
        first: int | None = None,
        limit: int | None = None,
        stop: threading.Event | None = None,
    ) -> Iterator[list[score_store.Candidate]]:
        """The posts to score, in post-id order, in pages of ``size`` (the first one of ``first``), read
        one page at a time by key (each page starts after the last id of the one before), up to ``limit``
        posts (default: the plan's); ``stop`` ends it."""
        after, left = 0, self.limit if limit is None else limit
        want = size if first is None else first
        while (left is None or left > 0) and (stop is None or not stop.is_set()):
            with session_scope(self.engine) as session:
                page = score_store.next_candidates(
                    session,
                    after_id=after,
                    limit=want if left is None else min(want, left),
                    model_version=version,
                    rescore=self.rescore,
                )
            if not page:
                return
            after = page[-1].post_id
            left = None if left is None else left - len(page)
            want = size
            yield list(page)

    def nothing_to_do(self, version: str | None, message: str | None = None) -> ScoreReport:
        """The report (and ``runs`` row) of a run that found nothing to score."""
        with session_scope(self.engine) as session:
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
                report.message += f" ({listed}; `emomon score --rescore` re-scores them with another model)"
        report.seconds = time.perf_counter() - self.t0
        record_run(self.engine, "score", self.started, "ok", report.to_json(), report.message)
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
        finish_run(engine, run_id, status, report.to_json(), message)
        raise
    report.seconds, report.scoring_seconds = time.perf_counter() - t0, time.perf_counter() - begun
    with session_scope(engine) as session:
        others = score_store.version_counts(session)
    others.pop(version, None)
    report.other_versions = others
    report.message = _other_versions_note(others)
    finish_run(engine, run_id, "ok", report.to_json(), report.message)


def score_candidates(
    engine: Engine, scorer: ChunkScorer, version: str, candidates: list[score_store.Candidate], report: ScoreReport
) -> None:
    """Prepare, score and write one chunk of candidates in one transaction, counted in ``report``
    (the unit of work another engine, such as :mod:`monitor.score.distributed`, hands out)."""
    write_chunk(engine, scorer, version, scorer.prepare(candidates), report, None)


def write_chunk(
    engine: Engine, scorer: ChunkScorer, version: str, chunk: Chunk, report: ScoreReport, progress: Progress | None
) -> None:
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
    report.scored += len(chunk.post_ids) + len(chunk.korean_ids)
    report.korean += len(chunk.korean_ids)
    report.skipped += len(chunk.skipped)
    report.windowed += int((chunk.plan.windows > 1).sum())
    report.tokens += chunk.plan.tokens
    if progress is not None and chunk.size > shown:
        progress(chunk.size - shown)  # the rest of the chunk, skipped posts included


def _other_versions_note(others: dict[str, int]) -> str | None:
    if not others:
        return None
    listed = ", ".join(f"{n} by {v}" for v, n in sorted(others.items()))
    return f"scores of other model versions remain ({listed}): run `emomon score --rescore` to replace them"
