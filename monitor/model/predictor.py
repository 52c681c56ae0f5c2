"""The predictor: a loaded model directory that turns texts or token ids into probabilities."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tokenizers import Tokenizer

from monitor.model.artifact import read_artifact
from monitor.model.device import choose_autocast, choose_device
from monitor.model.fused_encoder import fuse_encoder
from monitor.model.index import DepressionIndex
from monitor.model.inference import forward_ids as _forward_ids
from monitor.model.metrics import sigmoid, softmax


class Predictor:
    """Scores texts with a trained multitask model. Build it with :func:`load_model`."""

    def __init__(self, path: Path, *, device: str = "auto", precision: str = "auto",
                 index: DepressionIndex | None = None, fused: bool = True) -> None:
        config, network, tokenizer, calibration = read_artifact(Path(path))
        self.path = Path(path)
        self.name: str = config["name"]
        self.version: str = config["version"]
        self.max_length: int = int(config["window"])
        self.tokenizer = tokenizer
        self._backend = _untruncated_backend(tokenizer)
        self.device = choose_device(device)
        self.network = network.to(self.device)
        #: "bf16" (encoder weights in bf16, pooling and heads in fp32) or "fp32".
        self.precision = "bf16" if choose_autocast(self.device, precision) is not None else "fp32"
        if self.precision == "bf16":
            # Weights cast once rather than per matmul under autocast: no dtype conversions in the
            # hot loop (measured about +10% on a 2-core CPU). Autocast stays for training only.
            self.network.encoder.to(torch.bfloat16)
        #: "fused" (oneDNN fused kernels, bf16 on CPU; see fused_encoder) or "standard".
        self.encoder_path = "standard"
        fused_encoder = fuse_encoder(self.network.encoder) if fused and self.precision == "bf16" else None
        if fused_encoder is not None:
            self.network.encoder = fused_encoder
            self.encoder_path = "fused"
        elif self.device.type == "cpu":
            # For short padded batches on CPU the plain attention beats SDPA (measured 5-10%).
            self.network.encoder.set_attn_implementation("eager")
        self.calibration = calibration
        net = network.config
        self.goemotions_labels: list[str] = list(net.goemotions_labels)
        self.carer_labels: list[str] = list(net.carer_labels)
        self.big5_traits: list[str] = list(net.big5_traits)
        self.index = index or calibration.depression_index
        self.index.validate(self.goemotions_labels, self.carer_labels)
        self.thresholds = np.asarray([calibration.goemotions_thresholds.get(l, 0.5) for l in self.goemotions_labels],
                                     dtype=np.float32)

    def probabilities(self, logits: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Temperature-scaled probabilities from head logits."""
        t = self.calibration.temperatures
        return {
            "goemotions": sigmoid(logits["goemotions"] / t["goemotions"]).astype(np.float32),
            "carer": softmax(logits["carer"], t["carer"]).astype(np.float32),
            "big5": sigmoid(logits["big5"] / t["big5"]).astype(np.float32),
        }

    @torch.inference_mode()
    def forward_ids(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> dict[str, np.ndarray]:
        """One padded batch [B, T] (at most `max_length` tokens) -> probabilities per head."""
        pin = self.device.type == "cuda"
        out = self.network(input_ids.to(self.device, non_blocking=pin), attention_mask.to(self.device, non_blocking=pin))
        return self.probabilities({k: v.float().cpu().numpy() for k, v in out.items() if k != "embedding"})

    def depression_index(self, goemotions: np.ndarray, carer: np.ndarray) -> np.ndarray:
        """The configured depression-emotion index of each row, in [0, 1]."""
        return self.index(goemotions, carer, self.goemotions_labels, self.carer_labels)

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids with special tokens, not truncated (callers split long posts into windows).

        A fast tokenizer's Rust backend is called directly, without offsets: the same ids
        (tested) for about half the CPU time of the ``tokenizer(texts)`` call, which the score
        stage's preparation would otherwise take from the model's threads.
        """
        if self._backend is None:
            return self.tokenizer(list(texts), add_special_tokens=True, truncation=False)["input_ids"]
        return [encoding.ids for encoding in self._backend.encode_batch_fast(list(texts), add_special_tokens=True)]

    def predict(self, texts: Sequence[str], *, max_tokens: int = 8192) -> list[dict[str, Any]]:
        """Score texts; a text longer than the window is scored on overlapping windows whose
        emotion scores are combined by max and trait scores by mean."""
        pieces: list[list[int]] = []
        owner: list[int] = []
        for i, ids in enumerate(self.encode(texts)):
            for window in split_windows(ids, self.max_length, stride=max(1, self.max_length // 2)):
                pieces.append(window)
                owner.append(i)
        logits = _forward_ids(self.network, pieces, pad_id=self.tokenizer.pad_token_id or 0, device=self.device,
                              dtype=None, max_tokens=max_tokens)
        probs = self.probabilities(logits)
        results = []
        owners = np.asarray(owner)
        for i, text in enumerate(texts):
            rows = np.flatnonzero(owners == i)
            goemotions = probs["goemotions"][rows].max(0)
            carer = probs["carer"][rows].max(0)
            carer = carer / carer.sum()
            big5 = probs["big5"][rows].mean(0)
            index = float(self.depression_index(goemotions[None], carer[None])[0])
            results.append({
                "text": text,
                "carer": {l: round(float(p), 6) for l, p in zip(self.carer_labels, carer)},
                "carer_label": self.carer_labels[int(carer.argmax())],
                "goemotions": {l: round(float(p), 6) for l, p in zip(self.goemotions_labels, goemotions)},
                "goemotions_labels": [l for l, p, t in zip(self.goemotions_labels, goemotions, self.thresholds) if p >= t],
                "big5": {t: round(float(p), 6) for t, p in zip(self.big5_traits, big5)},
                "depression_index": round(index, 6),
            })
        return results


def split_windows(ids: Sequence[int], window: int, stride: int) -> list[list[int]]:
    """Split a tokenised text (with [CLS] ... [SEP]) into overlapping windows of at most
    `window` tokens, each wrapped in the same special tokens; a short text is one window."""
    if len(ids) <= window:
        return [list(ids)]
    head, body, tail = ids[0], list(ids[1:-1]), ids[-1]
    inner = window - 2
    windows = []
    start = 0
    while True:
        windows.append([head, *body[start:start + inner], tail])
        if start + inner >= len(body):
            break
        start += min(stride, inner)
    return windows


def load_model(path: str | Path, *, device: str = "auto", precision: str = "auto",
               index: DepressionIndex | None = None, fused: bool = True) -> Predictor:
    """Load a model directory written by `emomon train` (safetensors only). `fused=False`
    keeps the Hugging Face encoder forward where the fused CPU path would apply."""
    return Predictor(Path(path), device=device, precision=precision, index=index, fused=fused)


def _untruncated_backend(tokenizer: Any) -> Tokenizer | None:
    """A copy of a fast tokenizer's backend with truncation and padding off (None for a slow
    tokenizer); the tokenizer itself keeps its settings."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if not isinstance(backend, Tokenizer) or not hasattr(backend, "encode_batch_fast"):
        return None
    copy = Tokenizer.from_str(backend.to_str())
    copy.no_truncation()
    copy.no_padding()
    return copy
