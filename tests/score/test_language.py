"""Language identification for scoring (monitor/language.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from monitor.errors import ConfigError
from monitor.score.language import LanguageFilter, clean_for_identification, language_filter, primary_subtag

DATASETS = Path(__file__).resolve().parents[3] / "shared" / "datasets"

# Our own short English posts, the kind plain langid often takes for another language.
SHORT_ENGLISH = [
    "Can't sleep again",
    "Worst day ever.",
    "Feeling kinda low tonight",
    "best coffee in town",
    "Missed the bus lol",
    "so proud of you!!",
    "Rainy Monday, again.",
    "Who's coming tonight?",
    "ugh my head hurts",
    "New job starts tomorrow!",
    "Call me later?",
    "That game was wild",
    "Back home finally",
    "I give up.",
    "Love this song",
    "brb",
    "omg yes",
    "Thanks!",
    "ok",
    "Nope.",
    "Happy birthday Sam!",
    "miss you mom",
    "gym time",
    "Pizza night!!",
    "so tired",
    "Go team go",
    "hate mondays",
    "Sunday brunch vibes",
    "See you soon",
    "Long day at work",
]
# Our own short foreign posts (3 to 7 words; see the module docstring for shorter ones).
FOREIGN = {
    "de": ["Das ist echt nicht fair.", "Danke an alle für die lieben Wünsche!"],
    "fr": ["Je me sens seule ce soir.", "Il pleut encore, quelle journée pourrie."],
    "it": ["Grazie a tutti per gli auguri, vi voglio bene!"],
    "nl": ["Het regent alweer, wat een rotdag."],
    "pl": ["Znowu pada deszcz, okropny dzień."],
    "tr": ["Bugün çok yorgun ve üzgünüm."],
    "ru": ["Опять дождь, ужасный день."],
    "zh": ["谢谢大家的生日祝福！"],
    "ar": ["أشعر بالحزن الشديد اليوم."],
}


@pytest.fixture(scope="module")
def english() -> LanguageFilter:
    return language_filter(("en",), 10.0)


def test_short_english_is_kept(english: LanguageFilter) -> None:
    lost = [t for t in SHORT_ENGLISH if english.skip_reason(t) is not None]
    assert len(lost) <= 1, lost  # measured: "Pizza night!!" is taken for Italian


@pytest.mark.parametrize("lang,text", [(lang, t) for lang, ts in FOREIGN.items() for t in ts])
def test_foreign_sentences_are_skipped(english: LanguageFilter, lang: str, text: str) -> None:
    assert english.skip_reason(text) == f"language:{lang}"


def test_without_the_prior_short_english_is_lost() -> None:
    """The prior is what keeps short English posts (a guard that the test above means something)."""
    plain = LanguageFilter(["en"], prior=0.0)
    lost = sum(plain.skip_reason(t) is not None for t in SHORT_ENGLISH)
    assert lost >= 4  # measured: 4 of 30


def test_noise_is_removed_before_identification(english: LanguageFilter) -> None:
    cleaned = clean_for_identification("@anna check https://t.co/xyz #mood 😭 [NAME] 2024")
    assert cleaned.split() == ["check"]
    assert english.identify("😭😭 2024 !!!") is None
    assert english.skip_reason("😭😭😭") is None
    assert english.skip_reason("No!!! I love emojis 😎😎😁😁😁😁💖🎉") is None


def test_source_tags(english: LanguageFilter) -> None:
    assert primary_subtag("en-GB") == "en" and primary_subtag("pt_BR") == "pt"
    assert primary_subtag("und") is None and primary_subtag(None) is None and primary_subtag("") is None
    assert english.skip_reason("i am so sad", "de") == "language:de"
    assert english.skip_reason("Je me sens seule ce soir.", "EN") is None
    assert english.skip_reason("Je me sens seule ce soir.", "und") == "language:fr"


def test_several_supported_languages() -> None:
    both = language_filter(("en", "de"), 10.0)
    assert both.skip_reason(FOREIGN["de"][0]) is None
    assert both.skip_reason(FOREIGN["fr"][0]) == "language:fr"


def test_unknown_language_code_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="xx"):
        LanguageFilter(["en", "xx"])


@pytest.mark.skipif(not (DATASETS / "carer_emotion").is_dir(), reason="../shared/datasets is not here")
def test_english_dataset_is_almost_never_skipped(english: LanguageFilter) -> None:
    """CARER validation tweets (English): measured 1 of 2,000 skipped with the default prior."""
    lines = (DATASETS / "carer_emotion" / "validation.jsonl").read_text(encoding="utf-8").splitlines()
    texts = [json.loads(line)["text"] for line in lines]
    skipped = sum(english.skip_reason(t) is not None for t in texts)
    assert skipped / len(texts) < 0.005


@pytest.mark.parametrize(
    "text",
    ["I can't sleep again tonight.", "Das ist ein Test, wirklich.", "これは日本語です", "ok", "a" * 300],
)
def test_sparse_scores_equal_langids_dense_ones(english: LanguageFilter, text: str) -> None:
    ident = english._identifier
    dense = ident.nb_classprobs(ident.instance2fv(text))
    assert english._scores_many([text])[0] == pytest.approx(dense, rel=1e-9, abs=1e-9)


def test_batch_identification_equals_one_text_at_a_time(english: LanguageFilter) -> None:
    # More texts than the scalar tail, of very different lengths, so the batch walk runs.
    texts = [
        *SHORT_ENGLISH,
        *(t for ts in FOREIGN.values() for t in ts),
        "😭😭",
        "12 34",
        "",
        "I can't sleep again tonight. " * 60,
        "Das ist ein Test, wirklich. " * 25,
    ]
    tags = [None] * len(texts)
    tags[0], tags[1] = "de", "und"
    one_by_one = [english.skip_reason(t, tag) for t, tag in zip(texts, tags)]
    assert english.skip_reasons(texts, tags) == one_by_one
    assert one_by_one[0] == "language:de" and one_by_one[-1] == "language:de"
    ident = english._identifier
    cleaned = [clean_for_identification(t) for t in texts]
    dense = [ident.nb_classprobs(ident.instance2fv(t)) for t in cleaned]
    assert english._scores_many(cleaned) == pytest.approx(np.asarray(dense), rel=1e-9, abs=1e-9)


def test_ascii_cleaning_equals_the_general_rule() -> None:
    every_ascii = "".join(chr(c) for c in range(128))
    for text in (every_ascii, every_ascii[::-1], "I'm sad... #tired @bob http://x.y 42 :-( [NAME]"):
        # A non-ASCII character sends the text down the per-character category path.
        assert clean_for_identification(text) + " é" == clean_for_identification(text + " é")
    assert clean_for_identification("a\tb_c1!") == "a b c !"
