"""Secrets out of what emomon prints and stores: URL credentials and secret-looking parameters.

Every message or stored text that can carry a URL (database URL, feed URL, webhook URL) goes
through :func:`redact_url` (one URL) or :func:`redact` (free text with URLs in it), so a
password, ``?token=`` or signature never reaches stderr, a cron log, ``runs.stats`` or
``runs.message``.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"
#: Words that mark a query parameter as secret when they are a part of its name
#: (``api_key``, ``X-Amz-Signature``, ``access_token``, ``authToken``...).
SECRET_WORDS = frozenset(
    {
        "auth",
        "authorization",
        "code",
        "credential",
        "credentials",
        "hmac",
        "jwt",
        "key",
        "pass",
        "passwd",
        "password",
        "pwd",
        "secret",
        "session",
        "sid",
        "sig",
        "signature",
        "token",
    }
)
#: Names that are secret as a whole though no part of them is a secret word.
SECRET_NAMES = frozenset({"apikey", "accesstoken", "authtoken", "clientsecret", "sessionid", "sessionkey"})
# scheme://... up to whitespace or a quote/bracket, without the punctuation of the sentence after it.
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>()\[\]{}]*[^\s'\"<>()\[\]{}.,;:!?]")
# Words of a parameter name: split at punctuation and at lower-to-upper case changes.
_NAME_PARTS = re.compile(r"[^a-zA-Z0-9]+|(?<=[a-z0-9])(?=[A-Z])")


def is_secret_name(name: str) -> bool:
    """Whether a query parameter called ``name`` looks like it carries a secret."""
    parts = [p.lower() for p in _NAME_PARTS.split(name) if p]
    compact = "".join(parts)
    return compact in SECRET_NAMES or any(p in SECRET_WORDS for p in parts)


def redact_url(url: str) -> str:
    """``url`` with its user info and the values of secret-looking parameters masked.

    ``postgresql://bob:pw@db/x`` becomes ``postgresql://***@db/x`` and
    ``https://h/hook?token=abc&x=1`` becomes ``https://h/hook?token=***&x=1``. Text that does
    not parse as a URL is returned unchanged.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    masked = parts._replace(
        netloc=_netloc(parts), query=_query(parts.query), fragment=_query(parts.fragment)
    )  # OAuth puts tokens in fragments
    return url if masked == parts else urlunsplit(masked)


def _netloc(parts: SplitResult) -> str:
    if "@" not in parts.netloc:
        return parts.netloc
    return f"{MASK}@{parts.netloc.rpartition('@')[2]}"


def _query(query: str) -> str:
    if not query:
        return query
    pairs = parse_qsl(query, keep_blank_values=True)
    if not any(is_secret_name(name) for name, _ in pairs):
        return query
    masked = [(name, MASK if is_secret_name(name) else value) for name, value in pairs]
    return urlencode(masked, safe="*")


def redact(text: str) -> str:
    """``text`` with every URL in it passed through :func:`redact_url`."""
    if "://" not in text:
        return text
    return _URL.sub(lambda m: redact_url(m.group(0)), text)


def redact_json(value: Any) -> Any:
    """A JSON-like document (dicts, lists, strings) with :func:`redact` applied to every string."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redact_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_json(item) for item in value]
    return value
