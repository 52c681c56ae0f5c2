"""Korean posts through the score stage, the score frame, trends and alert rules (SQLite, and
PostgreSQL with ``--backend postgres``), with a tiny hand-built Korean network."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from tiny_model import add_tiny_korean, build_tiny_model

from monitor import trends
from monitor.alerts import rules as alert_rules
from monitor.model.predictor import Predictor, load_model
from monitor.score.stage import run_score
from monitor.settings import AlertRules, LevelRule, Settings
from monitor.store import posts as store
from monitor.store import scores
from monitor.store.engine import session_scope
from monitor.store.schema import SCORE_KOREAN, Author, Score

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
# Our own posts. The Korean author writes happy posts for days, then sad and worried ones; the
# English author writes plain English; the mixed author writes both, and English with a Korean word.
HAPPY = "오랜만에 가족과 여행을 가서 기뻐 😊"
SAD = [
    "오늘 너무 슬퍼서 눈물이 났어",
    "요즘 혼자라는 생각에 외롭고 슬퍼 https://example.com",
    "내일 면접이 있어서 걱정돼 ㅠ",
]
ENGLISH = ["i am so happy today", "we feel the joy of the holidays", "my friends make me smile"]
MIXED = ["오늘 meeting 너무 당황했어 😳", "I love 김치 so much", "맛있는 저녁을 먹어서 행복해 lol"]


@pytest.fixture(scope="module")
def predictor(tmp_path_factory: pytest.TempPathFactory) -> Predictor:
    path = build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", window=32, distress=True)
    return load_model(add_tiny_korean(path), device="cpu", precision="fp32")


@pytest.fixture(scope="module")
def english_only(tmp_path_factory: pytest.TempPathFactory) -> Predictor:
    return load_model(build_tiny_model(tmp_path_factory.mktemp("en") / "model", window=32), device="cpu")


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(EMOMON_SCORING_CHUNK_SIZE="8")


def add_posts(engine: Engine, source: str, author: str, texts: Sequence[str], *, first: int = 0) -> list[int]:
    """Store one author's posts, 12 hours apart from T0 + first * 12 h; returns their ids."""
    with session_scope(engine) as s:
        src = store.get_or_create_source(s, name=source, kind="jsonl", location=f"{source}.jsonl")
        person = s.scalars(select(Author).where(Author.pseudonym == author)).one_or_none()
        if person is None:
            person = Author(platform="test", handle=f"handle-{author}", pseudonym=author)
            s.add(person)
            s.flush()
        rows = [
            {
                "source_id": src.id,
                "external_id": f"{author}-{first + i}",
                "author_id": person.id,
                "created_at": T0 + timedelta(hours=12 * (first + i)),
                "text": text,
                "url": None,
                "language": None,
                "content_hash": hashlib.md5(f"{author}{first + i}{text}".encode()).hexdigest(),
                "ingested_at": T0,
            }
            for i, text in enumerate(texts)
        ]
        store.insert_posts(s, rows)
        found = store.existing_posts(s, src.id, [r["external_id"] for r in rows])
    return [found[r["external_id"]][0] for r in rows]


def test_korean_posts_are_scored_stored_and_read_back(engine: Engine, settings: Settings, predictor: Predictor) -> None:
    korean = add_posts(engine, "feed-ko", "a-korean000001", [HAPPY, *SAD])
    english = add_posts(engine, "feed-en", "a-english00001", ENGLISH)
    report = run_score(engine, settings, predictor=predictor)
    assert (report.scored, report.korean, report.skipped) == (7, 4, 0)
    with session_scope(engine) as s:
        rows = {row.post_id: row for row in s.scalars(select(Score))}
        frame = scores.read_scores(s)
    for pid in korean:
        row = rows[pid]
        assert (row.status, row.language, row.probs, row.distress) == ("scored", "ko", None, None)
        assert row.korean is not None and len(row.korean) == 2 * len(SCORE_KOREAN)
    for pid in english:
        assert rows[pid].language == "en" and rows[pid].korean is None and rows[pid].probs is not None
    by_post = {r["post_id"]: r for r in frame.to_dicts()}
    happy, sad = by_post[korean[0]], by_post[korean[1]]
    assert happy["language"] == "ko" and happy["goemo_sadness"] is None and happy["carer_joy"] is None
    assert sum(happy[f"ko_{label}"] for label in SCORE_KOREAN) == pytest.approx(1.0, abs=5e-3)
    assert happy["ko_joy"] > 0.9 and sad["ko_sadness"] > 0.9
    assert sad["depression_index"] > 0.9 > 0.1 > happy["depression_index"]
    assert sad["distress"] == sad["depression_index"]  # the Korean person signal beside English distress
    assert by_post[english[0]]["distress"] == rows[english[0]].distress
    assert by_post[english[0]]["ko_joy"] is None and by_post[english[0]]["goemo_joy"] is not None
    # Means over a mixed frame leave out the network that did not read a post (nulls, not NaN).
    means = frame.select("goemo_joy", "ko_joy").mean().row(0)
    assert all(m == m and m is not None for m in means)


