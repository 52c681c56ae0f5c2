"""Helpers of the web workspace tests: a real ``emomon serve`` on a free loopback port, over a real
store seeded with alerts (the ``site`` fixture of tests/web/conftest.py builds it).

The store is the review seed (tests/review_seed.py: two invented authors, one drifting) on this
run's backend, with ``emomon alerts run`` raising its alerts, one post behind them replaced by
hostile markup, and three accounts made with ``emomon users add --password-stdin``: ``sam`` and
``kim`` and ``ana`` (reviewers) and ``lee`` (lead). Re-identification is allowed in its config.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from monitor.api import Emomon

EMOMON = Path(sys.executable).with_name("emomon")
PASSWORD = "correct horse battery"
HOSTILE = '<script>alert("owned")</script><img src=x onerror="alert(2)"> & "quotes"'
USERS = (("sam", "reviewer"), ("kim", "reviewer"), ("ana", "reviewer"), ("lee", "lead"))


def free_port() -> int:
    """A TCP port nobody listens on now, on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_emomon(cwd: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """The installed ``emomon`` command, run in ``cwd`` (where config.toml is)."""
    return subprocess.run(
        [str(EMOMON), *args], cwd=cwd, input=stdin, capture_output=True, text=True, timeout=300, check=False
    )


@dataclass
class Site:
    """A running workspace: its address, config, the hostile post and the server's process."""

    url: str
    root: Path
    config: Path
    hostile_post: int
    process: subprocess.Popen[str]

    def api(self) -> Emomon:
        """The installation the server serves (read back what the pages did)."""
        return Emomon(self.config)

    def client(self) -> Client:
        """A new HTTP client without a session."""
        return Client(self.url)


class Client:
    """An HTTP client that keeps its cookies, reads forms' CSRF tokens and logs in by the form."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, follow_redirects=False, timeout=30)

    def get(self, path: str) -> httpx.Response:
        return self.http.get(path)

    def post(self, path: str, data: dict[str, str]) -> httpx.Response:
        return self.http.post(path, data=data)

    def token(self, path: str = "/login") -> str:
        """The CSRF token in the forms of ``path``."""
        found = re.search(r'name="csrf_token" value="([^"]+)"', self.get(path).text)
        assert found, f"no csrf_token field on {path}"
        return found.group(1)

    def seen(self, alert_id: int) -> str:
        """The alert's version as its page's action forms carry it (field ``seen``)."""
        found = re.search(r'name="seen" value="(\d+)"', self.get(f"/alerts/{alert_id}").text)
        assert found, f"no action form on /alerts/{alert_id}"
        return found.group(1)

    def login(self, name: str, password: str = PASSWORD) -> httpx.Response:
        return self.post("/login", {"csrf_token": self.token(), "username": name, "password": password})


def start_server(root: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    """``emomon serve`` in ``root`` on a free port, once /healthz answers."""
    port = free_port()
    process = subprocess.Popen(
        [str(EMOMON), "serve", "--port", str(port), *args],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"emomon serve exited {process.returncode}: {process.stderr.read()}")  # type: ignore[union-attr]
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError("emomon serve did not answer /healthz within 60 s")


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
