"""A real HTTP server on 127.0.0.1 whose answers a test scripts: hostile feeds and webhooks."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Answer:
    """One scripted answer: status, headers, body, and seconds to wait before answering;
    ``reason`` replaces the status line's reason phrase (its characters are sent as latin-1 bytes)."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    reason: str | None = None


@dataclass
class Loopback:
    """The server's script and what it received.

    ``routes`` maps a path to its answers, given in order; the last one repeats.
    """

    port: int = 0
    routes: dict[str, list[Answer]] = field(default_factory=dict)
    received: list[dict[str, Any]] = field(default_factory=list)

    def url(self, path: str) -> str:
        """The URL of ``path`` on this server."""
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, path: str, *answers: Answer) -> None:
        """Script the answers of ``path``."""
        self.routes[path] = list(answers)

    def posted(self, path: str) -> list[Any]:
        """The JSON bodies POSTed to ``path`` that got a 2xx answer."""
        return [r["json"] for r in self.received if r["path"] == path and r["ok"]]

    def next_answer(self, path: str) -> Answer:
        answers = self.routes.get(path)
        if not answers:
            return Answer(404, b"not found")
        return answers.pop(0) if len(answers) > 1 else answers[0]


def _handler(state: Loopback) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server API
            self._reply(None)

        def do_POST(self) -> None:  # noqa: N802 - http.server API
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._reply(json.loads(body) if body else None)

        def _reply(self, doc: Any) -> None:
            path = self.path.split("?")[0]
            answer = state.next_answer(path)
            if answer.delay:
                time.sleep(answer.delay)
            state.received.append({"path": path, "json": doc, "ok": 200 <= answer.status < 300})
            try:
                self.send_response(answer.status, answer.reason)
                for name, value in {"Content-Length": str(len(answer.body)), **answer.headers}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(answer.body)
            except (BrokenPipeError, ConnectionResetError):
                return  # the client gave up waiting: what a slow server sees

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return None

    return Handler


@contextmanager
def loopback() -> Iterator[Loopback]:
    """Run a scripted HTTP server for the duration of the block."""
    state = Loopback()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
