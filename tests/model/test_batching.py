"""Batching: the batch planner's token budgets and deterministic training batches."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from monitor.model.batching import pad, plan_batches, training_batch


def test_pad_masks_padding():
    ids, mask = pad([[1, 2, 3], [4]], pad_id=0)
    assert ids.tolist() == [[1, 2, 3], [4, 0, 0]] and mask.tolist() == [[1, 1, 1], [1, 0, 0]]


def test_training_batches_are_a_pure_function_and_cover_an_epoch():
    lengths = list(range(100))
    first = [training_batch(100, 10, b, seed=1, task_index=0, lengths=lengths) for b in range(10)]
    again = [training_batch(100, 10, b, seed=1, task_index=0, lengths=lengths) for b in range(10)]
    assert first == again
    assert sorted(i for b in first for i in b) == list(range(100))
    spreads = [max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in first]
    assert max(spreads) < 50  # examples of similar length share a batch


def padded(lengths: Sequence[int], batches: list[list[int]]) -> int:
    return sum(max(lengths[i] for i in b) * len(b) for b in batches)


def greedy_batches(lengths: Sequence[int], budget: int) -> list[list[int]]:
    """The baseline planner: sort by length, fill each batch to the budget."""
    out: list[list[int]] = []
    for i in np.argsort(np.asarray(lengths), kind="stable"):
        if out and max(lengths[j] for j in [*out[-1], i]) * (len(out[-1]) + 1) <= budget:
            out[-1].append(int(i))
        else:
            out.append([int(i)])
    return out


def test_plan_batches_covers_every_sequence_within_the_budget() -> None:
    rng = np.random.default_rng(0)
    lengths = [int(x) for x in np.clip(rng.lognormal(3.0, 0.6, 1024), 3, 128)]  # a long tail
    batches = plan_batches(lengths, 8192)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert all(max(lengths[i] for i in b) * len(b) <= 8192 for b in batches)
    widths = [max(lengths[i] for i in b) for b in batches]
    assert widths == sorted(widths)
    greedy = greedy_batches(lengths, 8192)
    real = sum(lengths)
    assert real / padded(lengths, batches) > 0.85 and real / padded(lengths, greedy) < 0.75
    assert plan_batches([], 4096) == [] and plan_batches([200, 3], 128) == [[1], [0]]


def test_pad_keeps_each_rows_tokens_in_order_and_handles_an_empty_batch():
    rows = [[7, 8, 9, 10], [], [1], [2, 3]]
    ids, mask = pad(rows, pad_id=-1)
    assert ids.tolist() == [[7, 8, 9, 10], [-1] * 4, [1, -1, -1, -1], [2, 3, -1, -1]]
    assert mask.sum(1).tolist() == [4, 0, 1, 2] and ids.dtype == mask.dtype
    ids, mask = pad([], pad_id=0)
    assert ids.shape == (0, 0) and mask.shape == (0, 0)
