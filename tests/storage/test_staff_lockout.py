"""The sign-in lockout holds against parallel guesses on SQLite and PostgreSQL (issue 18, finding 3):
each guess is counted by one atomic UPDATE before its password is checked."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from storage.database import Database
from storage.staff import LOCKOUT, MAX_FAILED_ATTEMPTS, Guess, StaffRepository, verify_password
from testkit.passwords import cheap_password_hashes

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"
# The lockout is counted before any check: the hash's cost is not what these tests prove.
pytestmark = pytest.mark.usefixtures(cheap_password_hashes.__name__)


async def guess(database: Database, when: datetime) -> Guess | None:
    async with database.transaction() as connection:
        return await StaffRepository(connection).take_guess("amina", when)


async def test_forty_parallel_guesses_get_five_places(database: Database) -> None:
    async with database.transaction() as connection:
        await StaffRepository(connection).add("amina", PASSWORD, "editor", NOW)
    guesses = await asyncio.gather(*(guess(database, NOW) for _ in range(40)))
    taken = [g for g in guesses if g is not None]
    assert len(taken) == MAX_FAILED_ATTEMPTS
    assert sorted(g.attempt for g in taken) == list(range(1, MAX_FAILED_ATTEMPTS + 1))
    (last,) = [g for g in taken if g.attempt == MAX_FAILED_ATTEMPTS]
    assert last.locked_until == NOW + LOCKOUT, "the guess that fills the count locks at once"
    assert all(verify_password(g.password_hash, PASSWORD) for g in taken)
    # Locked: even the right password is not checked until the lock has passed.
    assert await guess(database, NOW + LOCKOUT - timedelta(seconds=1)) is None
    later = await asyncio.gather(*(guess(database, NOW + LOCKOUT) for _ in range(40)))
    assert sorted(g.attempt for g in later if g is not None) == list(range(1, MAX_FAILED_ATTEMPTS + 1))


async def test_a_right_password_resets_the_count(database: Database) -> None:
    async with database.transaction() as connection:
        staff = StaffRepository(connection)
        await staff.add("amina", PASSWORD, "editor", NOW)
        for _ in range(MAX_FAILED_ATTEMPTS - 1):
            assert (await staff.take_guess("amina", NOW)) is not None
        account = await staff.signed_in("amina", NOW)
        assert account is not None and account.failed_attempts == 0 and account.last_login_at == NOW
        next_guess = await staff.take_guess("amina", NOW)
        assert next_guess is not None and (next_guess.attempt, next_guess.locked_until) == (1, None)
        assert (await staff.take_guess("nobody", NOW)) is None
