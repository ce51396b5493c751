"""The database goes away under a running bot: the user is told to try again, nothing is
half-stored, and the bot recovers by itself (same process, no restart).

- PostgreSQL: the connections go through a TCP proxy that the test cuts (open connections reset,
  new ones refused) and restores; and all server backends are terminated (pg_terminate_backend).
- SQLite: the database becomes full (``PRAGMA max_page_count`` at the current size, so a write
  that needs a new page fails with SQLITE_FULL, "database or disk is full"), then has room again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import asyncpg
import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from bot.core.engine import Engine, load_pseudonymizer
from handlers.texts import Texts
from storage.database import Database
from storage.repositories import answers, responses
from surveys.model import Survey
from testkit.databases import POSTGRES_ADMIN_URL, postgres_reachable
from testkit.fakes.engine_user import EngineUser
from testkit.fakes.tcp_proxy import TcpProxy
from testkit.telegram_harness import PSEUDONYM_KEY

TRY_AGAIN = Texts("en")("try_again")
LONG_COMMENT = ("More regional data, please. " * 70).strip()  # ~2,000 characters, the most allowed


async def answer_until_comments(user: EngineUser) -> None:
    """The shipped survey up to its last question (comments)."""
    await user.say("/start usat2026")
    await user.press("Media")
    await user.say("2")
    await user.press("Research")
    await user.press("News")
    await user.press("Done")
    await user.say("prices, 3")
    for score in ("4", "3", "5", "2"):
        await user.press(score)
    await user.say("4")
    await user.say("7")
    replies = await user.say("31/03/2026")
    assert "What should we improve?" in replies[-1].text


async def stored(database: Database, question: str) -> tuple[int, int, list[str | None]]:
    """(responses, completed responses, values stored for ``question``)."""
    async with database.transaction() as connection:
        ours = responses.c.survey_id == "usat2026"
        total = await connection.scalar(select(func.count()).select_from(responses).where(ours))
        complete = await connection.scalar(
            select(func.count()).select_from(responses).where(ours, responses.c.completed_at.is_not(None))
        )
        values = list(
            (await connection.execute(select(answers.c.value).where(answers.c.question == question))).scalars()
        )
    return int(total or 0), int(complete or 0), values


async def new_engine(database: Database, surveys: dict[str, Survey]) -> Engine:
    await database.migrate()
    return Engine(database, surveys, await load_pseudonymizer(database, PSEUDONYM_KEY))


# --------------------------------------------------------------------------- SQLite: disk full


class PageLimit:
    """``PRAGMA max_page_count`` on every connection the pool hands out (None: SQLite's default)."""

    DEFAULT = 1073741823

    def __init__(self, database: Database) -> None:
        self.pages: int | None = None
        event.listen(database.engine.sync_engine.pool, "checkout", self._on_checkout)

    def _on_checkout(
        self, dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry, _proxy: PoolProxiedConnection
    ) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA max_page_count = {self.pages or self.DEFAULT}")
        cursor.close()


async def page_count(database: Database) -> int:
    async with database.transaction() as connection:
        return int(await connection.scalar(text("PRAGMA page_count")) or 0)


async def leave_no_room_for_a_long_row(database: Database) -> None:
    """Append a 3,000-byte answer (of a made-up response): the newest page of the answers table
    then has about 1,000 bytes left, so the next long answer needs a new page."""
    now = datetime.now(UTC)
    async with database.transaction() as connection:
        await connection.execute(
            responses.insert().values(
                id="ballast", survey_id="ballast", survey_version="0", respondent="ballast",
                channel="test", language="en", started_at=now,
            )
        )  # fmt: skip
        await connection.execute(
            answers.insert().values(response_id="ballast", question="x", value="x" * 3000, answered_at=now)
        )


@pytest.fixture
def storage_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.ERROR, logger="bot.core.engine"):
        yield caplog


async def test_a_full_sqlite_disk_gets_try_again_stores_nothing_and_recovers_when_there_is_room(
    tmp_path: object, shipped_surveys: dict[str, Survey], storage_log: pytest.LogCaptureFixture
) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/full.db")
    limit = PageLimit(database)
    engine = await new_engine(database, shipped_surveys)
    user = EngineUser(engine, "full-disk")
    await answer_until_comments(user)

    await leave_no_room_for_a_long_row(database)
    limit.pages = await page_count(database)  # the disk is full: not one page more
    replies = await user.say(LONG_COMMENT)
    assert [reply.text for reply in replies] == [TRY_AGAIN]
    assert "storage failed while handling an update" in storage_log.text
    assert "OperationalError" in storage_log.text
    assert LONG_COMMENT[:50] not in storage_log.text, "no message text in the log"
    limit.pages = None  # room again (an operator freed space); same process, no restart
    assert await stored(database, "comments") == (1, 0, []), "nothing of the failed answer was stored"

    replies = await user.say(LONG_COMMENT)
    assert "Thank you" in replies[-1].text
    assert await stored(database, "comments") == (1, 1, [LONG_COMMENT])
    await database.dispose()


# --------------------------------------------------------------------------- PostgreSQL: unreachable


@pytest.fixture
def postgres_url(database_url: str) -> str:
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only (SQLite has no server to lose)")
    return database_url


async def test_postgresql_going_away_gets_try_again_and_the_bot_recovers_without_restart(
    postgres_url: str, shipped_surveys: dict[str, Survey], storage_log: pytest.LogCaptureFixture
) -> None:
    host, port = postgres_url.split("@", 1)[1].split("/", 1)[0].split(":")
    async with TcpProxy(host, int(port)) as proxy:
        database = Database(proxy.through(postgres_url))
        engine = await new_engine(database, shipped_surveys)
        user = EngineUser(engine, "pg-away")
        await user.say("/start usat2026")
        await user.press("Media")

        await proxy.cut()  # open connections reset, new ones refused
        assert [reply.text for reply in await user.say("2")] == [TRY_AGAIN]
        assert [reply.text for reply in await user.say("2")] == [TRY_AGAIN]
        assert "storage failed while handling an update" in storage_log.text

        await proxy.restore()
        assert (await stored(database, "frequency"))[2] == [], "nothing of the failed answers was stored"
        replies = await user.say("2")
        assert replies[-1].text.startswith("3/"), replies[-1].text
        assert (await stored(database, "frequency"))[2] == ["weekly"]
        await database.dispose()


async def test_terminated_postgresql_backends_are_replaced_and_nothing_is_lost(
    postgres_url: str, shipped_surveys: dict[str, Survey]
) -> None:
    database = Database(postgres_url)
    engine = await new_engine(database, shipped_surveys)
    user = EngineUser(engine, "pg-restart")
    await user.say("/start usat2026")
    await user.press("Media")
    name = postgres_url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        killed = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
    finally:
        await admin.close()
    assert killed >= 1, "the bot's pooled connections were terminated"
    replies = await user.say("2")
    # The pool notices the dead connection (pre-ping) and opens a new one: no error for the user.
    assert replies[-1].text.startswith("3/"), replies[-1].text
    assert (await stored(database, "frequency"))[2] == ["weekly"]
    await database.dispose()


@pytest.mark.skipif(not postgres_reachable(), reason="PostgreSQL is not reachable")
def test_the_proxy_really_cuts() -> None:
    """The proxy is a working fake: while cut, connecting fails."""
    import asyncio

    async def check() -> None:
        async with TcpProxy("127.0.0.1", 5432) as proxy:
            await proxy.cut()
            with pytest.raises(OSError):
                await asyncio.open_connection("127.0.0.1", proxy.port)

    asyncio.run(check())
