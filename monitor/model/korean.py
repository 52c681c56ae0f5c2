"""The Korean network: the seed study's six depressed-emotion classes on Korean sentences.

No Korean pretrained encoder ships with emomon (the English encoder's vocabulary turns Hangul
into jamo and [UNK]s), so the network is trained from scratch on the Korean training split, in
one of two kinds built from :class:`KoreanConfig`. Both end in the same 128-d emotion embedding
and classifier (the combined metric loss trains the embedding):

* ``bag``: the mean of learned vectors of the text's features (each word, and the character 1-3
  grams of each word with word-boundary marks: Korean endings such as ``-어``/``-서`` are short
  character n-grams), fastText-style (Joulin et al. 2017);
* ``cnn``: a character CNN (kernels 2..5, max-pooled over the text), as in SoGMTL.

Neither needs a window: the bag's mean and the CNN's max pool read a post of any length whole.
The vocabulary (features or characters, in id order) is the model's ``vocab.json``.

Shapes in comments: B batch, T features or characters, W width, E embedding width, C classes.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from monitor.labels import KOREAN_LABELS

KoreanKind = Literal["bag", "cnn"]
#: Id 0 pads a batch (and stands for a text without one known feature: a zero vector).
PAD = 0


@dataclass(frozen=True)
class KoreanConfig:
    """Everything needed to rebuild the Korean network (``korean/config.json``)."""

    kind: KoreanKind = "bag"
    vocab_size: int = 30000
    labels: tuple[str, ...] = KOREAN_LABELS
    width: int = 96  # bag: feature vector width; cnn: character embedding width
    embedding_size: int = 128
    dropout: float = 0.2
    filters: int = 96  # cnn: filters per kernel width
    kernels: tuple[int, ...] = (2, 3, 4, 5)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KoreanConfig:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for key in ("labels", "kernels"):
            if key in known:
                known[key] = tuple(known[key])
        config = cls(**known)
        if config.kind not in ("bag", "cnn"):
            raise ValueError(f"unknown Korean network kind {config.kind!r}; use bag or cnn")
        return config


def normalise(text: str) -> str:
    """NFC (Hangul syllables whole) and lower case."""
    return unicodedata.normalize("NFC", text).lower()


def features(text: str, kind: KoreanKind) -> list[str]:
    """The features of ``text``: ``bag`` words (``w:`` prefix) and character 1-3 grams of
    ``<word>``; ``cnn`` its characters."""
    text = normalise(text)
    if kind == "cnn":
        return list(text)
    out: list[str] = []
    for word in text.split():
        out.append("w:" + word)
        marked = f"<{word}>"
        for n in (1, 2, 3):
            out.extend(marked[i : i + n] for i in range(len(marked) - n + 1))
    return out


class KoreanVocab:
    """Feature -> id (ids from 1; unknown features are dropped, :data:`PAD` is 0)."""

    def __init__(self, kind: KoreanKind, tokens: Sequence[str]) -> None:
        self.kind = kind
        self.tokens = list(tokens)
        self.index = {token: i + 1 for i, token in enumerate(self.tokens)}

    def __len__(self) -> int:
        return len(self.tokens) + 1

    def encode(self, text: str) -> list[int]:
        """Known feature ids of ``text`` (at least one: :data:`PAD` when none is known)."""
        ids = [i for i in map(self.index.get, features(text, self.kind)) if i is not None]
        return ids or [PAD]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "tokens": self.tokens}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KoreanVocab:
        return cls(data["kind"], data["tokens"])

    @classmethod
    def fit(cls, texts: Sequence[str], kind: KoreanKind, min_count: int = 2) -> KoreanVocab:
        """The features of ``texts`` found in at least ``min_count`` texts, most frequent first."""
        counts: dict[str, int] = {}
        for text in texts:
            for feature in set(features(text, kind)):
                counts[feature] = counts.get(feature, 0) + 1
        kept = sorted((f for f, c in counts.items() if c >= min_count), key=lambda f: (-counts[f], f))
        return cls(kind, kept)


def pad_ids(ids: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Id lists -> (ids [B, T], mask [B, T]) padded with :data:`PAD`."""
    width = max(len(row) for row in ids)
    x = np.zeros((len(ids), width), dtype=np.int64)
    m = np.zeros((len(ids), width), dtype=np.int64)
    for r, row in enumerate(ids):
        x[r, : len(row)] = row
        m[r, : len(row)] = 1
    return torch.from_numpy(x), torch.from_numpy(m)


class FeatureBag(nn.Module):
    """Feature ids [B, T] -> mean feature vector [B, W] (padding left out of the mean)."""

    def __init__(self, config: KoreanConfig) -> None:
        super().__init__()
        self.embed = nn.Embedding(config.vocab_size, config.width, padding_idx=PAD)
        self.width = config.width

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        mask = (attention_mask * (input_ids != PAD)).unsqueeze(-1).float()  # [B, T, 1]
        return (self.embed(input_ids) * mask).sum(1) / mask.sum(1).clamp(min=1.0)


