"""Which model reads a post, by script: Hangul-majority posts go to the Korean network.

Korean is written in Hangul, which no other language uses, so a post's script answers the
question with no statistics at all, however short the post. A post is Korean when at least as
many of its words hold Hangul as hold other letters (words are whitespace-separated, after URLs,
mentions and hashtags are dropped; emoji, digits and symbols carry no letters and do not count):
"오늘 meeting 너무 힘들었어" is Korean (3 words to 1), "I love 김치 so much" is not (1 to 4),
and a tie ("정말 sad") is Korean; a post without Hangul words never is.
Counting words rather than letters keeps a syllable block (one letter here, two or three sounds)
from being outweighed by the letters of an English word.
"""

from __future__ import annotations

import re

KOREAN = "ko"
# Hangul syllables, jamo, compatibility jamo, jamo extended A and B.
_HANGUL = re.compile("[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\ud7b0-\ud7ff]")
_LETTER = re.compile(r"[^\W\d_]")
_NOISE = re.compile(r"https?://\S+|www\.\S+|[@#][\w.]+")


def hangul_words(text: str) -> tuple[int, int]:
    """(words holding Hangul, other words holding letters) of ``text``."""
    korean = other = 0
    for word in _NOISE.sub(" ", text).split():
        if _HANGUL.search(word):
            korean += 1
        elif _LETTER.search(word):
            other += 1
    return korean, other


def is_korean(text: str) -> bool:
    """Whether ``text`` goes to the Korean network (see the module docstring)."""
    if not _HANGUL.search(text):  # most posts: one scan, no split
        return False
    korean, other = hangul_words(text)
    return korean > 0 and korean >= other


def without_hangul(text: str) -> str:
    """``text`` with its Hangul replaced by spaces: what identifies the language of a post that
    is not mostly Korean (its few Korean words would read as Chinese or Japanese bytes)."""
    return _HANGUL.sub(" ", text)
