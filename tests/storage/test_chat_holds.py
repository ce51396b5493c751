"""Holding a chat across worker processes until its replies are sent (:class:`storage.chat_order.ChatHolds`):
two holders on their own connections stand for two workers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event

from storage.chat_order import ChatHolds
from storage.database import Database
from testkit.databases import drop_postgres_database, require_postgres_database


@pytest.fixture
async def two_workers() -> AsyncIterator[tuple[ChatHolds, ChatHolds]]:
    url = await require_postgres_database()
    databases = [Database(url), Database(url)]
    holds = [ChatHolds(database) for database in databases]
    try:
        yield holds[0], holds[1]
    finally:
        for holder, database in zip(holds, databases, strict=True):
            await holder.stop()
            await database.dispose()
        await drop_postgres_database(url)


async def test_a_chat_held_by_one_worker_waits_in_the_other_until_its_replies_are_sent(
    two_workers: tuple[ChatHolds, ChatHolds],
) -> None:
    first, second = two_workers
    events: list[str] = []
    replies_sent, first_holds = asyncio.Event(), asyncio.Event()

    async def first_worker() -> None:
        async with first.hold("telegram", "42"):
            events.append("first holds")
            first_holds.set()
            await replies_sent.wait()
            events.append("first sent its replies")

    async def second_worker() -> None:
        async with second.hold("telegram", "42"):
            events.append("second holds")

    holding = asyncio.create_task(first_worker())
    await first_holds.wait()
    waiting = asyncio.create_task(second_worker())
    async with second.hold("telegram", "43"):  # another chat is not held up
        events.append("second holds another chat")
    await asyncio.sleep(0.2)
    assert "second holds" not in events
    replies_sent.set()
    await asyncio.gather(holding, waiting)
    assert events == ["first holds", "second holds another chat", "first sent its replies", "second holds"]


async def test_a_worker_that_dies_while_holding_a_chat_lets_it_go_with_its_connection(
    two_workers: tuple[ChatHolds, ChatHolds],
) -> None:
    first, second = two_workers
    held = asyncio.Event()
    never = asyncio.Event()

    async def dying_worker() -> None:
        async with first.hold("telegram", "7"):
            held.set()
            await never.wait()

    dying = asyncio.create_task(dying_worker())
    await held.wait()
    await first._drop()  # kill -9: the database closes its session
    async with asyncio.timeout(10):
        async with second.hold("telegram", "7"):
            pass
    dying.cancel()
    with pytest.raises(asyncio.CancelledError):
        await dying


async def test_many_chats_held_at_once_share_statements(two_workers: tuple[ChatHolds, ChatHolds]) -> None:
    first, _ = two_workers
    entered: list[int] = []
    statements: list[str] = []

    def record(query: Any) -> None:
        statements.append(query.query)

    def log_queries(dbapi_connection: Any, *_args: Any) -> None:
        # The holds' statements run on the driver (storage/driver_sql.py): counted there.
        dbapi_connection.driver_connection.add_query_logger(record)

    async def update(chat: int) -> None:
        async with first.hold("telegram", str(chat)):
            entered.append(chat)

    event.listen(first.database.engine.sync_engine, "checkout", log_queries)
    try:
        await asyncio.gather(*(update(chat) for chat in range(50)))
    finally:
        event.remove(first.database.engine.sync_engine, "checkout", log_queries)
    assert sorted(entered) == list(range(50))
    takes = [s for s in statements if "pg_try_advisory_lock" in s]
    assert 1 <= len(takes) < 10, f"{len(takes)} statements took 50 chats"
