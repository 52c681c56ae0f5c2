"""The predictor: the one inference path from texts or token ids to per-post scores.

``emomon predict``, ``emomon evaluate``, ``emomon score`` and the benchmarks all go through
:meth:`Predictor.plan` (windows and batches), :meth:`Predictor.window_logits` (the forward) and
:meth:`Predictor.combine` (windows back to posts, the depression index), so the same post gets
the same numbers whichever way it is scored.

Long posts are never truncated: a post longer than the model's window is split into windows
``stride`` tokens apart; emotions and the index take the max over windows (the post expresses an
emotion if any part does; CARER probabilities are renormalised to sum to 1 after a max) and Big
Five traits the mean (both configurable).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from tokenizers import Tokenizer

from monitor.model.activations import sigmoid, softmax
from monitor.model.artifact import MIN_WINDOW, read_korean, read_model_info, read_model_tokenizer, read_network
from monitor.model.batching import pad
from monitor.model.device import choose_device, choose_precision
from monitor.model.fused_encoder import fuse_encoder
from monitor.model.impersonal import impersonal_reason
from monitor.model.index import DepressionIndex
from monitor.model.inference import Batch, forward_batches, make_batches
from monitor.model.int8 import PROBE_TEXTS, OrtNetwork, load_int8
from monitor.model.korean import KoreanModel
from monitor.model.routing import is_korean

Combine = Literal["max", "mean"]


@dataclass(frozen=True)
class WindowOptions:
    """How long posts are windowed and batched ([scoring] window_stride, window_emotions,
    window_traits, batch_tokens). A stride wider than a window's body is clamped to it (windows
    then touch without overlapping)."""

    stride: int = 64
    emotions: Combine = "max"
    traits: Combine = "mean"
    batch_tokens: int = 8192


@dataclass
class WindowPlan:
    """Posts split into windows and padded batches, ready for the forward."""

    windows: np.ndarray  # [P] windows per post, in post order
    batches: list[Batch] = field(default_factory=list)
    n_windows: int = 0
    tokens: int = 0  # tokens of the posts, before windowing

    @property
    def posts(self) -> int:
        return len(self.windows)

    @property
    def starts(self) -> np.ndarray:
        """Index of each post's first window."""
        return np.concatenate([[0], np.cumsum(self.windows)[:-1]]).astype(np.int64)


@dataclass(frozen=True)
class PostScores:
    """Per-post probabilities of every head, the depression index and (models with the head)
    personal distress, 0 for posts recognised as impersonal (:mod:`monitor.model.impersonal`)."""

    goemotions: np.ndarray  # [P, 28]
    carer: np.ndarray  # [P, 6], rows sum to 1
    big5: np.ndarray  # [P, 5]
    index: np.ndarray  # [P]
    windows: np.ndarray  # [P]
    distress: np.ndarray | None = None  # [P]; None when the model has no distress head
    impersonal: list[str | None] | None = None  # why each post is impersonal (None: personal)


