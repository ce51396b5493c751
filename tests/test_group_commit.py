"""Group commit: updates of different chats that arrive together share one transaction, with the
same guarantees as one transaction each (bot/group_commit.py, bot/engine.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import event, func, select, text

from bot.engine import Engine
from bot.group_commit import GroupCommit
from handlers import router
from handlers.context import Context
from handlers.messages import Outbound
from storage.database import Database
from storage.repositories import responses
from tests.fakes.engine_user import EngineUser

SURVEY = "/survey usat2026"


def count_transactions(database: Database) -> list[int]:
    counter = [0]

    @event.listens_for(database.engine.sync_engine, "begin")
    def _begin(_connection: Any) -> None:
        counter[0] += 1

    return counter


async def stored_responses(database: Database) -> int:
    async with database.transaction() as connection:
        return int(await connection.scalar(select(func.count()).select_from(responses)) or 0)


async def test_updates_of_many_chats_arriving_together_share_one_transaction(engine: Engine) -> None:
    people = [EngineUser(engine, f"person-{i}") for i in range(20)]
    transactions = count_transactions(engine.database)
    replies = await asyncio.gather(*(person.say(SURVEY) for person in people))
    assert all("1/12" in reply[-1].text for reply in replies), [reply[-1].text for reply in replies]
    assert transactions[0] < len(people) / 2, f"{transactions[0]} transactions for {len(people)} updates"
    assert await stored_responses(engine.database) == len(people)


async def test_a_failing_update_costs_the_others_in_its_batch_nothing(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_route = router.route

    async def route_with_a_bug(ctx: Context) -> list[Outbound]:
        if ctx.inbound.text == "boom":
            raise RuntimeError("a bug in a handler")
        return await real_route(ctx)

    monkeypatch.setattr(router, "route", route_with_a_bug)
    people = [EngineUser(engine, f"person-{i}") for i in range(8)]
    unlucky = EngineUser(engine, "unlucky")
    *replies, failed = await asyncio.gather(*(person.say(SURVEY) for person in people), unlucky.say("boom"))
    assert all("1/12" in reply[-1].text for reply in replies)
    assert "send it again" in failed[-1].text
    assert await stored_responses(engine.database) == len(people)
    # Everyone goes on from where they are.
    nexts = await asyncio.gather(*(person.press("Citizen") for person in people))
    assert all("2/12" in reply[-1].text for reply in nexts), [reply[-1].text for reply in nexts]


async def test_a_chat_busy_in_another_worker_waits_without_holding_up_the_others(engine: Engine) -> None:
    database = engine.database
    if database.is_sqlite:
        pytest.skip("PostgreSQL only: on SQLite one process holds every chat")
    alice, bob = EngineUser(engine, "alice"), EngineUser(engine, "bob")
    # Another worker is in the middle of an update of Alice's chat.
    other_worker = Database(database.url)
    try:
        async with other_worker.engine.connect() as connection:
            transaction = await connection.begin()
            await connection.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 20261125))"), {"key": "test:alice"}
            )
            alice_task = asyncio.create_task(alice.say(SURVEY))
            bob_replies = await asyncio.wait_for(bob.say(SURVEY), timeout=30)
            assert "1/12" in bob_replies[-1].text
            assert not alice_task.done(), "Alice's update must wait for the other worker's commit"
            await transaction.commit()
        alice_replies = await asyncio.wait_for(alice_task, timeout=30)
        assert "1/12" in alice_replies[-1].text
    finally:
        await other_worker.dispose()


async def test_group_commit_hands_each_item_its_own_result_in_batches() -> None:
    batches: list[list[int]] = []

    async def run(items: Sequence[int]) -> list[int]:
        batches.append(list(items))
        await asyncio.sleep(0)
        return [item * 10 for item in items]

    commit: GroupCommit[int, int] = GroupCommit(run, max_batch=4)
    results = await asyncio.gather(*(commit.submit(i) for i in range(10)))
    assert results == [i * 10 for i in range(10)]
    assert batches[0] == [0, 1, 2, 3], "the first batch takes what was waiting, up to max_batch"
    assert sorted(item for batch in batches for item in batch) == list(range(10))
    assert all(len(batch) <= 4 for batch in batches)


async def test_group_commit_gives_a_failed_batch_error_to_each_of_its_items_only() -> None:
    async def run(items: Sequence[int]) -> list[int]:
        await asyncio.sleep(0)
        if 3 in items:
            raise ValueError("three")
        return list(items)

    commit: GroupCommit[int, int] = GroupCommit(run, max_batch=1)
    results = await asyncio.gather(*(commit.submit(i) for i in range(5)), return_exceptions=True)
    assert [type(r).__name__ if isinstance(r, Exception) else r for r in results] == [0, 1, 2, "ValueError", 4]
