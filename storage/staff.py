"""Staff accounts of the dashboard (``/admin``) and their sessions.

Passwords are stored as argon2id hashes. After :data:`MAX_FAILED_ATTEMPTS` guesses without a
right one an account is locked for :data:`LOCKOUT`; a correct password while locked is refused
too, so guessing gains nothing. Each guess is counted by one atomic UPDATE before it is checked
(:meth:`StaffRepository.take_guess`), so parallel guesses cannot overtake the lock. Sessions are rows keyed by a hash of the browser's secret token, so every
worker process sees the same sessions and a sign-out or a removed account takes effect at once.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Table, bindparam, case, delete, null, or_, select, update

from common.clock import as_utc
from common.errors import BarazaError
from storage.models import StaffAccountRow, StaffSessionRow
from storage.repository_base import Repository

staff_accounts = cast(Table, StaffAccountRow.__table__)
staff_sessions = cast(Table, StaffSessionRow.__table__)

VIEWER, EDITOR = "viewer", "editor"
ROLES = (VIEWER, EDITOR)
MAX_FAILED_ATTEMPTS = 5
LOCKOUT = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(hours=12)
MIN_PASSWORD = 10
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")

_hasher = PasswordHasher()


@dataclass(frozen=True)
class DummyHash:
    """A hash of nothing, checked when there is no real one to check (timing stays the same)."""

    value: str = field(repr=False)
    #: How long making it took: a first estimate of how long checking a password takes.
    seconds: float


@functools.cache
def dummy_hash() -> DummyHash:
    """The process's :class:`DummyHash`, made at its first use (a sign-in, the dashboard's start):
    an argon2 hash takes 0.1-0.5 s, which every process importing storage would otherwise pay."""
    started = time.perf_counter()
    value = _hasher.hash(secrets.token_hex(16))
    return DummyHash(value, time.perf_counter() - started)


class StaffError(BarazaError):
    """An account operation that cannot be done (unknown account, weak password, bad role...)."""


def token_hash(token: str) -> str:
    """What is stored of a session token."""
    return hashlib.sha256(token.encode()).hexdigest()


def check_password(password: str) -> None:
    """Raise :class:`StaffError` for a password too weak to protect the office's data."""
    if len(password) < MIN_PASSWORD:
        raise StaffError(f"the password must have at least {MIN_PASSWORD} characters")
    if len(password) > 1000:
        raise StaffError("the password is longer than 1000 characters")


@dataclass(frozen=True)
class StaffAccount:
    username: str
    role: str
    failed_attempts: int
    locked_until: datetime | None
    created_at: datetime
    last_login_at: datetime | None

    @property
    def can_edit(self) -> bool:
        return self.role == EDITOR


@dataclass(frozen=True)
class StaffSession:
    username: str
    role: str
    csrf_token: str
    expires_at: datetime

    @property
    def can_edit(self) -> bool:
        return self.role == EDITOR


@dataclass(frozen=True)
class Guess:
    """A guess counted by :meth:`StaffRepository.take_guess`, to be checked against ``password_hash``.
    ``attempt`` is its place in the count; ``locked_until`` is set when it filled the count."""

    password_hash: str = field(repr=False)
    attempt: int
    locked_until: datetime | None


@dataclass(frozen=True)
class LoginResult:
    """``account`` is set when the password was right and the account not locked."""

    account: StaffAccount | None
    locked_until: datetime | None = None


def _account(row: Any) -> StaffAccount:
    return StaffAccount(
        username=row.username,
        role=row.role,
        failed_attempts=int(row.failed_attempts),
        locked_until=as_utc(row.locked_until),
        created_at=as_utc(row.created_at) or row.created_at,
        last_login_at=as_utc(row.last_login_at),
    )


