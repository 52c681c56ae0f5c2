"""Who wrote a post: one normal form of an author's identity, for exclusion, pseudonyms and reveal.

A handle reaches emomon written many ways: ``"alice "``, ``"@Alice"``, ``"ＡＬＩＣＥ"``, a decomposed
``"Jose\\u0301"``, a Mastodon actor URL ``https://social.example.org/users/heron`` or profile URL
``https://social.example.org/@heron``, an ``acct`` form ``heron@social.example.org``,
``@heron@social.example.org`` or ``acct:heron@social.example.org``. :func:`account` turns each into
one form (``alice``, ``josé``, ``heron@social.example.org``), and every place that compares,
keys or shows an author goes through it: ``[privacy] exclude_authors``
(:class:`Exclusion`), the authors table and its pseudonyms (:func:`author_digest`), and
``emomon authors reveal`` (which prints the stored normal form).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from monitor.ingest.text import MarkerPattern, marker_form, marker_pattern

# Controls (C0, DEL, C1): never part of a handle.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# The path of an actor or profile URL that names the account: /users/NAME, /@NAME, /@NAME@HOST.
_ACCOUNT_PATH = re.compile(r"^/(?:users/([^/@]+)|@([^/@]+)(?:@([^/@]+))?)/?$")
_ACCT = re.compile(r"^@?([^@\s/]+)@([^@\s/]+)$")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _fold(text: str) -> str:
    """NFKC, invisible code points and controls removed, case-folded, whitespace trimmed and single."""
    if text.isascii() and text.isprintable():
        return " ".join(text.lower().split())
    text = _CONTROLS.sub("", marker_form(text))
    return " ".join(unicodedata.normalize("NFKC", text.casefold()).split())


@lru_cache(maxsize=1 << 16)  # handles repeat: every post of an author goes through here
def account(handle: str) -> str:
    """The normal form of an author's handle ("" when nothing is left).

    NFKC with invisible characters removed, case-folded and trimmed; a leading ``@`` and an
    ``acct:`` prefix dropped; an actor or profile URL (``https://host/users/NAME``,
    ``https://host/@NAME``) and an ``acct`` form (``NAME@host``, ``@NAME@host``) become
    ``NAME@host``; any other URL is kept without its query, fragment, default port and final ``/``.
    """
    text = _fold(handle)
    if text.startswith("acct:"):
        text = text[5:].strip()
    if "://" in text:
        return _from_url(text)
    match = _ACCT.match(text)
    if match:
        return f"{match.group(1)}@{match.group(2).rstrip('.')}"
    return text.lstrip("@").strip()


def _from_url(text: str) -> str:
    try:
        parts = urlsplit(text)
        host = (parts.hostname or "").rstrip(".")
        port = parts.port
    except ValueError:
        return text
    match = _ACCOUNT_PATH.match(parts.path)
    if host and match:
        name = match.group(1) or match.group(2)
        return f"{name}@{(match.group(3) or host).rstrip('.')}"
    netloc = host if port is None or port == _DEFAULT_PORTS.get(parts.scheme) else f"{host}:{port}"
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"


@lru_cache(maxsize=1 << 10)
def platform_form(platform: str) -> str:
    """The normal form of a platform name (``"Mastodon "`` is ``"mastodon"``)."""
    return _fold(platform)


def identity(platform: str, handle: str) -> str:
    """``platform:account``, the text an author is keyed by (both parts in normal form)."""
    return f"{platform_form(platform)}:{account(handle)}"


def author_digest(salt: str, platform: str, handle: str) -> str:
    """HMAC-SHA256 of the author's :func:`identity` keyed with the database salt (64 hex digits).

    The authors table is keyed by it, so an author stays one row (and one pseudonym) however the
    handle is written, and after retention has removed the handle. Without the salt nobody can
    map a handle to it by hashing guesses.
    """
    return hmac.new(salt.encode(), identity(platform, handle).encode(), hashlib.sha256).hexdigest()


def pseudonym(salt: str, platform: str, handle: str) -> str:
    """The author's pseudonym, e.g. ``"a-3f9c2e71b04d"``: the first 12 digits of :func:`author_digest`."""
    return "a-" + author_digest(salt, platform, handle)[:12]


def legacy_pseudonym(salt: str, platform: str, handle: str) -> str:
    """The pseudonym stores made before identities were normalised: of ``platform:handle`` as written.

    Used once per author to find its row from then, so the author keeps that pseudonym.
    """
    digest = hmac.new(salt.encode(), f"{platform}:{handle}".encode(), hashlib.sha256)
    return "a-" + digest.hexdigest()[:12]


@dataclass(frozen=True)
class Exclusion:
    """``[privacy] exclude_authors``: which authors are never stored.

    An entry is a handle in any of the forms :func:`account` reads, or ``platform:handle``
    (``reddit:someone``). A bare name (no ``@host``) also matches that name on every instance
    (``heron`` excludes ``heron@social.example.org``): a name given once excludes it everywhere.
    """

    anywhere: frozenset[str]  # accounts excluded on every platform
    on_platform: frozenset[tuple[str, str]]  # (platform, account)
    entries: tuple[str, ...]

    @classmethod
    def of(cls, entries: Iterable[str]) -> Exclusion | None:
        """The exclusion for the configured entries; None when there are none."""
        anywhere: set[str] = set()
        on_platform: set[tuple[str, str]] = set()
        kept: list[str] = []
        for entry in entries:
            platform, handle = _split_entry(entry)
            name = account(handle)
            if not name:
                continue
            kept.append(entry)
            if platform:
                on_platform.add((platform, name))
            else:
                anywhere.add(name)
        if not kept:
            return None
        return cls(frozenset(anywhere), frozenset(on_platform), tuple(kept))

    def matches(self, platform: str, handle: str) -> bool:
        """Whether the author ``handle`` on ``platform`` is excluded (any spelling)."""
        name = account(handle)
        if not name:
            return False
        plat = platform_form(platform)
        local = name.partition("@")[0] if "@" in name and "://" not in name else None
        return (
            name in self.anywhere
            or (plat, name) in self.on_platform
            or (local is not None and (local in self.anywhere or (plat, local) in self.on_platform))
        )

    def raw_pattern(self) -> MarkerPattern | None:
        """Whole-token pattern of the excluded names as they may appear in a raw record whose
        author could not be read: the name, ``@name``, and for ``name@host`` its actor and
        profile URLs."""
        forms: set[str] = set()
        for name in {*self.anywhere, *(n for _, n in self.on_platform)}:
            forms.add(name)
            local, at, host = name.partition("@")
            if at and "://" not in name:
                forms.update({f"{host}/users/{local}", f"{host}/@{local}"})
        return marker_pattern(forms)

    def fingerprint(self) -> str:
        """A digest of the exclusion, to tell whether it changed since it was last applied."""
        text = "\n".join(sorted(self.anywhere) + sorted(f"{p}:{n}" for p, n in self.on_platform))
        return hashlib.sha256(text.encode()).hexdigest()


def _split_entry(entry: str) -> tuple[str | None, str]:
    """``(platform or None, handle)`` of one ``exclude_authors`` entry."""
    folded = _fold(entry)
    if "://" in folded or folded.startswith("acct:"):
        return None, entry
    platform, sep, handle = entry.partition(":")
    if sep and platform.strip() and "@" not in platform and "/" not in platform:
        return platform_form(platform), handle
    return None, entry
