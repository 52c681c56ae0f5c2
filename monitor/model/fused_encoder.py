"""A BERT encoder forward for bf16 inference on CPU, built on oneDNN's fused linear kernels.

The Hugging Face forward runs every linear layer, GELU and residual add as its own pass over
memory. Here each linear layer is one oneDNN call with its bias and, where the network has
one, its GELU or residual add fused in; Q, K and V are one matmul; weights are reordered once
into oneDNN's blocked layout; the attention softmax runs in fp32. For MiniLM-L6 on 2 CPU cores
the model is 1.10-1.19x faster than the Hugging Face forward (`python bench/score.py`, the two
forwards interleaved, medians of 3 passes in three runs). The arithmetic is the same (erf
GELU, the same LayerNorms and masked softmax); only rounding differs, which
:func:`fuse_encoder` checks against the original forward before it is used. Inference only:
no dropout, no gradients.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from monitor.model.bert import EncoderOutput

log = logging.getLogger(__name__)

#: Largest difference from the original forward accepted by the self-check. Outputs are
#: LayerNorm-scaled (magnitudes up to about 6 for MiniLM) and bf16 keeps 8 bits of mantissa:
#: correct kernels differ by 0.02-0.07, a dropped padding mask by far more.
SELF_CHECK_TOLERANCE = 0.25


@dataclass
class _Layer:
    qkv: tuple[torch.Tensor, torch.Tensor]
    attention_out: tuple[torch.Tensor, torch.Tensor]
    attention_norm: nn.LayerNorm
    intermediate: tuple[torch.Tensor, torch.Tensor]
    output: tuple[torch.Tensor, torch.Tensor]
    output_norm: nn.LayerNorm


def fusion_available() -> bool:
    """True when this torch build has oneDNN's fused linear kernels and bf16 support."""
    ops = torch.ops.mkldnn
    return (
        torch.backends.mkldnn.is_available()
        and hasattr(ops, "_linear_pointwise")
        and hasattr(ops, "_reorder_linear_weight")
        and bool(ops._is_mkldnn_bf16_supported())
    )


def unsupported_reason(encoder: nn.Module) -> str | None:
    """Why `encoder` cannot take the fused path, or None when it can."""
    config = getattr(encoder, "config", None)
    if config is None or getattr(config, "model_type", None) != "bert":
        return "not a BERT encoder"
    if getattr(config, "hidden_act", None) != "gelu":
        return f"activation {getattr(config, 'hidden_act', None)!r} is not erf GELU"
    if getattr(config, "position_embedding_type", "absolute") != "absolute" or getattr(config, "is_decoder", False):
        return "relative positions or a decoder"
    if next(encoder.parameters()).dtype != torch.bfloat16 or next(encoder.parameters()).device.type != "cpu":
        return "weights are not bf16 on the CPU"
    if not fusion_available():
        return "this torch build has no oneDNN bf16 fused linear kernels"
    return None


class FusedBertEncoder(nn.Module):
    """Inference-only forward of a BERT encoder; returns the last hidden state [B, T, H]."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        # Only BERT encoders come here (see unsupported_reason): monitor.model.bert's or
        # transformers' BertModel, which share module names; nn.Module's attribute lookup would
        # type their submodules as `Tensor | Module`.
        bert: Any = encoder
        self.config: Any = bert.config
        self.embeddings: nn.Module = bert.embeddings
        self.heads: int = bert.config.num_attention_heads
        reorder = torch.ops.mkldnn._reorder_linear_weight
        self.layers: list[_Layer] = []
        norms = nn.ModuleList()
        for layer in bert.encoder.layer:
            attn = layer.attention.self
            qkv_weight = torch.cat([attn.query.weight, attn.key.weight, attn.value.weight]).detach()
            qkv_bias = torch.cat([attn.query.bias, attn.key.bias, attn.value.bias]).detach()
            out = layer.attention.output
            self.layers.append(
                _Layer(
                    qkv=(reorder(qkv_weight, None), qkv_bias),
                    attention_out=(reorder(out.dense.weight.detach(), None), out.dense.bias.detach()),
                    attention_norm=out.LayerNorm,
                    intermediate=(
                        reorder(layer.intermediate.dense.weight.detach(), None),
                        layer.intermediate.dense.bias.detach(),
                    ),
                    output=(reorder(layer.output.dense.weight.detach(), None), layer.output.dense.bias.detach()),
                    output_norm=layer.output.LayerNorm,
                )
            )
            norms.extend([out.LayerNorm, layer.output.LayerNorm])
        self.norms = norms  # registered so .to() and .eval() reach them

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> EncoderOutput:
        linear = torch.ops.mkldnn._linear_pointwise
        batch, length = input_ids.shape
        hidden = self.embeddings(input_ids=input_ids)
        width = hidden.shape[-1]
        head_dim = width // self.heads
        scale = head_dim**-0.5
        h = hidden.reshape(batch * length, width)
        # Additive fp32 mask [B, 1, 1, T]: 0 on tokens, the minimum on padding (as in BERT).
        mask = ((1.0 - attention_mask.float()) * torch.finfo(torch.float32).min)[:, None, None, :]
        for layer in self.layers:
            qkv = linear(h, *layer.qkv, "none", [], "").view(batch, length, 3, self.heads, head_dim)
            q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each [B, heads, T, head_dim]
            # Scale, mask and promotion to fp32 in one pass, then the softmax in fp32: on CPU a
            # bf16 softmax over rows this short is 3x slower. The attention matmuls (< 1% of
            # the FLOPs) stay bf16.
            scores = torch.add(mask, torch.matmul(q, k.transpose(-1, -2)), alpha=scale)
            weights = scores.softmax(-1).to(v.dtype)
            context = torch.matmul(weights, v).transpose(1, 2).reshape(batch * length, width)
            a = layer.attention_norm(linear.binary(context, h, *layer.attention_out, "add"))
            i = linear(a, *layer.intermediate, "gelu", [], "none")  # "none": erf GELU, as trained
            h = layer.output_norm(linear.binary(i, a, *layer.output, "add"))
        return EncoderOutput(h.view(batch, length, width))


def fuse_encoder(encoder: nn.Module, *, seed: int = 0) -> FusedBertEncoder | None:
    """The fused forward of `encoder` if it is supported here and matches the original on a
    random padded batch; otherwise None (with the reason logged) and the original is kept."""
    reason = unsupported_reason(encoder)
    if reason is not None:
        log.info("fused CPU encoder not used: %s", reason)
        return None
    try:
        fused = FusedBertEncoder(encoder).eval()
        generator = torch.Generator().manual_seed(seed)
        ids = torch.randint(0, fused.config.vocab_size, (3, 12), generator=generator)  # the encoder's config
        mask = torch.ones_like(ids)
        mask[1, 7:] = 0
        mask[2, 3:] = 0
        with torch.inference_mode():
            expected = encoder(input_ids=ids, attention_mask=mask).last_hidden_state.float()
            actual = fused(ids, mask).last_hidden_state.float()
    except RuntimeError as error:  # a oneDNN build that rejects these shapes or dtypes
        log.warning("fused CPU encoder not used: oneDNN failed its self-check (%s)", error)
        return None
    keep = mask.bool()
    gap = float((expected - actual)[keep].abs().max())
    if gap > SELF_CHECK_TOLERANCE:
        log.warning("fused CPU encoder not used: differs from the original by %.3f", gap)
        return None
    return fused
