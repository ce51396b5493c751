"""A Baraza on the same machine as its PostgreSQL may reach it through the server's Unix socket
(``postgresql+asyncpg://user@/dbname?host=/var/run/postgresql``, docs/configuration.md): the
same migrations, transactions and chat locks as over TCP, for a quarter of the CPU per statement
(docs/performance.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from storage.chat_order import serialise_chat
from storage.database import Database
from storage.repositories import Repositories
from testkit.databases import (
    POSTGRES_SOCKET_DIR,
    create_postgres_database,
    drop_postgres_database,
    skip_unless_postgres,
    through_unix_socket,
)

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


SOCKET_MISSING = not (Path(POSTGRES_SOCKET_DIR) / ".s.PGSQL.5432").exists()


@pytest.mark.skipif(SOCKET_MISSING, reason=f"no PostgreSQL socket in {POSTGRES_SOCKET_DIR}")
async def test_baraza_migrates_and_serves_updates_through_the_unix_socket() -> None:
    skip_unless_postgres()
    url = await create_postgres_database()
    database = Database(through_unix_socket(url))
    try:
        assert not database.is_sqlite
        await database.migrate()
        async with database.transaction(quick=True) as connection:
            await serialise_chat(connection, "telegram", "42")
            first, contact = await Repositories(connection).contacts.claim_and_touch(
                "telegram", "1", NOW, "42", "42", "en", NOW
            )
        async with database.transaction(quick=True) as connection:
            again, same = await Repositories(connection).contacts.claim_and_touch(
                "telegram", "1", NOW, "42", "42", "en", NOW
            )
        assert (first, again, same.id) == (True, False, contact.id)
    finally:
        await database.dispose()
        await drop_postgres_database(url)
