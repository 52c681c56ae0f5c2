"""Alerts follow people: the distress signal, source trends apart, archives replayed, own "recent".

Every test writes posts and scores into a real store (SQLite, or PostgreSQL with
``--backend postgres``) and runs the alerts stage, the report or the author view on it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from itertools import count

import numpy as np
import polars as pl
import pytest
from rich.console import Console
from sqlalchemy import Engine, select

from monitor import trends
from monitor.alerts.stage import alerts_stage, evaluation_frame
from monitor.clock import utcnow
from monitor.errors import ConfigError
from monitor.report.author import load_author_view
from monitor.report.data import load_report_data
from monitor.report.terminal import terminal_report
from monitor.settings import Settings
from monitor.store import alerts as alert_store
from monitor.store import scores as score_store
from monitor.store.engine import session_scope
from monitor.store.schema import SCORE_COLUMNS, Author, Post, Source

OLD = datetime(2012, 3, 1, 9, 0, tzinfo=UTC)
ONLY_LEVEL = """
[alerts.rules.level]
threshold = 0.7
window_days = 7
min_posts = 4
[alerts.rules.rise]
enabled = false
[alerts.rules.burst]
enabled = false
[alerts.rules.source_shift]
enabled = false
"""
PERSON_RULES_OFF = """
[alerts.rules.level]
enabled = false
[alerts.rules.rise]
enabled = false
[alerts.rules.burst]
enabled = false
"""

# (source, author pseudonym, created_at, depression index, distress or None)
Row = tuple[str, str, datetime, float, float | None]


def _probs(index: float) -> bytes:
    p = np.full(len(SCORE_COLUMNS), 0.05, dtype=np.float32)
    p[SCORE_COLUMNS.index("goemo_sadness")] = index
    return score_store.pack_probs(p[None, :])[0]


def store(
    engine: Engine, rows: Iterable[Row], *, ingested_at: datetime | None = None, text: str | None = None
) -> dict[int, datetime]:
    """Write posts and their scores (every post the same ``text``, when given: a campaign);
    return {post id: created_at}."""
    made: dict[int, datetime] = {}
    arrived = ingested_at or utcnow()
    with session_scope(engine) as s:
        sources: dict[str, int] = {}
        authors: dict[str, int] = {}
        scores = []
        ids = count(1 + (s.scalar(select(Post.id).order_by(Post.id.desc()).limit(1)) or 0))
        for src, who, at, index, distress in rows:
            if src not in sources:
                row = s.scalar(select(Source).where(Source.name == src))
                if row is None:
                    row = Source(name=src, kind="jsonl", location=f"{src}.jsonl", paused=False, created_at=arrived)
                    s.add(row)
                    s.flush()
                sources[src] = row.id
            if who not in authors:
                a = s.scalar(select(Author).where(Author.pseudonym == who))
                if a is None:
                    a = Author(platform="file", handle=f"handle-{who}", pseudonym=who)
                    s.add(a)
                    s.flush()
                authors[who] = a.id
            pid = next(ids)
            s.add(
                Post(
                    id=pid,
                    source_id=sources[src],
                    external_id=f"{src}-{pid}",
                    author_id=authors[who],
                    created_at=at,
                    text=text or f"invented post {pid}",
                    url=None,
                    content_hash=hashlib.md5((text or f"invented post {pid}").encode()).hexdigest(),
                    ingested_at=arrived,
                )
            )
            scores.append(
                {
                    "post_id": pid,
                    "status": "scored",
                    "reason": None,
                    "depression_index": index,
                    "distress": distress,
                    "probs": _probs(index),
                    "windows": 1,
                    "text_hash": hashlib.md5((text or f"invented post {pid}").encode()).hexdigest()[:8],
                    "scored_at": arrived,
                }
            )
            made[pid] = at
        s.flush()
        score_store.write_scores(s, "test-v3", scores)
    return made


def run_alerts(engine: Engine, settings: Settings, now: datetime | None = None) -> list[dict[str, object]]:
    """Run the alerts stage; return every stored alert as a dict."""
    result = alerts_stage(engine, settings, console=Console(file=None, quiet=True), env={}, now=now or utcnow())
    assert result.status == "ok", result.message
    with session_scope(engine) as s:
        return [alert_store.alert_dict(a) for a in alert_store.list_alerts(s)]


def config(tmp_sources: str = "", rules: str = ONLY_LEVEL, alerts: str = "") -> str:
    return f'[alerts]\nchannels = ["file"]\n{alerts}\n[channels.file]\npath = "alerts.jsonl"\n{rules}\n{tmp_sources}'


def source_entry(name: str, extra: str = "") -> str:
    return f'[[sources]]\nname = "{name}"\nkind = "jsonl"\nlocation = "{name}.jsonl"\n{extra}\n'


def old_timeline(src: str, who: str = "a-old") -> list[Row]:
    """Ten calm days then raised days, all in 2012: the level rule (mean >= 0.7 over 7 days,
    4 posts) first holds at the sixth raised post (6 x 0.9 + 1 x 0.1 over the window)."""
    values = [0.1] * 10 + [0.9] * 8
    return [(src, who, OLD + timedelta(days=i), v, v) for i, v in enumerate(values)]


# ------------------------------------------------------------------------------ archive


def test_an_archive_author_years_old_gets_the_alert_at_the_post_where_the_rule_first_fires(
    engine: Engine, make_settings: Callable[..., Settings]
) -> None:
    long_ago = datetime(2013, 1, 1, tzinfo=UTC)  # ingested years before the run's clock
    posts = store(engine, old_timeline("research-set"), ingested_at=long_ago)
    settings = make_settings(config(source_entry("research-set", "archive = true")))
    got = [a for a in run_alerts(engine, settings) if a["rule"] == "level"]
    trigger_id = sorted(posts)[10 + 5]  # the sixth raised post
    assert [(a["subject"], a["trigger_post_id"]) for a in got] == [("a-old", trigger_id)]
    assert got[0]["trigger_at"] == posts[trigger_id].isoformat().replace("+00:00", "Z")
    assert got[0]["trigger_at"].startswith("2012-03-16")
    assert run_alerts(engine, settings) == run_alerts(engine, settings)  # a second run adds nothing


def test_a_live_source_keeps_the_run_clock(engine: Engine, make_settings: Callable[..., Settings]) -> None:
    store(engine, old_timeline("live-feed"), ingested_at=datetime(2013, 1, 1, tzinfo=UTC))
    settings = make_settings(config(source_entry("live-feed")))
    assert run_alerts(engine, settings) == []  # years-old posts ingested years ago: outside the live window


def test_an_archive_keeps_the_far_future_protection(engine: Engine, make_settings: Callable[..., Settings]) -> None:
    far = utcnow() + timedelta(days=3650)
    store(engine, [*old_timeline("research-set"), ("research-set", "a-old", far, 0.9, None)])
    settings = make_settings(config(source_entry("research-set", "archive = true")))
    with session_scope(engine) as s:
        frame = evaluation_frame(s, settings, utcnow())
    assert frame.height == 18 and frame["created_at"].max() < utcnow()


# ------------------------------------------------------------------------------ distress


def _recent(src: str, who: str, index: float, distress: float | None, days: int = 6) -> list[Row]:
    start = utcnow() - timedelta(days=days + 1)
    return [(src, who, start + timedelta(days=i), index, distress) for i in range(days)]


def test_distress_is_the_person_signal_when_the_model_has_it(
    engine: Engine, make_settings: Callable[..., Settings]
) -> None:
    # sad headlines: a high index, but nobody's own distress; and a person in distress in plain words
    store(engine, _recent("feed", "a-headlines", 0.9, 0.0) + _recent("feed", "a-distress", 0.3, 0.9))
    got = run_alerts(engine, make_settings(config()))
    assert [(a["subject"], a["rule"]) for a in got] == [("a-distress", "level")]
    assert got[0]["evidence"]["signal"] == "distress"  # type: ignore[index]
    with session_scope(engine) as s:
        from monitor.alerts.evidence import evidence_posts, explain

        assert explain(got[0]).startswith("The distress of a-distress averaged 0.90")
        assert {p["distress"] for p in evidence_posts(s, got[0])} == {0.9}


def test_the_index_can_be_chosen_and_is_the_fallback_without_distress(
    engine: Engine, make_settings: Callable[..., Settings]
) -> None:
    store(engine, _recent("feed", "a-headlines", 0.9, 0.0))
    chosen = run_alerts(engine, make_settings(config(alerts='signal = "depression_index"')))
    assert [(a["subject"], a["evidence"]["signal"]) for a in chosen] == [  # type: ignore[index]
        ("a-headlines", "depression_index")
    ]


def test_a_store_without_distress_falls_back_to_the_index(
    engine: Engine, make_settings: Callable[..., Settings]
) -> None:
    store(engine, _recent("feed", "a-sad", 0.9, None))
    got = run_alerts(engine, make_settings(config()))
    assert [(a["subject"], a["evidence"]["signal"]) for a in got] == [("a-sad", "depression_index")]  # type: ignore[index]
    with pytest.raises(ConfigError, match=r"signal = 'distress' but the stored scores have no distress"):
        run_alerts(engine, make_settings(config(alerts='signal = "distress"')))


# ------------------------------------------------------------------------------ source trends


def _shifting_source(src: str = "mixed") -> list[Row]:
    """Fourteen calm days of 12 posts by 12 different authors, then a day at 0.7."""
    start = utcnow() - timedelta(days=16)
    rows: list[Row] = []
    for d in range(15):
        for k in range(12):
            index = 0.7 if d == 14 else 0.2 + 0.01 * (k % 3)
            rows.append((src, f"a-{k:02d}", start + timedelta(days=d, hours=k), index, index / 4))
    return rows


def test_a_source_shift_is_a_report_trend_not_a_person_alert_by_default(
    engine: Engine, make_settings: Callable[..., Settings]
) -> None:
    store(engine, _shifting_source())
    settings = make_settings(config(source_entry("mixed"), rules=PERSON_RULES_OFF))
    assert run_alerts(engine, settings) == []
    with session_scope(engine) as s:
        data = load_report_data(s, settings)
    (row,) = data.sources
    assert len(row["shifts"]) == 1 and row["shifts"][0]["z"] >= 3.0
    console = Console(width=160, record=True, file=None)
    console.print(terminal_report(data, width=160))
    shown = console.export_text()
    assert "mood shift" in shown and row["shifts"][0]["day"][:10] in shown


def test_a_team_opts_in_to_source_shift_alerts_per_source(
    engine: Engine, make_settings: Callable[..., Settings]
) -> None:
    store(engine, _shifting_source("mixed") + _shifting_source("other"))
    settings = make_settings(
        config(source_entry("mixed", "alert_on_shift = true") + source_entry("other"), rules=PERSON_RULES_OFF)
    )
    got = run_alerts(engine, settings)
    assert [(a["rule"], a["subject_kind"], a["subject"]) for a in got] == [("source_shift", "source", "mixed")]


# ------------------------------------------------------------------------------ own "recent"


def test_the_recent_window_of_an_old_author_ends_at_their_latest_post(
    engine: Engine, make_settings: Callable[..., Settings]
) -> None:
    posts = store(engine, old_timeline("research-set") + _recent("feed", "a-new", 0.2, 0.1))
    settings = make_settings(config(source_entry("research-set", "archive = true") + source_entry("feed")))
    run_alerts(engine, settings)
    last_old = max(t for t in posts.values() if t.year == 2012)
    with session_scope(engine) as s:
        view = load_author_view(s, settings, "a-old")
        data = load_report_data(s, settings)
    assert view.end == last_old
    assert view.summary["recent_posts"] == 7 and view.summary["recent_mean"] == pytest.approx(0.9, abs=1e-6)
    row = next(r for r in data.review if r["author"] == "a-old")  # on the list: its open alert
    assert row["recent_end"] == last_old.isoformat().replace("+00:00", "Z")
    assert row["recent_posts"] == 7 and data.end is not None and data.end.year > 2012


# ------------------------------------------------------------------------------ repeated text


CAMPAIGN = "Do you lack the energy to get out of bed? You are not alone. Share this."


def test_a_text_many_authors_posted_raises_no_person_alert(
    engine: Engine, make_settings: Callable[..., Settings]
) -> None:
    # five people post the same sad campaign text for six days: high distress, nobody's own state
    for who in ("c-one", "c-two", "c-three", "c-four", "c-five"):
        store(engine, _recent("forum", who, 0.9, 0.95), text=CAMPAIGN)
    store(engine, _recent("forum", "own-words", 0.9, 0.95))  # one person, in their own words
    settings = make_settings(config(source_entry("forum"), rules=ONLY_LEVEL))
    assert {a["subject"] for a in run_alerts(engine, settings)} == {"own-words"}


def test_repeated_text_is_a_setting_and_off_alerts_on_it(
    engine: Engine, make_settings: Callable[..., Settings]
) -> None:
    for who in ("c-one", "c-two"):
        store(engine, _recent("forum", who, 0.9, 0.95), text=CAMPAIGN)
    two = make_settings(config(source_entry("forum"), rules=ONLY_LEVEL, alerts="repeated_authors = 2"))
    assert run_alerts(engine, two) == []  # two authors are enough here
    off = make_settings(config(source_entry("forum"), rules=ONLY_LEVEL, alerts="repeated_authors = 0"))
    assert {a["subject"] for a in run_alerts(engine, off)} == {"c-one", "c-two"}  # the fingerprint changed


def test_mute_repeated_sets_only_shared_texts_to_zero() -> None:
    frame = pl.DataFrame(
        {"post_id": [1, 2, 3, 4, 5], "author": ["a", "b", "c", "a", None], "distress": [0.9, 0.8, 0.7, 0.6, 0.5]},
        schema_overrides={"distress": pl.Float32},
    )
    hashes = pl.DataFrame({"post_id": [1, 2, 3, 4, 5], "content_hash": ["x", "x", "x", "y", "x"]})
    muted = trends.mute_repeated(frame, hashes, min_authors=3, column="distress")
    assert muted["distress"].to_list() == pytest.approx([0.0, 0.0, 0.0, 0.6, 0.0])
    assert muted["distress"].dtype == pl.Float32 and muted["post_id"].to_list() == [1, 2, 3, 4, 5]
    assert trends.mute_repeated(frame, hashes, min_authors=4, column="distress")["distress"].to_list() == (
        pytest.approx([0.9, 0.8, 0.7, 0.6, 0.5])  # an unknown author is not a fourth one
    )
