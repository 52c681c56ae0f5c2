"""Helpers for tests that run the installed ``emomon`` on a real store and then read all of it."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Engine, String, Text, func, select

from monitor.store.engine import session_scope
from monitor.store.schema import Base

Emomon = Callable[..., subprocess.CompletedProcess[str]]


def cli(emomon: Emomon, site: Path, db_url: str, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``emomon`` in ``site`` (its config.toml) on the test's database; no traceback, ever."""
    done = emomon(site, *args, env={"EMOMON_DATABASE_URL": db_url})
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    assert (done.returncode == 0) is ok, done.stdout + done.stderr
    return done


def ingest(emomon: Emomon, site: Path, db_url: str, *args: str) -> dict[str, int]:
    """``emomon ingest ARGS --json``: the totals."""
    return json.loads(cli(emomon, site, db_url, "ingest", *args, "--json").stdout)["totals"]


def stored_text(engine: Engine) -> str:
    """Every string and JSON document of every row of every table, folded to lower case."""
    parts: list[str] = []
    with session_scope(engine) as s:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, (String, Text, JSON))]
            if columns:
                parts.extend(
                    v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
                    for row in s.execute(select(*columns))
                    for v in row
                    if v is not None
                )
    return "\n".join(parts).casefold()


def site_with(tmp_path: Path, config: str) -> Path:
    """``tmp_path/site`` with ``config`` as its config.toml."""
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "config.toml").write_text(config, encoding="utf-8")
    return site


def jsonl(path: Path, *rows: dict[str, Any] | str) -> Path:
    """Write ``rows`` (objects, or lines as written) as JSON Lines."""
    path.write_text(
        "".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows), encoding="utf-8"
    )
    return path


def count(engine: Engine, table: type[Base]) -> int:
    """The number of rows of ``table``."""
    with session_scope(engine) as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)
