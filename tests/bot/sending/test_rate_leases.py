"""Worker leases of the send rate on PostgreSQL without Redis: each worker spends a published
share of the bot-wide rate in its own process, and chat buckets leave the process only while
other workers are live. Renewals are driven by hand here (no timers), so every step is seen."""

from __future__ import annotations

import asyncio
import functools
import random
import secrets
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event, select, text, update

from bot.config import BroadcastSettings, Settings, TelegramSettings
from bot.sending.shared_rate import LeasedRateLimiter, LeaseKeeper, send_limiters
from storage.database import Database
from storage.errors import StorageError
from storage.rate_buckets import PostgresBuckets, buckets
from storage.rate_leases import PostgresLeases, pool
from storage.workers import WorkerIdentity, this_process
from testkit.databases import create_migrated_postgres_database, drop_postgres_database, skip_unless_postgres
from testkit.fakes.tcp_proxy import TcpProxy
from testkit.rates import most_in_any_window


@pytest.fixture
async def database() -> AsyncIterator[Database]:
    skip_unless_postgres()
    url = await create_migrated_postgres_database()
    database = Database(url)
    try:
        yield database
    finally:
        await database.dispose()
        await drop_postgres_database(url)


class Worker:
    """One worker process's limiter and lease keeper (renewed by hand), with its own connections."""

    def __init__(
        self,
        url: str,
        scope: str,
        rate: float,
        *,
        chat_rate: float = 1000.0,
        burst: int = 1000,
        expiry: float = 5.0,
        identity: WorkerIdentity | None = None,
    ) -> None:
        self.database = Database(url)
        self.limiter = LeasedRateLimiter(PostgresBuckets(self.database), scope, rate, chat_rate, burst)
        self.keeper = LeaseKeeper(PostgresLeases(self.database, expiry), [self.limiter], identity=identity)

    @property
    def allowance(self) -> float:
        return self.limiter.share.allowance

    async def renew(self) -> None:
        await self.keeper.renew()

    async def close(self, *, cleanly: bool = True) -> None:
        if cleanly:
            await self.keeper.stop()
        await self.database.dispose()


@pytest.fixture
async def workers(database: Database) -> AsyncIterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for worker in started:
        await worker.close()


async def test_a_single_worker_on_postgresql_sends_without_touching_the_bucket_table(database: Database) -> None:
    settings = Settings(
        telegram=TelegramSettings(token="42:abc", messages_per_second=200.0, chat_burst=4),
        broadcast=BroadcastSettings(),
    )
    limiters = await send_limiters(settings, database)
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(database.engine.sync_engine, "before_cursor_execute", record)
    try:
        assert limiters.backend == "postgresql"
        await asyncio.gather(*(limiters.replies.acquire(f"chat-{i % 20}") for i in range(60)))
        assert limiters.broadcasts is not None
        await asyncio.gather(*(limiters.broadcasts.acquire(f"chat-{i}") for i in range(10)))
        event.remove(database.engine.sync_engine, "before_cursor_execute", record)
        assert not [s for s in statements if "send_rate_buckets" in s], "no send touched the bucket table"
        async with database.transaction() as connection:
            assert (await connection.execute(text("SELECT count(*) FROM send_rate_buckets"))).scalar_one() == 0
    finally:
        await limiters.close()  # a clean stop hands the chats over: the next worker knows them


async def test_a_second_worker_joining_halves_the_first_share_within_one_heartbeat_of_each(
    database: Database, workers: list[Worker]
) -> None:
    scope = f"test:{secrets.token_hex(4)}"
    first = Worker(database.url, scope, 20.0)
    workers.append(first)
    await first.renew()
    assert first.allowance == 20 and first.limiter.local_chats
    second = Worker(database.url, scope, 20.0)
    workers.append(second)
    await second.renew()
    assert second.allowance == 0, "nothing until the first worker has seen the second"
    assert not second.limiter.local_chats
    await first.renew()
    assert first.allowance == 10 and not first.limiter.local_chats
    await second.renew()
    assert (first.allowance, second.allowance) == (10, 10)
    assert sum((await first.keeper.leases.live(scope)).values()) <= 20


