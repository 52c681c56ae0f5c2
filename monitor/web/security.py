"""Sessions, CSRF tokens and the login rate limit of the web workspace.

The session lives in a signed cookie (Starlette's SessionMiddleware, itsdangerous); it holds the
user's name, when their password was last changed (a new password ends older sessions) and the
CSRF token every form carries in its ``csrf_token`` field.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from collections.abc import Iterable, MutableMapping
from typing import Any

#: The form field (and session key) of the CSRF token.
CSRF_FIELD = "csrf_token"
#: Name of the session cookie.
COOKIE = "emomon_session"
#: A session ends this many seconds after login.
SESSION_SECONDS = 8 * 3600


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
    """Failed logins per key (the user name typed, the client address): after ``failures`` within
    ``window`` seconds, that key waits until the oldest of them is ``window`` old."""

    def __init__(self, failures: int = 5, window: float = 900.0) -> None:
        self.failures = failures
        self.window = window
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._seen.setdefault(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def wait(self, keys: Iterable[str], now: float | None = None) -> float:
        """Seconds until any of ``keys`` may try again (0: now)."""
        at = time.monotonic() if now is None else now
        with self._lock:
            waits = [
                times[0] + self.window - at
                for times in (self._recent(k, at) for k in keys)
                if len(times) >= self.failures
            ]
        return max([0.0, *waits])

    def failed(self, keys: Iterable[str], now: float | None = None) -> None:
        """Count one failed login against each key."""
        at = time.monotonic() if now is None else now
        with self._lock:
            for key in keys:
                self._recent(key, at).append(at)

    def succeeded(self, key: str) -> None:
        """Forget a user name's failures after a good login."""
        with self._lock:
            self._seen.pop(key, None)
