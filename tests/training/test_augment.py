"""Style augmentation: deterministic under a seed, restyles without changing the words' meaning."""

from __future__ import annotations

import numpy as np

from monitor.training.augment import add_typo, augment_batch, restore_casing, style_augment

TEXTS = ["i feel like im not wanted here", "i dont know why i feel so happy today", "i am scared of tomorrow"]


def test_augmentation_is_deterministic_under_a_seed_and_changes_with_it() -> None:
    first = [augment_batch(TEXTS, seed=13, step=s, probability=1.0) for s in range(20)]
    again = [augment_batch(TEXTS, seed=13, step=s, probability=1.0) for s in range(20)]
    other = [augment_batch(TEXTS, seed=14, step=s, probability=1.0) for s in range(20)]
    assert first == again
    assert first != other
    assert len({t for batch in first for t in batch}) > len(TEXTS)  # steps see different styles


def test_probability_zero_keeps_the_text_and_one_restyles_most() -> None:
    assert augment_batch(TEXTS, seed=1, step=0, probability=0.0) == TEXTS
    changed = sum(
        a != b for s in range(30) for a, b in zip(augment_batch(TEXTS, seed=1, step=s, probability=1.0), TEXTS)
    )
    assert changed > 0.7 * 30 * len(TEXTS)


def test_casing_restores_i_and_contractions() -> None:
    rng = np.random.default_rng(0)
    out = restore_casing("i feel like im not wanted and i dont care", rng)
    assert out.lower().startswith("i feel") and "I'm" in out.replace("I'M", "I'm") and "don't" in out.lower()


def test_typo_swaps_or_doubles_one_letter_inside_one_word() -> None:
    rng = np.random.default_rng(3)
    text = "terrible weather tonight"
    for _ in range(20):
        out = add_typo(text, rng)
        if len(out) == len(text):  # a swap: the same letters, in the same words
            assert sorted(out) == sorted(text) and len(out.split(" ")) == 3
        else:  # a doubled letter
            assert len(out) == len(text) + 1 and any(out[:i] + out[i + 1 :] == text for i in range(len(out)))


def test_style_augment_keeps_the_original_words() -> None:
    rng = np.random.default_rng(5)
    for _ in range(50):
        out = style_augment("i am so sad today", rng).lower()
        assert "sad" in out or "sda" in out or "sadd" in out or "ssad" in out
