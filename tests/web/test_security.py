"""The login limit's clock and the CSRF check, with explicit times (the server tests cannot wait 15 minutes)."""

from __future__ import annotations

from monitor.web.security import CSRF_FIELD, LoginLimiter, csrf_ok, csrf_token


def test_a_name_waits_after_five_failures_until_the_oldest_is_a_window_old() -> None:
    limiter = LoginLimiter(per_name=5, per_address=30, window=900)
    for t in range(5):
        assert limiter.wait("Sam", "10.0.0.1", now=100 + t) == 0
        limiter.failed("Sam", "10.0.0.1", now=100 + t)
    assert limiter.wait("sam", "10.0.0.2", now=200) == 800  # the name is held, whatever its case or address
    assert limiter.wait("kim", "10.0.0.1", now=200) == 0  # another name from the same address is not
    assert limiter.wait("sam", "10.0.0.1", now=999) == 1  # all five still within the window
    assert limiter.wait("sam", "10.0.0.1", now=1000) == 0  # the oldest aged out: four left


def test_an_address_trying_many_names_is_held_too() -> None:
    limiter = LoginLimiter(per_name=5, per_address=3, window=60)
    for i in range(3):
        limiter.failed(f"user{i}", "10.0.0.9", now=10)
    assert limiter.wait("someone-new", "10.0.0.9", now=20) == 50
    assert limiter.wait("someone-new", "10.0.0.8", now=20) == 0


def test_a_good_login_forgets_the_names_failures() -> None:
    limiter = LoginLimiter(per_name=2, per_address=30, window=900)
    limiter.failed("sam", "a", now=1)
    limiter.succeeded("SAM")
    limiter.failed("sam", "a", now=2)
    assert limiter.wait("sam", "a", now=3) == 0


def test_the_csrf_token_is_made_once_per_session_and_checked_exactly() -> None:
    session: dict[str, object] = {}
    token = csrf_token(session)
    assert session[CSRF_FIELD] == token and csrf_token(session) == token and len(token) >= 40
    assert csrf_ok(session, token)
    assert not csrf_ok(session, token[:-1]) and not csrf_ok(session, None) and not csrf_ok(session, "")
    assert not csrf_ok({}, token) and not csrf_ok({CSRF_FIELD: ""}, "")
