"""Shared fixtures: real SQLite files in temporary directories, settings and a CLI runner."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from monitor.settings import Settings, load_settings
from monitor.store.engine import ensure_schema, make_engine

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """URL of a fresh SQLite file in a temporary directory."""
    return f"sqlite:///{tmp_path / 'emomon.db'}"


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

