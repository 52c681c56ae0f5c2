"""Every stage leaves a trace, and every bad value is one line.

The alerts, report and purge stages write their ``runs`` row "running" before they work: each is
killed (``kill -9``) while it hangs (a webhook that does not answer, a report nobody reads, a
purge waiting on a lock held by the test), its row is still "running", and the next run marks it
"interrupted" and still delivers what the killed one did not. Dates whose UTC form overflows a
year and an unknown schema revision give one line, no traceback. Runs on SQLite and, with
``--backend postgres``, on PostgreSQL.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import pytest
from hostile.conftest import EMOMON, copy_examples
from hostile.loopback import Answer, loopback
from sqlalchemy import Engine, select, text

from monitor.clock import utcnow
from monitor.store.engine import make_engine, session_scope
from monitor.store.schema import Author, Run

INTERRUPTED = "the process ended before the run finished (killed or crashed)"


class Site:
    """A copy of the examples, ingested and scored into this run's backend."""

    def __init__(self, root: Path, url: str) -> None:
        self.root, self.url = root, url
        self.config = root / "config.toml"
        self.engine: Engine = make_engine(url)

    def popen(self, *args: str, **kw: object) -> subprocess.Popen[str]:
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        return subprocess.Popen(
            [str(EMOMON), "--config", str(self.config), *args],
            cwd=self.root,
            text=True,
            env={**os.environ, "EMOMON_DATABASE_URL": self.url, "COLUMNS": "200"},
            **kw,
        )  # type: ignore[call-overload]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        proc = self.popen(*args)
        out, err = proc.communicate(timeout=600)
        assert "Traceback" not in out + err, err
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def runs(self, command: str) -> list[Run]:
        with session_scope(self.engine) as s:
            rows = list(s.scalars(select(Run).where(Run.command == command).order_by(Run.id)))
            s.expunge_all()
            return rows

    def start(self, command: str, *args: str, **kw: object) -> tuple[subprocess.Popen[str], int]:
        """Start ``args``; with the count of ``command`` rows before it."""
        return self.popen(*args, **kw), len(self.runs(command))

    def kill_once_running(self, started: tuple[subprocess.Popen[str], int], command: str) -> Run:
        """Wait for the started process's "running" row of ``command``, SIGKILL it there; return that row."""
        proc, before = started
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            rows = self.runs(command)
            if len(rows) > before and rows[-1].status == "running":
                proc.send_signal(signal.SIGKILL)
                proc.wait(30)
                row = self.runs(command)[-1]
                assert row.id == rows[-1].id and row.status == "running" and row.finished_at is None
                return row
            time.sleep(0.05)
        raise AssertionError(f"{command} never hung with a running row: {proc.poll()} {proc.communicate()}")

    def after_next_run(self, row: Run, *args: str) -> Run:
        """Run ``args`` (a writer: it takes the run lock), return ``row`` as stored afterwards."""
        done = self.run(*args)
        assert done.returncode == 0, done.stderr
        with session_scope(self.engine) as s:
            again = s.get(Run, row.id)
            assert again is not None
            s.expunge(again)
            return again


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, postgres_server: str | None) -> Iterator[Site]:
    root = copy_examples(tmp_path_factory.mktemp("traces") / "site")
    if postgres_server is None:
        url = f"sqlite:///{root / 'emomon.db'}"
    else:
        import pgcluster

        url = pgcluster.create_database(postgres_server)
    made = Site(root, url)
    try:
        done = made.run("run", "--stage", "ingest", "--stage", "score")
        assert done.returncode == 0, done.stderr
        yield made
    finally:
        made.engine.dispose()
        if postgres_server is not None:
            import pgcluster

            pgcluster.drop_database(postgres_server, url)


@contextmanager
def silent_server() -> Iterator[tuple[str, threading.Event]]:
    """An HTTP URL on 127.0.0.1 whose server takes the connection and never answers; the event
    is set once a client connected."""
    connected = threading.Event()
    held: list[socket.socket] = []
    with socket.create_server(("127.0.0.1", 0)) as server:

        def accept() -> None:
            try:
                client, _ = server.accept()
            except OSError:  # closed at the end of the test before anyone connected
                return
            held.append(client)
            connected.set()

        threading.Thread(target=accept, daemon=True).start()
        try:
            yield f"http://127.0.0.1:{server.getsockname()[1]}/hook", connected
        finally:
            for client in held:
                client.close()


def webhook_config(config: str, url: str) -> str:
    return (
        config.replace('channels = ["terminal", "file"]', 'channels = ["webhook"]')
        .replace("delivery_budget_s = 60.0", "delivery_budget_s = 600.0")
        .replace('url = ""', f'url = "{url}"')
        .replace("timeout = 10.0", "timeout = 300.0")
        .replace("retries = 3", "retries = 0")
        .replace('secret_env = "EMOMON_WEBHOOK_SECRET"', 'secret_env = ""')
    )


