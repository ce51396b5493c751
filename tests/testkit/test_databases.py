"""The test databases: the ``database`` fixture is a copy of a template migrated once per process,
with exactly the models' schema and rows of its own; ``database_url`` alone stays empty."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from storage.database import Database
from storage.models import Base
from testkit.databases import (
    copy_migrated_sqlite,
    create_migrated_postgres_database,
    drop_postgres_database,
    skip_unless_postgres,
)


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def _tables(url: str) -> list[str]:
    database = Database(url)
    try:
        async with database.engine.connect() as connection:
            return await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    finally:
        await database.dispose()


async def test_the_database_fixture_has_exactly_the_models_schema_at_the_newest_revision(database: Database) -> None:
    async with database.engine.connect() as connection:
        assert await connection.run_sync(_differences) == []
    await database.migrate()  # nothing left to do: the copy is at head, not merely alike
    async with database.engine.connect() as connection:
        assert await connection.run_sync(_differences) == []


async def test_database_url_alone_is_an_empty_database(database_url: str) -> None:
    assert await _tables(database_url) == []


async def _count_after_writing_one(first: str, second: str) -> tuple[int, int]:
    databases = Database(first), Database(second)
    try:
        async with databases[0].engine.begin() as connection:
            await connection.execute(text("CREATE TABLE mark (n INTEGER)"))
            await connection.execute(text("INSERT INTO mark VALUES (1)"))
        counts = []
        for database in databases:
            async with database.engine.connect() as connection:
                counts.append(len(await connection.run_sync(lambda sync: inspect(sync).get_table_names())))
        return counts[0], counts[1]
    finally:
        for database in databases:
            await database.dispose()


async def test_each_sqlite_copy_of_the_template_is_its_own(tmp_path: Path) -> None:
    first = await copy_migrated_sqlite(tmp_path / "first.db")
    second = await copy_migrated_sqlite(tmp_path / "second.db")
    written, other = await _count_after_writing_one(first, second)
    assert written == other + 1, "a table made in one copy is not in the other (nor in the template)"
    third = await copy_migrated_sqlite(tmp_path / "third.db")
    assert len(await _tables(third)) == other


async def test_each_postgresql_copy_of_the_template_is_its_own() -> None:
    skip_unless_postgres()
    urls = [await create_migrated_postgres_database(), await create_migrated_postgres_database()]
    try:
        written, other = await _count_after_writing_one(*urls)
        assert written == other + 1, "a table made in one copy is not in the other (nor in the template)"
        urls.append(await create_migrated_postgres_database())
        assert len(await _tables(urls[2])) == other
    finally:
        for url in urls:
            await drop_postgres_database(url)
