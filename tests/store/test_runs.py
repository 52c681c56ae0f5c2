"""Tests for monitor.store.runs with two real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from monitor.errors import RunLocked
from monitor.store.runs import RunLock, lock_path

ROOT = Path(__file__).resolve().parents[2]

HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from monitor.store.runs import RunLock
    lock = RunLock(Path(sys.argv[1]), timeout=5, label="holder")
    lock.acquire()
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
    lock.release()
""")


def _hold(path: Path, seconds: float) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), str(seconds)],
                            stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_second_run_gives_up_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "emomon.db.lock"
    proc = _hold(path, 30)
    try:
        t0 = time.monotonic()
        with pytest.raises(RunLocked) as err:
            RunLock(path, timeout=0.5, label="manual").acquire()
        assert 0.4 < time.monotonic() - t0 < 5
        msg = str(err.value)
        assert f"pid {proc.pid}, holder since" in msg and "schedule.lock_timeout" in msg
    finally:
        proc.kill()
        proc.wait()


def test_second_run_waits_for_the_first_to_finish(tmp_path: Path) -> None:
    path = tmp_path / "emomon.db.lock"
    proc = _hold(path, 1.0)
    t0 = time.monotonic()
    with RunLock(path, timeout=20, label="second"):
        waited = time.monotonic() - t0
        assert path.read_text().count('"label": "second"') == 1
    proc.wait(10)
    assert 0.5 < waited < 15


def test_a_killed_holder_releases_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "emomon.db.lock"
    proc = _hold(path, 60)
    with pytest.raises(RunLocked):
        RunLock(path, timeout=0.2).acquire()  # held while the holder lives
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with RunLock(path, timeout=2, label="after-kill"):
        assert json.loads(path.read_text())["label"] == "after-kill"


def test_lock_is_reusable_in_one_process(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    lock = RunLock(path, timeout=0)
    for _ in range(2):
        with lock:
            assert json.loads(path.read_text())["pid"] == os.getpid()
            with pytest.raises(RunLocked):  # a second holder is refused while it is held
                RunLock(path, timeout=0).acquire()


def test_lock_path_sits_beside_sqlite_or_in_tmp(tmp_path: Path) -> None:
    assert lock_path(f"sqlite:///{tmp_path}/e.db") == tmp_path / "e.db.lock"
    pg = lock_path("postgresql+psycopg://u:secret@host/emomon")
    assert pg.name.startswith("emomon-") and "secret" not in str(pg)
