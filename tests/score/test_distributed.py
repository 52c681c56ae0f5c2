"""The score stage on Ray (monitor/score/distributed.py): a local Ray instance with 2 CPU actors
on real SQLite files and a tiny random model, against the local engine's rows."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, func, select
from tiny_model import build_tiny_model

from monitor.cli import cli
from monitor.errors import ConfigError, ExitStatus
from monitor.score.distributed import run_distributed
from monitor.score.stage import run_score
from monitor.settings import Settings
from monitor.store import posts as store
from monitor.store import scores
from monitor.store.engine import ensure_schema, make_engine, session_scope
from monitor.store.schema import Run, Score

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
needs_ray = pytest.mark.skipif(
    importlib.util.find_spec("ray") is None, reason="Ray is not installed: pip install 'emomon[ray]'"
)

# Our own short posts, a long one (windowed at window 32), a foreign one and an empty one (skipped).
TEXTS = [
    "i am so sad today",
    "i feel happy and we smile",
    "so angry at you right now",
    "i am afraid and scared of the dark",
    "what a surprise, i love it!",
    "tears again, i feel hopeless and lonely",
    "the sun is out and i am happy",
    "i cry so much these days",
    "my friends make me smile",
    "grief is a strange thing",
    " ".join(["i feel so very lonely and sad today"] * 12),
    "Ich bin heute so müde und traurig, alles ist mir zu viel.",
    "   ",
]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", window=32)


@pytest.fixture(scope="class")
def ray_instance() -> Iterator[None]:
    """One local Ray instance with 2 CPUs for the in-process tests of a class (run_distributed
    uses it); stopped after them, so that other tests find no running instance."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=128 * 1024**2, log_to_driver=False)
    yield
    ray.shutdown()


def settings_for(make_settings: Callable[..., Settings], model: Path, url: str, **env: str) -> Settings:
    return make_settings(
        "",
        **{
            "EMOMON_DATABASE_URL": url,
            "EMOMON_MODEL_PATH": str(model),
            "EMOMON_SCORING_DEVICE": "cpu",
            "EMOMON_SCORING_PRECISION": "fp32",
            "EMOMON_SCORING_CHUNK_SIZE": "4",
            "EMOMON_SCORING_RAY_ACTORS": "2",
            **env,
        },
    )


def new_store(path: Path, texts: Sequence[str]) -> Engine:
    """A SQLite file with ``texts`` as posts, ids 1..n in order."""
    engine = make_engine(f"sqlite:///{path}")
    ensure_schema(engine)
    with session_scope(engine) as s:
        src = store.get_or_create_source(s, name="feed-a", kind="jsonl", location="x.jsonl")
        store.insert_posts(
            s,
            [
                {
                    "source_id": src.id,
                    "external_id": str(i),
                    "author_id": None,
                    "created_at": T0 + timedelta(hours=i),
                    "text": text,
                    "url": None,
                    "language": None,
                    "ingested_at": T0,
                    "content_hash": hashlib.md5(f"{i}:{text}".encode()).hexdigest(),
                }
                for i, text in enumerate(texts)
            ],
        )
    return engine


def score_rows(engine: Engine) -> dict[int, Score]:
    with session_scope(engine) as s:
        return {row.post_id: row for row in s.scalars(select(Score))}


