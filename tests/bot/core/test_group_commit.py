"""Group commit: updates of different chats that arrive together share one transaction, with the
same guarantees as one transaction each (bot/core/group_commit.py, bot/core/engine.py)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import event, func, select, text

from bot.core.engine import Engine
from bot.core.group_commit import GroupCommit
from handlers import router
from handlers.context import Context
from handlers.messages import Outbound
from storage.database import Database
from storage.repositories import responses
from testkit.fakes.engine_user import EngineUser

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


class GatedBatches:
    """A ``run_batch`` that records the batches it takes and holds each until ``gate`` opens."""

    def __init__(self, *, fail: bool = False) -> None:
        self.taken: list[list[int]] = []
        self.finished: list[list[int]] = []
        self.started = asyncio.Event()
        self.gate = asyncio.Event()
        self.fail = fail

    async def run(self, items: Sequence[int]) -> list[int]:
        self.taken.append(list(items))
        self.started.set()
        await self.gate.wait()
        self.finished.append(list(items))
        if self.fail:
            raise ValueError("the batch failed")
        return [item * 10 for item in items]


def collect_loop_errors() -> list[dict[str, Any]]:
    """What the running loop reports (an exception never retrieved, a task destroyed pending)."""
    reported: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _loop, context: reported.append(context))
    return reported


def assert_nothing_left_behind(reported: list[dict[str, Any]]) -> None:
    gc.collect()  # futures and tasks report an unretrieved exception when they are collected
    assert reported == []
    assert asyncio.all_tasks() == {asyncio.current_task()}, "the batcher left a task running"


async def settled(*tasks: asyncio.Task[int]) -> list[Any]:
    """Each task's result or exception; a batcher that lost a waiter fails here instead of hanging."""
    return await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout=30)


async def queued(commit: GroupCommit[int, int], items: Sequence[int]) -> list[asyncio.Task[int]]:
    """Submitters of ``items``, each waiting in ``commit``'s line once this returns."""
    tasks = [asyncio.create_task(commit.submit(item)) for item in items]
    await asyncio.sleep(0)  # one turn of the loop: each task runs up to its wait for a result
    return tasks


async def test_group_commit_withdraws_the_item_of_a_submitter_cancelled_before_its_batch_starts() -> None:
    reported = collect_loop_errors()
    batches = GatedBatches()
    commit: GroupCommit[int, int] = GroupCommit(batches.run, max_batch=4)
    (first,) = await queued(commit, [1])
    await batches.started.wait()  # the line is busy with [1]: the next ones wait for it
    second, third, fourth = await queued(commit, [2, 3, 4])
    third.cancel()
    batches.gate.set()
    results = await settled(first, second, third, fourth)
    assert batches.taken == [[1], [2, 4]], "a cancelled submitter's item must not run once withdrawn"
    assert results[:2] == [10, 20] and results[3] == 40
    assert isinstance(results[2], asyncio.CancelledError)
    assert_nothing_left_behind(reported)


async def test_group_commit_withdrawing_every_waiting_item_runs_no_empty_batch() -> None:
    reported = collect_loop_errors()
    batches = GatedBatches()
    commit: GroupCommit[int, int] = GroupCommit(batches.run, max_batch=4)
    (first,) = await queued(commit, [1])
    await batches.started.wait()
    withdrawn = await queued(commit, [2, 3])
    for task in withdrawn:
        task.cancel()
    batches.gate.set()
    first_result, *withdrawn_results = await settled(first, *withdrawn)
    assert first_result == 10
    assert all(isinstance(result, asyncio.CancelledError) for result in withdrawn_results)
    assert batches.taken == [[1]]
    assert_nothing_left_behind(reported)
    # The line works as before.
    assert await commit.submit(5) == 50


async def test_group_commit_runs_a_taken_item_to_the_end_when_its_submitter_is_cancelled() -> None:
    reported = collect_loop_errors()
    batches = GatedBatches()
    commit: GroupCommit[int, int] = GroupCommit(batches.run, max_batch=4)
    first, second, third = await queued(commit, [1, 2, 3])
    await batches.started.wait()
    assert batches.taken == [[1, 2, 3]]
    second.cancel()
    batches.gate.set()
    results = await settled(first, second, third)
    assert batches.finished == [[1, 2, 3]], "the batch is not cut short by one of its submitters"
    assert results[0] == 10 and results[2] == 30, "the others of the batch get their results"
    assert isinstance(results[1], asyncio.CancelledError)
    assert_nothing_left_behind(reported)


async def test_group_commit_gives_a_failed_batch_error_to_the_submitters_still_waiting_only() -> None:
    reported = collect_loop_errors()
    batches = GatedBatches(fail=True)
    commit: GroupCommit[int, int] = GroupCommit(batches.run, max_batch=4)
    first, second, third = await queued(commit, [1, 2, 3])
    await batches.started.wait()
    second.cancel()
    batches.gate.set()
    results = await settled(first, second, third)
    assert [type(result).__name__ for result in results] == ["ValueError", "CancelledError", "ValueError"]
    assert_nothing_left_behind(reported)


def test_group_commit_cancels_every_waiter_when_the_loop_shuts_down_mid_batch() -> None:
    outcomes: dict[int, str] = {}
    reported: list[dict[str, Any]] = []
    batches: list[list[int]] = []

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda _loop, context: reported.append(context))
        never, two_running = asyncio.Event(), asyncio.Event()

        async def run(items: Sequence[int]) -> list[int]:
            batches.append(list(items))
            if len(batches) == 2:
                two_running.set()
            await never.wait()
            return list(items)

        commit: GroupCommit[int, int] = GroupCommit(run, max_batch=1, parallel=2)

        async def submitter(item: int) -> None:
            try:
                await commit.submit(item)
                outcomes[item] = "result"
            except asyncio.CancelledError:
                outcomes[item] = "cancelled"
                raise

        for item in range(1, 5):
            asyncio.create_task(submitter(item))  # noqa: RUF006 - the runner's shutdown ends them
        await two_running.wait()
        # Returning leaves two batches running and two items waiting: the runner cancels it all.

    with asyncio.Runner() as runner:
        runner.run(main())
    assert outcomes == {1: "cancelled", 2: "cancelled", 3: "cancelled", 4: "cancelled"}
    assert batches == [[1], [2]], "nothing new starts while the loop shuts down"
    gc.collect()
    assert reported == []
