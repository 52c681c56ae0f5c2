"""One chunk of posts from the store to score rows: language check, the predictor's windows and
batches, the forward, and rows in the score table's column order."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from monitor.clock import utcnow
from monitor.errors import ModelNotFound
from monitor.model.predictor import Predictor, WindowPlan, impersonal_reasons
from monitor.model.routing import KOREAN
from monitor.score.language import language_filter
from monitor.score.memory import trim_if_above
from monitor.store import scores as score_store
from monitor.store.schema import SCORE_BIG5, SCORE_CARER, SCORE_GOEMOTIONS

if TYPE_CHECKING:
    from monitor.settings import ScoringSettings


@dataclass
class Chunk:
    """One prepared chunk: skipped rows, and the rest planned for the forward."""

    skipped: list[dict[str, Any]]
    post_ids: list[int]
    text_hashes: list[str]
    plan: WindowPlan
    #: Why each kept post is impersonal, or None (:mod:`monitor.model.impersonal`).
    impersonal: list[str | None] = field(default_factory=list)
    #: Seconds this chunk spent in each preparation step ("read", "language", "tokenise").
    seconds: dict[str, float] = field(default_factory=dict)
    #: Korean posts (read by the Korean network): ids, text hashes, texts.
    korean_ids: list[int] = field(default_factory=list)
    korean_hashes: list[str] = field(default_factory=list)
    korean_texts: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.post_ids) + len(self.skipped) + len(self.korean_ids)


class ChunkScorer:
    """Turns candidate posts into prepared chunks, and chunks into score rows."""

    def __init__(self, predictor: Predictor, sc: ScoringSettings) -> None:
        self.predictor = predictor
        self.chunk_size = sc.chunk_size
        # Korean is scored only by a model with the Korean network; without it, Korean posts are skipped.
        languages = [lang for lang in sc.languages if lang.lower() != KOREAN or predictor.korean is not None]
        self.languages = language_filter(tuple(languages), sc.language_prior)
        self.columns = column_order(predictor)

    def prepare(self, candidates: Sequence[score_store.Candidate]) -> Chunk:
        """Language check, tokenisation, windows and padded batches for one chunk."""
        now, t0 = utcnow(), time.perf_counter()
        skipped: list[dict[str, Any]] = []
        keep: list[score_store.Candidate] = []
        korean: list[score_store.Candidate] = []
        with_text = [c for c in candidates if c.text and c.text.strip()]
        routes = dict(
            zip(
                (c.post_id for c in with_text),
                self.languages.route([c.text or "" for c in with_text], [c.language for c in with_text]),
            )
        )
        for c in candidates:
            language: str | None = None
            if c.text is None:
                reason: str | None = "no-text"
            elif not c.text.strip():
                reason = "empty"
            else:
                language, reason = routes[c.post_id]
            if reason is not None:
                skipped.append(_skip_row(c, reason, now))
            elif language == KOREAN:
                korean.append(c)
            else:
                keep.append(c)
        t1 = time.perf_counter()
        texts = [c.text or "" for c in keep]
        plan = self.predictor.plan(self.predictor.encode(texts) if keep else [])
        seconds = {"language": t1 - t0, "tokenise": time.perf_counter() - t1}
        return Chunk(
            skipped,
            [c.post_id for c in keep],
            [c.text_hash for c in keep],
            plan,
            impersonal_reasons(texts) if self.predictor.network.config.distress_head else [],  # only distress uses them
            seconds,
            [c.post_id for c in korean],
            [c.text_hash for c in korean],
            [c.text or "" for c in korean],
        )

    def score_chunk(self, chunk: Chunk, tick: Callable[[float], None] | None = None) -> list[dict[str, Any]]:
        """Score rows (scored and skipped) of one prepared chunk; ``tick(fraction of windows done)``."""
        rows = list(chunk.skipped) + self.korean_rows(chunk)
        if not chunk.post_ids:
            return rows

        def after_batch(done: int) -> None:
            trim_if_above()  # each batch shape fragments the heap a little differently
            if tick is not None:
                tick(done / chunk.plan.n_windows)

        predictor = self.predictor
        scores = predictor.combine(
            chunk.plan, predictor.probabilities(predictor.window_logits(chunk.plan, after_batch)), chunk.impersonal
        )
        packed = np.concatenate([scores.goemotions, scores.carer, scores.big5], axis=1)[:, self.columns]
        blobs = score_store.pack_probs(packed)
        now = utcnow()
        for i, post_id in enumerate(chunk.post_ids):
            rows.append(
                {
                    "post_id": post_id,
                    "status": "scored",
                    "reason": None,
                    "depression_index": float(scores.index[i]),
                    "probs": blobs[i],
                    "distress": float(scores.distress[i]) if scores.distress is not None else None,
                    "windows": int(scores.windows[i]),
                    "text_hash": chunk.text_hashes[i],
                    "scored_at": now,
                    "language": "en",
                    "korean": None,
                }
            )
        return rows

    def korean_rows(self, chunk: Chunk) -> list[dict[str, Any]]:
        """Score rows of the chunk's Korean posts (the Korean network; no English heads, no distress)."""
        if not chunk.korean_ids:
            return []
        probs, index = self.predictor.score_korean(chunk.korean_texts)
        blobs = score_store.pack_probs(probs)
        now = utcnow()
        return [
            {
                "post_id": post_id,
                "status": "scored",
                "reason": None,
                "depression_index": float(index[i]),
                "probs": None,
                "distress": None,
                "windows": 1,
                "text_hash": chunk.korean_hashes[i],
                "scored_at": now,
                "language": KOREAN,
                "korean": blobs[i],
            }
            for i, post_id in enumerate(chunk.korean_ids)
        ]


def _skip_row(c: score_store.Candidate, reason: str, now: datetime) -> dict[str, Any]:
    return {
        "post_id": c.post_id,
        "status": "skipped",
        "reason": reason,
        "depression_index": None,
        "distress": None,
        "probs": None,
        "windows": 0,
        "text_hash": c.text_hash,
        "scored_at": now,
        "language": None,
        "korean": None,
    }


def column_order(predictor: Predictor) -> np.ndarray:
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