@needs_ray
class TestOnALocalInstance:
    """run_distributed in this process, on one local Ray instance."""

    def test_ray_scores_equal_the_local_scores_and_a_rerun_scores_nothing(
        self, tmp_path: Path, make_settings: Callable[..., Settings], tiny_dir: Path, ray_instance: None
    ) -> None:
        texts = TEXTS * 3  # 39 posts, 10 ranges of up to 4
        local_db, ray_db = new_store(tmp_path / "local.db", texts), new_store(tmp_path / "ray.db", texts)
        local = run_score(local_db, settings_for(make_settings, tiny_dir, str(local_db.url)))
        ray_settings = settings_for(make_settings, tiny_dir, str(ray_db.url))
        report = run_distributed(ray_db, ray_settings)

        assert (
            (report.scored, report.skipped, report.windowed)
            == (local.scored, local.skipped, local.windowed)
            == (33, 6, 3)
        )
        assert report.model_version == local.model_version and report.tokens == local.tokens
        expected, got = score_rows(local_db), score_rows(ray_db)
        assert sorted(got) == sorted(expected) == list(range(1, len(texts) + 1))
        for pid, row in expected.items():
            other = got[pid]
            assert (other.status, other.reason, other.windows, other.text_hash, other.model_version) == (
                row.status,
                row.reason,
                row.windows,
                row.text_hash,
                row.model_version,
            )
            if row.status == "scored":
                np.testing.assert_allclose(
                    scores.unpack_probs([other.probs]), scores.unpack_probs([row.probs]), atol=1e-3
                )
                assert other.depression_index == pytest.approx(row.depression_index, abs=1e-5)
        with session_scope(ray_db) as s:
            run = s.scalars(select(Run).where(Run.command == "score")).one()
        assert run.status == "ok" and run.stats["scored"] == 33 and run.stats["skipped"] == 6

        again = run_distributed(ray_db, ray_settings)
        assert again.posts == 0 and again.message is not None and "already scored" in again.message
        assert {pid: row.scored_at for pid, row in score_rows(ray_db).items()} == {
            pid: row.scored_at for pid, row in got.items()
        }

    def test_an_error_on_a_worker_stops_the_run_with_its_one_line(
        self, tmp_path: Path, make_settings: Callable[..., Settings], tiny_dir: Path, ray_instance: None
    ) -> None:
        engine = new_store(tmp_path / "e.db", TEXTS)
        settings = settings_for(make_settings, tiny_dir, str(engine.url))
        with pytest.raises(ConfigError, match=r"^on a Ray worker: cannot load model .*batch tokens 8 is smaller"):
            run_distributed(engine, settings, batch_tokens=8)  # the driver reads only the model's JSON files
        assert score_rows(engine) == {}
        with session_scope(engine) as s:
            assert s.scalars(select(Run.status).where(Run.command == "score")).all() == ["failed"]

    def test_a_killed_actor_is_restarted_and_its_range_retried_without_scoring_a_post_twice(
        self, tmp_path: Path, make_settings: Callable[..., Settings], tiny_dir: Path, ray_instance: None
    ) -> None:
        n = 60
        db = tmp_path / "k.db"
        engine = new_store(db, [f"i am so sad today {i}" for i in range(n)])
        settings = settings_for(make_settings, tiny_dir, str(engine.url), EMOMON_SCORING_CHUNK_SIZE="3")
        killed: dict[str, object] = {}

        def kill_an_actor_mid_run() -> None:
            watch = sqlite3.connect(db, timeout=30)
            try:
                while watch.execute("SELECT count(*) FROM scores").fetchone()[0] == 0:
                    time.sleep(0.01)
                watch.execute("BEGIN IMMEDIATE")  # the actors' next writes wait...
                killed["before"] = dict(watch.execute("SELECT post_id, scored_at FROM scores").fetchall())
                actors = _processes("cmdline", "ray::MapWorker(MapBatches(RangeScorer))")
                killed["pid"] = actors[0] if actors else None
                if actors:
                    os.kill(actors[0], signal.SIGKILL)  # ...while one of them dies mid-range
                time.sleep(1.0)
            finally:
                watch.rollback()
                watch.close()

        killer = threading.Thread(target=kill_an_actor_mid_run)
        killer.start()
        report = run_distributed(engine, settings)
        killer.join(timeout=60)
        before = killed["before"]
        assert killed["pid"] is not None and isinstance(before, dict) and 0 < len(before) < n
        assert n - 3 <= report.posts <= n  # counted once; at most the dead actor's last range went unreported
        with sqlite3.connect(db) as read:
            after = dict(read.execute("SELECT post_id, scored_at FROM scores").fetchall())
            assert read.execute("SELECT count(*) FROM scores").fetchone()[0] == n
        assert sorted(after) == list(range(1, n + 1))
        assert all(after[pid] == stamp for pid, stamp in before.items())  # not redone