async def test_a_worker_stopping_cleanly_gives_its_share_back_at_the_next_renewal(
    database: Database, workers: list[Worker]
) -> None:
    scope = f"test:{secrets.token_hex(4)}"
    first, second = Worker(database.url, scope, 20.0), Worker(database.url, scope, 20.0)
    workers.append(first)
    for worker in (first, second, first, second):
        await worker.renew()
    assert (first.allowance, second.allowance) == (10, 10)
    await second.close()
    await first.renew()
    assert first.allowance == 20


async def test_a_worker_killed_gives_its_share_back_once_its_lease_expires(
    database: Database, workers: list[Worker]
) -> None:
    scope = f"test:{secrets.token_hex(4)}"
    first = Worker(database.url, scope, 20.0, expiry=1.0)
    second = Worker(database.url, scope, 20.0, expiry=1.0)
    workers.append(first)
    for worker in (first, second, first, second):
        await worker.renew()
    assert (first.allowance, second.allowance) == (10, 10)
    await second.close(cleanly=False)  # kill -9: its lease stays until it expires
    for _ in range(100):
        await first.renew()
        if first.allowance == 20:
            break
        await asyncio.sleep(0.1)
    assert first.allowance == 20
    assert await first.keeper.leases.live(scope) == {first.keeper.worker: 20.0}


async def test_the_live_allowances_never_add_up_to_more_than_the_rate_while_workers_come_and_go(
    database: Database, workers: list[Worker]
) -> None:
    scope, rate = f"test:{secrets.token_hex(4)}", 25.0
    rng = random.Random(7)
    live: list[Worker] = []
    leases = PostgresLeases(database, 5.0)
    for step in range(40):
        if len(live) < 4 and rng.random() < 0.3:
            worker = Worker(database.url, scope, rate)
            workers.append(worker)
            live.append(worker)
        elif len(live) > 1 and rng.random() < 0.1:
            gone = live.pop(rng.randrange(len(live)))
            workers.remove(gone)
            await gone.close()
        await asyncio.gather(*(worker.renew() for worker in rng.sample(live, k=len(live))))
        published = await leases.live(scope)
        assert sum(published.values()) <= pool(rate), f"step {step}: {published}"
        for worker in live:  # what a worker spends never exceeds what it published
            assert worker.allowance <= published[worker.keeper.worker]
    assert len({worker.allowance for worker in live}) == 1, "the shares settle to equal ones"


async def test_a_chat_drained_by_a_lone_worker_is_known_to_the_store_once_a_second_worker_appears(
    database: Database, workers: list[Worker]
) -> None:
    scope = f"test:{secrets.token_hex(4)}"
    first = Worker(database.url, scope, 100.0, chat_rate=0.01, burst=2)
    workers.append(first)
    await first.renew()
    assert first.limiter.local_chats
    await first.limiter.acquire("c")
    await first.limiter.acquire("c")  # the chat's burst, spent in this process only
    second = Worker(database.url, scope, 100.0, chat_rate=0.01, burst=2)
    workers.append(second)
    await second.renew()
    await first.renew()  # sees the second worker: hands the chat over before it can send
    store = PostgresBuckets(database)
    assert await store.take([(f"{scope}:chat:c", 0.01, 2.0)]) > 0, "the chat's bucket is empty in the store"
    assert await store.take([(f"{scope}:chat:other", 0.01, 2.0)]) == 0


async def test_two_workers_together_keep_one_chat_under_its_rate(database: Database, workers: list[Worker]) -> None:
    scope = f"test:{secrets.token_hex(4)}"
    chat_rate, burst, sends = 4.0, 2, 14
    first = Worker(database.url, scope, 1000.0, chat_rate=chat_rate, burst=burst)
    second = Worker(database.url, scope, 1000.0, chat_rate=chat_rate, burst=burst)
    workers += [first, second]
    for worker in (first, second, first, second):
        await worker.renew()
    granted: list[float] = []

    async def send(worker: Worker) -> None:
        await worker.limiter.acquire("chat-1")
        granted.append(time.monotonic())

    await asyncio.gather(*(send(workers[i % 2]) for i in range(sends)))
    assert len(granted) == sends
    assert most_in_any_window(granted, 1.0) <= burst + chat_rate