def test_without_the_korean_network_korean_posts_are_skipped_and_counted(
    engine: Engine, settings: Settings, english_only: Predictor
) -> None:
    add_posts(engine, "feed-ko", "a-korean000001", SAD)
    add_posts(engine, "feed-en", "a-english00001", ENGLISH)
    report = run_score(engine, settings, predictor=english_only)
    assert (report.scored, report.korean, report.skipped) == (3, 0, 3)
    with session_scope(engine) as s:
        frame = scores.read_scores(s)
    assert frame["distress"].null_count() == frame.height  # no distress head: the index is the signal
    with session_scope(engine) as s:
        reasons = sorted(row.reason or "" for row in s.scalars(select(Score)))
    assert reasons == ["", "", "", "language:ko", "language:ko", "language:ko"]


def test_a_mixed_language_source_goes_where_each_post_belongs(
    engine: Engine, settings: Settings, predictor: Predictor
) -> None:
    ids = add_posts(
        engine, "feed-mixed", "a-mixed0000001", [*MIXED, "Ich bin heute so müde und traurig, alles ist mir zu viel."]
    )
    report = run_score(engine, settings, predictor=predictor)
    assert (report.scored, report.korean, report.skipped) == (3, 2, 1)
    with session_scope(engine) as s:
        rows = {row.post_id: row for row in s.scalars(select(Score))}
        frame = scores.read_scores(s, source="feed-mixed")
    assert [rows[i].language for i in ids] == ["ko", "en", "ko", None]
    assert rows[ids[3]].reason == "language:de"
    daily = trends.aggregate(frame, level="source", by="day", columns=["depression_index"])
    assert daily["posts"].sum() == 3


def test_a_korean_author_trends_and_raises_an_alert(engine: Engine, settings: Settings, predictor: Predictor) -> None:
    add_posts(engine, "feed-ko", "a-korean000001", [f"{HAPPY} {i}" for i in range(14)])
    sad = [f"{SAD[i % 3]} {i}" for i in range(6)]
    add_posts(engine, "feed-ko", "a-korean000001", sad, first=14)
    add_posts(engine, "feed-en", "a-english00001", [f"{ENGLISH[i % 3]} {i}" for i in range(20)])
    run_score(engine, settings, predictor=predictor)
    with session_scope(engine) as s:
        frame = scores.read_scores(s, probs=False)
    korean = frame.filter(frame["author"] == "a-korean000001")
    assert korean["language"].unique().to_list() == ["ko"]
    daily = trends.aggregate(korean, level="author", by="day", columns=["depression_index"])
    assert daily["mean_depression_index"][0] < 0.1 < 0.9 < daily["mean_depression_index"][-1]
    assert trends.person_signal(frame) == "distress"
    rules = AlertRules().model_copy(update={"level": LevelRule(threshold=0.6, window_days=3, min_posts=3)})
    candidates = alert_rules.evaluate(frame, rules)
    # (The English author's signal is the tiny model's random distress head: not asserted here.)
    level = [c for c in candidates if c.rule == "level" and c.subject == "a-korean000001"]
    assert len(level) == 1 and level[0].trigger_at >= T0 + timedelta(hours=12 * 14)  # once the sad posts begin
