"""The private aiosqlite names storage/aiosqlite_compat.py relies on are still there, and the
inline mode really runs a call on the caller's thread (so an aiosqlite upgrade cannot silently
turn quick transactions back into thread hand-offs, or break them)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import aiosqlite
import pytest

from storage.aiosqlite_compat import PRIVATE_NAMES, InlineConnection, inline_connector, missing_private_names
from storage.database import Database
from storage.repositories import Repositories
from testkit.databases import record_worker_handoffs

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def test_the_installed_aiosqlite_has_every_private_name_the_compat_module_uses() -> None:
    assert missing_private_names() == (), (
        f"aiosqlite {version('aiosqlite')} lacks {missing_private_names()}: "
        "storage/aiosqlite_compat.py must be adapted before this version is allowed"
    )


def test_the_override_replaces_aiosqlites_own_execute() -> None:
    assert "_execute" in PRIVATE_NAMES
    assert InlineConnection._execute is not aiosqlite.Connection._execute


async def test_inline_calls_run_on_the_callers_thread_and_others_on_the_worker(tmp_path: Path) -> None:
    connection = await inline_connector(str(tmp_path / "compat.db"))()
    assert isinstance(connection, InlineConnection)
    try:

        def thread_name() -> str:
            return threading.current_thread().name

        worker = await connection._execute(thread_name)
        connection.inline = True
        inline = await connection._execute(thread_name)
        connection.inline = False
        assert inline == threading.current_thread().name
        assert worker != inline, "without inline, calls run on aiosqlite's worker thread"
        cursor = await connection.execute("SELECT 1")
        assert await cursor.fetchone() == (1,)
        assert isinstance(connection._connection, sqlite3.Connection)
    finally:
        await connection.close()


async def test_a_quick_transaction_hands_only_its_commit_to_the_worker_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Making and closing a cursor, the pool's rollback of a connection given back after its
    # commit, and BEGIN IMMEDIATE while no one else writes cannot wait on anything: they run on
    # the loop's thread. What may wait (COMMIT) still goes to the worker.
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'hops.db'}")
    await database.migrate()
    handed = record_worker_handoffs(monkeypatch)
    try:
        for quick in (True, True):
            async with database.transaction(quick=quick) as connection:
                assert await Repositories(connection).updates.claim("telegram", f"hop-{len(handed)}", NOW)
        assert handed == ["commit"] * 2
        handed.clear()
        with pytest.raises(RuntimeError):
            async with database.transaction(quick=True) as connection:
                await Repositories(connection).updates.claim("telegram", "rolled back", NOW)
                raise RuntimeError("the update failed")
        assert handed == ["rollback"], "a rollback with work to undo stays on the worker"
        async with database.transaction() as connection:
            assert await Repositories(connection).updates.claim("telegram", "rolled back", NOW), "was undone"
    finally:
        await database.dispose()


async def test_a_transaction_waits_for_another_process_writing_without_holding_up_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another process (here: another connection) holds the write lock: BEGIN IMMEDIATE, tried at
    # once on the loop's thread, finds it taken and waits on the worker thread instead, while the
    # event loop goes on; the transaction proceeds when the lock is let go.
    path = tmp_path / "contended.db"
    database = Database(f"sqlite+aiosqlite:///{path}")
    await database.migrate()
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    handed = record_worker_handoffs(monkeypatch)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        other.execute("BEGIN IMMEDIATE")
        asyncio.get_running_loop().call_later(0.3, other.execute, "COMMIT")
        async with database.transaction(quick=True) as connection:
            assert await Repositories(connection).updates.claim("telegram", "after the other", NOW)
        assert handed[0] == "execute BEGIN IMMEDIATE", handed
        assert ticks >= 10, "the loop went on while the transaction waited for the lock"
        async with database.transaction() as connection:
            assert not await Repositories(connection).updates.claim("telegram", "after the other", NOW)
    finally:
        ticker.cancel()
        other.close()
        await database.dispose()