async def test_a_chat_take_that_waited_for_the_row_while_the_bucket_refilled_reports_taken_only_if_it_took(
    database: Database,
) -> None:
    # The statement reads its clock before it waits for the row another worker holds; the bucket
    # gets its token during that wait. The take must then take it, not say "taken" and leave it
    # for the next send (two sends for one token: the two-worker test above failed that way).
    store = PostgresBuckets(database)
    key, rate = f"test:{secrets.token_hex(4)}:chat:c", 0.1  # capacity 1: one token every 10 s
    assert await store.take([(key, rate, 1.0)]) == 0, "the chat's only token"
    async with database.transaction() as other_worker:
        await other_worker.execute(select(buckets).where(buckets.c.key == key).with_for_update())
        taking = asyncio.ensure_future(store.take([(key, rate, 1.0)]))
        await waiting_for_a_row_lock(database, "INSERT INTO send_rate_buckets")
        # Short of its token when the waiting statement read its clock; full when the row is free.
        now = float((await other_worker.execute(text("SELECT extract(epoch FROM clock_timestamp())"))).scalar_one())
        await other_worker.execute(
            update(buckets).where(buckets.c.key == key).values(tokens=0.0, updated_at=now - 1 / rate + 0.05)
        )
        await asyncio.sleep(0.1)
    answers = [await taking, await store.take([(key, rate, 1.0)])]
    assert answers.count(0.0) == 1, f"one token, taken by one of the two sends: {answers}"


async def waiting_for_a_row_lock(database: Database, statement: str) -> None:
    """Return once a session of this database runs ``statement`` and waits for a lock."""
    for _ in range(1000):
        async with database.transaction() as connection:
            waiting = await connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock' AND position(:statement IN query) > 0"
                ),
                {"statement": statement},
            )
            if waiting.scalar_one() > 0:
                return
        await asyncio.sleep(0.01)
    raise AssertionError(f"no session waits for a lock in {statement!r}")


async def test_a_worker_whose_lease_cannot_be_renewed_stops_sending_when_it_expires(
    database: Database, workers: list[Worker]
) -> None:
    worker = Worker(database.url, f"test:{secrets.token_hex(4)}", 100.0, expiry=0.5)
    workers.append(worker)
    await worker.renew()
    await worker.limiter.acquire(None)
    gone = Database("postgresql://postgres@127.0.0.1:1/gone")
    worker.keeper.leases.database = gone  # the database is unreachable from this worker
    with pytest.raises(StorageError):
        await worker.renew()
    await gone.dispose()
    await asyncio.sleep(0.6)
    sending = asyncio.ensure_future(worker.limiter.acquire(None))
    await asyncio.sleep(0.3)
    assert not sending.done(), "no send once the lease may have expired"
    worker.keeper.leases.database = worker.database
    await worker.renew()
    await asyncio.wait_for(sending, 10)


def restarted(identity: WorkerIdentity) -> WorkerIdentity:
    """The identity of the next process in ``identity``'s slot (a restart after ``kill -9``)."""
    return WorkerIdentity(identity.slot, identity.host, identity.pid, secrets.token_hex(4))


async def test_a_worker_restarted_in_its_slot_after_kill_9_gets_the_whole_rate_at_its_first_renewal(
    database: Database, workers: list[Worker]
) -> None:
    scope = f"test:{secrets.token_hex(4)}"
    first = Worker(database.url, scope, 20.0, identity=this_process("host-a:8080"))
    await first.renew()
    assert first.allowance == 20
    await first.close(cleanly=False)  # kill -9: its lease looks live for 5 s more
    again = Worker(database.url, scope, 20.0, identity=restarted(first.keeper.identity))
    workers.append(again)
    await again.renew()
    assert again.allowance == 20, "the earlier process of its own slot is gone: no wait for its lease to expire"
    assert await again.keeper.leases.live(scope) == {again.keeper.worker: 20.0}