class Predictor:
    """Scores texts with a trained multitask model. Build it with :func:`load_model`."""

    def __init__(
        self,
        path: Path,
        *,
        device: str = "auto",
        precision: str = "auto",
        index: DepressionIndex | None = None,
        fused: bool = True,
        options: WindowOptions | None = None,
    ) -> None:
        self.path = Path(path)
        info = read_model_info(self.path)  # every file below is checked against its recorded hash
        network, (tokenizer, self.pad_id) = read_network(info), read_model_tokenizer(info)
        calibration = info.calibration
        self.name: str = info.config["name"]
        self.version: str = info.version  # derived from config.json and every scored file's hash
        self.max_length: int = info.window
        self.options = options or WindowOptions()
        if self.options.stride < 1:
            raise ValueError(f"window stride {self.options.stride} must be at least 1")
        if self.options.batch_tokens < self.max_length:
            raise ValueError(
                f"batch tokens {self.options.batch_tokens} is smaller than the model window "
                f"{self.max_length}: use at least {self.max_length}"
            )
        #: The fast tokenizer (tokenizers.Tokenizer), truncation and padding off.
        self.tokenizer: Tokenizer = tokenizer
        self.device = choose_device(device)
        self.network = network.to(self.device)
        #: "bf16" (encoder weights in bf16, pooling and heads in fp32), "int8" (ONNX Runtime, see
        #: monitor.model.int8) or "fp32".
        self.precision = choose_precision(self.device, precision)
        #: How the encoder runs: "fused" (oneDNN fused kernels, bf16 on CPU; see fused_encoder),
        #: "onnxruntime-int8" or "standard" (this package's torch forward).
        self.encoder_path = "standard"
        #: The int8 network the forward calls instead of ``network`` (None unless int8).
        self.runtime: OrtNetwork | None = None
        if self.precision == "int8":
            self.runtime = load_int8(self.network, self._probe_batch(), info.digest)
            self.precision, self.encoder_path = ("int8", "onnxruntime-int8") if self.runtime else ("fp32", "standard")
        if self.precision == "bf16":
            # Weights cast once rather than per matmul under autocast: no dtype conversions in the
            # hot loop (measured about +10% on a 2-core CPU).
            self.network.encoder.to(torch.bfloat16)
        fused_encoder = fuse_encoder(self.network.encoder) if fused and self.precision == "bf16" else None
        if fused_encoder is not None:
            self.network.encoder = fused_encoder
            self.encoder_path = "fused"
        self.calibration = calibration
        #: The Korean network (fp32 on the CPU whatever the English path runs in), or None.
        self.korean: KoreanModel | None = read_korean(info)
        net = network.config
        self.goemotions_labels: list[str] = list(net.goemotions_labels)
        self.carer_labels: list[str] = list(net.carer_labels)
        self.big5_traits: list[str] = list(net.big5_traits)
        self.index = index or calibration.depression_index
        self.index.validate(self.goemotions_labels, self.carer_labels)
        self.thresholds = np.asarray(
            [calibration.goemotions_thresholds.get(l, 0.5) for l in self.goemotions_labels], dtype=np.float32
        )

    # -- the path ---------------------------------------------------------------------------
    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids with special tokens, not truncated (:meth:`plan` splits long posts).

        The fast tokenizer is called without offsets: the same ids (tested) for about half the
        CPU time of the ``transformers`` tokenizer call.
        """
        return [encoding.ids for encoding in self.tokenizer.encode_batch_fast(list(texts), add_special_tokens=True)]

    def _probe_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The int8 load-time check's batch: :data:`PROBE_TEXTS`, windowed to the model's length."""
        return pad([ids[: self.max_length - 1] + ids[-1:] for ids in self.encode(PROBE_TEXTS)], self.pad_id)

    def plan(self, ids: Sequence[Sequence[int]]) -> WindowPlan:
        """Split each post's ids into windows and group all windows into padded batches."""
        pieces: list[list[int]] = []
        windows = np.zeros(len(ids), dtype=np.int64)
        tokens = 0
        for i, post in enumerate(ids):
            tokens += len(post)
            parts = split_windows(post, self.max_length, self.options.stride)
            windows[i] = len(parts)
            pieces.extend(parts)
        batches = make_batches(pieces, self.options.batch_tokens, pad_id=self.pad_id, pin=self.device.type == "cuda")
        return WindowPlan(windows, batches, len(pieces), tokens)

    def window_logits(
        self, plan: WindowPlan, after_batch: Callable[[int], None] | None = None
    ) -> dict[str, np.ndarray]:
        """Head logits of every window, in window order (the forward; precision set at load)."""
        return forward_batches(
            self.network, plan.batches, plan.n_windows, device=self.device, after_batch=after_batch, call=self.runtime
        )

    def probabilities(self, logits: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Temperature-scaled probabilities from head logits."""
        t = self.calibration.temperatures
        probs = {
            "goemotions": sigmoid(logits["goemotions"] / t["goemotions"]).astype(np.float32),
            "carer": softmax(logits["carer"], t["carer"]).astype(np.float32),
            "big5": sigmoid(logits["big5"] / t["big5"]).astype(np.float32),
        }
        if "distress" in logits:
            probs["distress"] = sigmoid(logits["distress"] / t.get("distress", 1.0)).astype(np.float32)
        return probs

    def combine(
        self, plan: WindowPlan, probs: dict[str, np.ndarray], impersonal: Sequence[str | None] | None = None
    ) -> PostScores:
        """Per-window probabilities -> per-post scores; the index is computed per window, then
        combined like the emotions, and so is distress (a post expresses distress if any part
        does). ``impersonal`` (one reason or None per post, :func:`impersonal_reasons`) sets the
        distress of impersonal posts to 0."""
        goemotions, carer, big5 = probs["goemotions"], probs["carer"], probs["big5"]
        distress = probs["distress"] if "distress" in probs else None
        index = self.depression_index(goemotions, carer).astype(np.float32)
        if plan.n_windows != plan.posts:  # some posts were split into windows
            starts = plan.starts
            goemotions = reduce_windows(goemotions, starts, plan.windows, self.options.emotions)
            carer = reduce_windows(carer, starts, plan.windows, self.options.emotions)
            carer = carer / carer.sum(axis=1, keepdims=True)
            big5 = reduce_windows(big5, starts, plan.windows, self.options.traits)
            index = reduce_windows(index[:, None], starts, plan.windows, self.options.emotions)[:, 0]
            if distress is not None:
                distress = reduce_windows(distress, starts, plan.windows, self.options.emotions)
        if distress is not None:
            distress = distress[:, 0].copy()
            if impersonal:
                distress[[reason is not None for reason in impersonal]] = 0.0
        return PostScores(
            goemotions, carer, big5, index, plan.windows, distress, list(impersonal) if impersonal is not None else None
        )

    def score_ids(
        self,
        ids: Sequence[Sequence[int]],
        after_batch: Callable[[int], None] | None = None,
        *,
        impersonal: Sequence[str | None] | None = None,
    ) -> PostScores:
        """Plan, forward and combine pre-tokenised posts (``impersonal``: see :meth:`combine`)."""
        plan = self.plan(ids)
        return self.combine(plan, self.probabilities(self.window_logits(plan, after_batch)), impersonal)

    def post_logits(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Per-post head logits (windows combined like :meth:`combine`), for evaluation and
        calibration, which work on logits."""
        plan = self.plan(self.encode(texts))
        logits = self.window_logits(plan)
        if plan.n_windows == plan.posts:
            return logits
        starts = plan.starts
        how = {
            "goemotions": self.options.emotions,
            "carer": self.options.emotions,
            "big5": self.options.traits,
            "distress": self.options.emotions,
        }
        return {k: reduce_windows(v, starts, plan.windows, how[k]) for k, v in logits.items()}

    def depression_index(self, goemotions: np.ndarray, carer: np.ndarray) -> np.ndarray:
        """The configured depression-emotion index of each row, in [0, 1]."""
        return self.index(goemotions, carer, self.goemotions_labels, self.carer_labels)

    def reads_korean(self, texts: Sequence[str]) -> list[bool]:
        """Which texts the Korean network reads: Hangul-majority ones, when the model has it
        (:mod:`monitor.model.routing`)."""
        return [is_korean(text) for text in texts] if self.korean is not None else [False] * len(texts)

    def score_korean(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Korean class probabilities [N, C] and Korean depression index [N] of Korean texts."""
        if self.korean is None:
            raise ValueError(f"model {str(self.path)!r} has no Korean network")
        probs = self.korean.probabilities(self.korean.logits(texts))
        return probs, self.korean.index(probs)

    def predict(self, texts: Sequence[str]) -> list[dict[str, Any]]:
        """Score texts; one dict per text with ``language`` (the network that read it: ``en`` or
        ``ko``), every head's probabilities and the index."""
        korean = self.reads_korean(texts)
        english = [text for text, ko in zip(texts, korean) if not ko]
        results = iter(self._predict_english(english) if english else [])
        korean_results = iter(
            self._predict_korean([text for text, ko in zip(texts, korean) if ko]) if any(korean) else []
        )
        return [next(korean_results) if ko else next(results) for ko in korean]

    def _predict_korean(self, texts: Sequence[str]) -> list[dict[str, Any]]:
        assert self.korean is not None
        probs, index = self.score_korean(texts)
        labels = self.korean.labels
        return [
            {
                "text": text,
                "language": "ko",
                "korean": {l: float(p) for l, p in zip(labels, probs[i])},
                "korean_label": labels[int(probs[i].argmax())],
                "depression_index": float(index[i]),
                "windows": 1,
            }
            for i, text in enumerate(texts)
        ]

    def _predict_english(self, texts: Sequence[str]) -> list[dict[str, Any]]:
        reasons = impersonal_reasons(texts) if self.network.config.distress_head else None  # only distress uses them
        scores = self.score_ids(self.encode(texts), impersonal=reasons)
        results = []
        for i, text in enumerate(texts):
            goemotions, carer, big5 = scores.goemotions[i], scores.carer[i], scores.big5[i]
            results.append(
                {
                    "text": text,
                    "language": "en",
                    "carer": {l: float(p) for l, p in zip(self.carer_labels, carer)},
                    "carer_label": self.carer_labels[int(carer.argmax())],
                    "goemotions": {l: float(p) for l, p in zip(self.goemotions_labels, goemotions)},
                    "goemotions_labels": [
                        l for l, p, t in zip(self.goemotions_labels, goemotions, self.thresholds) if p >= t
                    ],
                    "big5": {t: float(p) for t, p in zip(self.big5_traits, big5)},
                    "depression_index": float(scores.index[i]),
                    "windows": int(scores.windows[i]),
                }
            )
            if scores.distress is not None:
                results[-1]["distress"] = float(scores.distress[i])
                results[-1]["impersonal"] = scores.impersonal[i] if scores.impersonal else None
        return results


def impersonal_reasons(texts: Sequence[str]) -> list[str | None]:
    """:func:`impersonal_reason` of each text."""
    return [impersonal_reason(text) for text in texts]


def split_windows(ids: Sequence[int], window: int, stride: int) -> list[list[int]]:
    """Split a tokenised text (with [CLS] ... [SEP]) into overlapping windows of at most
    `window` tokens, each wrapped in the same special tokens; a short text is one window.

    Raises:
        ValueError: ``window`` holds no token of text, or ``stride`` is below 1 (no progress).
    """
    if window < MIN_WINDOW or stride < 1:
        raise ValueError(f"window {window} must be at least {MIN_WINDOW} tokens and stride {stride} at least 1")
    if len(ids) <= window:
        return [list(ids)]
    head, body, tail = ids[0], list(ids[1:-1]), ids[-1]
    inner = window - 2
    windows = []
    start = 0
    while True:
        windows.append([head, *body[start : start + inner], tail])
        if start + inner >= len(body):
            break
        start += min(stride, inner)
    return windows


def reduce_windows(values: np.ndarray, starts: np.ndarray, counts: np.ndarray, how: Combine) -> np.ndarray:
    """Combine consecutive window rows per post: [W, K] -> [P, K] by max or mean."""
    if how == "max":
        return np.maximum.reduceat(values, starts, axis=0)
    return (np.add.reduceat(values, starts, axis=0) / counts[:, None]).astype(np.float32)


def load_model(
    path: str | Path,
    *,
    device: str = "auto",
    precision: str = "auto",
    index: DepressionIndex | None = None,
    fused: bool = True,
    options: WindowOptions | None = None,
) -> Predictor:
    """Load a model directory written by `emomon train` (safetensors only). `fused=False`
    keeps the Hugging Face encoder forward where the fused CPU path would apply."""
    return Predictor(Path(path), device=device, precision=precision, index=index, fused=fused, options=options)
