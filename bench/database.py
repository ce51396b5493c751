"""The database a benchmark fills: SQLite in a temporary folder, or a fresh PostgreSQL database.

    async with bench_database(arguments.backend) as database:
        ...

The database is migrated on entry; on exit it is disposed of and (PostgreSQL) dropped.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from storage.database import Database

#: The ``--backend`` choices of the benchmarks that use :func:`bench_database`.
BACKENDS = ("sqlite", "postgresql")


@asynccontextmanager
async def bench_database(backend: str) -> AsyncIterator[Database]:
    """A migrated, empty database on ``backend`` (one of :data:`BACKENDS`), removed afterwards."""
    with tempfile.TemporaryDirectory() as directory:
        postgres_url = None
        if backend == "sqlite":
            url = f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}"
        else:
            from testkit.databases import create_postgres_database

            url = postgres_url = await create_postgres_database()
        database = Database(url)
        try:
            await database.migrate()
            yield database
        finally:
            await database.dispose()
            if postgres_url is not None:
                from testkit.databases import drop_postgres_database

                await drop_postgres_database(postgres_url)
