"""Text cleaning, opt-out markers, content hashes and date parsing shared by all readers."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TypeVar

T = TypeVar("T")
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


# Unicode's Default_Ignorable_Code_Point set (zero-width, joiners, bidi controls, variation
# selectors, fillers, tags): invisible when rendered, so they cannot hide an opt-out marker.
_IGNORABLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)


def marker_form(text: str) -> str:
    """Text as opt-out markers are matched: invisible code points removed, then NFKC.

    "#nobots" with a zero-width space inside, or with a full-width number sign, becomes
    "#nobots".
    """
    if text.isascii():
        return text
    return unicodedata.normalize("NFKC", _IGNORABLE.sub("", text))


_JSON_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def json_unescaped(raw: str) -> str | None:
    """``raw`` with its JSON ``\\uXXXX`` escapes turned into characters, or None when it has none.

    A JSON writer spells "＃nobots" as "\\uff03nobots": markers and names are searched in both.
    """
    if "\\u" not in raw:
        return None
    return _JSON_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), raw)


@dataclass(frozen=True, slots=True)
class MarkerPattern:
    """Compiled opt-out markers; :meth:`search` matches them in the marker form of a text."""

    pattern: re.Pattern[str]
    needles: tuple[str, ...]  # the markers lower-cased: a cheap test before the regex

    def search(self, text: str | None) -> bool:
        """True when a marker occurs in ``text`` as a whole token (any case, any width)."""
        if text is None:
            return False
        form = marker_form(text)
        folded = form.lower()
        return any(n in folded for n in self.needles) and self.pattern.search(form) is not None

    def may_occur(self, texts: Iterable[str | None]) -> bool:
        """Whether a marker may occur in one of ``texts``; False means :meth:`search` is False for
        every one of them. One pass over a whole batch: the ASCII texts (most) are joined and
        lower-cased together, the others take their marker form one by one."""
        present = [text for text in texts if text]
        joined = "\n".join(present)
        if not joined.isascii():
            plain: list[str] = []
            for text in present:
                if text.isascii():
                    plain.append(text)
                elif any(n in marker_form(text).lower() for n in self.needles):
                    return True
            joined = "\n".join(plain)
        joined = joined.lower()
        return any(n in joined for n in self.needles)


def marker_pattern(markers: Iterable[str]) -> MarkerPattern | None:
    """Compile opt-out markers into one case-insensitive whole-token pattern.

    ``#nobots`` matches "#NoBots" and "hi #nobots!" (also hidden by zero-width characters or
    written full-width, see :func:`marker_form`) but not "#nobotsplease".
    """
    forms = sorted({marker_form(m).strip() for m in markers if m.strip()}, key=len, reverse=True)
    if not forms:
        return None
    pattern = re.compile(r"(?<![\w#])(?:" + "|".join(map(re.escape, forms)) + r")(?![\w])", re.IGNORECASE)
    return MarkerPattern(pattern, tuple(f.lower() for f in forms))


#: The longest value a rejection reason shows as written.
MAX_SHOWN = 40
_DATE_LIKE = re.compile(r"[0-9A-Za-z:+\-./, ]+")
_DATE_WORDS = frozenset(
    "mon tue wed thu fri sat sun jan feb mar apr may jun jul aug sep oct nov dec "
    "t z am pm gmt ut utc est edt cst cdt mst mdt pst pdt".split()
)


def shown_value(value: object) -> str:
    """How a rejection reason shows a field value without ever carrying the record's text.

    A short date-like value (digits, date punctuation, month/day/zone names) is shown as
    written, ``'2025-02-30'``; anything else only by its kind and length, ``(a text of 27
    characters)``: the field may hold the post itself (a date column filled with text).
    """
    if isinstance(value, str):
        words = re.findall(r"[A-Za-z]+", value)
        if len(value) <= MAX_SHOWN and _DATE_LIKE.fullmatch(value) and all(w.lower() in _DATE_WORDS for w in words):
            return repr(value)
        return f"(a text of {len(value):,} characters)"
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, (int, float)):
        return repr(value)[:MAX_SHOWN]
    return f"(a {type(value).__name__})"


#: The largest epoch value read as seconds: 9999-12-31T23:59:59Z, the last second a datetime
#: holds. Larger values are read as milliseconds up to the same instant; beyond that they are
#: rejected. A millisecond value below the bound (before 1978-01-12) reads as a date after the
#: year 5000, which the ingest stage's future bound rejects: a value is never silently mapped
#: to a date in the wrong unit.
MAX_EPOCH_SECONDS = 253_402_300_799
MAX_EPOCH_MILLISECONDS = MAX_EPOCH_SECONDS * 1000 + 999
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_datetime(value: object) -> datetime:
    """Parse a timestamp from the forms posts come with, returning aware UTC.

    Accepts datetime objects, epoch seconds or milliseconds (number or numeric string; the
    unit by magnitude, see :data:`MAX_EPOCH_SECONDS`), ISO 8601 (``Z`` allowed), RFC 2822
    (feeds) and the X/Twitter form ``"Wed Oct 10 20:19:24 +0000 2018"``. Naive times are
    taken as UTC.

    Raises:
        ValueError: The value is not a recognisable timestamp, or lies outside what a UTC
            datetime holds (the message says which).
    """
    if value.__class__ is str:
        try:
            parsed = datetime.fromisoformat(value)  # the common case, fast
        except ValueError:
            parsed = _parse_string(value.strip())
    elif isinstance(value, datetime):
        parsed = value
    elif isinstance(value, bool):
        raise ValueError(f"unparsable date {shown_value(value)}")
    elif isinstance(value, (int, float)):
        parsed = _from_epoch(value)
    elif isinstance(value, str):
        parsed = _parse_string(value.strip())
    else:
        raise ValueError(f"unparsable date {shown_value(value)}")
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    if parsed.tzinfo is UTC:  # "...Z" or "+00:00": already what is returned
        return parsed
    try:
        return parsed.astimezone(UTC)
    except OverflowError as exc:  # e.g. 9999-12-31T23:00-05:00 is past the last datetime
        raise ValueError(f"date {shown_value(value)} is out of range in UTC") from exc


def _from_epoch(value: float) -> datetime:
    """Epoch seconds, or milliseconds when too large for seconds (see MAX_EPOCH_SECONDS)."""
    shown = repr(value)[:40]
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"unparsable date {shown}")
    if abs(value) > MAX_EPOCH_MILLISECONDS:
        raise ValueError(f"epoch value {shown} is out of range: past 9999-12-31 in seconds and in milliseconds")
    try:
        if abs(value) <= MAX_EPOCH_SECONDS:
            return _EPOCH + timedelta(seconds=value)
        return _EPOCH + timedelta(milliseconds=value)
    except OverflowError as exc:  # before year 1
        raise ValueError(f"epoch value {shown} is out of range: before year 1") from exc


def _parse_string(value: str) -> datetime:
    """ISO 8601, epoch seconds or milliseconds, X/Twitter's ctime-like form, or RFC 2822."""
    if not value:
        raise ValueError("empty date")
    parsed = _attempt(datetime.fromisoformat, value)  # also "20250301": a date, not an epoch
    if parsed is not None:
        return parsed
    number = _attempt(float, value)
    if number is not None:
        return _from_epoch(number)  # an out-of-range reason becomes the record's reason
    parsed = _attempt(lambda v: datetime.strptime(v, "%a %b %d %H:%M:%S %z %Y"), value)
    if parsed is not None:
        return parsed
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError) as exc:
        raise ValueError(f"unparsable date {shown_value(value)}") from exc


def _attempt(parse: Callable[[str], T], value: str) -> T | None:
    """``parse(value)``, or None when it raises ValueError (not this format)."""
    try:
        return parse(value)
    except ValueError:
        return None
