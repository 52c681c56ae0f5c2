"""Tests for monitor.schedule: job registration, settings, and real runs in a subprocess."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import func, select

from monitor.errors import ConfigError, EmomonError
from monitor.schedule import build_scheduler, crontab_lines, job_id, missed_run_times, run_job, scheduled_stages
from monitor.settings import load_settings
from monitor.store.engine import make_engine, session_scope
from monitor.store.schema import Run

ROOT = Path(__file__).resolve().parent.parent


def write_config(tmp_path: Path, schedule: str) -> Path:
    posts = tmp_path / "posts.jsonl"
    posts.write_text(
        "".join(
            json.dumps(
                {
                    "id": f"p{i}",
                    "text": f"an invented post number {i}",
                    "author": "someone",
                    "created_at": f"2025-03-0{i}T10:00:00Z",
                }
            )
            + "\n"
            for i in range(1, 4)
        )
    )
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        textwrap.dedent(f"""
        [database]
        url = "sqlite:///emomon.db"
        [alerts]
        channels = ["file"]
        [schedule]
        {schedule}
        [[sources]]
        name = "posts"
        kind = "jsonl"
        location = "posts.jsonl"
    """)
    )
    return cfg


def test_jobs_have_stable_ids_cron_triggers_and_safe_defaults(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, 'timezone = "Europe/Berlin"\nreport = ""\nmisfire_grace_hours = 3.0')
    settings = load_settings(cfg, {})
    sched = build_scheduler(settings, scheduler_class=BackgroundScheduler)
    jobs = {j.id: j for j in sched.get_jobs()}
    assert set(jobs) == {"emomon-ingest", "emomon-score", "emomon-alerts", "emomon-purge"}  # report disabled
    for stage in ("ingest", "score", "alerts", "purge"):
        job = jobs[job_id(stage)]
        assert isinstance(job.trigger, CronTrigger)
        assert str(job.trigger.timezone) == "Europe/Berlin"
        assert job.coalesce is True and job.max_instances == 1
        assert job.misfire_grace_time == 3 * 3600
        assert job.args[0] == stage and job.args[1] == str(cfg)
    assert str(jobs["emomon-score"].trigger) == ("cron[month='*', day='*', day_of_week='*', hour='2', minute='0']")
    assert str(sched.timezone) == "Europe/Berlin"


def test_jobs_persist_in_the_database_and_stale_ones_are_dropped(tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path, ""), {})
    sched = build_scheduler(settings, scheduler_class=BackgroundScheduler)
    sched.start(paused=True)
    assert len(sched.get_jobs()) == 5
    sched.shutdown(wait=False)
    engine = make_engine(settings.database.url)
    with engine.connect() as conn:
        ids = [r[0] for r in conn.exec_driver_sql("SELECT id FROM apscheduler_jobs ORDER BY id")]
    assert ids == ["emomon-alerts", "emomon-ingest", "emomon-purge", "emomon-report", "emomon-score"]
    fewer = load_settings(write_config(tmp_path, 'score = ""'), {})
    again = build_scheduler(fewer, scheduler_class=BackgroundScheduler)
    again.start(paused=True)
    assert sorted(j.id for j in again.get_jobs()) == ["emomon-alerts", "emomon-ingest", "emomon-purge", "emomon-report"]
    again.shutdown(wait=False)


RUNNER = textwrap.dedent("""
    import json, sys, threading
    from datetime import datetime, timedelta, timezone
    from pathlib import Path
    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED
    from monitor.settings import load_settings
    from monitor.schedule import build_scheduler, configure_logging, job_id

    configure_logging(0)
    settings = load_settings(Path(sys.argv[1]), {})
    sched = build_scheduler(settings)  # the real BlockingScheduler
    late = float(sys.argv[2])
    if late:
        # The machine was asleep: the job is `late` seconds late.
        sched.modify_job(job_id("ingest"),
                         next_run_time=datetime.now(timezone.utc) - timedelta(seconds=late))
    def later(seconds, fn):
        timer = threading.Timer(seconds, fn)
        timer.daemon = True
        timer.start()
    events = []
    def seen(event):
        events.append({EVENT_JOB_EXECUTED: "executed", EVENT_JOB_MISSED: "missed",
                       EVENT_JOB_ERROR: "error"}[event.code])
        later(0.1, lambda: sched.shutdown(wait=False))
    sched.add_listener(seen, EVENT_JOB_EXECUTED | EVENT_JOB_MISSED | EVENT_JOB_ERROR)
    later(20, lambda: sched.shutdown(wait=False))
    sched.start()
    print(json.dumps(events))
