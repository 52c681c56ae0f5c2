import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from monitor.errors import SourceError
from monitor.ingest.stage import COUNT_KEYS, adhoc_source, guess_kind, ingest
from monitor.store.engine import ensure_schema, make_engine, session_scope
from monitor.store.schema import Author, Post, Rejected, Run


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _sums_up(report):
    for s in report.sources:
        c = s.counts()
        assert c["read"] == sum(c[k] for k in COUNT_KEYS[1:]), c


def test_ingest_accounts_for_every_record(tmp_path, make_settings, engine):
    path = write_jsonl(
        tmp_path / "p.jsonl",
        [
            {"id": "1", "text": "hello", "author": "ann", "created_at": "2024-01-01T00:00:00Z"},
            {"id": "2", "text": "please skip me #NoBots", "author": "bob"},
            {"id": "3", "text": "", "author": "bob"},
            {"id": "4", "text": "x" * 50, "author": "cy"},
            {"id": "5", "text": "from an excluded author", "author": "Dee"},
            {"text": "no id at all", "author": "ann"},
            {"text": "no id at all", "author": "ann"},
            {"id": "1", "text": "hello", "author": "ann"},
        ],
    )
    settings = make_settings("[ingest]\nmax_text_chars = 40\n[privacy]\nexclude_authors = ['dee']\n")
    report = ingest(engine, settings, [adhoc_source(str(path))])
    (src,) = report.sources
    assert src.counts() == {"read": 8, "inserted": 2, "updated": 0, "duplicate": 2, "rejected": 2, "excluded": 2}
    _sums_up(report)
    with session_scope(engine) as s:
        reasons = dict(s.execute(select(Rejected.location, Rejected.reason)).all())
        assert reasons[f"{path}:3"] == "no text"
        assert "max_text_chars = 40" in reasons[f"{path}:4"]
        texts = sorted(s.scalars(select(Post.text)))
        assert texts == ["hello", "no id at all"]
        missing_date = s.scalars(select(Post.created_at).where(Post.text == "no id at all")).one()
        assert missing_date.tzinfo is not None
        run = s.scalars(select(Run)).one()
        assert run.status == "ok" and run.stats["totals"]["read"] == 8


def test_reingest_is_idempotent_and_detects_updates(tmp_path, make_settings, engine):
    rows = [{"id": str(i), "text": f"post {i}", "author": f"u{i % 3}"} for i in range(30)]
    path = write_jsonl(tmp_path / "p.jsonl", rows)
    settings = make_settings("[ingest]\nbatch_size = 7\n")
    first = ingest(engine, settings, [adhoc_source(str(path))]).sources[0]
    assert (first.inserted, first.duplicate) == (30, 0)
    second = ingest(engine, settings, [adhoc_source(str(path))]).sources[0]
    assert (second.inserted, second.updated, second.duplicate) == (0, 0, 30)
    rows[4]["text"] = "post 4, edited"
    write_jsonl(path, rows)
    third = ingest(engine, settings, [adhoc_source(str(path))]).sources[0]
    assert (third.inserted, third.updated, third.duplicate) == (0, 1, 29)
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(Post)) == 30
        assert s.scalar(select(func.count()).select_from(Author)) == 3
        assert s.scalars(select(Post.text).where(Post.external_id == "4")).one() == "post 4, edited"


def test_opt_out_later_removes_stored_post(tmp_path, make_settings, engine):
    path = write_jsonl(tmp_path / "p.jsonl", [{"id": "1", "text": "hello", "author": "ann"}])
    settings = make_settings()
    ingest(engine, settings, [adhoc_source(str(path))])
    write_jsonl(path, [{"id": "1", "text": "hello #noindex", "author": "ann"}])
    report = ingest(engine, settings, [adhoc_source(str(path))])
    assert report.sources[0].excluded == 1
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(Post)) == 0


def test_missing_source_is_reported_and_others_still_run(tmp_path, make_settings, engine):
    good = write_jsonl(tmp_path / "p.jsonl", [{"id": "1", "text": "hello"}])
    settings = make_settings()
    report = ingest(engine, settings, [adhoc_source(str(tmp_path / "gone.jsonl"), "jsonl"), adhoc_source(str(good))])
    assert [s.status for s in report.sources] == ["error", "ok"]
    assert "not found" in report.sources[0].error
    assert report.sources[1].inserted == 1 and not report.ok


