"""``baraza db copy``: move a whole database to another one (a small office's SQLite file to
PostgreSQL when it grows), keeping every row and every id.

The source must be at the newest schema revision (``baraza db upgrade`` it first) and is only
read. The target is migrated to the newest revision and must hold no rows. Tables are copied
parents first, in batches, inside ONE transaction on the target: if anything fails - a row the
target refuses, a count that differs - the target is left as empty as it was and the copy can
simply be run again. PostgreSQL sequences are moved past the copied ids so that new rows do not
collide with them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import DateTime, Table, func, insert, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from common.errors import BarazaError
from storage.database import Database, alembic_config
from storage.models import Base

BATCH_ROWS = 2000


class CopyError(BarazaError):
    """The copy cannot be done or did not verify; the message says what to do."""


@dataclass(frozen=True)
class CopiedTable:
    name: str
    rows: int


def tables_in_order() -> Sequence[Table]:
    """Every table of the schema, each after the tables it references."""
    return Base.metadata.sorted_tables


def _revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _head() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _utc_rows(table: Table, rows: Sequence[Any]) -> list[dict[str, Any]]:
    """Rows as dicts; naive datetimes (SQLite keeps no zone) are the UTC they were stored as."""
    zoned = [column.name for column in table.columns if isinstance(column.type, DateTime) and column.type.timezone]
    result = []
    for row in rows:
        values = dict(row._mapping)
        for name in zoned:
            value = values[name]
            if isinstance(value, datetime) and value.tzinfo is None:
                values[name] = value.replace(tzinfo=UTC)
        result.append(values)
    return result


async def _count(connection: AsyncConnection, table: Table) -> int:
    return int((await connection.execute(select(func.count()).select_from(table))).scalar_one())


async def _reset_sequences(connection: AsyncConnection, table: Table) -> None:
    """PostgreSQL: the table's id sequence continues after the highest copied id."""
    if len(table.primary_key.columns) != 1:
        return
    for column in table.primary_key.columns:
        sequence = (
            await connection.execute(
                text("SELECT pg_get_serial_sequence(:table, :column)"), {"table": table.name, "column": column.name}
            )
        ).scalar()
        if sequence is None:  # not an auto-incremented id
            continue
        highest = select(func.max(column)).scalar_subquery()
        await connection.execute(select(func.setval(sequence, func.coalesce(highest, 0) + 1, False)))


async def copy_database(
    source_url: str,
    target_url: str,
    *,
    batch_rows: int = BATCH_ROWS,
    progress: Callable[[str, int], None] | None = None,
) -> list[CopiedTable]:
    """Copy every row of ``source_url`` into the empty database ``target_url``; returns the counts.

    Raises :class:`CopyError` when the source is not at the newest revision, the target holds
    rows, or the copied counts differ (nothing is then committed to the target).
    """
    source, target = Database(source_url), Database(target_url)
    if source.url == target.url:
        raise CopyError("the source and the target are the same database")
    try:
        head = _head()
        async with source.reading() as connection:
            revision = await connection.run_sync(_revision)
        if revision != head:
            raise CopyError(
                f"the source database is at schema revision {revision or 'none'}, not the newest ({head}): "
                "run 'baraza db upgrade' on it first"
            )
        await target.migrate()
        async with target.reading() as connection:
            filled = [f"{table.name} ({n})" for table in tables_in_order() if (n := await _count(connection, table))]
        if filled:
            raise CopyError(f"the target database is not empty: {', '.join(filled)}; copy only into an empty database")
        copied: list[CopiedTable] = []
        async with source.reading() as reading, target.transaction() as writing:
            for table in tables_in_order():
                rows = 0
                ordered = select(table).order_by(*table.primary_key.columns)
                result = await reading.stream(ordered)
                async for chunk in result.partitions(batch_rows):
                    await writing.execute(insert(table), _utc_rows(table, chunk))
                    rows += len(chunk)
                    if progress is not None:
                        progress(table.name, rows)
                expected = await _count(reading, table)
                landed = await _count(writing, table)
                if not rows == expected == landed:
                    raise CopyError(
                        f"{table.name}: {expected} rows in the source, {rows} read, {landed} in the target: nothing was copied"
                    )
                if not target.is_sqlite:
                    await _reset_sequences(writing, table)
                copied.append(CopiedTable(table.name, rows))
        return copied
    finally:
        await source.dispose()
        await target.dispose()
