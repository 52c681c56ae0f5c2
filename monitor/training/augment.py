"""Style augmentation: make CARER's lower-cased, punctuation-free tweets look like real posts.

CARER texts read "i feel like im not wanted"; real posts have casing, apostrophes, punctuation,
@mentions, links, hashtags, emoji and typos. Training on restyled copies teaches the CARER head
the emotion rather than the formatting. Every choice comes from the generator passed in, so a
seeded generator gives the same text every time.
"""

from __future__ import annotations

import re

import numpy as np

CONTRACTIONS = {
    "im": "I'm",
    "ive": "I've",
    "dont": "don't",
    "cant": "can't",
    "didnt": "didn't",
    "doesnt": "doesn't",
    "isnt": "isn't",
    "wasnt": "wasn't",
    "wouldnt": "wouldn't",
    "couldnt": "couldn't",
    "shouldnt": "shouldn't",
    "havent": "haven't",
    "arent": "aren't",
    "youre": "you're",
    "thats": "that's",
    "theyre": "they're",
    "hasnt": "hasn't",
    "werent": "weren't",
}
MENTIONS = ("@sam", "@jo_k", "@alex", "@the_river", "@mia22", "@nightowl")
HASHTAGS = ("#life", "#mood", "#tbt", "#mondays", "#thoughts", "#real", "#ugh", "#blessed")
URLS = ("https://t.co/x7Gq2", "http://example.com/p/1", "https://blog.example.org/today", "bit.ly/3xYz")
# Neutral decorations only: an emoji or emoticon that carries an emotion would contradict the label.
EMOJI = ("✨", "👀", "💭", "🙃", "🤷", "📷", "☕", "🎧")
ENDINGS = (".", "!", "...", "!!", "?", "")
_WORD = re.compile(r"[A-Za-z']+")


def restore_casing(text: str, rng: np.random.Generator) -> str:
    """Sentence case, a capital I, apostrophes back in common contractions; sometimes ALL CAPS."""
    words = [CONTRACTIONS.get(w, "I" if w == "i" else w) for w in text.split(" ")]
    out = " ".join(words)
    if out:
        out = out[0].upper() + out[1:]
    if rng.random() < 0.05:
        out = out.upper()
    return out


def add_typo(text: str, rng: np.random.Generator) -> str:
    """Swap two neighbouring letters or double one, inside one word of four letters or more."""
    spans = [m.span() for m in _WORD.finditer(text) if m.end() - m.start() >= 4]
    if not spans:
        return text
    start, end = spans[int(rng.integers(len(spans)))]
    i = int(rng.integers(start, end - 1))
    if rng.random() < 0.5:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return text[:i] + text[i] + text[i:]


def _pick(options: tuple[str, ...], rng: np.random.Generator) -> str:
    return options[int(rng.integers(len(options)))]


def style_augment(text: str, rng: np.random.Generator) -> str:
    """One restyled copy of `text`; each transformation is applied with its own probability."""
    out = restore_casing(text, rng) if rng.random() < 0.8 else text
    if rng.random() < 0.3:
        out = add_typo(out, rng)
    if rng.random() < 0.6:
        out = out + _pick(ENDINGS, rng)
    if rng.random() < 0.2:
        out = f"{_pick(MENTIONS, rng)} {out}"
    if rng.random() < 0.15:
        out = f"{out} {_pick(HASHTAGS, rng)}"
    if rng.random() < 0.1:
        out = f"{out} {_pick(URLS, rng)}"
    if rng.random() < 0.2:
        out = f"{out} {_pick(EMOJI, rng)}"
    return out


def augment_batch(texts: list[str], *, seed: int, step: int, probability: float) -> list[str]:
    """Restyle each text of one training step with `probability`, fixed by (seed, step, position)."""
    out = []
    for position, text in enumerate(texts):
        rng = np.random.default_rng([seed, step, position, 7])
        out.append(style_augment(text, rng) if rng.random() < probability else text)
    return out
