"""A throw-away PostgreSQL cluster for the ``--backend postgres`` test run.

``initdb`` into a temporary directory, ``pg_ctl start`` on 127.0.0.1 with a free port, stopped
at the end of the session. As root, the server runs as the ``postgres`` system user that
Debian's package creates (PostgreSQL refuses to run as root). Each test then gets its own
database (:func:`create_database`).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url


def _bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    if not candidates:
        raise RuntimeError(f"{name} not found: apt-get install postgresql, or set EMOMON_TEST_POSTGRES_URL")
    return candidates[-1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Cluster:
    """A running cluster: its data directory and the superuser URL of its ``postgres`` database."""

    root: Path
    url: str
    as_user: list[str]

    def stop(self) -> None:
        """Stop the server (fast shutdown) and delete its directory."""
        subprocess.run(
            [*self.as_user, _bin("pg_ctl"), "-D", str(self.root / "data"), "-m", "fast", "-w", "stop"],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(self.root, ignore_errors=True)


def start_cluster() -> Cluster:
    """initdb + pg_ctl start on 127.0.0.1, trust authentication, durability off (tests only)."""
    root = Path(tempfile.mkdtemp(prefix="emomon-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", _free_port()
    subprocess.run(
        [*as_user, _bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"],
        check=True,
        capture_output=True,
    )
    options = (
        f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    subprocess.run(
        [*as_user, _bin("pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-o", options, "-w", "start"],
        check=True,
        capture_output=True,
    )
    return Cluster(root, f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", as_user)


def _admin(server_url: str) -> psycopg.Connection:
    url = make_url(server_url).set(drivername="postgresql")
    return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)


def create_database(server_url: str) -> str:
    """Create an empty database on the server; returns its SQLAlchemy URL."""
    name = f"emomon_test_{uuid.uuid4().hex[:12]}"
    with _admin(server_url) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, database_url: str) -> None:
    """Drop a database made by :func:`create_database`, ending any connection still open."""
    name = make_url(database_url).database
    with _admin(server_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def throwaway_database() -> Iterator[str]:
    """The URL of a new database in a cluster started for the ``with`` block and stopped after it
    (what the benchmarks' ``--postgres`` options use)."""
    cluster = start_cluster()
    try:
        yield create_database(cluster.url)
    finally:
        cluster.stop()
