from sqlalchemy import select

from monitor.store.engine import session_scope
from monitor.store.posts import pseudonym, pseudonym_salt, upsert_authors
from monitor.store.schema import Author, Meta


def test_salt_is_created_once_and_kept(engine):
    with session_scope(engine) as s:
        first = pseudonym_salt(s)
    with session_scope(engine) as s:
        assert pseudonym_salt(s) == first
        assert pseudonym_salt(s, "given") == "given"
        assert s.scalars(select(Meta.value)).all() == [first]


def test_pseudonym_shape_and_keying():
    p = pseudonym("salt", "reddit", "ann")
    assert p.startswith("a-") and len(p) == 14
    assert p == pseudonym("salt", "reddit", "ann")
    assert p != pseudonym("salt", "x", "ann") != pseudonym("pepper", "reddit", "ann")


def test_upsert_authors_is_idempotent(engine):
    with session_scope(engine) as s:
        ids = upsert_authors(s, [("x", "ann"), ("x", "bob"), ("x", "ann")], "salt")
    with session_scope(engine) as s:
        again = upsert_authors(s, [("x", "ann"), ("y", "ann")], "salt")
        assert again[("x", "ann")] == ids[("x", "ann")]
        assert len(s.scalars(select(Author)).all()) == 3
