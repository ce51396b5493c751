"""``Database.warm_up`` (``baraza run``, before the channels start): the survey steps' statements are
compiled for the database, and on PostgreSQL the pool's connections are opened with the array types
known, so that the first burst of updates after a restart waits for neither; nothing is written
(storage/database.py, storage/driver_sql.py)."""

from __future__ import annotations

from sqlalchemy import bindparam, select, text

from storage.database import Database
from storage.driver_sql import DriverStatement
from storage.models import ContactRow

_COUNTS = text(
    "SELECT (SELECT count(*) FROM contacts), (SELECT count(*) FROM processed_updates), (SELECT count(*) FROM answers)"
)


async def test_warm_up_compiles_every_statement_and_writes_nothing(database: Database) -> None:
    made_since = DriverStatement(select(ContactRow.id).where(ContactRow.id == bindparam("contact_id")))
    async with database.reading() as connection:
        before = (await connection.execute(_COUNTS)).one()
    await database.warm_up()
    assert DriverStatement.compile_all(database.engine.dialect) == 0, "nothing was left to compile"
    async with database.reading() as connection:
        assert (await connection.execute(_COUNTS)).one() == before
        assert await made_since.rows(connection, {"contact_id": -1}) == []


async def test_on_postgresql_warm_up_leaves_the_pools_connections_open(database: Database) -> None:
    await database.warm_up()
    pool = database.engine.pool
    opened = getattr(pool, "checkedin", lambda: 0)()
    assert opened == (0 if database.is_sqlite else database.pool_size)
