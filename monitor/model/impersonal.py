"""Impersonal posts: text the author passes on rather than says about themselves.

A retweet of a sad post, a headline with its link, an awareness campaign's hashtags or a quoted
line can be full of distress words without telling anything about the author's own state. The
distress head was trained on people writing about themselves (Dreaddit) and on headlines, but
the structure of such posts (an ``RT @user:`` prefix, a link, a quotation) is plain syntax, so it
is recognised here by rule rather than left for the model to learn from a few examples: the rule
is the same for every casing and style, and a test can state exactly what it does.

:func:`impersonal_reason` names why a post is impersonal (or returns None). The predictor sets
such a post's ``distress`` to 0 and reports the reason; the emotions and the depression index are
left as they are (the post does carry those emotions), so trends still show them.

Rules, in order (a first-person word, such as "I", "me", "my", "I'm", "myself", "we", "us",
"our", keeps a post personal in the last three):

- ``retweet``: the post starts with ``RT @name`` or ``RT:`` (any case), or ends in ``via @name``;
- ``quote``: at least 60% of its letters are inside quotation marks;
- ``link``: it holds a URL and no first-person word (a link title or a headline);
- ``hashtags``: it has two or more hashtags, or one with 60% or more of its words in hashtags,
  and no first-person word (a campaign);
- ``headline``: five or more words, at least 70% of them capitalised, no first-person word.
"""

from __future__ import annotations

import re

_RETWEET = re.compile(r"^\s*(?:RT\s*@\w+|RT\s*:)|\bvia\s+@\w+\s*$", re.IGNORECASE)
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_HASHTAG = re.compile(r"#\w+")
_MENTION = re.compile(r"@\w+")
_WORD = re.compile(r"[^\W\d_][\w'’]*")
_QUOTED = re.compile(r"\"[^\"]+\"|“[^”]+”|«[^»]+»|„[^“”]+[“”]")
_FIRST_PERSON = frozenset(
    {
        "i",
        "me",
        "my",
        "mine",
        "myself",
        "im",
        "i'm",
        "i’m",
        "ive",
        "i've",
        "i’ve",
        "id",
        "i'd",
        "i’d",
        "ill",
        "i'll",
        "i’ll",
        "we",
        "us",
        "our",
        "ours",
        "ourselves",
        "we're",
        "we’re",
        "we've",
        "we’ve",
    }
)


def _letters(text: str) -> int:
    return sum(ch.isalpha() for ch in text)


def has_first_person(text: str) -> bool:
    """Whether ``text`` holds a first-person word (any case)."""
    return any(word.lower() in _FIRST_PERSON for word in _WORD.findall(text))


def impersonal_reason(text: str) -> str | None:
    """Why ``text`` is impersonal (``retweet``, ``quote``, ``link``, ``hashtags``, ``headline``), or None."""
    if _RETWEET.search(text):
        return "retweet"
    letters = _letters(text)
    if letters and _letters("".join(_QUOTED.findall(text))) >= 0.6 * letters:
        return "quote"
    if has_first_person(_URL.sub(" ", text)):
        return None
    if _URL.search(text):
        return "link"
    hashtags = _HASHTAG.findall(text)
    words = _WORD.findall(_HASHTAG.sub(" ", _MENTION.sub(" ", text)))
    if len(hashtags) >= 2 or (hashtags and len(hashtags) >= 0.6 * (len(words) + len(hashtags))):
        return "hashtags"
    if len(words) >= 5 and sum(word[0].isupper() for word in words) >= 0.7 * len(words):
        return "headline"
    return None
