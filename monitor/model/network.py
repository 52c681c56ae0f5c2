"""The multitask network: a shared encoder, gated emotion/personality branches and task heads.

Shapes in comments: B batch, T tokens, H encoder width, D branch width, E embedding width.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from monitor.labels import BIG5_TRAITS, CARER_LABELS, GOEMOTIONS_LABELS

TASKS: tuple[str, ...] = ("goemotions", "carer", "big5", "distress")

GateKind = Literal["sog", "sig", "silg", "none"]


@dataclass(frozen=True)
class NetworkConfig:
    """Everything needed to rebuild the network around an encoder of width `hidden_size`."""

    hidden_size: int = 384
    branch_size: int = 256
    embedding_size: int = 128
    gate: GateKind = "sog"
    gate_levels: int = 1
    dropout: float = 0.1
    goemotions_labels: tuple[str, ...] = GOEMOTIONS_LABELS
    carer_labels: tuple[str, ...] = CARER_LABELS
    big5_traits: tuple[str, ...] = BIG5_TRAITS
    distress_head: bool = False  # personal distress (Dreaddit): v3 and later; v2 directories have none
    #: Vocabulary size of the distress head's token evidence (:class:`TokenEvidence`); 0 = none.
    distress_vocab: int = 0
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def heads(self) -> tuple[str, ...]:
        """The task heads this network has, in output order."""
        return TASKS if self.distress_head else TASKS[:3]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> NetworkConfig:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for key in ("goemotions_labels", "carer_labels", "big5_traits"):
            if key in known:
                known[key] = tuple(known[key])
        return cls(**known)


def gate_message(c: torch.Tensor, kind: GateKind) -> torch.Tensor:
    """The message one branch sends to the other (SoGMTL): [B, D] -> [B, D]."""
    if kind == "sog":
        return torch.softmax(c, dim=-1) * c
    if kind == "silg":
        return torch.sigmoid(c) * c
    if kind == "sig":
        return torch.sigmoid(c)
    if kind == "none":
        return torch.zeros_like(c)
    raise ValueError(f"unknown gate kind {kind!r}; use sog, sig, silg or none")


class GatedBranches(nn.Module):
    """Emotion and personality branches exchanging information through gates at each level."""

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        self.gate = config.gate
        sizes = [config.hidden_size] + [config.branch_size] * config.gate_levels
        self.emotion = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
        self.personality = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, pooled: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """pooled [B, H] -> (emotion [B, D], personality [B, D])."""
        h_e, h_p = pooled, pooled
        for layer_e, layer_p in zip(self.emotion, self.personality):
            c_e = F.gelu(layer_e(self.dropout(h_e)))  # [B, D]
            c_p = F.gelu(layer_p(self.dropout(h_p)))  # [B, D]
            h_e = c_e + gate_message(c_p, self.gate)  # h2 = c2 + m(c1), symmetric
            h_p = c_p + gate_message(c_e, self.gate)
        return h_e, h_p


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Masked mean over tokens: [B, T, H], [B, T] -> [B, H]."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)


def vocab_size(encoder: nn.Module) -> int:
    """The number of token ids ``encoder`` embeds (its config's ``vocab_size``)."""
    config: Any = encoder.config
    return int(config.vocab_size)


class TokenEvidence(nn.Module):
    """The distress head's lexical part: a window's bag of token ids as TF-IDF (sublinear term
    frequency, L2-normalised) dotted with fitted weights, added to the distress logit.

    The dense head reads the pooled sentence vector, which blurs *who* the words are about; which
    words a window uses (first person, symptoms, help-seeking) is direct evidence of the author's
    own state (Turcan & McKeown 2019: a lexical model is as strong as BERT on Dreaddit). Tokens
    with ``idf`` 0 (special and rare ones) are ignored. Weights [V], idf [V]; ids [B, T] -> [B, 1].
    """

    idf: torch.Tensor

    def __init__(self, vocab_size: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(vocab_size))
        self.register_buffer("idf", torch.zeros(vocab_size))

    def tfidf(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The L2-normalised TF-IDF vector of each row's tokens: [B, T] -> [B, V] (fp32)."""
        counts = torch.zeros(input_ids.shape[0], self.idf.shape[0], device=input_ids.device)
        counts = counts.scatter_add(1, input_ids, attention_mask.to(counts.dtype))
        tf = torch.where(counts > 0, 1.0 + torch.log(counts.clamp(min=1.0)), torch.zeros_like(counts)) * self.idf
        return tf / tf.norm(dim=1, keepdim=True).clamp(min=1e-12)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.tfidf(input_ids, attention_mask) @ self.weight.unsqueeze(1)


class MultitaskNetwork(nn.Module):
    """Encoder + gated branches + GoEmotions, CARER, Big Five (and personal distress) heads + emotion embedding."""

    def __init__(self, encoder: nn.Module, config: NetworkConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = encoder
        self.branches = GatedBranches(config)
        self.embedding = nn.Linear(config.branch_size, config.embedding_size)
        self.goemotions_head = nn.Linear(config.branch_size, len(config.goemotions_labels))
        self.carer_head = nn.Linear(config.embedding_size, len(config.carer_labels))
        self.big5_head = nn.Linear(config.branch_size, len(config.big5_traits))
        # Distress reads both branches: the emotion branch (what is felt) and the personality
        # branch (who writes: first person, about oneself), concatenated.
        self.distress_head = nn.Linear(2 * config.branch_size, 1) if config.distress_head else None
        self.distress_tokens = (
            TokenEvidence(config.distress_vocab) if config.distress_head and config.distress_vocab else None
        )
        self.dropout = nn.Dropout(config.dropout)

    def pooled(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Token ids [B, T] -> sentence vector [B, H]."""
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return mean_pool(hidden.float(), attention_mask)  # pooled in fp32 whatever the encoder runs in

    def heads(self, pooled: torch.Tensor) -> dict[str, torch.Tensor]:
        """Sentence vectors [B, H] -> logits per task and the emotion embedding [B, E]."""
        h_e, h_p = self.branches(pooled)
        embedding = self.embedding(self.dropout(h_e))  # [B, E]
        out = {
            "goemotions": self.goemotions_head(self.dropout(h_e)),  # [B, 28]
            "carer": self.carer_head(embedding),  # [B, 6]
            "big5": self.big5_head(self.dropout(h_p)),  # [B, 5]
            "embedding": embedding,
        }
        if self.distress_head is not None:
            out["distress"] = self.distress_head(self.dropout(torch.cat([h_e, h_p], dim=-1)))  # [B, 1]
        return out

    def outputs(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """The full forward: the heads' logits (the distress logit with its token evidence) and the
        sentence vector [B, H]."""
        pooled = self.pooled(input_ids, attention_mask)
        out = self.heads(pooled)
        if self.distress_tokens is not None:
            out["distress"] = out["distress"] + self.distress_tokens(input_ids, attention_mask)
        return out, pooled

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.outputs(input_ids, attention_mask)[0]
