"""Sessions, CSRF tokens, the login rate limit and the security headers of the web workspace.

The session lives in a signed cookie (Starlette's SessionMiddleware, itsdangerous); it holds the
user's name, when their password was last changed (a new password ends older sessions) and the
CSRF token every form carries in its ``csrf_token`` field.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from collections.abc import MutableMapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: The form field (and session key) of the CSRF token.
CSRF_FIELD = "csrf_token"
#: Name of the session cookie.
COOKIE = "emomon_session"
#: A session ends this many seconds after login.
SESSION_SECONDS = 8 * 3600
#: The Content-Security-Policy of every response: scripts, styles, fonts and frames only from this
#: site's own files (the pages have no inline script, inline style or ``style=`` attribute; the
#: charts are SVG styled by classes from /charts.css), images also as ``data:`` URLs, forms posted
#: only here, and no page framed anywhere.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
)
#: The headers every response gets (pages, redirects, static files, errors).
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


class SecurityHeaders:
    """ASGI middleware that puts :data:`SECURITY_HEADERS` on every HTTP response (replacing any
    the handler set), so no route can forget them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in SECURITY_HEADERS.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k for k, _ in self.raw}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": kept + self.raw}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def csrf_token(session: MutableMapping[str, Any]) -> str:
    """The session's CSRF token (made on first use)."""
    token = session.get(CSRF_FIELD)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[CSRF_FIELD] = token
    return token


def csrf_ok(session: MutableMapping[str, Any], sent: object) -> bool:
    """Whether ``sent`` (the form's field) is this session's token."""
    token = session.get(CSRF_FIELD)
    return isinstance(token, str) and isinstance(sent, str) and bool(token) and secrets.compare_digest(token, sent)


class LoginLimiter:
    """Failed logins counted per user name typed and per client address: after ``per_name``
    failures on a name, or ``per_address`` from an address, within ``window`` seconds, that name or
    address waits until the oldest of those failures is ``window`` old."""

    def __init__(self, per_name: int = 5, per_address: int = 30, window: float = 900.0) -> None:
        self.limits = {"name": per_name, "address": per_address}
        self.window = window
        self._seen: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._seen.setdefault(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def _keys(self, name: str, address: str) -> list[tuple[str, str]]:
        return [("name", name.casefold()), ("address", address)]

    def wait(self, name: str, address: str, now: float | None = None) -> float:
        """Seconds until ``name`` may be tried again from ``address`` (0: now)."""
        at = time.monotonic() if now is None else now
        with self._lock:
            waits = [
                times[0] + self.window - at
                for key in self._keys(name, address)
                if len(times := self._recent(key, at)) >= self.limits[key[0]]
            ]
        return max([0.0, *waits])

    def failed(self, name: str, address: str, now: float | None = None) -> None:
        """Count one failed login against the name and the address."""
        at = time.monotonic() if now is None else now
        with self._lock:
            for key in self._keys(name, address):
                self._recent(key, at).append(at)

    def succeeded(self, name: str) -> None:
        """Forget a name's failures after a good login."""
        with self._lock:
            self._seen.pop(("name", name.casefold()), None)
