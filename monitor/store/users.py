"""Reviewers' accounts for ``emomon serve``: names, roles, argon2 password hashes, and the
installation's session secret.

Passwords are hashed with argon2id (argon2-cffi, the ``web`` extra); only the hash is stored.
Functions take a Session and leave the commit to the caller's ``session_scope``.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.clock import utcnow
from monitor.errors import ConfigError, EmomonError
from monitor.store.engine import upsert_insert
from monitor.store.schema import Meta, User, table_of

if TYPE_CHECKING:
    from argon2 import PasswordHasher

ROLES: tuple[str, ...] = ("reviewer", "lead")
#: Shortest password accepted.
MIN_PASSWORD = 10
#: Longest password accepted (argon2 hashes any length; this bounds the work per login).
MAX_PASSWORD = 1024
SECRET_KEY = "web_session_secret"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class Account:
    """A user as the web layer and the CLI see it (never the hash)."""

    name: str
    role: str
    created_at: datetime
    password_changed_at: datetime


def _hasher() -> PasswordHasher:
    try:
        from argon2 import PasswordHasher
    except ImportError as exc:
        raise ConfigError("accounts need the web extra (argon2-cffi): pip install 'emomon[web]'") from exc
    return PasswordHasher()


def check_name(name: str) -> str:
    """``name`` if it is a valid user name (letters, digits, ``.``, ``_``, ``-``; 1 to 64).

    Raises:
        EmomonError: It is not.
    """
    if not _NAME.fullmatch(name):
        raise EmomonError(
            f"user name {name!r} is not allowed: use 1 to 64 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit",
            argument="name",
        )
    return name


def check_role(role: str) -> str:
    """``role`` if it is ``reviewer`` or ``lead``.

    Raises:
        EmomonError: It is not.
    """
    if role not in ROLES:
        raise EmomonError(f"unknown role {role!r}: use {' or '.join(ROLES)}", argument="role")
    return role


def check_password(password: str) -> str:
    """``password`` if it is long enough (and not absurdly long).

    Raises:
        EmomonError: It is too short or too long.
    """
    if len(password) < MIN_PASSWORD:
        raise EmomonError(f"the password is too short: use at least {MIN_PASSWORD} characters", argument="password")
    if len(password) > MAX_PASSWORD:
        raise EmomonError(f"the password is too long: use at most {MAX_PASSWORD} characters", argument="password")
    return password


def _account(row: User) -> Account:
    return Account(row.name, row.role, row.created_at, row.password_changed_at)


def _find(session: Session, name: str) -> User:
    row = session.scalar(select(User).where(User.name == name))
    if row is None:
        raise EmomonError(f"no user named {name!r}: see `emomon users list`")
    return row


def add(session: Session, name: str, role: str, password: str, *, now: datetime | None = None) -> Account:
    """Create an account.

    Raises:
        EmomonError: The name, role or password is not allowed, or the name is taken.
    """
    check_name(name)
    check_role(role)
    check_password(password)
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise EmomonError(f"a user named {name!r} exists already: pick another name, or `emomon users passwd {name}`")
    when = now or utcnow()
    row = User(name=name, role=role, password_hash=_hasher().hash(password), created_at=when, password_changed_at=when)
    session.add(row)
    session.flush()
    return _account(row)


def listing(session: Session) -> list[Account]:
    """Every account, by name."""
    return [_account(r) for r in session.scalars(select(User).order_by(User.name))]


def get(session: Session, name: str) -> Account | None:
    """The account called ``name``, or None."""
    row = session.scalar(select(User).where(User.name == name))
    return None if row is None else _account(row)


def remove(session: Session, name: str) -> None:
    """Delete an account (what it did stays recorded under its name).

    Raises:
        EmomonError: No user has this name.
    """
    session.delete(_find(session, name))
    session.flush()


def set_password(session: Session, name: str, password: str, *, now: datetime | None = None) -> Account:
    """Replace a user's password (their open sessions end).

    Raises:
        EmomonError: No user has this name, or the password is not allowed.
    """
    check_password(password)
    row = _find(session, name)
    row.password_hash = _hasher().hash(password)
    row.password_changed_at = now or utcnow()
    session.flush()
    return _account(row)


def authenticate(session: Session, name: str, password: str) -> Account | None:
    """The account when ``password`` is its password, else None (same work for unknown names)."""
    from argon2.exceptions import InvalidHashError, VerificationError

    hasher = _hasher()
    row = session.scalar(select(User).where(User.name == name)) if len(password) <= MAX_PASSWORD else None
    if row is None:
        try:  # spend the same time as a real check, so names cannot be told apart by timing
            hasher.verify(_DUMMY.get(hasher), password[:MAX_PASSWORD])
        except (VerificationError, InvalidHashError):
            return None
        return None
    try:
        hasher.verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if hasher.check_needs_rehash(row.password_hash):
        row.password_hash = hasher.hash(password)
        session.flush()
    return _account(row)


class _Dummy:
    """A hash of a random password, made once, that unknown names are checked against."""

    def __init__(self) -> None:
        self._hash: str | None = None

    def get(self, hasher: PasswordHasher) -> str:
        if self._hash is None:
            self._hash = hasher.hash(secrets.token_hex(16))
        return self._hash


_DUMMY = _Dummy()


def session_secret(session: Session) -> str:
    """The installation's key for signing session cookies: made once and kept in the database
    (never in the config)."""
    stmt = upsert_insert(session, table_of(Meta)).values(key=SECRET_KEY, value=secrets.token_urlsafe(48))
    session.execute(stmt.on_conflict_do_nothing(index_elements=["key"]))
    return str(session.execute(select(Meta.value).where(Meta.key == SECRET_KEY)).scalar_one())
