"""A BERT encoder for inference in plain torch, with the Hugging Face ``BertModel`` weight names.

Scoring only needs the encoder's forward; building it from ``transformers`` costs about 3 s of
imports on a 2-core CPU before the first post (its modelling module pulls in torch.distributed,
dynamo, sympy and scipy), which is most of a model load. This module rebuilds the same network
(absolute positions, erf GELU, post-LayerNorm, eager attention with an additive padding mask)
from ``encoder/config.json`` and loads the same state dict; tests check its output against
``transformers.BertModel``. Other encoder types are built with ``transformers``
(:func:`monitor.model.artifact.read_artifact`). Inference only: no dropout, no gradients.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class BertConfig:
    """The fields of a Hugging Face BERT config.json that shape the forward."""

    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    model_type: str = "bert"
    hidden_act: str = "gelu"
    position_embedding_type: str = "absolute"
    is_decoder: bool = False

    @classmethod
    def from_file(cls, path: Path) -> BertConfig | None:
        """The config in ``path``, or None when this module cannot run that encoder."""
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BertConfig | None:
        """The config of a parsed config.json, or None when this module cannot run that encoder."""
        config = cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})
        supported = (
            config.model_type == "bert"
            and config.hidden_act == "gelu"
            and not config.is_decoder
            and config.position_embedding_type == "absolute"
            and not data.get("add_cross_attention", False)
        )
        return config if supported else None

    def to_json_file(self, path: str) -> None:
        """Write the config as a Hugging Face BERT config.json (what ``from_file`` reads back)."""
        data = {"architectures": ["BertModel"], **asdict(self)}
        Path(path).write_text(json.dumps(data, indent=2), encoding="utf-8")


class Embeddings(nn.Module):
    """Word + position + token-type (all type 0) embeddings, then LayerNorm: [B, T] -> [B, T, H]."""

    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        # Uninitialised (`_weight`): the weights are always loaded, and random initialisation
        # costs time (on the meta device, an import of torch._dynamo).
        self.word_embeddings = nn.Embedding(
            c.vocab_size, c.hidden_size, _weight=torch.empty(c.vocab_size, c.hidden_size)
        )
        self.position_embeddings = nn.Embedding(
            c.max_position_embeddings, c.hidden_size, _weight=torch.empty(c.max_position_embeddings, c.hidden_size)
        )
        self.token_type_embeddings = nn.Embedding(
            c.type_vocab_size, c.hidden_size, _weight=torch.empty(c.type_vocab_size, c.hidden_size)
        )
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        hidden = (
            self.word_embeddings(input_ids) + self.position_embeddings(positions) + self.token_type_embeddings.weight[0]
        )
        return self.LayerNorm(hidden)


class SelfAttention(nn.Module):
    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        self.query = nn.Linear(c.hidden_size, c.hidden_size)
        self.key = nn.Linear(c.hidden_size, c.hidden_size)
        self.value = nn.Linear(c.hidden_size, c.hidden_size)
        self.heads = c.num_attention_heads

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """h [B, T, H], additive mask [B, 1, 1, T] -> context [B, T, H]."""
        batch, length, width = h.shape

        def split(x: torch.Tensor) -> torch.Tensor:  # [B, T, H] -> [B, heads, T, H / heads]
            return x.view(batch, length, self.heads, width // self.heads).transpose(1, 2)

        q, k, v = split(self.query(h)), split(self.key(h)), split(self.value(h))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(width // self.heads) + mask
        context = torch.matmul(scores.softmax(-1), v)
        return context.transpose(1, 2).reshape(batch, length, width)


class DenseNorm(nn.Module):
    """Linear, residual add, LayerNorm (BERT's attention and feed-forward outputs)."""

    def __init__(self, width_in: int, c: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(width_in, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dense(x) + residual)


class Attention(nn.Module):
    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        self.self = SelfAttention(c)
        self.output = DenseNorm(c.hidden_size, c)

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.output(self.self(h, mask), h)


class Intermediate(nn.Module):
    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.intermediate_size)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.dense(h))  # erf GELU, as trained


class Layer(nn.Module):
    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        self.attention = Attention(c)
        self.intermediate = Intermediate(c)
        self.output = DenseNorm(c.intermediate_size, c)

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        a = self.attention(h, mask)
        return self.output(self.intermediate(a), a)


class Layers(nn.Module):
    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList(Layer(c) for _ in range(c.num_hidden_layers))


@dataclass
class EncoderOutput:
    """What :class:`~monitor.model.network.MultitaskNetwork` reads from an encoder."""

    last_hidden_state: torch.Tensor


class BertEncoder(nn.Module):
    """Token ids [B, T] and attention mask [B, T] -> last hidden state [B, T, H]."""

    #: Weights of the Hugging Face model this one does not use (the [CLS] pooler).
    UNUSED_PREFIXES = ("pooler.",)

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.config = config
        self.embeddings = Embeddings(config)
        self.encoder = Layers(config)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> EncoderOutput:
        h = self.embeddings(input_ids)
        # Additive mask [B, 1, 1, T]: 0 on tokens, the dtype's minimum on padding (as in BERT).
        # Reshaped before the arithmetic, in BERT's order: ONNX Runtime's transformer optimizer
        # recognises that graph and fuses the attention (monitor.model.int8).
        mask = (1.0 - attention_mask[:, None, None, :].to(h.dtype)) * torch.finfo(h.dtype).min
        for layer in self.encoder.layer:
            h = layer(h, mask)
        return EncoderOutput(h)
