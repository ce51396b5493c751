"""``baraza db copy``: a small office's SQLite database moves to PostgreSQL with every row and id,
new rows continue after the copied ids, and a non-empty target or an old source is refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select, text

from bot.cli.main import main
from bot.core.engine import Engine, load_pseudonymizer
from storage.copy import CopyError, copy_database, tables_in_order
from storage.database import Database
from storage.models import SendRateLeaseRow
from surveys.model import Survey
from testkit.broadcasts import CPI, create_broadcast
from testkit.databases import drop_postgres_database, require_postgres_database
from testkit.fakes.engine_user import EngineUser
from testkit.register import Person, add_people

SCRIPT = ["/survey usat2026", "Citizen", "2", "1,3", "prices", "4", "3", "5", "2", "4", "7", "31/03/2026", "Fine"]
#: The installation's pseudonym key (from the environment in production); the copy keeps its fingerprint.
KEY = "copy-test-pseudonym-key-0123456789"


async def fill(url: str, survey: Survey) -> None:
    """A database as a small office leaves it: surveys answered, a register, a broadcast."""
    database = Database(url)
    await database.migrate()
    try:
        engine = Engine(database, {survey.id: survey}, await load_pseudonymizer(database, KEY))
        for index in range(5):
            user = EngineUser(engine, f"copy-{index}", channel="telegram")
            for line in SCRIPT[: 5 + 2 * index]:  # the last one finishes the survey
                await user.say(line)
        people = [Person(9000 + i, user_group="media", topics=("prices",), region="north") for i in range(40)]
        await add_people(database, people)
        await create_broadcast(database, CPI)
        async with database.transaction() as connection:
            await connection.execute(
                text("INSERT INTO send_rate_buckets (key, tokens, updated_at) VALUES ('k', 1.5, 2.5)")
            )
            await connection.execute(
                insert(SendRateLeaseRow).values(scope="s", worker="w", allowance=12.0, renewed_at=2.5, local_chats=True)
            )
    finally:
        await database.dispose()


def _normal(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


async def every_row(url: str) -> dict[str, list[tuple[Any, ...]]]:
    database = Database(url)
    try:
        async with database.reading() as connection:
            return {
                table.name: [
                    tuple(_normal(v) for v in row)
                    for row in await connection.execute(select(table).order_by(*table.primary_key.columns))
                ]
                for table in tables_in_order()
            }
    finally:
        await database.dispose()


@pytest.fixture(params=["postgresql", "sqlite"])
async def target_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'target.db'}"
        return
    url = await require_postgres_database()
    try:
        yield url
    finally:
        await drop_postgres_database(url)


async def test_a_sqlite_database_moves_with_every_row_and_new_ids_follow_the_copied_ones(
    target_url: str, usat: Survey, tmp_path: Path
) -> None:
    source_url = f"sqlite+aiosqlite:///{tmp_path / 'office.db'}"
    await fill(source_url, usat)
    before = await every_row(source_url)
    filled = {name for name, rows in before.items() if rows}
    assert len(filled) >= 10, f"the source fills most tables: {sorted(filled)}"

    copied = await copy_database(source_url, target_url, batch_rows=7)

    assert {table.name: table.rows for table in copied} == {name: len(rows) for name, rows in before.items()}
    assert await every_row(target_url) == before
    # The bot goes on on the target: a new person gets the next id, nothing collides.
    target = Database(target_url)
    try:
        engine = Engine(target, {usat.id: usat}, await load_pseudonymizer(target, KEY))
        await EngineUser(engine, "after-the-move", channel="telegram").say("/start")
        async with target.reading() as connection:
            newest = (await connection.execute(text("SELECT MAX(id) FROM contacts"))).scalar()
            assert newest == max(row[0] for row in before["contacts"]) + 1
    finally:
        await target.dispose()


async def test_a_target_holding_rows_is_refused_and_left_as_it_was(usat: Survey, tmp_path: Path) -> None:
    source_url = f"sqlite+aiosqlite:///{tmp_path / 'office.db'}"
    target_url = f"sqlite+aiosqlite:///{tmp_path / 'busy.db'}"
    await fill(source_url, usat)
    await fill(target_url, usat)
    before = await every_row(target_url)
    with pytest.raises(CopyError, match=r"not empty: .*contacts \(45\)"):
        await copy_database(source_url, target_url)
    assert await every_row(target_url) == before


async def test_an_old_source_must_be_upgraded_first(tmp_path: Path) -> None:
    source = Database(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    async with source.engine.begin() as connection:
        from alembic import command

        from storage.database import alembic_config

        await connection.run_sync(lambda sync: command.upgrade(alembic_config(sync), "0003"))
    await source.dispose()
    with pytest.raises(CopyError, match="run 'baraza db upgrade' on it first"):
        await copy_database(source.url, f"sqlite+aiosqlite:///{tmp_path / 'new.db'}")


def test_the_cli_copies_and_prints_the_count_of_every_table(
    usat: Survey, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    source = f"sqlite:///{tmp_path / 'office.db'}"
    asyncio.run(fill(source, usat))
    target = f"sqlite:///{tmp_path / 'copy.db'}"
    assert main(["db", "copy", "--from", source, "--to", target]) == 0
    out, err = capsys.readouterr()
    assert "contacts\t45" in out.splitlines()
    assert "every count verified" in err
    assert main(["db", "copy", "--from", source, "--to", target]) == 1
    assert "not empty" in capsys.readouterr().err
