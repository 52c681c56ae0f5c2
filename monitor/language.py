"""Which posts the model may read: language identification with ``langid``.

The model is trained on English text, so posts in other languages are stored as skipped rather
than scored. A post's own language tag (set by the source: a feed's ``<language>``, a platform's
``lang`` field) is trusted; untagged posts are identified with ``langid`` (Lui & Baldwin 2012),
with two changes that matter for short social-media text:

* identification is limited to :data:`CANDIDATES`, languages common on social media, so that a
  three-word English post is not taken for Luxembourgish or Volapük;
* the supported languages get a prior of ``prior`` nats (log-odds) over the others. langid's
  scores are sums of per-feature log-likelihoods and grow with the text, so the prior decides
  only texts too short to carry evidence, and a whole foreign sentence still wins.

Measured on English datasets (``../shared/datasets``; identification on the text alone) with
the candidates and prior 10: 2 of 5,426 GoEmotions dev comments and 1 of 2,000 CARER validation
tweets are taken for another language (0.04%, 0.05%), against 2.8% and 1.6% for plain
langid on the same candidates; 48 of 48 short foreign sentences of our own in 11 languages
are still skipped (smallest margin 15 nats). On myPersonality statuses 1.5% are skipped, most
of them really Spanish, French, Norwegian or Cebuano. The price is paid by very short foreign
posts: of 39 of our own with 3 to 6 words, 9 pass as English with prior 10 (7 with 8, 6 with 6,
3 with 4, where English losses rise to 0.07%, 0.24% and 0.46% on GoEmotions). For a monitor,
losing an English post is worse than scoring a short foreign one, hence the default.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence

import numpy as np
from langid.langid import LanguageIdentifier, model

from monitor.errors import ConfigError

#: Languages identification chooses among (ISO 639-1): the supported ones are always added.
CANDIDATES: tuple[str, ...] = (
    "en", "de", "fr", "es", "it", "pt", "nl", "sv", "da", "no", "fi", "pl", "cs", "sk", "hu",
    "ro", "ru", "uk", "bg", "el", "tr", "ar", "fa", "he", "hi", "bn", "ur", "ja", "zh", "ko",
    "id", "ms", "vi", "th", "tl", "ca", "hr", "sr", "sl", "lt", "lv", "et",
)
# Tags that say "no language" or "unknown": identify the text instead.
_UNKNOWN_TAGS = frozenset({"", "und", "zxx", "mul", "mis", "unknown", "qme", "qht", "qam", "qst"})
# URLs, @mentions, #hashtags and placeholders such as [NAME] or *PROPNAME* say nothing about the
# language of the sentence around them.
_NOISE = re.compile(r"https?://\S+|www\.\S+|[@#][\w.]+|\[[A-Z]+\]|\*[A-Z]+\*")
_KEEP_PUNCT = frozenset("'’-.,!?")


def clean_for_identification(text: str) -> str:
    """The text with URLs, mentions, hashtags, emoji, digits and symbols replaced by spaces."""
    text = _NOISE.sub(" ", text)
    return "".join(
        ch if unicodedata.category(ch)[0] in "LZ" or ch in _KEEP_PUNCT else " " for ch in text
    )


def primary_subtag(tag: str | None) -> str | None:
    """``"en-US"`` -> ``"en"``; None for a missing or "unknown" tag."""
    if tag is None:
        return None
    primary = tag.strip().replace("_", "-").split("-")[0].lower()
    return None if primary in _UNKNOWN_TAGS else primary


class LanguageFilter:
    """Decides per post whether the model may score it.

    Args:
        languages: Supported ISO 639-1 codes, e.g. ``("en",)``.
        prior: Extra log-odds in nats for the supported languages in identification.

    Raises:
        ConfigError: A supported language is not one langid knows.
    """

    def __init__(self, languages: Sequence[str], prior: float = 10.0) -> None:
        self.languages = frozenset(lang.lower() for lang in languages)
        self._identifier = LanguageIdentifier.from_modelstring(model, norm_probs=False)
        known = set(self._identifier.nb_classes)
        unknown = sorted(self.languages - known)
        if unknown:
            raise ConfigError(
                f"scoring.languages has {unknown!r}, which langid does not identify: "
                f"use ISO 639-1 codes such as {', '.join(sorted(known)[:8])}, ..."
            )
        self._identifier.set_languages(sorted(set(CANDIDATES) | self.languages))
        classes = list(self._identifier.nb_classes)
        self._classes = classes
        self._bias = np.array([prior if c in self.languages else 0.0 for c in classes])

    def identify(self, text: str) -> str | None:
        """The most likely language of ``text``, or None when it has no letters at all."""
        cleaned = clean_for_identification(text)
        if not any(ch.isalpha() for ch in cleaned):
            return None
        return self._classes[int(np.argmax(self._scores(cleaned) + self._bias))]

    def _scores(self, text: str) -> np.ndarray:
        """langid's naive-Bayes class scores, summed over the text's features only.

        The same numbers as ``nb_classprobs(instance2fv(text))`` (byte n-gram counts from
        langid's tokeniser automaton, times the log-probability table), but a post touches a
        few hundred of the ~7,500 features, so only their rows are multiplied: about 100 µs
        less per post, which the model's threads get back.
        """
        ident = self._identifier
        nextmove, outputs = ident.tk_nextmove, ident.tk_output
        state = 0
        visits: dict[int, int] = {}
        for byte in text.encode("utf-8"):
            state = nextmove[(state << 8) + byte]
            visits[state] = visits.get(state, 0) + 1
        counts: dict[int, int] = {}
        for st, n in visits.items():
            for feature in outputs.get(st, ()):
                counts[feature] = counts.get(feature, 0) + n
        if not counts:
            return np.asarray(ident.nb_pc, dtype=np.float64)
        features = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        weights = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        return weights @ ident.nb_ptc[features] + ident.nb_pc

    def skip_reason(self, text: str, tag: str | None = None) -> str | None:
        """None when the model may score the post, else the reason, e.g. ``"language:de"``.

        Args:
            text: The post's text.
            tag: The language the source gave the post, if any (trusted when known).
        """
        language = primary_subtag(tag) or self.identify(text)
        if language is None or language in self.languages:
            return None  # no letters (emoji, numbers): nothing says it is not supported
        return f"language:{language}"


@functools.lru_cache(maxsize=8)
def language_filter(languages: tuple[str, ...], prior: float) -> LanguageFilter:
    """A shared :class:`LanguageFilter` (building one decodes langid's model: about 1.5 s)."""
    return LanguageFilter(languages, prior)
