"""The one parser of HTTP ``Retry-After`` (RFC 9110 §10.2.3), for feed fetching and webhooks.

The header is either delay-seconds (ASCII digits) or an HTTP date. Anything else is unusable:
``"²"`` and other Unicode digits, signs, fractions, junk. A delay is never negative and never
longer than the caller's cap, and a number of any length is read without converting all of
its digits (Python refuses ``int()`` of more than 4,300 digits).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

# More significant digits than this are longer than any cap a caller uses (30 years).
_MAX_DIGITS = 9


def retry_after_delay(value: str | None, *, now: datetime, cap: timedelta) -> timedelta | None:
    """The wait a ``Retry-After`` header asks for, clamped to ``[0, cap]``.

    Example: ``retry_after_delay("120", now=now, cap=timedelta(minutes=1))`` is one minute.

    Args:
        value: The header's value, or None when it is absent.
        now: The current time (timezone-aware), for the HTTP-date form.
        cap: The longest wait returned.

    Returns:
        The delay, or None when the header is absent or unusable (the caller's default
        applies then).
    """
    text = (value or "").strip()
    if not text:
        return None
    if text.isascii() and text.isdigit():
        digits = text.lstrip("0") or "0"
        if len(digits) > _MAX_DIGITS:
            return cap
        delay = timedelta(seconds=int(digits))
    else:
        when = _http_date(text)
        if when is None:
            return None
        delay = when - now
    return min(max(delay, timedelta(0)), cap)


def _http_date(text: str) -> datetime | None:
    """An HTTP date as aware UTC (a date without zone is UTC), or None when it is not one."""
    if not text.isascii():
        return None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    return when.astimezone(UTC)
