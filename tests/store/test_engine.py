from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select, text

from monitor.errors import ConfigError, SchemaOutOfDate
from monitor.store import engine as db
from monitor.store.schema import Base, Post, Source


def test_new_database_is_created_at_head(engine):
    assert db.current_revision(engine) == db.head_revision()


@pytest.mark.sqlite_only(reason="SQLite connection pragmas")
def test_sqlite_pragmas(engine):
    with engine.connect() as conn:
        assert conn.execute(text("pragma journal_mode")).scalar() == "wal"
        assert conn.execute(text("pragma foreign_keys")).scalar() == 1
        assert conn.execute(text("pragma busy_timeout")).scalar() == db.BUSY_TIMEOUT_MS


def test_head_revision_matches_orm_metadata(engine):
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_upgrade_from_first_revision_keeps_data(db_url):
    engine = db.make_engine(db_url)
    db.upgrade(engine, "0001")
    now = datetime(2024, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            text(
                "insert into sources (id, name, kind, location, paused, created_at) "
                "values (1, 'kept', 'jsonl', 'x.jsonl', false, '2024-01-01 00:00:00')"
            )
        )
        conn.execute(
            text(
                "insert into posts (source_id, external_id, created_at, text, content_hash, ingested_at) "
                "values (1, 'e1', '2024-01-01 00:00:00', 'still here', 'h', '2024-01-01 00:00:00')"
            )
        )
    if db.head_revision() != "0001":
        with pytest.raises(SchemaOutOfDate, match="emomon db upgrade"):
            db.ensure_schema(engine)
    assert db.upgrade(engine) == db.head_revision()
    db.ensure_schema(engine)
    with db.session_scope(engine) as session:
        post = session.scalars(select(Post)).one()
        assert (post.text, post.created_at) == ("still here", now)
        assert session.scalars(select(Source.name)).one() == "kept"


def test_foreign_database_is_refused(db_url):
    engine = db.make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("create table other (x int)"))
    with pytest.raises(ConfigError, match="no emomon schema version"):
        db.ensure_schema(engine)


def test_bad_url_is_config_error():
    with pytest.raises(ConfigError, match="database.url"):
        db.make_engine("nonsense://")


def test_session_scope_rolls_back_on_error(engine):
    with pytest.raises(RuntimeError):
        with db.session_scope(engine) as session:
            session.add(Source(name="s", kind="jsonl", location="x", paused=False, created_at=datetime.now(UTC)))
            session.flush()
            raise RuntimeError("boom")
    with db.session_scope(engine) as session:
        assert session.scalars(select(Source)).all() == []


def test_open_store_is_the_one_way_to_open_the_configured_database(db_url, make_settings):
    settings = make_settings("")
    old = db.make_engine(db_url)
    db.upgrade(old, "0001")
    untouched = db.open_store(settings, migrate=False)
    assert db.current_revision(untouched) == "0001" and untouched.url.render_as_string(False) == db_url
    untouched.dispose()
    if db.head_revision() != "0001":
        with pytest.raises(SchemaOutOfDate, match="emomon db upgrade"):
            db.open_store(settings)
    db.upgrade(old)
    old.dispose()
    engine = db.open_store(settings)
    assert db.current_revision(engine) == db.head_revision()
    engine.dispose()


def test_any_of_finds_every_value_with_one_bound_list(engine):
    """``any_of`` (``= ANY(:array)`` / ``json_each``) matches exactly like ``IN``: texts with
    quotes, backslashes, non-ASCII and a NUL character (which SQLite's JSON would cut short),
    integers, more values than one ``IN`` list held, and none."""
    odd = ['q"uote', "back\\slash", "caf\u00e9", "\U0001f600", "tab\there", "nul\x00inside"]
    with db.session_scope(engine) as s:
        s.add(Source(name="s", kind="jsonl", location="x", paused=False, created_at=datetime(2025, 1, 1, tzinfo=UTC)))
        s.flush()
        rows = [{"external_id": e, "text": "t"} for e in [*odd, *(f"p{i}" for i in range(1500))]]
        if engine.dialect.name == "postgresql":  # PostgreSQL text holds no NUL at all
            rows = [r for r in rows if "\x00" not in r["external_id"]]
        for row in rows:
            at = datetime(2025, 1, 1, tzinfo=UTC)
            s.add(Post(source_id=1, created_at=at, ingested_at=at, content_hash="h", **row))
        s.flush()
        wanted = [r["external_id"] for r in rows if r["external_id"] != "p7"] + ["missing", "p"]
        found = set(s.scalars(select(Post.external_id).where(db.any_of(s, Post.external_id, wanted))))
        assert found == {r["external_id"] for r in rows} - {"p7"}
        ids = sorted(s.scalars(select(Post.id)))
        assert (
            list(s.scalars(select(Post.id).where(db.any_of(s, Post.id, ids[:3] + [10**9])).order_by(Post.id)))
            == (ids[:3])
        )
        assert list(s.scalars(select(Post.id).where(db.any_of(s, Post.id, [])))) == []
