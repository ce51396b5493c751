"""The private aiosqlite names storage/aiosqlite_compat.py relies on are still there, and the
inline mode really runs a call on the caller's thread (so an aiosqlite upgrade cannot silently
turn quick transactions back into thread hand-offs, or break them)."""

from __future__ import annotations

import sqlite3
import threading
from importlib.metadata import version
from pathlib import Path

import aiosqlite

from storage.aiosqlite_compat import PRIVATE_NAMES, InlineConnection, inline_connector, missing_private_names


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
