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

Korean is decided by script before any of this (:mod:`monitor.model.routing`): a post whose
words are mostly Hangul is ``ko`` whatever its tag says, and a post that is not is never ``ko``
(a ``ko`` tag on other text is not trusted; such text is identified without its Hangul words and
without Korean among the answers: "I love 김치 so much" is English).
Korean posts are scored when ``ko`` is a supported language and the model has the Korean network.

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
from monitor.model.routing import KOREAN, is_korean, without_hangul

#: Languages identification chooses among (ISO 639-1): the supported ones are always added.
CANDIDATES: tuple[str, ...] = (
    "en",
    "de",
    "fr",
    "es",
    "it",
    "pt",
    "nl",
    "sv",
    "da",
    "no",
    "fi",
    "pl",
    "cs",
    "sk",
    "hu",
    "ro",
    "ru",
    "uk",
    "bg",
    "el",
    "tr",
    "ar",
    "fa",
    "he",
    "hi",
    "bn",
    "ur",
    "ja",
    "zh",
    "ko",
    "id",
    "ms",
    "vi",
    "th",
    "tl",
    "ca",
    "hr",
    "sr",
    "sl",
    "lt",
    "lv",
    "et",
)
# Tags that say "no language" or "unknown": identify the text instead.
_UNKNOWN_TAGS = frozenset({"", "und", "zxx", "mul", "mis", "unknown", "qme", "qht", "qam", "qst"})
# URLs, @mentions, #hashtags and placeholders such as [NAME] or *PROPNAME* say nothing about the
# language of the sentence around them.
_NOISE = re.compile(r"https?://\S+|www\.\S+|[@#][\w.]+|\[[A-Z]+\]|\*[A-Z]+\*")
_KEEP_PUNCT = frozenset("'’-.,!?")
# The same rule for ASCII text: letters, the space and the kept punctuation stay.
_ASCII_CLEAN = str.maketrans(
    {chr(c): " " for c in range(128) if not (chr(c).isalpha() or chr(c) == " " or chr(c) in _KEEP_PUNCT)}
)
_LETTER = re.compile(r"[^\W\d_]")
#: Below this many texts still being walked, the batch walk finishes them one by one.
_SCALAR_TAIL = 16