async def test_a_dead_process_on_this_host_gives_its_share_back_at_the_next_renewal_of_another(
    database: Database, workers: list[Worker]
) -> None:
    scope = f"test:{secrets.token_hex(4)}"
    first = Worker(database.url, scope, 20.0, identity=this_process("host-a:8080"))
    workers.append(first)
    # The second worker's process: a real one of this host, killed below.
    child = await asyncio.create_subprocess_exec(sys.executable, "-c", "import time; time.sleep(120)")
    try:
        identity = WorkerIdentity("host-a:8081", first.keeper.identity.host, child.pid, secrets.token_hex(4))
        second = Worker(database.url, scope, 20.0, identity=identity)
        for worker in (first, second, first, second):
            await worker.renew()
        assert (first.allowance, second.allowance) == (10, 10)
    finally:
        child.kill()
        await child.wait()
    await second.close(cleanly=False)
    await first.renew()
    assert first.allowance == 20, "its process is gone: no wait for its lease to expire"


async def test_after_a_lone_worker_dies_its_chats_count_as_emptied_and_the_next_one_is_not_mute(
    database: Database, workers: list[Worker]
) -> None:
    scope = f"test:{secrets.token_hex(4)}"
    first = Worker(database.url, scope, 20.0, chat_rate=1.0, burst=4, identity=this_process("host-a:8080"))
    await first.renew()
    assert first.limiter.local_chats, "alone: it keeps the chats to itself"
    for _ in range(4):
        await first.limiter.acquire("chat-1")  # spends the chat's burst
    await first.close(cleanly=False)
    again = Worker(database.url, scope, 20.0, chat_rate=1.0, burst=4, identity=restarted(first.keeper.identity))
    workers.append(again)
    await again.renew()
    assert again.allowance == 20, "it sends at once"
    assert again.limiter.chats.level("chat-1") < 1, "what the dead one sent to a chat is not forgotten"
    assert again.limiter.chats.level("chat-2") < 1, "nor what it may have sent to any other"


async def test_a_retry_after_seen_by_one_worker_pauses_the_other_from_its_next_renewal(
    database: Database, workers: list[Worker]
) -> None:
    scope = f"test:{secrets.token_hex(4)}"
    first, second = Worker(database.url, scope, 20.0), Worker(database.url, scope, 20.0)
    workers.extend([first, second])
    for worker in (first, second, first, second):
        await worker.renew()
    await first.limiter.pause(30.0)  # Telegram told the first worker to wait 30 s
    assert first.limiter.share.paused_until > time.monotonic() + 25, "it stops at once"
    assert second.limiter.share.paused_until < time.monotonic(), "the second one has not renewed yet"
    await second.renew()
    assert second.limiter.share.paused_until > time.monotonic() + 25, "and so does every other worker"
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(second.limiter.acquire("chat"), 0.3)


async def test_a_slow_database_never_lets_a_workers_sends_bunch_above_its_share(database: Database) -> None:
    # Several workers are live, so every send also takes its chat's token in the database; its
    # answers come back after random delays. The share is spent when the send may leave, not
    # before that round trip: tokens taken before it would all leave together when it ends.
    async with TcpProxy("127.0.0.1", 5432) as proxy:
        slow = Database(proxy.through(database.url))
        try:
            limiter = LeasedRateLimiter(PostgresBuckets(slow), "test:replies", 20.0, 1000.0, 10)
            limiter.share.set_allowance(20.0)  # as a renewal granting it would
            limiter.share.extend(time.monotonic() + 3600)
            await limiter.acquire("warm-up")  # the connections are open before the answers slow down
            proxy.latency = functools.partial(random.Random(7).uniform, 0.0, 0.6)
            granted: list[float] = []

            async def send(chat: int) -> None:
                await limiter.acquire(str(chat))
                granted.append(time.monotonic())

            await asyncio.gather(*(send(chat) for chat in range(60)))
        finally:
            await slow.dispose()
    assert most_in_any_window(granted, 1.0) <= 20
