"""Tests for monitor.pipeline: stage order, runs rows, the run lock, and `emomon run` end to end."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from rich.console import Console
from scoreframes import T0, score_frame, stream
from sqlalchemy import func, select

from monitor import pipeline
from monitor.alerts.delivery import alert_payloads
from monitor.alerts.stage import alerts_stage
from monitor.cli import cli
from monitor.errors import EmomonError, ExitStatus, RunLocked
from monitor.settings import Settings, load_settings
from monitor.store import scores as score_store
from monitor.store.engine import ensure_schema, make_engine, session_scope
from monitor.store.runs import close_interrupted_runs
from monitor.store.schema import Alert, Author, Post, Run, Source

ROOT = Path(__file__).resolve().parent.parent


def settings_for(tmp_path: Path, extra: str = "") -> Settings:
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        textwrap.dedent("""
        [database]
        url = "sqlite:///emomon.db"
        [alerts]
        channels = ["file", "terminal"]
        [schedule]
        lock_timeout = 0.5
    """)
        + extra
    )
    return load_settings(cfg, {})


def test_unknown_stage_is_refused(tmp_path: Path) -> None:
    with pytest.raises(EmomonError, match="unknown stage 'train'"):
        pipeline.run_stages(settings_for(tmp_path), ["train"])


def test_alerts_stage_stores_delivers_and_records_a_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The alert stage over a score frame built here (scoring itself is tested elsewhere)."""
    settings = settings_for(tmp_path)
    engine = make_engine(settings.database.url)
    ensure_schema(engine)
    rows = stream("a-shifted00001", [0.1] * 20 + [0.9] * 6) + stream("a-steady000002", [0.1] * 26, first_id=100)
    frame = score_frame(rows)
    with session_scope(engine) as s:
        src = Source(name="feed-a", kind="jsonl", location="x", paused=False, created_at=T0)
        s.add(src)
        s.add(Author(id=1, platform="p", handle="real_handle_1", pseudonym="a-shifted00001"))
        s.flush()
        for r in rows:
            s.add(
                Post(
                    id=r["post_id"],
                    source_id=src.id,
                    external_id=str(r["post_id"]),
                    author_id=1,
                    created_at=r["created_at"],
                    text="invented text",
                    content_hash="h",
                    ingested_at=T0,
                )
            )
    seen: list[dict[str, object]] = []

    def read_scores(session: object, **kw: object) -> pl.DataFrame:
        seen.append(kw)
        since = kw.get("since")
        return frame if since is None else frame.filter(pl.col("created_at") >= since)

    monkeypatch.setattr(score_store, "read_scores", read_scores)
    console = Console(width=80, record=True)
    now = frame["created_at"].max() + timedelta(days=1)  # the run's clock anchors the window
    result = alerts_stage(engine, settings, console=console, env={}, now=now)
    assert result.status == "ok" and result.counts["new"] >= 1
    assert seen[0]["since"] == now - timedelta(days=90)
    assert seen[0]["until"] == now + timedelta(hours=24, microseconds=1)
    lines = (tmp_path / "alerts.jsonl").read_text().splitlines()
    assert len(lines) == result.counts["new"]
    payload = json.loads(lines[0])
    assert payload["subject"] == "a-shifted00001"
    text = "\n".join(lines) + console.export_text()
    assert "real_handle_1" not in text and "invented text" not in text  # no handles, no text
    again = alerts_stage(engine, settings, console=console, env={}, now=now)
    assert again.counts["new"] == 0  # same episodes: nothing new
    with session_scope(engine) as s:
        assert {a.subject for a in s.scalars(select(Alert))} == {"a-shifted00001"}
        runs = s.scalars(select(Run).where(Run.command == "alerts")).all()
        assert len(runs) == 2 and runs[0].status == "ok" and runs[0].finished_at is not None