def clean_for_identification(text: str) -> str:
    """The text with URLs, mentions, hashtags, emoji, digits and symbols replaced by spaces."""
    text = _NOISE.sub(" ", text)
    if text.isascii():  # most posts: one C-level pass instead of a category lookup per character
        return text.translate(_ASCII_CLEAN)
    return "".join(ch if unicodedata.category(ch)[0] in "LZ" or ch in _KEEP_PUNCT else " " for ch in text)


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
        # Korean is decided by script, not by langid's prior.
        self._bias = np.array([prior if c in self.languages and c != KOREAN else 0.0 for c in classes])
        self._bias_without_korean = np.where(np.asarray(classes) == KOREAN, -np.inf, self._bias)
        ident = self._identifier
        self._nextmove = np.asarray(ident.tk_nextmove, dtype=np.int64)
        self._class_prior = np.asarray(ident.nb_pc, dtype=np.float64)
        # Per automaton state, the summed log-probability rows of the features it emits.
        ptc = np.asarray(ident.nb_ptc, dtype=np.float64)
        self._state_scores = np.zeros((len(self._nextmove) >> 8, ptc.shape[1]))
        for state, features in ident.tk_output.items():
            self._state_scores[state] = ptc[list(features)].sum(axis=0)

    def identify(self, text: str) -> str | None:
        """The most likely language of ``text``, or None when it has no letters at all."""
        return self.identify_many([text])[0]

    def identify_many(self, texts: Sequence[str], *, korean: bool = True) -> list[str | None]:
        """:meth:`identify` for many texts at once (the score stage's chunks); ``korean=False``
        leaves Korean out of the answers (texts that are not mostly Hangul, see :meth:`route`)."""
        cleaned = [clean_for_identification(text) for text in texts]
        has_letters = [_LETTER.search(text) is not None for text in cleaned]
        scores = self._scores_many([text for text, ok in zip(cleaned, has_letters) if ok])
        bias = self._bias if korean else self._bias_without_korean
        best = iter(np.argmax(scores + bias, axis=1).tolist())
        return [self._classes[next(best)] if ok else None for ok in has_letters]

    def _scores_many(self, texts: Sequence[str]) -> np.ndarray:
        """langid's naive-Bayes class scores [N, classes] of cleaned texts.

        The same numbers as ``nb_classprobs(instance2fv(text))``: langid counts byte n-gram
        features with a tokeniser automaton (the features a state emits, each time the
        automaton enters it) and multiplies the counts by a log-probability table. Summing the
        table rows of each state's features once, at load, turns that into one row per state
        entered. The automaton walks all texts together, one byte position per step, so a
        chunk costs a few hundred array operations instead of a Python step per byte.
        """
        out = np.tile(self._class_prior, (len(texts), 1))
        if not texts:
            return out
        encoded = [text.encode("utf-8") for text in texts]
        lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        order = np.argsort(-lengths, kind="stable")  # longest first: the texts still walking
        lengths = lengths[order]  # are always a prefix
        flat = np.frombuffer(b"".join(encoded[i] for i in order), dtype=np.uint8).astype(np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        state = np.zeros(len(texts), dtype=np.int64)
        totals = np.zeros((len(texts), out.shape[1]))
        walking = int(np.count_nonzero(lengths))
        step = 0
        while walking >= _SCALAR_TAIL:
            state[:walking] = self._nextmove[(state[:walking] << 8) + flat[offsets[:walking] + step]]
            totals[:walking] += self._state_scores[state[:walking]]
            step += 1
            while walking and lengths[walking - 1] <= step:
                walking -= 1
        for row in range(walking):  # a few long texts left: finish them one by one
            st = int(state[row])
            for byte in encoded[order[row]][step:]:
                st = int(self._nextmove[(st << 8) + byte])
                totals[row] += self._state_scores[st]
        out[order] += totals
        return out

    def skip_reason(self, text: str, tag: str | None = None) -> str | None:
        """None when the model may score the post, else the reason, e.g. ``"language:de"``.

        Args:
            text: The post's text.
            tag: The language the source gave the post, if any (trusted when known).
        """
        return self.skip_reasons([text], [tag])[0]

    def skip_reasons(self, texts: Sequence[str], tags: Sequence[str | None]) -> list[str | None]:
        """:meth:`skip_reason` for many posts; only posts without a known tag are identified."""
        return [reason for _, reason in self.route(texts, tags)]

    def route(self, texts: Sequence[str], tags: Sequence[str | None]) -> list[tuple[str | None, str | None]]:
        """(language, skip reason) of each post: the language is ``ko`` for Hangul-majority posts,
        else the known tag or langid's answer (None: no letters); the reason is None when the
        model may score the post (no letters count as supported: nothing says otherwise)."""
        korean = [is_korean(text) for text in texts]
        languages: list[str | None] = [
            KOREAN if hangul else _not_korean(primary_subtag(tag)) for tag, hangul in zip(tags, korean)
        ]
        untagged = [i for i, language in enumerate(languages) if language is None and not korean[i]]
        for i, language in zip(
            untagged, self.identify_many([without_hangul(texts[i]) for i in untagged], korean=False)
        ):
            languages[i] = language
        return [
            (language, None if language is None or self._reads(language, hangul) else f"language:{language}")
            for language, hangul in zip(languages, korean)
        ]

    def _reads(self, language: str, hangul: bool) -> bool:
        """Whether a post of ``language`` is scored (Korean only when written in Hangul)."""
        return language in self.languages and (language != KOREAN or hangul)


def _not_korean(tag: str | None) -> str | None:
    """A ``ko`` tag on a post that is not Hangul-majority is not trusted (None: identify it)."""
    return None if tag == KOREAN else tag


@functools.lru_cache(maxsize=8)
def language_filter(languages: tuple[str, ...], prior: float) -> LanguageFilter:
    """A shared :class:`LanguageFilter` (building one decodes langid's model: about 1.5 s)."""
    return LanguageFilter(languages, prior)