def _cli(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-c", "from monitor.cli import cli; cli()", "--config", str(config), *args]


def _processes(where: str, marker: str) -> list[int]:
    """Pids of live processes whose /proc/PID/``where`` (cmdline, environ) contains ``marker``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                text = (entry / where).read_bytes()
            except OSError:
                continue
            if marker.encode() in text:
                pids.append(int(entry.name))
    return pids


def _ray_processes(ray_tmp: str) -> list[int]:
    """Pids of the processes of a Ray instance started with RAY_TMPDIR=``ray_tmp`` (workers included:
    they inherit the variable, while their command line becomes ``ray::...``)."""
    return _processes("environ", f"RAY_TMPDIR={ray_tmp}")


def _reap(ray_tmp: str, grace_s: float) -> None:
    """Wait up to ``grace_s`` for the processes of a Ray instance to exit, then kill what is left."""
    deadline = time.monotonic() + grace_s
    while _ray_processes(ray_tmp) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in _ray_processes(ray_tmp):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue  # exited meanwhile
    deadline = time.monotonic() + 30
    while _ray_processes(ray_tmp):
        assert time.monotonic() < deadline, f"Ray processes survived SIGKILL: {_ray_processes(ray_tmp)}"
        time.sleep(0.2)


@needs_ray
def test_a_killed_driver_loses_only_ranges_in_flight_and_a_rerun_scores_each_post_once(
    tmp_path: Path, tiny_dir: Path
) -> None:
    n = 60
    db = tmp_path / "emomon.db"
    engine = new_store(db, [f"i am so sad today {i}" for i in range(n)])
    config = tmp_path / "config.toml"
    config.write_text(
        f"[database]\nurl = 'sqlite:///{db}'\n[model]\npath = '{tiny_dir}'\n"
        "[scoring]\ndevice = 'cpu'\nprecision = 'fp32'\nchunk_size = 3\nengine = 'ray'\nray_actors = 2\n",
        encoding="utf-8",
    )
    ray_tmp = tempfile.mkdtemp(prefix="emr", dir="/tmp")  # short: Ray's socket paths must fit
    env = {**os.environ, "PYTHONPATH": str(REPO), "RAY_TMPDIR": ray_tmp}
    child = subprocess.Popen(
        _cli(config, "score"), env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    watch = sqlite3.connect(db, timeout=30)
    try:
        deadline = time.monotonic() + 240
        while watch.execute("SELECT count(*) FROM scores").fetchone()[0] == 0:
            assert child.poll() is None, "the scoring driver exited before it wrote a range"
            assert time.monotonic() < deadline, "no range was written within 240 s"
            time.sleep(0.01)
        watch.execute("BEGIN IMMEDIATE")  # the actors' next writes wait for this lock...
        before = dict(watch.execute("SELECT post_id, scored_at FROM scores").fetchall())
        child.send_signal(signal.SIGKILL)  # ...while the driver dies
        child.wait(timeout=30)
        # The local instance goes with the driver; an actor blocked on the database lock held here
        # can outlive it, so what is left after a grace period is killed too (as a machine that
        # loses its driver would lose them), before the lock is released.
        _reap(ray_tmp, grace_s=60)
    finally:
        watch.rollback()
        watch.close()
    assert child.returncode == -signal.SIGKILL
    assert 0 < len(before) < n and len(before) % 3 == 0  # whole ranges only
    assert len(score_rows(engine)) == len(before)  # nothing written after the kill

    rerun = subprocess.run(
        _cli(config, "score", "--json"), env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(rerun.stdout)["scored"] == n - len(before)
    after = score_rows(engine)
    assert sorted(after) == list(range(1, n + 1))  # nothing lost
    with session_scope(engine) as s:  # nothing doubled, and the killed run is closed as such
        assert s.scalar(select(func.count()).select_from(Score)) == n
        runs = s.scalars(select(Run.status).where(Run.command == "score").order_by(Run.id)).all()
    assert runs == ["interrupted", "ok"]
    with sqlite3.connect(db) as read:
        stamps = dict(read.execute("SELECT post_id, scored_at FROM scores").fetchall())
    assert all(stamps[pid] == stamp for pid, stamp in before.items())  # not redone
    _reap(ray_tmp, grace_s=60)  # the rerun's own instance stops with it


@needs_ray
def test_a_cluster_that_cannot_be_joined_is_one_line_naming_the_setting(tmp_path: Path, tiny_dir: Path) -> None:
    db = tmp_path / "e.db"
    new_store(db, TEXTS)
    config = tmp_path / "config.toml"
    config.write_text(f"[database]\nurl = 'sqlite:///{db}'\n[model]\npath = '{tiny_dir}'\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO), "RAY_TMPDIR": tempfile.mkdtemp(prefix="emr", dir="/tmp")}
    env.pop("RAY_ADDRESS", None)
    result = subprocess.run(
        _cli(config, "score", "--engine", "ray", "--address", "auto"),
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == ExitStatus.CONFIG
    last = result.stderr.strip().splitlines()[-1]
    assert (
        last.startswith("Error: cannot join the Ray cluster at 'auto' (")
        and "check the address ([scoring] ray_address)" in last
    )
    with session_scope(make_engine(f"sqlite:///{db}")) as s:
        assert s.scalars(select(Run.status).where(Run.command == "score")).all() == ["failed"]
        assert s.scalar(select(func.count()).select_from(Score)) == 0


def test_engine_ray_without_ray_is_one_line_naming_the_extra(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f"[database]\nurl = 'sqlite:///{tmp_path / 'e.db'}'\n", encoding="utf-8")
    hide_ray = "import sys; sys.modules['ray'] = None; from monitor.cli import cli; cli()"  # as if not installed
    result = subprocess.run(
        [sys.executable, "-c", hide_ray, "--config", str(config), "score", "--engine", "ray"],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (
        result.returncode == ExitStatus.CONFIG
    )  # the engine chosen cannot run here: install the extra or choose another
    assert result.stderr == "Error: the Ray engine needs Ray (ray is not installed): pip install 'emomon[ray]'\n"


def test_address_needs_the_ray_engine(runner, make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    make_settings("")
    result = runner.invoke(cli, ["--config", str(tmp_path / "config.toml"), "score", "--address", "auto"])
    assert result.exit_code == 2
    assert "--address joins a Ray cluster: add --engine ray" in result.output


def test_engine_setting_is_validated(make_settings: Callable[..., Settings]) -> None:
    assert make_settings("").scoring.engine == "local"
    assert make_settings("[scoring]\nengine = 'ray'\n").scoring.engine == "ray"
    with pytest.raises(ConfigError, match=r"\[scoring\] engine = 'spark' is not allowed; use one of 'local', 'ray'"):
        make_settings("[scoring]\nengine = 'spark'\n")
