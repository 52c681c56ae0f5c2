"""Tests for monitor.alerts.channels against a real HTTP server and a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import email
import json
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from smtp_server import SmtpServer

from monitor.alerts import channels
from monitor.errors import ChannelError, ConfigError
from monitor.settings import EmailChannel as EmailSettings
from monitor.settings import WebhookChannel as WebhookSettings

ALERT = {
    "id": 7,
    "rule": "rise",
    "subject_kind": "author",
    "subject": "a-3f9c2e71b04d",
    "severity": "high",
    "status": "new",
    "window_start": "2025-01-10T09:00:00Z",
    "window_end": "2025-01-11T09:00:00Z",
    "trigger_post_id": 42,
    "trigger_index": 21,
    "trigger_at": "2025-01-11T09:00:00Z",
    "created_at": "2025-01-12T02:30:00Z",
    "updated_at": None,
    "model_version": "test-v1",
    "evidence": {"cusum": 6.1, "h": 4.0, "post_ids": [41, 42]},
}


# ------------------------------------------------------------------------------ payloads


def test_payload_carries_the_alert_and_a_review_note_but_no_text_by_default() -> None:
    p = channels.alert_payload(ALERT)
    assert p["subject"] == "a-3f9c2e71b04d" and p["type"] == "emomon.alert"
    assert "not a diagnosis" in p["note"]
    assert "excerpt" not in p
    with_text = channels.alert_payload(ALERT, {42: "a short excerpt"})
    assert with_text["excerpt"] == "a short excerpt"


# ---------------------------------------------------------------------------- JSON Lines


def test_jsonl_appends_one_object_a_line(tmp_path: Path) -> None:
    path = tmp_path / "out" / "alerts.jsonl"
    ch = channels.JsonlChannel(path)
    ch.send([channels.alert_payload(ALERT)])
    ch.send([channels.alert_payload(ALERT), channels.alert_payload({**ALERT, "id": 8})])
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(x)["id"] for x in lines] == [7, 7, 8]


def test_jsonl_unwritable_path_is_a_channel_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ChannelError, match="channels.file.path"):
        channels.JsonlChannel(tmp_path / "file" / "alerts.jsonl").send([ALERT])


def test_terminal_prints_pseudonym_at_80_columns() -> None:
    console = Console(width=80, record=True, force_terminal=False)
    channels.TerminalChannel(console).send([channels.alert_payload(ALERT)])
    out = console.export_text()
    assert "a-3f9c2e71b04d" in out and "rise" in out
    assert max(len(line) for line in out.splitlines()) <= 80


# ------------------------------------------------------------------------------- webhook


@dataclass
class Hook:
    url: str
    statuses: list[int]  # responses to give, in order; 200 once exhausted
    requests: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture()
def hook() -> Iterator[Hook]:
    state = Hook(url="", statuses=[])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server API
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append({"headers": dict(self.headers), "body": json.loads(body)})
            code = state.statuses.pop(0) if state.statuses else 200
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield state
    server.shutdown()
    server.server_close()


def test_webhook_fails_twice_then_succeeds_with_backoff(hook: Hook) -> None:
    hook.statuses = [503, 500]
    waits: list[float] = []
    ch = channels.WebhookChannel(hook.url, secret="s3cret", retries=3, backoff=0.5, sleep=waits.append)
    ch.send([channels.alert_payload(ALERT)])
    assert len(hook.requests) == 3 and ch.attempts == 3
    assert waits == [0.5, 1.0]
    last = hook.requests[-1]
    assert last["body"]["subject"] == "a-3f9c2e71b04d"
    assert last["headers"]["X-Emomon-Secret"] == "s3cret"
    assert last["headers"]["Content-Type"] == "application/json"


def test_webhook_gives_up_after_retries(hook: Hook) -> None:
    hook.statuses = [500] * 10
    ch = channels.WebhookChannel(hook.url, retries=2, backoff=0.01)
    with pytest.raises(ChannelError, match="failed after 3 attempts .HTTP 500"):
        ch.send([ALERT])
    assert len(hook.requests) == 3


def test_webhook_client_error_is_not_retried(hook: Hook) -> None:
    hook.statuses = [403]
    ch = channels.WebhookChannel(hook.url, retries=3, backoff=0.01)
    with pytest.raises(ChannelError, match="HTTP 403"):
        ch.send([ALERT])
    assert len(hook.requests) == 1


def test_webhook_retries_connection_errors() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ch = channels.WebhookChannel(f"http://127.0.0.1:{port}/", retries=1, backoff=0.01, timeout=2)
    with pytest.raises(ChannelError, match="failed after 2 attempts .ConnectError"):
        ch.send([ALERT])


def test_webhook_secret_comes_from_the_named_environment_variable(hook: Hook) -> None:
    cfg = WebhookSettings(url=hook.url, secret_env="HOOK_SECRET", secret_header="X-Token")
    ch = channels.WebhookChannel.from_settings(cfg, {"HOOK_SECRET": "from-env"})
    ch.send([ALERT])
    assert hook.requests[0]["headers"]["X-Token"] == "from-env"
    with pytest.raises(ConfigError, match="HOOK_SECRET"):
        channels.WebhookChannel.from_settings(cfg, {})
    unsigned = channels.WebhookChannel.from_settings(WebhookSettings(url=hook.url, secret_env=""), {})
    unsigned.send([ALERT])
    assert "X-Emomon-Secret" not in hook.requests[1]["headers"]


# ---------------------------------------------------------------------------------- SMTP


@pytest.fixture()
def cert(tmp_path: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl command not found: needed to make a self-signed test certificate")
    key, crt = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(crt),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return crt, key


def _email_settings(port: int, **kw: Any) -> EmailSettings:
    return EmailSettings(
        host="127.0.0.1",
        port=port,
        sender="emomon@example.org",
        recipients=("review@example.org", "lead@example.org"),
        timeout=5,
        **kw,
    )


def test_email_digest_over_plain_smtp() -> None:
    server = SmtpServer()
    try:
        ch = channels.EmailChannel(_email_settings(server.port))
        ch.send([channels.alert_payload(ALERT), channels.alert_payload({**ALERT, "id": 8})])
    finally:
        server.close()
    (msg,) = server.messages
    assert msg["to"] == ["review@example.org", "lead@example.org"] and not msg["tls"]
    parsed = email.message_from_bytes(msg["data"])
    assert parsed["Subject"] == "[emomon] 2 new alert(s) for review"
    body, attachment = [p for p in parsed.walk() if not p.is_multipart()]
    text = body.get_payload(decode=True).decode()
    assert "#7 [high] rise author a-3f9c2e71b04d" in text and "not a diagnosis" in text
    assert [a["id"] for a in json.loads(attachment.get_payload(decode=True))] == [7, 8]


def test_email_starttls_and_login(cert: tuple[Path, Path]) -> None:
    crt, key = cert
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(crt, key)
    server = SmtpServer(tls=ctx, login=("reviewer", "pw"))
    try:
        cfg = _email_settings(server.port, starttls=True, cafile=crt, username="reviewer", password_env="SMTP_PW")
        channels.EmailChannel.from_settings(cfg, {"SMTP_PW": "pw"}).send([ALERT])
        with pytest.raises(ChannelError, match="e-mail via 127.0.0.1"):
            channels.EmailChannel(cfg, password="wrong").send([ALERT])
    finally:
        server.close()
    (msg,) = server.messages
    assert msg["tls"] and msg["auth"] == "reviewer"


def test_email_starttls_required_but_not_offered() -> None:
    server = SmtpServer()
    try:
        with pytest.raises(ChannelError, match="does not offer STARTTLS"):
            channels.EmailChannel(_email_settings(server.port, starttls=True)).send([ALERT])
    finally:
        server.close()
    assert server.messages == []


def test_email_unreachable_server_is_a_channel_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ChannelError, match=f"127.0.0.1:{port}"):
        channels.EmailChannel(_email_settings(port)).send([ALERT])


# ------------------------------------------------------------------------------- deliver


def test_deliver_keeps_going_when_one_channel_fails(tmp_path: Path, hook: Hook) -> None:
    hook.statuses = [404]
    good = channels.JsonlChannel(tmp_path / "a.jsonl")
    bad = channels.WebhookChannel(hook.url, retries=0)
    results = channels.deliver([bad, good], [ALERT])
    assert results["file"] == "ok" and "HTTP 404" in results["webhook"]
    assert (tmp_path / "a.jsonl").read_text().count("\n") == 1
    assert channels.deliver([good], []) == {"file": "nothing to send"}
