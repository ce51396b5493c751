"""The private aiosqlite names storage/aiosqlite_compat.py relies on are still there, and the
inline mode really runs a call on the caller's thread (so an aiosqlite upgrade cannot silently
turn quick transactions back into thread hand-offs, or break them)."""

from __future__ import annotations

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


async def test_a_quick_transaction_hands_only_begin_and_commit_to_the_worker_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Making and closing a cursor, and the pool's rollback of a connection given back after its
    # commit, cannot wait on anything: they run on the loop's thread (they took three of five
    # hand-offs a transaction). What may wait (BEGIN IMMEDIATE, COMMIT) still goes to the worker.
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'hops.db'}")
    await database.migrate()
    handed = record_worker_handoffs(monkeypatch)
    try:
        for quick in (True, True):
            async with database.transaction(quick=quick) as connection:
                assert await Repositories(connection).updates.claim("telegram", f"hop-{len(handed)}", NOW)
        assert handed == ["execute BEGIN IMMEDIATE", "commit"] * 2
        handed.clear()
        with pytest.raises(RuntimeError):
            async with database.transaction(quick=True) as connection:
                await Repositories(connection).updates.claim("telegram", "rolled back", NOW)
                raise RuntimeError("the update failed")
        assert handed == ["execute BEGIN IMMEDIATE", "rollback"], "a rollback with work to undo stays on the worker"
        async with database.transaction() as connection:
            assert await Repositories(connection).updates.claim("telegram", "rolled back", NOW), "was undone"
    finally:
        await database.dispose()
