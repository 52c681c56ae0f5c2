"""The one forward loop: padded batches through a network, no gradients, rows back in order."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from monitor.model.batching import pad, plan_batches, tokenize
from monitor.model.device import autocast
from monitor.model.network import MultitaskNetwork

#: One padded batch: (row positions in the input, input_ids [B, T], attention_mask [B, T]).
Batch = tuple[list[int], torch.Tensor, torch.Tensor]


def make_batches(ids: Sequence[Sequence[int]], budget: int, *, pad_id: int, pin: bool = False) -> list[Batch]:
    """Length-sorted batches of at most ``budget`` padded tokens (:func:`plan_batches`), padded."""
    batches = []
    for rows in plan_batches([len(x) for x in ids], budget):
        input_ids, mask = pad([ids[r] for r in rows], pad_id)
        if pin:
            input_ids, mask = input_ids.pin_memory(), mask.pin_memory()
        batches.append((rows, input_ids, mask))
    return batches


@torch.inference_mode()
def forward_batches(
    network: MultitaskNetwork,
    batches: Sequence[Batch],
    n_rows: int,
    *,
    device: torch.device,
    dtype: torch.dtype | None = None,
    heads: tuple[str, ...] | None = None,
    after_batch: Callable[[int], None] | None = None,
    call: Callable[[torch.Tensor, torch.Tensor], dict[str, torch.Tensor]] | None = None,
) -> dict[str, np.ndarray]:
    """Logits of ``heads`` (default: every task head the network has) for every row, in input
    order: name -> [n_rows, K] float32.

    ``after_batch(rows done)`` runs after each batch (progress, memory trimming). ``call`` replaces
    the network's forward (e.g. ``{"pooled": network.pooled(ids, mask)}`` for sentence vectors)."""
    network.eval()
    forward = call or network
    if heads is None:
        heads = network.config.heads
    out: dict[str, np.ndarray] = {}
    pin = device.type == "cuda"
    done = 0
    for rows, input_ids, mask in batches:
        with autocast(device, dtype):
            result = forward(input_ids.to(device, non_blocking=pin), mask.to(device, non_blocking=pin))
        for name in heads:
            values = result[name]
            if name not in out:
                out[name] = np.empty((n_rows, values.shape[1]), dtype=np.float32)
            out[name][rows] = values.float().cpu().numpy()
        done += len(rows)
        if after_batch is not None:
            after_batch(done)
    return out


def logits_for_texts(
    network: MultitaskNetwork,
    tokenizer,
    texts: Sequence[str],
    *,
    max_length: int,
    device: torch.device,
    dtype: torch.dtype | None,
    budget: int = 8192,
) -> dict[str, np.ndarray]:
    """Training-time validation on a bare network: texts truncated at ``max_length`` (the training
    window), then :func:`forward_batches`. Shipped models are scored by :class:`Predictor`."""
    ids = tokenize(tokenizer, texts, max_length)
    batches = make_batches(ids, budget, pad_id=tokenizer.pad_token_id or 0, pin=device.type == "cuda")
    return forward_batches(network, batches, len(ids), device=device, dtype=dtype)
