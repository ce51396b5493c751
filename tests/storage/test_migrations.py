"""Alembic migrations on both backends: they build exactly the models' schema, go down and up
again, and keep the rows of a database filled by an earlier revision."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection

from storage.database import Database, alembic_config
from storage.models import Base


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_migrations_build_exactly_the_models_schema(database_url: str) -> None:
    database = Database(database_url)
    try:
        await database.migrate()
        async with database.engine.connect() as connection:
            differences = await connection.run_sync(_differences)
        assert differences == []
    finally:
        await database.dispose()


def _downgrade_then_upgrade(connection: Connection, target: str) -> None:
    config = alembic_config(connection)
    command.downgrade(config, target)
    command.upgrade(config, "head")


async def test_every_migration_goes_down_and_up_again(database_url: str) -> None:
    database = Database(database_url)
    try:
        await database.migrate()
        async with database.engine.begin() as connection:
            await connection.run_sync(_downgrade_then_upgrade, "base")
        async with database.engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
    finally:
        await database.dispose()


def _upgrade_to(connection: Connection, revision: str) -> None:
    command.upgrade(alembic_config(connection), revision)


async def test_upgrading_keeps_the_rows_of_the_first_release(database_url: str) -> None:
    """A database written by revision 0001 (the first release) upgrades without losing a row."""
    database = Database(database_url)
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(_upgrade_to, "0001")
        async with database.engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO contacts (id, channel, user_key, chat_key, language, first_seen_at, last_seen_at) "
                    "VALUES (1, 'telegram', '42', '42', 'fr', :now, :now)"
                ),
                {"now": now},
            )
            await connection.execute(
                text(
                    "INSERT INTO responses (id, survey_id, survey_version, contact_id, respondent, channel, language, "
                    "started_at, completed_at) VALUES ('r1', 'usat2026', 'v1', 1, 'p', 'telegram', 'fr', :now, :now)"
                ),
                {"now": now},
            )
            await connection.execute(
                text(
                    "INSERT INTO answers (response_id, question, value, answered_at) "
                    "VALUES ('r1', 'user_group', 'media', :now)"
                ),
                {"now": now},
            )
        await database.migrate()
        async with database.engine.connect() as connection:
            assert (await connection.execute(text("SELECT COUNT(*) FROM answers"))).scalar() == 1
            assert (await connection.execute(text("SELECT language FROM contacts"))).scalar() == "fr"
            completed = await connection.execute(text("SELECT completed FROM participations WHERE contact_id = 1"))
            assert completed.scalar() == 1, "0002 counts the responses completed before it"
    finally:
        await database.dispose()
