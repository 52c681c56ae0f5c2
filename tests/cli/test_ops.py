"""Tests for monitor.ops_cmd through the real CLI (CliRunner, real SQLite files)."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from monitor.alerts import rules as alerts
from monitor.cli import cli
from monitor.store import alerts as alert_store
from monitor.store.engine import ensure_schema, make_engine, session_scope
from monitor.store.schema import Post, Source

T = datetime(2025, 3, 1, tzinfo=UTC)


@pytest.fixture()
def cfg(tmp_path: Path) -> Path:
    (tmp_path / "posts.jsonl").write_text(
        json.dumps({"id": "p1", "text": "an invented post", "author": "someone", "created_at": "2025-03-01T10:00:00Z"})
        + "\n"
    )
    path = tmp_path / "config.toml"
    path.write_text(
        textwrap.dedent("""
        [database]
        url = "sqlite:///emomon.db"
        [alerts]
        channels = ["file"]
        [retention]
        raw_text_days = 30
        [schedule]
        timezone = "Europe/Berlin"
        [[sources]]
        name = "posts"
        kind = "jsonl"
        location = "posts.jsonl"
    """)
    )
    return path


def invoke(cfg: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--config", str(cfg), *args], catch_exceptions=False)
    return result.exit_code, result.output


def _seed_alerts(cfg: Path) -> list[int]:
    engine = make_engine(f"sqlite:///{cfg.parent / 'emomon.db'}")
    ensure_schema(engine)
    with session_scope(engine) as s:
        src = Source(name="posts", kind="jsonl", location="x", paused=False, created_at=T)
        s.add(src)
        s.flush()
        s.add(
            Post(
                id=1,
                source_id=src.id,
                external_id="x1",
                author_id=None,
                created_at=T,
                text="t",
                content_hash="h",
                ingested_at=T,
            )
        )
        s.flush()
        cands = [
            alerts.AlertCandidate(
                rule=r,
                subject_kind="author",
                subject="a-0123456789ab",
                window_start=T,
                window_end=T + timedelta(days=d),
                severity="high",
                trigger_post_id=1,
                trigger_index=3,
                trigger_at=T + timedelta(days=d),
                evidence={"z": 4.2},
            )
            for r, d in (("rise", 0), ("burst", 5))
        ]
        return [a.id for a in alert_store.insert_candidates(s, cands, cooldowns={})]


def test_alerts_list_ack_resolve(cfg: Path) -> None:
    ids = _seed_alerts(cfg)
    code, out = invoke(cfg, "alerts", "list", "--json")
    assert code == 0
    doc = json.loads(out)
    assert [a["id"] for a in doc["alerts"]] == ids[::-1]
    assert doc["alerts"][0]["subject"] == "a-0123456789ab"
    assert invoke(cfg, "alerts", "ack", str(ids[0]), "--note", "checked")[0] == 0
    code, out = invoke(cfg, "alerts", "resolve", str(ids[1]), "--note", "fine", "--json")
    assert code == 0 and json.loads(out)["status"] == "resolved"
    code, out = invoke(cfg, "alerts", "list", "--status", "acknowledged", "--json")
    assert [a["id"] for a in json.loads(out)["alerts"]] == [ids[0]]
    code, out = invoke(cfg, "alerts", "list", "--since", "2025-03-03", "--json")
    assert [a["id"] for a in json.loads(out)["alerts"]] == [ids[1]]
    code, out = invoke(cfg, "alerts", "list", "--width", "120")
    assert code == 0 and "a-0123456789ab" in out and "acknowledged" in out


def test_alert_errors_are_one_line(cfg: Path) -> None:
    _seed_alerts(cfg)
    code, out = invoke(cfg, "alerts", "ack", "999", "--note", "x")
    assert code == 1 and "alert 999 does not exist" in out and "Traceback" not in out
    code, out = invoke(cfg, "alerts", "list", "--since", "yesterday")
    assert code == 1 and "--since 'yesterday' is not a date" in out


def test_cron_prints_crontab_lines(cfg: Path) -> None:
    code, out = invoke(cfg, "cron")
    assert code == 0
    lines = out.splitlines()
    assert "CRON_TZ=Europe/Berlin" in lines
    assert sum("run --stage" in x for x in lines) == 5
    assert any("run --stage purge" in x for x in lines)


def test_purge_and_run_stage_write_runs_rows(cfg: Path) -> None:
    code, out = invoke(cfg, "run", "--stage", "ingest", "--stage", "purge", "--json")
    assert code == 0, out
    doc = json.loads(out)
    assert [s["stage"] for s in doc["stages"]] == ["ingest", "purge"]
    assert doc["stages"][0]["counts"]["inserted"] == 1
    # Created 2025-03-01 but ingested just now: retention counts from ingestion, so it stays.
    assert doc["stages"][1]["counts"]["posts"] == 0
    code, out = invoke(cfg, "purge", "--older-than", "1", "--json")
    assert code == 0 and json.loads(out)["posts"] == 0
    engine = make_engine(f"sqlite:///{cfg.parent / 'emomon.db'}")
    with session_scope(engine) as s:
        s.execute(update(Post).values(ingested_at=datetime.now(UTC) - timedelta(days=31)))
    engine.dispose()
    code, out = invoke(cfg, "purge", "--json")  # [retention] raw_text_days = 30
    assert code == 0 and json.loads(out)["posts"] == 1
    code, out = invoke(cfg, "purge", "--older-than", "0")
    assert code == 1 and "at least 1 day" in out
