"""Batching: length-sorted token budgets and deterministic training batches."""

from __future__ import annotations

from monitor.model.batching import length_sorted_batches, pad, training_batch


def test_length_sorted_batches_respect_the_token_budget_and_cover_everything():
    lengths = [5, 50, 7, 3, 48, 20, 21, 6]
    batches = list(length_sorted_batches(lengths, max_tokens=60))
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for b in batches:
        assert max(lengths[i] for i in b) * len(b) <= 60 or len(b) == 1


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
