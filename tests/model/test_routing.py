"""Routing by script (monitor/model/routing.py) and its place in the language check (monitor/score/language.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.model.routing import hangul_words, is_korean
from monitor.score.language import LanguageFilter

DATASETS = Path(__file__).resolve().parents[3] / "shared" / "datasets"

# Posts we wrote: Korean, Korean with English words, emoji and links, English with a Korean word.
KOREAN = [
    "오늘 너무 슬퍼",
    "힘들다",
    "ㅠㅠ 진짜 싫어",
    "오늘 meeting 너무 힘들었어 😭",
    "새벽 3시인데 잠이 안 와... https://example.com/sleep #insomnia",
    "@friend 고마워 정말 🙏🙏",
    "회사에서 PPT 발표 망쳤어 ㅋㅋ",
    "정말 sad",  # a tie: the Korean network reads it
]
NOT_KOREAN = [
    "I love 김치 so much",
    "had bibimbap at 비빔밥 house with friends tonight",
    "i feel so alone tonight",
    "😭😭😭",
    "https://example.com/오늘",  # a link is not text
    "Je me sens seule ce soir.",
    "今日はとても疲れて悲しい。",
]


@pytest.mark.parametrize("text", KOREAN)
def test_korean_posts_go_to_korean(text: str) -> None:
    assert is_korean(text)


@pytest.mark.parametrize("text", NOT_KOREAN)
def test_other_posts_do_not(text: str) -> None:
    assert not is_korean(text)


def test_words_are_counted_not_letters() -> None:
    assert hangul_words("오늘 meeting 너무 힘들었어") == (3, 1)
    assert hangul_words("I love 김치 so much") == (1, 4)
    assert hangul_words("#해시태그 @사용자 https://x.kr/한글 123 🙂") == (0, 0)


@pytest.fixture(scope="module")
def both() -> LanguageFilter:
    return LanguageFilter(("en", "ko"))


@pytest.fixture(scope="module")
def english() -> LanguageFilter:
    return LanguageFilter(("en",))


def test_route_gives_each_post_its_language_and_reason(both: LanguageFilter, english: LanguageFilter) -> None:
    texts = [
        "오늘 meeting 너무 힘들었어 😭",
        "I love 김치 so much",
        "Ich bin heute so müde und traurig, alles ist mir zu viel.",
        "🙂",
    ]
    assert both.route(texts, [None] * 4) == [("ko", None), ("en", None), ("de", "language:de"), (None, None)]
    assert english.route(texts[:1], [None]) == [("ko", "language:ko")]


def test_script_wins_over_a_tag(both: LanguageFilter) -> None:
    """A Hangul post is Korean whatever its feed says; a "ko" tag on Latin text is not trusted."""
    assert both.route(["오늘 너무 슬퍼"], ["en"]) == [("ko", None)]
    assert both.route(["i am so sad today"], ["ko"]) == [("en", None)]


def _texts(path: Path) -> list[str]:
    return [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.skipif(not DATASETS.is_dir(), reason="../shared/datasets is not here")
def test_korean_test_sentences_go_to_korean_and_carer_posts_do_not(both: LanguageFilter) -> None:
    korean = _texts(DATASETS / "korean_emotion" / "test.jsonl")
    carer = _texts(DATASETS / "carer_emotion" / "test.jsonl")
    routed = [language for language, _ in both.route(korean, [None] * len(korean))]
    assert routed.count("ko") >= 0.99 * len(korean)
    carer_routed = [language for language, _ in both.route(carer, [None] * len(carer))]
    assert carer_routed.count("ko") <= 0.01 * len(carer)
    assert carer_routed.count("en") >= 0.99 * len(carer)
