"""Staff accounts of the dashboard (``/admin``) and their sessions.

Passwords are stored as argon2id hashes. After :data:`MAX_FAILED_ATTEMPTS` wrong passwords in a
row an account is locked for :data:`LOCKOUT`; a correct password while locked is refused too, so
guessing gains nothing. Sessions are rows keyed by a hash of the browser's secret token, so every
worker process sees the same sessions and a sign-out or a removed account takes effect at once.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Table, delete, select, update

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
# Verified when the username is unknown, so that a wrong name takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class StaffError(Exception):
    """An account operation that cannot be done (unknown account, weak password, bad role...)."""


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


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
class LoginResult:
    """``account`` is set when the password was right and the account not locked."""

    account: StaffAccount | None
    locked_until: datetime | None = None


@dataclass(frozen=True)
class StaffSession:
    username: str
    role: str
    csrf_token: str
    expires_at: datetime

    @property
    def can_edit(self) -> bool:
        return self.role == EDITOR


def _account(row: Any) -> StaffAccount:
    return StaffAccount(
        username=row.username,
        role=row.role,
        failed_attempts=int(row.failed_attempts),
        locked_until=_utc(row.locked_until),
        created_at=_utc(row.created_at) or row.created_at,
        last_login_at=_utc(row.last_login_at),
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

    async def login(self, username: str, password: str, now: datetime) -> LoginResult:
        """Check a password, counting failures; the account is locked after too many of them."""
        row = (
            await self.connection.execute(select(staff_accounts).where(staff_accounts.c.username == username))
        ).one_or_none()
        if row is None:
            _verify(_DUMMY_HASH, password)
            return LoginResult(None)
        locked_until = _utc(row.locked_until)
        if locked_until is not None and locked_until > now:
            return LoginResult(None, locked_until)
        if not _verify(row.password_hash, password):
            # Counted in the UPDATE itself, so that guesses sent in parallel all count.
            failures = int(
                (
                    await self.connection.execute(
                        update(staff_accounts)
                        .where(staff_accounts.c.username == username)
                        .values(failed_attempts=staff_accounts.c.failed_attempts + 1)
                        .returning(staff_accounts.c.failed_attempts)
                    )
                ).scalar_one()
            )
            if failures < MAX_FAILED_ATTEMPTS:
                return LoginResult(None)
            locked = (now + LOCKOUT).astimezone(UTC)
            await self.connection.execute(
                update(staff_accounts)
                .where(staff_accounts.c.username == username)
                .values(failed_attempts=0, locked_until=locked)
            )
            return LoginResult(None, locked)
        values: dict[str, Any] = {"failed_attempts": 0, "locked_until": None, "last_login_at": now.astimezone(UTC)}
        if _hasher.check_needs_rehash(row.password_hash):
            values["password_hash"] = _hasher.hash(password)
        await self.connection.execute(
            update(staff_accounts).where(staff_accounts.c.username == username).values(values)
        )
        account = await self.get(username)
        return LoginResult(account)

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
        expires_at = _utc(row.expires_at) or row.expires_at
        if expires_at <= now:
            return None
        return StaffSession(row.username, row.role, row.csrf_token, expires_at)

    async def close_session(self, token: str) -> None:
        await self.connection.execute(delete(staff_sessions).where(staff_sessions.c.token_hash == token_hash(token)))


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
