"""Upgrading a database filled by the previous release (revision 0003) to this one keeps every
row and every value, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from alembic import command
from sqlalchemy import Boolean, DateTime, Float, Integer, MetaData, String, Table, Text, insert, select
from sqlalchemy.engine import Connection

from storage.database import Database, alembic_config

PREVIOUS_RELEASE = "0003"
NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def _value(table: Table, column: Any, written: dict[str, list[dict[str, Any]]]) -> Any:
    """A valid value for ``column``: a foreign key holds the key of the parent table's row."""
    for key in column.foreign_keys:
        return written[key.column.table.name][0][key.column.name]
    if column.primary_key and isinstance(column.type, Integer):
        return 1
    kind = column.type
    if isinstance(kind, Boolean):
        return True
    if isinstance(kind, Integer):
        return 3
    if isinstance(kind, Float):
        return 1.5
    if isinstance(kind, DateTime):
        return NOW
    if isinstance(kind, String | Text):
        length = getattr(kind, "length", None) or 40
        return f"{table.name}.{column.name}"[:length]
    raise AssertionError(f"no test value for {table.name}.{column.name} ({kind})")


def _fill_previous_release(connection: Connection) -> dict[str, list[dict[str, Any]]]:
    command.upgrade(alembic_config(connection), PREVIOUS_RELEASE)
    metadata = MetaData()
    metadata.reflect(connection)
    written: dict[str, list[dict[str, Any]]] = {}
    for table in metadata.sorted_tables:
        if table.name == "alembic_version":
            continue
        row = {column.name: _value(table, column, written) for column in table.columns}
        connection.execute(insert(table), [row])
        written[table.name] = [row]
    return written


def _read(connection: Connection, names: list[str]) -> dict[str, list[dict[str, Any]]]:
    metadata = MetaData()
    metadata.reflect(connection, only=names)
    rows: dict[str, list[dict[str, Any]]] = {}
    for name in names:
        table = metadata.tables[name]
        rows[name] = [dict(row._mapping) for row in connection.execute(select(table))]
    return rows


def _same(written: Any, read: Any) -> bool:
    if isinstance(written, datetime) and isinstance(read, datetime):
        return (read if read.tzinfo else read.replace(tzinfo=UTC)) == written
    if isinstance(written, bool):
        return bool(read) == written
    return bool(written == read)


async def test_upgrading_a_database_of_the_previous_release_loses_no_row_and_no_value(database_url: str) -> None:
    database = Database(database_url)
    try:
        async with database.engine.begin() as connection:
            written = await connection.run_sync(_fill_previous_release)
        assert len(written) >= 10, "every table of the previous release holds a row"
        await database.migrate()
        async with database.engine.connect() as connection:
            read = await connection.run_sync(_read, list(written))
        for name, rows in written.items():
            assert len(read[name]) == len(rows), f"{name}: rows lost"
            for column, value in rows[0].items():
                assert _same(value, read[name][0][column]), f"{name}.{column} changed"
    finally:
        await database.dispose()
