"""Tokenising and batching: length-sorted batches with dynamic padding."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import torch

#: Cost of one more batch in padded-token equivalents: per-batch overhead, and small matrix
#: products running below peak (measured on a 2-core CPU: M=512 rows at half the speed of M=8192).
BATCH_OVERHEAD_TOKENS = 512


def tokenize(tokenizer, texts: Sequence[str], max_length: int) -> list[list[int]]:
    """Token ids with special tokens, truncated to `max_length` (training and evaluation only)."""
    return tokenizer(list(texts), truncation=True, max_length=max_length, add_special_tokens=True)["input_ids"]


def pad(ids: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad to the longest sequence: -> input_ids [B, T], attention_mask [B, T]."""
    lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
    mask = np.arange(int(lengths.max(initial=0)))[None, :] < lengths[:, None]
    input_ids = np.full(mask.shape, pad_id, dtype=np.int64)
    # Boolean assignment fills row by row, left to right: each row's tokens, then its padding.
    input_ids[mask] = np.fromiter(itertools.chain.from_iterable(ids), dtype=np.int64, count=int(lengths.sum()))
    return torch.from_numpy(input_ids), torch.from_numpy(mask.astype(np.int64))


def training_batch(
    n: int, batch_size: int, batch_number: int, seed: int, task_index: int, lengths: Sequence[int], bucket: int = 50
) -> list[int]:
    """The `batch_number`-th training batch of a task, a pure function of its arguments.

    Each epoch is a seeded permutation; within a window of `bucket` batches the examples are
    sorted by length so padding stays small, and the windows' batches are visited in a seeded order.
    """
    per_epoch = n // batch_size
    epoch, within = divmod(batch_number, per_epoch)
    perm = np.random.default_rng([seed, task_index, epoch]).permutation(n)
    window, slot = divmod(within, bucket)
    start = window * bucket * batch_size
    chunk = perm[start : start + bucket * batch_size]
    chunk = chunk[np.argsort(np.asarray(lengths)[chunk], kind="stable")]
    n_batches = len(chunk) // batch_size
    visit = np.random.default_rng([seed, task_index, epoch, window]).permutation(n_batches)
    b = visit[slot]
    return [int(i) for i in chunk[b * batch_size : (b + 1) * batch_size]]


def plan_batches(lengths: Sequence[int], budget: int, overhead: int = BATCH_OVERHEAD_TOKENS) -> list[list[int]]:
    """Group sequences into batches of similar length, each padded to at most ``budget`` tokens.

    Sequences are sorted by length and cut into consecutive runs by dynamic programming that
    minimises padded tokens plus ``overhead`` per batch, so a long tail no longer pads a whole
    budget-sized batch. A sequence longer than ``budget`` gets a batch of its own.

    Returns:
        Lists of indices into ``lengths``, shortest sequences first.
    """
    n = len(lengths)
    if n == 0:
        return []
    order = np.argsort(np.asarray(lengths), kind="stable")
    sorted_lengths = np.asarray(lengths)[order]
    best = np.zeros(n + 1)  # best[j]: cost of batching the j shortest sequences
    start = np.zeros(n + 1, dtype=np.int64)  # first index of the last batch in that plan
    for j in range(1, n + 1):
        width = int(sorted_lengths[j - 1])
        lo = max(0, j - max(1, budget // width))
        firsts = np.arange(lo, j)
        cost = best[lo:j] + (j - firsts) * width
        k = int(np.argmin(cost))
        best[j] = cost[k] + overhead
        start[j] = lo + k
    batches: list[list[int]] = []
    j = n
    while j > 0:
        batches.append(order[start[j] : j].tolist())
        j = int(start[j])
    return batches[::-1]