def test_a_killed_alerts_run_is_marked_interrupted_and_its_alerts_still_go_out(site: Site) -> None:
    """Killed while the webhook holds its first delivery; the next run delivers every alert."""
    config = site.config.read_text(encoding="utf-8")
    try:
        with silent_server() as (url, connected):
            site.config.write_text(webhook_config(config, url), encoding="utf-8")
            started = site.start("alerts", "run", "--stage", "alerts")
            assert connected.wait(300), started[0].communicate()
            killed = site.kill_once_running(started, "alerts")
        with loopback() as hook:
            hook.answer("/hook", Answer(200))
            site.config.write_text(webhook_config(config, hook.url("/hook")), encoding="utf-8")
            after = site.after_next_run(killed, "run", "--stage", "alerts")
            assert hook.posted("/hook")  # the alerts the killed run did not deliver
    finally:
        site.config.write_text(config, encoding="utf-8")
    assert after.status == "interrupted" and after.message == INTERRUPTED and after.finished_at is not None
    assert site.runs("alerts")[-1].status == "ok"


def test_a_killed_report_run_is_marked_interrupted(site: Site) -> None:
    """The report blocks on a full pipe nobody reads (4 KiB, smaller than the report)."""
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, 4096)
    try:
        started = site.start("report", "run", "--stage", "report", stdout=write_end)
        os.close(write_end)
        killed = site.kill_once_running(started, "report")
    finally:
        os.close(read_end)
    after = site.after_next_run(killed, "run", "--stage", "report")
    assert after.status == "interrupted" and after.message == INTERRUPTED
    assert site.runs("report")[-1].status == "ok"


@contextmanager
def purge_held(site: Site) -> Iterator[None]:
    """Make a purge wait after its first write: on SQLite a reader keeps its WAL checkpoint
    waiting; on PostgreSQL a SHARE lock on ``posts`` keeps its UPDATE waiting."""
    if site.url.startswith("sqlite"):
        reader = sqlite3.connect(site.url.removeprefix("sqlite:///"), isolation_level=None)
        try:
            reader.execute("BEGIN")
            reader.execute("SELECT count(*) FROM posts").fetchone()
            yield
        finally:
            reader.close()
        return
    with site.engine.connect() as conn:
        conn.execute(text("LOCK TABLE posts IN SHARE MODE"))
        try:
            yield
        finally:
            conn.rollback()


def test_a_killed_purge_is_marked_interrupted(site: Site) -> None:
    with purge_held(site):
        killed = site.kill_once_running(site.start("purge", "purge", "--older-than", "1"), "purge")
    after = site.after_next_run(killed, "purge", "--older-than", "1")
    assert after.status == "interrupted" and after.message == INTERRUPTED
    assert site.runs("purge")[-1].status == "ok"


def pseudonym(site: Site) -> str:
    with session_scope(site.engine) as s:
        found = s.scalar(select(Author.pseudonym).limit(1))
    assert found
    return found


@pytest.mark.parametrize(
    "args",
    [
        lambda p: ["alerts", "list", "--until", "9999-12-31T23:00:00-05:00"],
        lambda p: ["alerts", "list", "--since", "0001-01-01T00:00:00+05:00", "--json"],
        lambda p: [
            "report",
            "--since",
            "0001-01-01T00:00:00+05:00",
            "--until",
            "9999-12-31T23:00:00-05:00",
            "--format",
            "csv",
        ],
        lambda p: ["report", "--since", "9999-12-31T23:00:00-05:00"],
        lambda p: ["author", p, "--since", "0001-01-01T00:00:00+05:00"],
        lambda p: ["author", p, "--until", "9999-12-31T23:00:00-05:00", "--json"],
    ],
    ids=["alerts-until", "alerts-since", "report-window", "report-since", "author-since", "author-until"],
)
def test_dates_past_the_ends_of_the_calendar_in_utc_are_clamped(site: Site, args: Callable[[str], list[str]]) -> None:
    """Each bounds nothing stored: the command answers as without it."""
    done = site.run(*args(pseudonym(site)))
    assert done.returncode == 0, done.stderr
    assert "Error" not in done.stderr and "OverflowError" not in done.stdout + done.stderr


def test_the_author_timeline_of_an_open_window_covers_only_days_a_post_can_have(site: Site) -> None:
    """From ``[ingest] earliest`` (1990-01-01) to today, not 3.6 million days to the year 9999."""
    done = site.run(
        "author",
        pseudonym(site),
        "--since",
        "0001-01-01T00:00:00+05:00",
        "--until",
        "9999-12-31T23:00:00-05:00",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    days = json.loads(done.stdout)["days"]
    assert days[0]["day"] == "1990-01-01"
    assert date.fromisoformat(days[-1]["day"]) <= utcnow().date() + timedelta(days=2)


def test_an_empty_window_past_the_end_of_the_calendar_is_one_line(site: Site) -> None:
    done = site.run("alerts", "list", "--since", "9999-12-31T23:00:00-05:00", "--until", "9999-12-31T23:30:00-05:00")
    assert done.returncode == 2 and done.stderr.strip().splitlines()[-1].startswith("Error: --since"), done.stderr


@pytest.mark.parametrize("revision", ["nonexist", "+1", "0001:0002"])
def test_an_unknown_revision_is_one_line(site: Site, revision: str) -> None:
    with site.engine.connect() as conn:
        before = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    done = site.run("db", "upgrade", "--revision", revision)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: cannot upgrade to revision {revision!r}"), done.stderr
    assert "emomon db current" in lines[0] and "head" in lines[0]
    with site.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == before
