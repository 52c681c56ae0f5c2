"""A small real SMTP server on 127.0.0.1 for the tests of everything that sends mail."""

from __future__ import annotations

import base64
import socket
import ssl
import threading
from typing import Any


class SmtpServer:
    """A small real SMTP server (EHLO, STARTTLS, AUTH PLAIN, MAIL, RCPT, DATA, QUIT)."""

    def __init__(self, *, tls: ssl.SSLContext | None = None, login: tuple[str, str] | None = None) -> None:
        self.tls = tls
        self.login = login
        self.messages: list[dict[str, Any]] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self._stop.set()
        self.thread.join(5)
        self.sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            conn.settimeout(5)
            with conn:
                self._session(conn)

    def _session(self, conn: socket.socket) -> None:
        state: dict[str, Any] = {"conn": conn, "tls": False, "auth": None, "from": None, "to": []}
        reader = conn.makefile("rb")

        def say(line: str) -> None:
            state["conn"].sendall(line.encode() + b"\r\n")

        say("220 127.0.0.1 test SMTP ready")
        while True:
            raw = reader.readline()
            if not raw:
                return
            line = raw.decode().rstrip("\r\n")
            cmd = line.upper()
            if cmd.startswith(("EHLO", "HELO")):
                ext = ["127.0.0.1", "8BITMIME"]
                if self.tls is not None and not state["tls"]:
                    ext.append("STARTTLS")
                if self.login is not None:
                    ext.append("AUTH PLAIN")
                for e in ext[:-1]:
                    say(f"250-{e}")
                say(f"250 {ext[-1]}")
            elif cmd == "STARTTLS" and self.tls is not None:
                say("220 go ahead")
                state["conn"] = self.tls.wrap_socket(state["conn"], server_side=True)
                state["tls"] = True
                reader = state["conn"].makefile("rb")
            elif cmd.startswith("AUTH PLAIN"):
                _, user, password = base64.b64decode(line.split()[2]).decode().split("\0")
                if (user, password) == self.login:
                    state["auth"] = user
                    say("235 authenticated")
                else:
                    say("535 bad credentials")
            elif cmd.startswith("MAIL FROM:"):
                if self.login is not None and state["auth"] is None:
                    say("530 authentication required")
                    continue
                state["from"] = line[10:].strip().strip("<>").split(">")[0]
                say("250 ok")
            elif cmd.startswith("RCPT TO:"):
                state["to"].append(line[8:].strip().strip("<>"))
                say("250 ok")
            elif cmd == "DATA":
                say("354 end with <CRLF>.<CRLF>")
                data = []
                while (chunk := reader.readline()) not in (b".\r\n", b""):
                    data.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                self.messages.append(
                    {
                        "from": state["from"],
                        "to": list(state["to"]),
                        "tls": state["tls"],
                        "auth": state["auth"],
                        "data": b"".join(data),
                    }
                )
                say("250 queued")
            elif cmd == "QUIT":
                say("221 bye")
                return
            elif cmd in ("RSET", "NOOP"):
                say("250 ok")
            else:
                say("502 not implemented")
