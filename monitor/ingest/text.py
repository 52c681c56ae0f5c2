"""Text cleaning, opt-out markers, content hashes and date parsing shared by all readers."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

_INVISIBLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200d\u2060\ufeff]")


def clean_text(text: str | None) -> str | None:
    """Normalise a post's text: NFC, no control or zero-width characters, single spaces.

    Returns:
        The cleaned text, or None when nothing but whitespace remains.
    """
    if text is None:
        return None
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
        text = _INVISIBLE.sub(" ", text)
    elif not text.isprintable():
        text = _INVISIBLE.sub(" ", text)
    cleaned = " ".join(text.split())
    return cleaned or None


def content_hash(text: str) -> str:
    """A 128-bit BLAKE2b hex digest of the cleaned text (32 characters)."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def marker_pattern(markers: Iterable[str]) -> re.Pattern[str] | None:
    """Compile opt-out markers into one case-insensitive whole-token pattern.

    ``#nobots`` matches "#NoBots" and "hi #nobots!" but not "#nobotsplease".
    """
    parts = [re.escape(m.strip()) for m in markers if m.strip()]
    if not parts:
        return None
    return re.compile(r"(?<![\w#])(?:" + "|".join(parts) + r")(?![\w])", re.IGNORECASE)


def parse_datetime(value: object) -> datetime:
    """Parse a timestamp from the forms posts come with, returning aware UTC.

    Accepts datetime objects, epoch seconds or milliseconds (number or numeric string),
    ISO 8601 (``Z`` allowed), RFC 2822 (feeds) and the X/Twitter form
    ``"Wed Oct 10 20:19:24 +0000 2018"``. Naive times are taken as UTC.

    Raises:
        ValueError: The value is not a recognisable timestamp.
    """
    if value.__class__ is str:
        try:
            parsed = datetime.fromisoformat(value)  # the common case, fast
        except ValueError:
            parsed = _parse_string(value.strip())
    elif isinstance(value, datetime):
        parsed = value
    elif isinstance(value, bool):
        raise ValueError(f"unparsable date {value!r}")
    elif isinstance(value, (int, float)):
        parsed = _from_epoch(float(value))
    elif isinstance(value, str):
        parsed = _parse_string(value.strip())
    else:
        raise ValueError(f"unparsable date {value!r}")
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _from_epoch(seconds: float) -> datetime:
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        raise ValueError(f"unparsable date {seconds!r}")
    if abs(seconds) > 1e11:  # milliseconds
        seconds /= 1000.0
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise ValueError(f"unparsable date {seconds!r}") from exc


def _parse_string(value: str) -> datetime:
    """ISO 8601, epoch seconds or milliseconds, X/Twitter's ctime-like form, or RFC 2822."""
    if not value:
        raise ValueError("empty date")
    parsers: tuple[Callable[[str], datetime], ...] = (
        datetime.fromisoformat,
        lambda v: _from_epoch(float(v)),
        lambda v: datetime.strptime(v, "%a %b %d %H:%M:%S %z %Y"),
    )
    for parse in parsers:
        try:
            return parse(value)
        except ValueError:
            continue  # not this format: try the next one
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError) as exc:
        raise ValueError(f"unparsable date {value!r}") from exc
