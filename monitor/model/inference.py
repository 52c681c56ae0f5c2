"""Batched forward passes over many texts: length-sorted, token-budgeted, no gradients."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from monitor.model.batching import length_sorted_batches, pad, tokenize
from monitor.model.device import autocast
from monitor.model.network import MultitaskNetwork


@torch.inference_mode()
def forward_ids(model: MultitaskNetwork, ids: Sequence[Sequence[int]], *, pad_id: int, device: torch.device,
                dtype: torch.dtype | None, max_tokens: int = 8192) -> dict[str, np.ndarray]:
    """Logits of every head for pre-tokenised sequences, in input order: name -> [N, K] float32."""
    model.eval()
    lengths = [len(x) for x in ids]
    out: dict[str, np.ndarray] = {}
    pin = device.type == "cuda"
    for rows in length_sorted_batches(lengths, max_tokens):
        input_ids, mask = pad([ids[i] for i in rows], pad_id)
        if pin:
            input_ids, mask = input_ids.pin_memory(), mask.pin_memory()
        with autocast(device, dtype):
            result = model(input_ids.to(device, non_blocking=pin), mask.to(device, non_blocking=pin))
        for name, tensor in result.items():
            if name not in out:
                out[name] = np.zeros((len(ids), tensor.shape[1]), dtype=np.float32)
            out[name][rows] = tensor.float().cpu().numpy()
    return out


def logits_for_texts(model: MultitaskNetwork, tokenizer, texts: Sequence[str], *, max_length: int,
                     device: torch.device, dtype: torch.dtype | None, max_tokens: int = 8192) -> dict[str, np.ndarray]:
    """Tokenise (truncating at `max_length`) and run :func:`forward_ids`; for evaluation sets."""
    ids = tokenize(tokenizer, texts, max_length)
    return forward_ids(model, ids, pad_id=tokenizer.pad_token_id or 0, device=device, dtype=dtype, max_tokens=max_tokens)