def test_pseudonyms_are_salted_and_stable(tmp_path, make_settings, make_db_url):
    path = write_jsonl(tmp_path / "p.jsonl", [{"id": "1", "text": "hi", "author": "ann"}])
    pseudonyms = []
    for salt in ("one", "two"):
        eng = make_engine(make_db_url(salt))
        ensure_schema(eng)
        ingest(eng, make_settings(EMOMON_PSEUDONYM_SALT=salt), [adhoc_source(str(path))])
        with session_scope(eng) as s:
            pseudonyms.append(s.scalars(select(Author.pseudonym)).one())
    assert pseudonyms[0] != pseudonyms[1]
    assert all(p.startswith("a-") and "ann" not in p for p in pseudonyms)


def test_guess_kind(tmp_path):
    assert guess_kind("https://example.org/feed") == "feed"
    assert guess_kind("a/posts.jsonl.gz") == "jsonl"
    assert guess_kind("x.csv") == "csv"
    assert guess_kind("data/tweets.js") == "x"
    assert guess_kind("outbox.json") == "mastodon"
    with pytest.raises(SourceError, match="cannot tell the format of 'mystery.bin' from its name: give its kind"):
        guess_kind("mystery.bin")


FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
record = st.fixed_dictionaries(
    {"id": st.sampled_from(["1", "2", "3", None]), "text": st.sampled_from(["a", "b", "", "#nobots", None, "x" * 30])},
    optional={"author": st.sampled_from(["ann", "bob"]), "created_at": st.sampled_from(["2024-01-01", "bad", 5])},
)


@FUZZ
@given(st.lists(st.one_of(record.map(json.dumps), st.just("{broken")), max_size=20), st.integers(1, 5))
def test_fuzz_counts_always_add_up(tmp_path_factory, make_settings, make_db_url, lines, batch):
    d = tmp_path_factory.mktemp("run")
    path = d / "p.jsonl"
    path.write_text("\n".join(lines) + "\n")
    eng = make_engine(make_db_url(d.name))
    ensure_schema(eng)
    settings = make_settings(f"[ingest]\nbatch_size = {batch}\nmax_text_chars = 20\n")
    for _ in range(2):
        report = ingest(eng, settings, [adhoc_source(str(path))])
        _sums_up(report)
        assert report.sources[0].read == len(lines)
    with session_scope(eng) as s:
        stored = s.scalar(select(func.count()).select_from(Post))
    assert stored <= sum(1 for line in lines if line != "{broken")
    eng.dispose()


@pytest.mark.slow
@pytest.mark.sqlite_only(reason="checks the SQLite file's integrity after SIGKILL")
def test_sigkill_mid_ingest_then_rerun_loses_and_doubles_nothing(tmp_path):
    n = 40_000
    path = write_jsonl(
        tmp_path / "big.jsonl",
        (
            {"id": f"p{i}", "text": f"post number {i}", "author": f"user{i % 97}", "created_at": 1700000000 + i}
            for i in range(n)
        ),
    )
    db_file = tmp_path / "crash.db"
    (tmp_path / "config.toml").write_text("[ingest]\nbatch_size = 500\n")
    env = {**os.environ, "EMOMON_DATABASE_URL": f"sqlite:///{db_file}", "EMOMON_CONFIG": str(tmp_path / "config.toml")}
    cmd = [sys.executable, "-c", "from monitor.cli import cli; cli()", "-q", "ingest", str(path)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stored = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
        if db_file.exists():
            try:
                with sqlite3.connect(db_file, timeout=5) as con:
                    stored = con.execute("select count(*) from posts").fetchone()[0]
            except sqlite3.OperationalError:
                continue  # schema not created yet
            if stored > 0:
                break
    assert proc.poll() is None, "ingest finished before it could be killed; make the input bigger"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with sqlite3.connect(db_file) as con:
        assert con.execute("pragma integrity_check").fetchone()[0] == "ok"
        after_kill = con.execute("select count(*) from posts").fetchone()[0]
    assert 0 < after_kill < n
    done = subprocess.run(
        [*cmd[:-2], "ingest", "--json", str(path)], env=env, capture_output=True, text=True, check=True
    )
    totals = json.loads(done.stdout)["totals"]
    assert totals["read"] == n
    assert totals["duplicate"] == after_kill and totals["inserted"] == n - after_kill
    with sqlite3.connect(db_file) as con:
        count, distinct = con.execute("select count(*), count(distinct external_id) from posts").fetchone()
    assert count == distinct == n
