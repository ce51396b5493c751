"""Quick transactions (one chat update): on SQLite their statements run on the event loop's
thread (storage/aiosqlite_compat.py); BEGIN and COMMIT, and every other transaction, stay on
aiosqlite's worker thread. Commit and rollback behave as in any transaction, on both backends."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from storage.aiosqlite_compat import InlineConnection
from storage.database import Database
from storage.repositories import Repositories

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class Boom(Exception):
    pass


async def test_a_quick_transaction_commits_its_writes(database: Database) -> None:
    async with database.transaction(quick=True) as connection:
        assert await Repositories(connection).updates.claim("telegram", "q1", NOW, "chat")
    async with database.transaction() as connection:
        assert not await Repositories(connection).updates.claim("telegram", "q1", NOW, "chat")


async def test_a_failed_quick_transaction_leaves_nothing_and_the_connection_usable(database: Database) -> None:
    with pytest.raises(Boom):
        async with database.transaction(quick=True) as connection:
            await Repositories(connection).updates.claim("telegram", "q2", NOW, "chat")
            raise Boom
    for quick in (False, True):
        async with database.transaction(quick=quick) as connection:
            assert await Repositories(connection).updates.claim("telegram", f"q2-{quick}", NOW, "chat")
    async with database.transaction() as connection:
        assert await Repositories(connection).updates.claim("telegram", "q2", NOW, "chat"), "was rolled back"


async def _thread_of_a_statement(database: Database, *, quick: bool) -> int:
    async with database.transaction(quick=quick) as connection:
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert isinstance(driver, InlineConnection)
        # A SQL function that reports the thread it runs on.
        await driver.create_function("thread_id", 0, threading.get_ident)
        return int((await connection.execute(text("SELECT thread_id()"))).scalar_one())


async def test_on_sqlite_only_quick_transactions_run_statements_on_the_loop_thread(database: Database) -> None:
    if not database.is_sqlite:
        pytest.skip("SQLite only: asyncpg has no worker thread")
    loop_thread = threading.get_ident()
    assert await _thread_of_a_statement(database, quick=True) == loop_thread
    assert await _thread_of_a_statement(database, quick=False) != loop_thread
    async with database.transaction() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        assert isinstance(driver, InlineConnection) and not driver.inline, "inline mode ends with the transaction"
