"""Tests for monitor.store.alerts against a real SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from scoreframes import T0, score_frame, stream
from sqlalchemy import Engine, func, select

from monitor.alerts import rules as alerts
from monitor.errors import AlertNotFound, EmomonError
from monitor.settings import AlertRules, LevelRule
from monitor.store import alerts as alert_store
from monitor.store.engine import make_engine, session_scope
from monitor.store.schema import Alert, Author, Base, Post, Source

UTC = UTC


@pytest.fixture()
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    Base.metadata.create_all(eng)
    with session_scope(eng) as s:
        src = Source(name="feed-a", kind="jsonl", location="x", paused=False, created_at=T0)
        s.add(src)
        s.add(Author(id=1, platform="p", handle="alice", pseudonym="a-alice000001"))
        s.flush()
        for i in range(1, 101):
            s.add(
                Post(
                    id=i,
                    source_id=src.id,
                    external_id=str(i),
                    author_id=1,
                    created_at=T0 + timedelta(hours=i),
                    text=f"post number {i} " * 30,
                    content_hash=f"{i:032d}",
                    ingested_at=T0,
                )
            )
    yield eng
    eng.dispose()


def candidate(
    post_id: int, *, hours: float = 0, rule: str = "level", subject: str = "a-alice000001"
) -> alerts.AlertCandidate:
    t = T0 + timedelta(hours=hours)
    return alerts.AlertCandidate(
        rule=rule,
        subject_kind="author",
        subject=subject,
        window_start=t - timedelta(days=7),
        window_end=t,
        severity="medium",
        trigger_post_id=post_id,
        trigger_index=post_id,
        trigger_at=t,
        evidence={"post_ids": [post_id], "window_mean": 0.7},
        model_version="test-v1",
    )


COOLDOWN = {"level": timedelta(hours=48)}


def test_insert_then_same_episode_again_inserts_nothing(engine: Engine) -> None:
    with session_scope(engine) as s:
        new = alert_store.insert_candidates(s, [candidate(5, hours=5)], cooldowns=COOLDOWN)
        assert [a.status for a in new] == ["new"]
    with session_scope(engine) as s:
        assert alert_store.insert_candidates(s, [candidate(5, hours=5)], cooldowns=COOLDOWN) == []
        # the same episode seen from a shifted window: another trigger post, within cooldown
        assert alert_store.insert_candidates(s, [candidate(9, hours=9)], cooldowns=COOLDOWN) == []
        # after the cooldown: a new episode
        later = alert_store.insert_candidates(s, [candidate(60, hours=60)], cooldowns=COOLDOWN)
        assert len(later) == 1
        # another rule or subject is not held back by this cooldown
        other = alert_store.insert_candidates(
            s,
            [candidate(6, hours=6, rule="burst"), candidate(7, hours=7, subject="a-bob")],
            cooldowns=COOLDOWN,
        )
        assert len(other) == 2
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(Alert)) == 4
        row = s.scalars(select(Alert).where(Alert.trigger_post_id == 5)).one()
        assert row.trigger_at == T0 + timedelta(hours=5)
        assert row.trigger_at.tzinfo is not None
        assert row.evidence == {"post_ids": [5], "window_mean": 0.7}
        assert row.dedup_key == "level:author:a-alice000001:5"


def test_candidates_in_one_batch_respect_cooldown_among_themselves(engine: Engine) -> None:
    with session_scope(engine) as s:
        new = alert_store.insert_candidates(s, [candidate(30, hours=30), candidate(10, hours=10)], cooldowns=COOLDOWN)
        assert [a.trigger_post_id for a in new] == [10]


def test_evaluate_twice_over_the_store_raises_each_episode_once(engine: Engine) -> None:
    frame = score_frame(stream("a-alice000001", [0.1] * 10 + [0.9] * 10, start=T0))
    rules = AlertRules().model_copy(update={"level": LevelRule(threshold=0.6, min_posts=3)})
    cds = alerts.rule_cooldowns(rules)
    for expected in (True, False):
        with session_scope(engine) as s:
            new = alert_store.insert_candidates(s, alerts.evaluate(frame, rules), cooldowns=cds)
            assert bool(new) is expected
    # the next night, with two days less history at the start, nothing is raised again
    shifted = frame.filter(frame["created_at"] > T0 + timedelta(days=2))
    with session_scope(engine) as s:
        assert alert_store.insert_candidates(s, alerts.evaluate(shifted, rules), cooldowns=cds) == []


def test_status_transitions_and_listing(engine: Engine) -> None:
    with session_scope(engine) as s:
        ids = [
            a.id
            for a in alert_store.insert_candidates(
                s, [candidate(1, hours=1), candidate(80, hours=80)], cooldowns=COOLDOWN
            )
        ]
    with session_scope(engine) as s:
        a = alert_store.set_status(s, ids[0], "acknowledged")
        assert a.status == "acknowledged" and a.updated_at is not None
        alert_store.set_status(s, ids[0], "acknowledged")  # idempotent
    with session_scope(engine) as s:
        assert [x.id for x in alert_store.list_alerts(s, status=["new"])] == [ids[1]]
        assert [x.id for x in alert_store.list_alerts(s)] == [ids[1], ids[0]]  # newest first
        since = T0 + timedelta(hours=40)
        assert [x.id for x in alert_store.list_alerts(s, since=since)] == [ids[1]]
        assert len(alert_store.open_alerts(s)) == 2
        alert_store.set_status(s, ids[0], "resolved")
    with session_scope(engine) as s:
        assert [x.id for x in alert_store.open_alerts(s)] == [ids[1]]
        with pytest.raises(EmomonError, match="already resolved"):
            alert_store.set_status(s, ids[0], "acknowledged")
        with pytest.raises(AlertNotFound, match="alert 999 does not exist"):
            alert_store.set_status(s, 999, "resolved")
        with pytest.raises(EmomonError, match="unknown alert status"):
            alert_store.list_alerts(s, status=["open"])


def test_alert_dict_is_json_ready_and_has_no_text(engine: Engine) -> None:
    with session_scope(engine) as s:
        (a,) = alert_store.insert_candidates(s, [candidate(3, hours=3)], cooldowns=COOLDOWN)
        d = alert_store.alert_dict(a)
    assert d["subject"] == "a-alice000001" and d["trigger_at"].endswith("Z")
    assert "text" not in d and "alice" not in str(d).replace("a-alice000001", "")


def test_post_excerpts_are_cut_and_skip_purged_text(engine: Engine) -> None:
    with session_scope(engine) as s:
        s.get(Post, 2).text = None  # type: ignore[union-attr]
    with session_scope(engine) as s:
        ex = alert_store.post_excerpts(s, [1, 2, 3], max_chars=20)
    assert set(ex) == {1, 3}
    assert len(ex[1]) == 20 and ex[1].endswith("…") and ex[1].startswith("post number 1 ")


def test_dates_are_utc(engine: Engine) -> None:
    naive = datetime(2025, 1, 1, 12, 0)
    c = replace(candidate(4), trigger_at=naive.replace(tzinfo=UTC))
    with session_scope(engine) as s:
        alert_store.insert_candidates(s, [c], cooldowns=COOLDOWN)
    with session_scope(engine) as s:
        (a,) = alert_store.list_alerts(s)
        assert a.trigger_at == naive.replace(tzinfo=UTC)