""")


def _run_scheduler(cfg: Path, late: float = 150, stderr: list[str] | None = None) -> list[str]:
    """Run a real scheduler in a subprocess until its first job event; the events seen."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("EMOMON_DATABASE_URL", None)
    proc = subprocess.run(
        [sys.executable, "-c", RUNNER, str(cfg), str(late)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=cfg.parent,
    )
    assert proc.returncode == 0, proc.stderr
    if stderr is not None:
        stderr.append(proc.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _ingest_runs(cfg: Path) -> int:
    engine = make_engine(f"sqlite:///{cfg.parent / 'emomon.db'}")
    with session_scope(engine) as s:
        return int(s.scalar(select(func.count()).select_from(Run).where(Run.command == "ingest")))


@pytest.mark.slow
def test_missed_runs_are_coalesced_into_one_real_run(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, 'ingest = "* * * * *"\nscore = ""\nalerts = ""\nreport = ""')
    assert _run_scheduler(cfg) == ["executed"]
    assert _ingest_runs(cfg) == 1  # three missed fire times, one run


@pytest.mark.slow
def test_a_run_later_than_the_grace_time_is_skipped(tmp_path: Path) -> None:
    # once a year, so the only due fire time is the one 150 s ago; grace 3.6 s
    cfg = write_config(
        tmp_path, 'ingest = "0 0 1 1 *"\nscore = ""\nalerts = ""\npurge = ""\nreport = ""\nmisfire_grace_hours = 0.001'
    )
    assert _run_scheduler(cfg) == ["missed"]
    assert _ingest_runs(cfg) == 0


@pytest.mark.slow
def test_a_run_missed_while_the_scheduler_was_down_runs_once_on_start(tmp_path: Path) -> None:
    """A stored job that fell due 10 s before the scheduler came back runs at start, logged."""
    cfg = write_config(tmp_path, 'ingest = "0 0 1 1 *"\nscore = ""\nalerts = ""\nreport = ""')
    settings = load_settings(cfg, {})
    before = build_scheduler(settings, scheduler_class=BackgroundScheduler)
    before.start(paused=True)
    before.shutdown(wait=False)
    # The scheduler was down when the job fell due: the job store's due time is 10 s ago.
    due = (datetime.now(UTC) - timedelta(seconds=10)).timestamp()
    with make_engine(settings.database.url).begin() as conn:
        conn.exec_driver_sql("UPDATE apscheduler_jobs SET next_run_time = ? WHERE id = ?", (due, job_id("ingest")))
    logs: list[str] = []
    assert _run_scheduler(cfg, late=0, stderr=logs) == ["executed"]
    assert _ingest_runs(cfg) == 1
    lines = [line for line in logs[0].splitlines() if " job ingest: " in line]
    assert [line.split(" job ingest: ")[1].split()[0] for line in lines] == ["missed", "started", "ok"]
    assert "read=3, inserted=3" in lines[-1]


def test_a_future_stored_run_time_is_not_kept(tmp_path: Path) -> None:
    """Only a missed (past) run time is carried over; a changed schedule computes afresh."""
    cfg = write_config(tmp_path, 'ingest = "0 0 1 1 *"')
    settings = load_settings(cfg, {})
    first = build_scheduler(settings, scheduler_class=BackgroundScheduler)
    first.start(paused=True)
    first.shutdown(wait=False)
    assert missed_run_times(settings.database.url) == {}


def test_the_scheduled_report_is_written_and_mailed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """`report_output` gets the HTML report; `report_email` gets it by mail over real SMTP."""
    from email import message_from_bytes

    from smtp_server import SmtpServer

    server = SmtpServer()
    try:
        cfg = write_config(
            tmp_path,
            'report_output = "reports/emomon-{date}.html"\n'
            'report_email = ["team@example.org"]\n'
            f'[channels.email]\nhost = "127.0.0.1"\nport = {server.port}\n'
            'sender = "emomon@example.org"\ntimeout = 5',
        )
        (tmp_path / "reports").mkdir()
        with caplog.at_level(logging.INFO, logger="monitor.schedule"):
            run_job("report", str(cfg))
    finally:
        server.close()
    logs = [r.getMessage() for r in caplog.records if r.name == "monitor.schedule"]
    (written,) = (tmp_path / "reports").glob("emomon-*.html")
    assert written.name == f"emomon-{datetime.now(UTC).date().isoformat()}.html"
    assert written.read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")
    (msg,) = server.messages
    assert msg["to"] == ["team@example.org"]
    parsed = message_from_bytes(msg["data"])
    assert parsed["Subject"].startswith("[emomon] trend report ")
    parts = [p for p in parsed.walk() if not p.is_multipart()]
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert parts[1].get_payload(decode=True).decode() == written.read_text(encoding="utf-8")
    assert logs[0] == "job report: started" and logs[1].startswith("job report: ok in")
    assert logs[2:] == [f"job report: report written to {written}", "job report: report mailed to 1 recipient(s)"]


def test_report_output_placeholders_and_addresses_are_validated(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"report_output.*\{date\}"):
        load_settings(write_config(tmp_path, 'report_output = "r-{day}.html"'), {})
    with pytest.raises(ConfigError, match="report_email.*not an e-mail address"):
        load_settings(write_config(tmp_path, 'report_email = ["team"]'), {})


def test_crontab_lines(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, 'timezone = "Europe/Berlin"\nscore = ""')
    lines = crontab_lines(load_settings(cfg, {}), executable="/usr/bin/emomon")
    assert "CRON_TZ=Europe/Berlin" in lines
    jobs = [x for x in lines if not x.startswith(("#", "CRON_TZ"))]
    assert [j.split("--stage ")[1].split()[0] for j in jobs] == ["ingest", "alerts", "purge", "report"]
    assert jobs[0] == (
        f"*/15 * * * * cd {tmp_path} && /usr/bin/emomon --config {cfg} -q run "
        f"--stage ingest >> {tmp_path / 'emomon-cron.log'} 2>&1"
    )
    assert [j.split()[:5] for j in jobs][1] == ["30", "2", "*", "*", "*"]
    off = write_config(tmp_path, 'ingest = ""\nscore = ""\nalerts = ""\npurge = ""\nreport = ""')
    with pytest.raises(EmomonError, match="no stage is scheduled"):
        crontab_lines(load_settings(off, {}))


def test_purge_is_scheduled_exactly_while_retention_is_on(tmp_path: Path) -> None:
    """The schedule and cron come from the stage registry: purge included, unless retention is off."""
    on = load_settings(write_config(tmp_path, ""), {})
    assert [stage for stage, _ in scheduled_stages(on)] == ["ingest", "score", "alerts", "purge", "report"]
    assert any("--stage purge" in line for line in crontab_lines(on, executable="emomon"))
    cfg = write_config(tmp_path, "")
    cfg.write_text(cfg.read_text(encoding="utf-8") + "\n[retention]\nraw_text_days = 0\n", encoding="utf-8")
    off = load_settings(cfg, {})
    assert "purge" not in [stage for stage, _ in scheduled_stages(off)]
    assert not any("--stage purge" in line for line in crontab_lines(off, executable="emomon"))
