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
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), str(seconds)], stdout=subprocess.PIPE, text=True, env=env
    )
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


def test_lock_path_is_keyed_on_the_real_file(tmp_path: Path) -> None:
    real = tmp_path / "data" / "emomon.db"
    real.parent.mkdir()
    real.touch()
    (tmp_path / "link.db").symlink_to(real)
    (tmp_path / "linkdir").symlink_to(real.parent)
    expected = real.parent / "emomon.db.lock"
    for url in (
        f"sqlite:///{tmp_path}/link.db",
        f"sqlite:///{tmp_path}/linkdir/emomon.db",
        f"sqlite:///{tmp_path}/data/../data/emomon.db",
    ):
        assert lock_path(url) == expected


ADVISORY_HOLDER = textwrap.dedent("""
    import sys, time
    from monitor.store.engine import make_engine
    from monitor.store.runs import AdvisoryLock
    lock = AdvisoryLock(make_engine(sys.argv[1]), timeout=5, label="holder")
    lock.acquire()
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
""")


@pytest.mark.postgres_only(reason="advisory locks live in a PostgreSQL database")
def test_advisory_lock_is_shared_through_the_database(db_url: str, make_db_url) -> None:
    from monitor.store.engine import make_engine
    from monitor.store.runs import AdvisoryLock

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", ADVISORY_HOLDER, db_url, "60"], stdout=subprocess.PIPE, text=True, env=env
    )
    engine, other_db = make_engine(db_url), make_engine(make_db_url("other"))
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        with pytest.raises(RunLocked) as err:
            AdvisoryLock(engine, timeout=0.3, label="second").acquire()
        assert f"pid {proc.pid}, holder since" in str(err.value) and "schedule.lock_timeout" in str(err.value)
        with AdvisoryLock(other_db, timeout=0):  # another database: another lock
            pass
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        with AdvisoryLock(engine, timeout=5, label="after-kill"):  # the server dropped the dead holder's lock
            with pytest.raises(RunLocked):
                AdvisoryLock(engine, timeout=0).acquire()
        with AdvisoryLock(engine, timeout=0):  # released on exit
            pass
    finally:
        proc.kill()
        proc.wait()
        engine.dispose()
        other_db.dispose()


def test_run_lock_follows_the_backend(make_settings) -> None:
    from monitor.store.runs import AdvisoryLock, run_lock

    settings = make_settings()
    lock = run_lock(settings, label="x")
    postgres = settings.database.url.startswith("postgresql")
    assert isinstance(lock, AdvisoryLock if postgres else RunLock)
