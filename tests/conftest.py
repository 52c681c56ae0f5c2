"""Shared fixtures: a fresh database per test, settings and a CLI runner.

``pytest --backend sqlite`` (the default) gives each test a real SQLite file under tmp_path;
``pytest --backend postgres`` gives each test a new database on a PostgreSQL server: the one
named by ``EMOMON_TEST_POSTGRES_URL`` (a superuser URL, e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``), or else a throw-away cluster that
the session starts and stops (tests/pgcluster.py). Tests that only make sense on one backend
carry ``@pytest.mark.sqlite_only(reason=...)`` or ``@pytest.mark.postgres_only(reason=...)``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from monitor.settings import Settings, load_settings
from monitor.store.engine import ensure_schema, make_engine

REPO = Path(__file__).resolve().parent.parent
BACKENDS = ("sqlite", "postgres")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend",
        choices=BACKENDS,
        default="sqlite",
        help="database backend of the db_url/engine/make_settings fixtures (default sqlite)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    backend = config.getoption("--backend")
    for item in items:
        for name, only in (("sqlite_only", "sqlite"), ("postgres_only", "postgres")):
            marker = item.get_closest_marker(name)
            if marker is not None and backend != only:
                reason = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "")
                item.add_marker(pytest.mark.skip(reason=f"{only} only: {reason}"))


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> str:
    """The backend this run tests: ``sqlite`` or ``postgres``."""
    return str(request.config.getoption("--backend"))


@pytest.fixture(scope="session")
def postgres_server(backend: str) -> Iterator[str | None]:
    """Superuser URL of the PostgreSQL server of a ``--backend postgres`` run (None on SQLite)."""
    if backend != "postgres":
        yield None
        return
    given = os.environ.get("EMOMON_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    import pgcluster

    cluster = pgcluster.start_cluster()
    try:
        yield cluster.url
    finally:
        cluster.stop()


@pytest.fixture
def make_db_url(tmp_path: Path, postgres_server: str | None) -> Iterator[Callable[[str], str]]:
    """``make(name)``: the URL of another fresh, empty database of this run's backend."""
    made: list[str] = []

    def make(name: str = "emomon") -> str:
        if postgres_server is None:
            return f"sqlite:///{tmp_path / name}.db"
        import pgcluster

        made.append(pgcluster.create_database(postgres_server))
        return made[-1]

    yield make
    if postgres_server is not None:
        import pgcluster

        for url in made:
            pgcluster.drop_database(postgres_server, url)


@pytest.fixture
def db_url(make_db_url: Callable[[str], str]) -> str:
    """URL of a fresh database: a SQLite file in tmp_path (emomon.db), or a new PostgreSQL database."""
    return make_db_url("emomon")


@pytest.fixture
def make_settings(tmp_path: Path, db_url: str) -> Callable[..., Settings]:
    """Build settings from a TOML string (written to tmp_path/config.toml) and env overrides."""

    def build(toml: str = "", **env: str) -> Settings:
        path = tmp_path / "config.toml"
        path.write_text(toml, encoding="utf-8")
        return load_settings(path, {"EMOMON_DATABASE_URL": db_url, **env})

    return build


@pytest.fixture
def engine(db_url: str) -> Iterable[Engine]:
    """An engine on a new database at the head revision."""
    eng = make_engine(db_url)
    ensure_schema(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def runner() -> CliRunner:
    """A click test runner."""
    return CliRunner()
