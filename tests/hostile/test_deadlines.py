"""Every network exchange ends by a wall-clock deadline: a feed server that sends its headers, a
webhook that sends its answer and a mail server that sends its greeting one byte at a time, each
just inside the per-read time-out, are hung up on by `emomon ingest` and `emomon alerts run`
(subprocesses) at 3 time-outs (or what is left of the budget), with one line and no traceback; the
alerts stay pending and the next run, which gets the run lock, completes the work."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile.loopback import Answer, Loopback, loopback
from hostile.test_deliveries import seed
from smtp_server import SmtpServer
from sqlalchemy import Engine, func, select

from monitor.alerts.channels import WebhookChannel
from monitor.deadline import TOTAL_TIMEOUT_FACTOR
from monitor.errors import ChannelError, ExitStatus
from monitor.store.engine import ensure_schema, make_engine, session_scope
from monitor.store.schema import Alert, Delivery

EMOMON = Path(sys.executable).with_name("emomon")
# How much longer than its deadline a client may hold a dripping server (timer and scheduling).
SLACK_S = 1.5


class Trickler:
    """A TCP server on 127.0.0.1 that answers each connection with ``start`` and then one more byte
    of ``filler`` every ``interval`` seconds, never finishing, until closed.

    ``held`` has, for each connection the client hung up, the seconds it stayed connected
    (measured at the first byte that could not be sent: at most two intervals late).
    """

    def __init__(self, start: bytes, *, interval: float, filler: bytes = b"a") -> None:
        self.start, self.interval, self.filler = start, interval, filler
        self.connections = 0
        self.held: list[float] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def hung_up_within(self, seconds: float) -> bool:
        """Whether every connection was hung up, each within ``seconds`` (plus the measuring delay)."""
        return len(self.held) == self.connections > 0 and max(self.held) < seconds + 2 * self.interval + SLACK_S

    def close(self) -> None:
        """Stop, once every connection was hung up (or after a few seconds)."""
        ends = time.monotonic() + 5
        while len(self.held) < self.connections and time.monotonic() < ends:
            time.sleep(0.05)
        self.stop.set()
        self.sock.close()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn: socket.socket) -> None:
        t0 = time.monotonic()
        with conn:
            try:
                for byte in self.start:
                    conn.sendall(bytes([byte]))
                    if self.stop.wait(self.interval):
                        return
                while not self.stop.wait(self.interval):
                    conn.sendall(self.filler)
            except OSError:  # the client hung up: what its deadline does
                self.held.append(time.monotonic() - t0)


@pytest.fixture()
def server() -> Iterator[Loopback]:
    with loopback() as state:
        yield state


def emomon(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the installed CLI. A run that does not end within two minutes fails the test (without a
    deadline it would wait as long as the server drips)."""
    proc = subprocess.run(
        [str(EMOMON), "--config", str(cwd / "config.toml"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=dict(os.environ),
    )
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    return proc


def one_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The single ``Error:`` line of a failed run (a source or stage failed)."""
    assert proc.returncode == ExitStatus.FAILED, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), proc.stderr
    return lines[0]


# ------------------------------------------------------------------------------ feeds


def test_a_feed_that_drips_its_headers_stops_at_the_deadline(tmp_path: Path, db_url: str) -> None:
    drip = Trickler(b"HTTP/1.1 200 OK\r\nX-Slow: ", interval=0.2)  # a header line that never ends
    good = tmp_path / "good.jsonl"
    good.write_text('{"id": "g1", "text": "a good post"}\n')
    (tmp_path / "config.toml").write_text(
        textwrap.dedent(f"""
        [database]
        url = "{db_url}"
        [ingest]
        timeout_s = 1.0
        [schedule]
        lock_timeout = 0
        [[sources]]
        name = "dripping"
        kind = "feed"
        location = "{drip.url("/feed.xml")}"
        [[sources]]
        name = "good"
        kind = "jsonl"
        location = "{good}"
    """)
    )
    try:
        proc = emomon(tmp_path, "ingest", "--json")
    finally:
        drip.close()
    assert drip.hung_up_within(TOTAL_TIMEOUT_FACTOR * 1.0), drip.held
    line = one_line(proc)
    assert "dripping" in line and "deadline of the whole exchange" in line and "[ingest] timeout_s" in line
    dripping, ok = json.loads(proc.stdout)["sources"]
    assert dripping["status"] == "error" and "within 3 s" in dripping["error"]
    assert ok["inserted"] == 1

    # The run lock was given back: the next run takes it at once and reads the good source.
    proc = emomon(tmp_path, "ingest", "--json", "good")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["sources"][0]["duplicate"] == 1


def test_the_source_budget_bounds_a_dripping_feed_too(tmp_path: Path, db_url: str) -> None:
    drip = Trickler(b"HTTP/1.1 200 OK\r\nX-Slow: ", interval=0.2)
    (tmp_path / "config.toml").write_text(
        textwrap.dedent(f"""
        [database]
        url = "{db_url}"
        [ingest]
        timeout_s = 20.0
        source_budget_s = 1.5
    """)
    )
    try:
        proc = emomon(tmp_path, "ingest", drip.url("/feed.xml"))
    finally:
        drip.close()
    assert drip.hung_up_within(1.5), drip.held
    line = one_line(proc)
    assert "deadline of the whole exchange" in line and "what was left of [ingest] source_budget_s" in line


# ------------------------------------------------------------------------------ alerts


def alerts_config(
    tmp_path: Path,
    db_url: str,
    *,
    channel: str,
    budget: float,
    webhook_url: str = "",
    webhook_timeout: float = 0.5,
    mail_port: int = 1,
    mail_timeout: float = 1.0,
) -> None:
    (tmp_path / "config.toml").write_text(
        textwrap.dedent(f"""
        [database]
        url = "{db_url}"
        [schedule]
        lock_timeout = 0
        [alerts]
        channels = ["{channel}"]
        delivery_budget_s = {budget}
        [alerts.rules.rise]
        enabled = false
        [alerts.rules.source_shift]
        enabled = false
        [channels.webhook]
        url = "{webhook_url}"
        secret_env = ""
        timeout = {webhook_timeout}
        retries = 0
        [channels.email]
        host = "127.0.0.1"
        port = {mail_port}
        recipients = ["reviewer@example.org"]
        timeout = {mail_timeout}
    """)
    )


def seeded(db_url: str) -> Engine:
    """The database with posts that raise two alerts at the next alerts run."""
    engine = make_engine(db_url)
    ensure_schema(engine)
    seed(engine, authors=2)
    return engine


def pending(engine: Engine, channel: str) -> int:
    with session_scope(engine) as s:
        return (
            s.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(Delivery.channel == channel, Delivery.delivered_at.is_(None))
            )
            or 0
        )


@pytest.mark.parametrize(
    "timeout, budget, seconds, limit",
    [
        (0.5, 30.0, 1.5, "3 times [channels.webhook] timeout"),
        (10.0, 1.0, 1.0, "what was left of [alerts] delivery_budget_s"),
    ],
    ids=["timeout", "budget"],
)
def test_a_webhook_that_drips_its_answer_stops_at_the_deadline_and_keeps_the_alerts(
    tmp_path: Path, db_url: str, server: Loopback, timeout: float, budget: float, seconds: float, limit: str
) -> None:
    engine = seeded(db_url)
    drip = Trickler(b"HTTP/1.1 200 OK\r\nX-Slow: ", interval=0.2)
    alerts_config(
        tmp_path, db_url, channel="webhook", budget=budget, webhook_url=drip.url("/hook"), webhook_timeout=timeout
    )
    try:
        proc = emomon(tmp_path, "alerts", "run")
    finally:
        drip.close()
    assert drip.connections == 1 and drip.hung_up_within(seconds), drip.held  # one alert tried
    line = one_line(proc)
    assert "webhook" in line and "deadline of the whole exchange" in line and limit in line
    with session_scope(engine) as s:
        alerts = sorted(s.scalars(select(Alert.id)))
    assert len(alerts) == 2 and pending(engine, "webhook") == 2

    server.answer("/hook", Answer(200))  # the endpoint is fixed: the next run sends both, once
    alerts_config(
        tmp_path, db_url, channel="webhook", budget=budget, webhook_url=server.url("/hook"), webhook_timeout=timeout
    )
    proc = emomon(tmp_path, "alerts", "run")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p["id"] for p in server.posted("/hook")) == alerts and pending(engine, "webhook") == 0


def test_a_mail_server_that_drips_its_greeting_stops_at_the_deadline_and_keeps_the_digest(
    tmp_path: Path, db_url: str
) -> None:
    engine = seeded(db_url)
    drip = Trickler(b"220 ", interval=0.4, filler=b"x")  # a greeting line that never ends
    alerts_config(tmp_path, db_url, channel="email", budget=30.0, mail_port=drip.port, mail_timeout=1.0)
    try:
        proc = emomon(tmp_path, "alerts", "run")
    finally:
        drip.close()
    assert drip.hung_up_within(TOTAL_TIMEOUT_FACTOR * 1.0), drip.held
    line = one_line(proc)
    assert f"e-mail via 127.0.0.1:{drip.port}" in line and "deadline of the whole exchange" in line
    assert "3 times [channels.email] timeout" in line and pending(engine, "email") == 2

    smtp = SmtpServer()  # a working mail server: the next run sends the digest of both alerts
    try:
        alerts_config(tmp_path, db_url, channel="email", budget=30.0, mail_port=smtp.port)
        proc = emomon(tmp_path, "alerts", "run")
    finally:
        smtp.close()
    assert proc.returncode == 0, proc.stderr
    assert len(smtp.messages) == 1 and pending(engine, "email") == 0


# ------------------------------------------------------------------------------ in process


def test_a_webhook_attempt_is_bounded_in_process_too(tmp_path: Path) -> None:
    """The deadline holds for the channel object itself (as the scheduler calls it), and a run that
    posts well inside it is untouched."""
    drip = Trickler(b"HTTP/1.1 200 OK\r\nX-Slow: ", interval=0.1)
    hook = WebhookChannel(drip.url("/hook"), timeout=0.4, retries=0)
    t0 = time.monotonic()
    try:
        with pytest.raises(ChannelError, match="deadline of the whole exchange") as info:
            hook.send([{"id": 1}])
    finally:
        drip.close()
    assert time.monotonic() - t0 < TOTAL_TIMEOUT_FACTOR * 0.4 + 1.0
    assert "\n" not in str(info.value)
    with loopback() as ok:
        ok.answer("/hook", Answer(200))
        WebhookChannel(ok.url("/hook"), timeout=0.4, retries=0).send([{"id": 2}])
        assert ok.posted("/hook") == [{"id": 2}]