class StaffRepository(Repository):
    """Accounts and sessions. Runs in the caller's transaction, like every repository."""

    # ------------------------------------------------------------------ accounts

    async def get(self, username: str) -> StaffAccount | None:
        row = (
            await self.connection.execute(select(staff_accounts).where(staff_accounts.c.username == username))
        ).one_or_none()
        return None if row is None else _account(row)

    async def list(self) -> list[StaffAccount]:
        rows = await self.connection.execute(select(staff_accounts).order_by(staff_accounts.c.username))
        return [_account(row) for row in rows]

    async def add(self, username: str, password: str, role: str, now: datetime) -> StaffAccount:
        """Create an account; raises :class:`StaffError` if the name is taken or invalid."""
        if not USERNAME.match(username):
            raise StaffError(
                f"{username!r} is not a valid user name (letters, digits and . _ @ -, at most 100 characters)"
            )
        if role not in ROLES:
            raise StaffError(f"the role must be one of {', '.join(ROLES)}, not {role!r}")
        check_password(password)
        if await self.get(username) is not None:
            raise StaffError(f"there is already an account {username!r}")
        await self.connection.execute(
            staff_accounts.insert().values(
                username=username,
                password_hash=_hasher.hash(password),
                role=role,
                failed_attempts=0,
                locked_until=None,
                created_at=now.astimezone(UTC),
                last_login_at=None,
            )
        )
        found = await self.get(username)
        assert found is not None
        return found

    async def remove(self, username: str) -> None:
        """Delete the account and its sessions (it is signed out everywhere at once)."""
        await self.connection.execute(delete(staff_sessions).where(staff_sessions.c.username == username))
        result = await self.connection.execute(delete(staff_accounts).where(staff_accounts.c.username == username))
        if not result.rowcount:
            raise StaffError(f"there is no account {username!r}")

    async def set_password(self, username: str, password: str) -> None:
        """Change the password, unlock the account and end its sessions."""
        check_password(password)
        result = await self.connection.execute(
            update(staff_accounts)
            .where(staff_accounts.c.username == username)
            .values(password_hash=_hasher.hash(password), failed_attempts=0, locked_until=None)
        )
        if not result.rowcount:
            raise StaffError(f"there is no account {username!r}")
        await self.connection.execute(delete(staff_sessions).where(staff_sessions.c.username == username))

    async def set_role(self, username: str, role: str) -> None:
        if role not in ROLES:
            raise StaffError(f"the role must be one of {', '.join(ROLES)}, not {role!r}")
        result = await self.connection.execute(
            update(staff_accounts).where(staff_accounts.c.username == username).values(role=role)
        )
        if not result.rowcount:
            raise StaffError(f"there is no account {username!r}")

    async def take_guess(self, username: str, now: datetime) -> Guess | None:
        """Count one password guess for ``username`` before it is checked; None when the account
        does not exist or is locked (the guess is not checked at all then).

        One UPDATE does it all, so guesses sent in parallel (by any number of workers, on SQLite
        or PostgreSQL) each take their own place in the count and no more than
        :data:`MAX_FAILED_ATTEMPTS` are ever checked per :data:`LOCKOUT`: the guess that fills
        the count locks the account at once, before its password is checked (a right password
        then unlocks it, :meth:`signed_in`). A lock that has expired starts a new count.
        """
        column = staff_accounts.c
        when = now.astimezone(UTC)
        attempts = case((column.locked_until.is_not(None), 1), else_=column.failed_attempts + 1)
        lock = bindparam("lock_at", (now + LOCKOUT).astimezone(UTC), type_=column.locked_until.type)
        row = (
            await self.connection.execute(
                update(staff_accounts)
                .where(column.username == username, or_(column.locked_until.is_(None), column.locked_until <= when))
                .values(
                    failed_attempts=attempts, locked_until=case((attempts >= MAX_FAILED_ATTEMPTS, lock), else_=null())
                )
                .returning(column.password_hash, column.failed_attempts, column.locked_until)
            )
        ).one_or_none()
        if row is None:
            return None
        return Guess(row.password_hash, int(row.failed_attempts), as_utc(row.locked_until))

    async def signed_in(self, username: str, now: datetime, new_hash: str | None = None) -> StaffAccount | None:
        """A right password: reset the count and the lock, note the time (and store ``new_hash``,
        the password hashed with today's parameters, when given)."""
        values: dict[str, Any] = {"failed_attempts": 0, "locked_until": None, "last_login_at": now.astimezone(UTC)}
        if new_hash is not None:
            values["password_hash"] = new_hash
        await self.connection.execute(
            update(staff_accounts).where(staff_accounts.c.username == username).values(values)
        )
        return await self.get(username)

    async def login(self, username: str, password: str, now: datetime) -> LoginResult:
        """:meth:`take_guess`, the check and :meth:`signed_in` in the caller's transaction (for
        the command line and tests; the dashboard checks the password outside any transaction
        and off the event loop, see bot/admin/login.py)."""
        guess = await self.take_guess(username, now)
        if guess is None:
            verify_password(dummy_hash().value, password)
            account = await self.get(username)
            locked = account.locked_until if account is not None else None
            return LoginResult(None, locked if locked is not None and locked > now else None)
        if not verify_password(guess.password_hash, password):
            return LoginResult(None, guess.locked_until)
        return LoginResult(await self.signed_in(username, now, rehashed(guess.password_hash, password)))

    # ------------------------------------------------------------------ sessions

    async def open_session(self, username: str, now: datetime, lifetime: timedelta = SESSION_LIFETIME) -> str:
        """Start a session; returns the secret token for the cookie (only its hash is stored)."""
        token = secrets.token_urlsafe(32)
        await self.connection.execute(delete(staff_sessions).where(staff_sessions.c.expires_at <= now.astimezone(UTC)))
        await self.connection.execute(
            staff_sessions.insert().values(
                token_hash=token_hash(token),
                username=username,
                csrf_token=secrets.token_urlsafe(32),
                created_at=now.astimezone(UTC),
                expires_at=(now + lifetime).astimezone(UTC),
            )
        )
        return token

    async def session(self, token: str, now: datetime) -> StaffSession | None:
        """The live session of a token with its account's current role, or None."""
        row = (
            await self.connection.execute(
                select(
                    staff_sessions.c.username,
                    staff_sessions.c.csrf_token,
                    staff_sessions.c.expires_at,
                    staff_accounts.c.role,
                )
                .select_from(
                    staff_sessions.join(staff_accounts, staff_accounts.c.username == staff_sessions.c.username)
                )
                .where(staff_sessions.c.token_hash == token_hash(token))
            )
        ).one_or_none()
        if row is None:
            return None
        expires_at = as_utc(row.expires_at) or row.expires_at
        if expires_at <= now:
            return None
        return StaffSession(row.username, row.role, row.csrf_token, expires_at)

    async def close_session(self, token: str) -> None:
        await self.connection.execute(delete(staff_sessions).where(staff_sessions.c.token_hash == token_hash(token)))


def verify_password(stored: str, password: str) -> bool:
    """Whether ``password`` matches the argon2 hash ``stored`` (CPU-bound: tens of milliseconds)."""
    try:
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def rehashed(stored: str, password: str) -> str | None:
    """A new hash of a verified ``password`` when ``stored`` was made with older parameters."""
    return _hasher.hash(password) if _hasher.check_needs_rehash(stored) else None