class CharCNN(nn.Module):
    """Character ids [B, T] -> [B, filters * kernels] (max over positions per filter)."""

    def __init__(self, config: KoreanConfig) -> None:
        super().__init__()
        self.embed = nn.Embedding(config.vocab_size, config.width, padding_idx=PAD)
        self.convs = nn.ModuleList(nn.Conv1d(config.width, config.filters, k) for k in config.kernels)
        self.kernels = config.kernels
        self.width = config.filters * len(config.kernels)
        self.min_length = max(config.kernels)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        if input_ids.shape[1] < self.min_length:  # the widest kernel needs this many positions
            pad = self.min_length - input_ids.shape[1]
            input_ids, attention_mask = F.pad(input_ids, (0, pad)), F.pad(attention_mask, (0, pad))
        x = self.embed(input_ids).transpose(1, 2)  # [B, width, T]
        pooled = []
        for conv, k in zip(self.convs, self.kernels):
            h = F.relu(conv(x))  # [B, filters, T - k + 1]
            valid = attention_mask[:, k - 1 :].unsqueeze(1).bool()  # windows ending on a character
            pooled.append(h.masked_fill(~valid, 0.0).amax(dim=2))
        return torch.cat(pooled, dim=1)


class KoreanNetwork(nn.Module):
    """Features -> sentence vector [B, W] -> emotion embedding [B, E] -> class logits [B, C]."""

    def __init__(self, config: KoreanConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder: FeatureBag | CharCNN = FeatureBag(config) if config.kind == "bag" else CharCNN(config)
        self.dropout = nn.Dropout(config.dropout)
        self.embedding = nn.Linear(self.encoder.width, config.embedding_size)
        self.classifier = nn.Linear(config.embedding_size, len(config.labels))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> dict[str, torch.Tensor]:
        embedding = self.embedding(self.dropout(self.encoder(input_ids, attention_mask)))  # [B, E]
        return {"korean": self.classifier(embedding), "embedding": embedding}  # [B, C], [B, E]


@dataclass(frozen=True)
class KoreanCalibration:
    """``korean/calibration.json``: the temperature of the class probabilities and the Korean
    depression index, chosen on validation.

    The index of a post is ``sigmoid(a * logit(p) + b)`` with ``p`` the summed probability of
    ``index_classes`` (the depressed emotions among the six): Platt scaling fitted on validation
    so that it reads as the probability that the post expresses one of them.
    """

    temperature: float = 1.0
    index_classes: tuple[str, ...] = ("anxiety", "hurt", "sadness")
    platt: tuple[float, float] = (1.0, 0.0)

    def to_dict(self) -> dict[str, Any]:
        return {"temperature": self.temperature, "index_classes": list(self.index_classes), "platt": list(self.platt)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KoreanCalibration:
        a, b = data.get("platt", (1.0, 0.0))
        return cls(float(data.get("temperature", 1.0)), tuple(data.get("index_classes", cls.index_classes)), (a, b))

    def validate(self, labels: Sequence[str]) -> None:
        """Raise ValueError naming a value no score can be computed with."""
        unknown = [c for c in self.index_classes if c not in labels]
        if unknown or not self.index_classes:
            raise ValueError(f"index_classes {list(self.index_classes)!r}, not a non-empty subset of {list(labels)!r}")
        values = (self.temperature, *self.platt)
        if not all(np.isfinite(values)) or self.temperature <= 0:
            raise ValueError(
                f"temperature {self.temperature!r} and platt {list(self.platt)!r}, not finite with temperature > 0"
            )


def index_raw(probs: np.ndarray, labels: Sequence[str], classes: Sequence[str]) -> np.ndarray:
    """Summed probability of ``classes``: [N, C] -> [N]."""
    return probs[:, [list(labels).index(c) for c in classes]].sum(axis=1)


def platt_index(raw: np.ndarray, platt: tuple[float, float]) -> np.ndarray:
    """``sigmoid(a * logit(raw) + b)``, in [0, 1]."""
    p = np.clip(raw.astype(np.float64), 1e-6, 1 - 1e-6)
    z = platt[0] * np.log(p / (1 - p)) + platt[1]
    return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)


class KoreanModel:
    """The Korean network, its vocabulary and calibration, read from a model directory's
    ``korean/`` (:func:`monitor.model.artifact.read_korean`); fp32 on the CPU."""

    def __init__(self, network: KoreanNetwork, vocab: KoreanVocab, calibration: KoreanCalibration) -> None:
        self.network = network.eval()
        self.vocab = vocab
        self.calibration = calibration
        self.labels: list[str] = list(network.config.labels)
        calibration.validate(self.labels)

    @torch.no_grad()
    def logits(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """Class logits [N, C] (batches of similar length; returned in input order)."""
        ids = [self.vocab.encode(text) for text in texts]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        out = np.zeros((len(ids), len(self.labels)), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            x, m = pad_ids([ids[i] for i in chunk])
            out[chunk] = self.network(x, m)["korean"].float().numpy()
        return out

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        """Temperature-scaled class probabilities [N, C]."""
        z = logits / self.calibration.temperature
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return (z / z.sum(axis=1, keepdims=True)).astype(np.float32)

    def index(self, probs: np.ndarray) -> np.ndarray:
        """The Korean depression index [N] of class probabilities [N, C]."""
        return platt_index(index_raw(probs, self.labels, self.calibration.index_classes), self.calibration.platt)
