"""Counting what a database holds, to prove an input stored nothing."""

from __future__ import annotations

import sqlalchemy as sa

from storage.database import Database
from storage.models import Base

#: Tables every processed update touches by design (dedupe ids, the contact's last-seen time).
BOOKKEEPING = frozenset({"processed_updates", "contacts"})


async def row_counts(database_url: str) -> dict[str, int]:
    """Rows per table, bookkeeping tables left out."""
    database = Database(database_url)
    try:
        async with database.reading() as connection:
            return {
                table.name: int((await connection.execute(sa.select(sa.func.count()).select_from(table))).scalar_one())
                for table in Base.metadata.sorted_tables
                if table.name not in BOOKKEEPING
            }
    finally:
        await database.dispose()
