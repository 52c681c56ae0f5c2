"""One scheduler per database: a second `emomon schedule` on the same database refuses to start.

Two real `emomon schedule` processes on one database (a SQLite file, or with ``--backend
postgres`` a PostgreSQL database, where the lock is a session advisory lock): the second exits
at once with one line naming the first's pid and host, and the first keeps running. The lock
dies with its process: after ``kill -9`` of the first, a new scheduler starts.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import time
from pathlib import Path

from hostile.conftest import EMOMON

from monitor.errors import ExitStatus

NEVER = "0 0 1 1 *"  # every stage once a year, on 1 January: nothing runs during the test


def start(config: Path, db_url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(EMOMON), "--config", str(config), "schedule"],
        cwd=config.parent,
        env={**os.environ, "EMOMON_DATABASE_URL": db_url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_started(proc: subprocess.Popen[str], timeout: float = 120) -> None:
    """Return once ``proc`` prints its start line (it holds the scheduler lock by then)."""
    assert proc.stderr is not None
    deadline = time.monotonic() + timeout
    seen = ""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], 0.5)
        if ready:
            line = proc.stderr.readline()
            seen += line
            if "Ctrl-C stops" in line:
                return
            if not line:
                break
    raise AssertionError(f"the scheduler did not start: {seen}")


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)


def test_a_second_scheduler_on_the_same_database_is_refused(tmp_path: Path, db_url: str) -> None:
    config = tmp_path / "config.toml"
    stages = "\n".join(f'{stage} = "{NEVER}"' for stage in ("ingest", "score", "alerts", "purge", "report"))
    config.write_text(f'[database]\nurl = "sqlite:///emomon.db"\n\n[schedule]\n{stages}\n', encoding="utf-8")
    first = start(config, db_url)
    try:
        wait_started(first)
        t0 = time.monotonic()
        second = subprocess.run(
            [str(EMOMON), "--config", str(config), "schedule"],
            cwd=tmp_path,
            env={**os.environ, "EMOMON_DATABASE_URL": db_url},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert time.monotonic() - t0 < 60  # at once, not after a lock timeout
        assert second.returncode == ExitStatus.LOCKED, second.stdout + second.stderr  # already running
        assert "Traceback" not in second.stdout + second.stderr
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: another emomon schedule already runs"), second.stderr
        assert f"pid {first.pid}," in lines[0] and f"on host {socket.gethostname()[:20]}" in lines[0], lines[0]
        assert first.poll() is None  # the first one keeps running
    finally:
        stop(first)
    third = start(config, db_url)  # the lock went with the killed process
    try:
        wait_started(third)
    finally:
        stop(third)