def test_excerpt_only_when_switched_on_and_never_in_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = settings_for(tmp_path).path
    assert cfg is not None
    cfg.write_text(
        cfg.read_text().replace(
            'channels = ["file", "terminal"]', 'channels = ["file"]\nexcerpt = true\nexcerpt_chars = 8'
        )
    )
    settings = load_settings(cfg, {})
    engine = make_engine(settings.database.url)
    ensure_schema(engine)
    rows = stream("a-x", [0.9] * 5)
    with session_scope(engine) as s:
        src = Source(name="feed-a", kind="jsonl", location="x", paused=False, created_at=T0)
        s.add(src)
        s.flush()
        for r in rows:
            s.add(
                Post(
                    id=r["post_id"],
                    source_id=src.id,
                    external_id=str(r["post_id"]),
                    author_id=None,
                    created_at=r["created_at"],
                    text="a long invented text",
                    content_hash="h",
                    ingested_at=T0,
                )
            )
    monkeypatch.setattr(score_store, "read_scores", lambda session, **kw: score_frame(rows))
    alerts_stage(engine, settings, console=Console(), env={})
    with session_scope(engine) as s:  # what webhook and e-mail send
        sent = alert_payloads(s, s.scalars(select(Alert)).all(), settings)
    assert sent and all(p["excerpt"] == "a long …" for p in sent)
    written = [json.loads(x) for x in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    assert written and not any("excerpt" in p for p in written)  # the file outlives retention: no text


HOLD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from monitor.settings import load_settings
    from monitor.store.runs import run_lock
    with run_lock(load_settings(Path(sys.argv[1]), {}), label="scheduler"):
        print("locked", flush=True)
        time.sleep(30)
""")


def test_a_second_run_stops_with_a_clear_message(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("EMOMON_DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(settings.path)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        with pytest.raises(RunLocked, match="scheduler since"):
            pipeline.run_stages(settings, ["purge"])
        result = CliRunner().invoke(
            cli, ["--config", str(settings.path), "run", "--stage", "purge", "--lock-timeout", "0"]
        )
        assert result.exit_code == ExitStatus.LOCKED
        assert "another emomon run holds the lock" in result.output
        # manual ingest and score are writers too: they wait for the same lock
        for command in (["ingest", str(ROOT / "examples" / "posts.jsonl")], ["score"], ["purge", "--older-than", "30"]):
            result = CliRunner().invoke(cli, ["--config", str(settings.path), *command])
            assert result.exit_code == ExitStatus.LOCKED, command
            assert "another emomon run holds the lock" in result.output, command
    finally:
        proc.kill()
        proc.wait()
    assert pipeline.run_stages(settings, ["purge"]).ok  # free again
    engine = make_engine(settings.database.url)
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(Post)) == 0  # the refused ingest wrote nothing


def test_a_killed_runs_row_is_closed_by_the_next_run(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    engine = make_engine(settings.database.url)
    ensure_schema(engine)
    with session_scope(engine) as s:
        s.add(Run(command="score", status="running", started_at=T0))  # as a SIGKILL leaves it
    pipeline.run_stages(settings, ["purge"], engine=engine)
    with session_scope(engine) as s:
        rows = {r.command: r for r in s.scalars(select(Run))}
        assert rows["score"].status == "interrupted"
        assert rows["score"].finished_at is not None
        assert "killed or crashed" in (rows["score"].message or "")
        assert rows["purge"].status == "ok"
    assert close_interrupted_runs(engine) == 0  # nothing left running


@pytest.mark.slow
def test_emomon_run_end_to_end_on_the_examples(tmp_path: Path) -> None:
    from tiny_model import build_tiny_model

    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    model = build_tiny_model(tmp_path / "model")
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    text = text.replace('path = "models/emomon-mtl-v3"', f'path = "{model}"')
    (tmp_path / "config.toml").write_text(text, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMOMON_")}
    result = CliRunner(env=env).invoke(cli, ["--config", str(tmp_path / "config.toml"), "run", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert [s["stage"] for s in doc["stages"]] == ["ingest", "score", "alerts", "purge", "report"]
    assert doc["ok"] and doc["stages"][0]["counts"]["inserted"] > 0
    engine = make_engine(f"sqlite:///{tmp_path / 'emomon.db'}")
    with session_scope(engine) as s:
        commands = [r.command for r in s.scalars(select(Run).order_by(Run.id))]
    for stage in ("ingest", "score", "alerts", "purge", "report"):
        assert commands.count(stage) == 1, commands
    report = CliRunner(env=env).invoke(cli, ["--config", str(tmp_path / "config.toml"), "report", "--width", "80"])
    assert report.exit_code == 0 and "emomon trend report" in report.output
