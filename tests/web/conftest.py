"""The ``site`` fixture: a real ``emomon serve`` over a seeded store (see tests/web_site.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from review_seed import seed
from sqlalchemy import update
from web_site import HOSTILE, PASSWORD, USERS, Site, run_emomon, start_server, stop

from monitor.api import Emomon
from monitor.store.engine import make_engine, session_scope
from monitor.store.schema import Post


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, postgres_server: str | None) -> Iterator[Site]:
    """The seeded store served by a real ``emomon serve`` subprocess (see the module docstring)."""
    root = tmp_path_factory.mktemp("web")
    db_url = None
    if postgres_server is not None:
        import pgcluster

        db_url = pgcluster.create_database(postgres_server)
    config = seed(root, extra_config="[privacy]\nallow_reveal = true\n", db_url=db_url)
    ran = run_emomon(root, "alerts", "run")
    assert ran.returncode == 0, ran.stderr
    alerts = Emomon(config).alerts()
    assert len(alerts) >= 2, alerts
    hostile = int(alerts[-1]["evidence"]["post_ids"][-1])
    engine = make_engine(db_url or f"sqlite:///{root / 'emomon.db'}")
    with session_scope(engine) as s:
        s.execute(update(Post).where(Post.id == hostile).values(text=HOSTILE))
    engine.dispose()
    for name, role in USERS:
        made = run_emomon(root, "users", "add", name, "--role", role, "--password-stdin", stdin=PASSWORD + "\n")
        assert made.returncode == 0, made.stderr
    process, url = start_server(root)
    try:
        yield Site(url, root, config, hostile, process)
    finally:
        stop(process)
        if postgres_server is not None and db_url is not None:
            import pgcluster

            pgcluster.drop_database(postgres_server, db_url)
