"""One send rate across worker processes: token buckets in Redis and in PostgreSQL.

Two limiters stand for two workers (each with its own connections); together they must stay
under the configured rate in every one-second window, and keep each chat under its own rate.
"""

from __future__ import annotations

import asyncio
import math
import secrets
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from bot import metrics
from bot.config import BroadcastSettings, Settings, TelegramSettings
from bot.sending.shared_rate import (
    Bucket,
    BucketStore,
    LeasedRateLimiter,
    RedisBuckets,
    SharedRateLimiter,
    WorkerCount,
    overall_bucket,
    send_limiters,
)
from storage.database import Database
from storage.rate_buckets import PostgresBuckets
from testkit.databases import drop_postgres_database, require_postgres_database, require_redis
from testkit.fakes.tcp_proxy import TcpProxy
from testkit.rates import most_in_any_window


@pytest.fixture(params=["redis", "postgresql"])
async def stores(request: pytest.FixtureRequest) -> AsyncIterator[tuple[BucketStore, BucketStore]]:
    """Two independent connections ("two workers") to the same bucket store."""
    if request.param == "redis":
        url = require_redis()
        first, second = RedisBuckets(url), RedisBuckets(url)
        try:
            yield first, second
        finally:
            await first.close()
            await second.close()
        return
    url = await require_postgres_database()
    databases = [Database(url), Database(url)]
    try:
        await databases[0].migrate()
        yield PostgresBuckets(databases[0]), PostgresBuckets(databases[1])
    finally:
        for database in databases:
            await database.dispose()
        await drop_postgres_database(url)


def test_the_overall_bucket_never_allows_more_than_the_rate_in_one_second() -> None:
    for rate in (1.0, 5.0, 20.0, 30.0, 100.0, 1000.0):
        refill, capacity = overall_bucket(rate)
        assert capacity >= 1
        # Capacity 1: tokens 1/refill apart; otherwise a burst of capacity, then the refill.
        most = math.ceil(refill) if capacity == 1 else capacity + refill
        assert most <= rate


async def test_two_workers_together_stay_under_the_overall_rate(stores: tuple[BucketStore, BucketStore]) -> None:
    prefix = f"test:{secrets.token_hex(4)}"
    rate, sends = 20.0, 70
    workers = [SharedRateLimiter(store, prefix, rate, 1000.0, 1000) for store in stores]
    granted: list[float] = []

    async def send(worker: SharedRateLimiter, chat: int) -> None:
        await worker.acquire(str(chat))
        granted.append(time.monotonic())

    await asyncio.gather(*(send(workers[i % 2], i) for i in range(sends)))
    assert len(granted) == sends
    assert most_in_any_window(granted, 1.0) <= rate


async def test_two_workers_together_keep_one_chat_under_its_rate(stores: tuple[BucketStore, BucketStore]) -> None:
    prefix = f"test:{secrets.token_hex(4)}"
    chat_rate, burst, sends = 4.0, 2, 14
    workers = [SharedRateLimiter(store, prefix, 1000.0, chat_rate, burst) for store in stores]
    granted: list[float] = []

    async def send(worker: SharedRateLimiter) -> None:
        await worker.acquire("chat-1")
        granted.append(time.monotonic())

    await asyncio.gather(*(send(workers[i % 2]) for i in range(sends)))
    assert len(granted) == sends
    # A bucket lets through at most burst + rate x W in any window of W seconds.
    assert most_in_any_window(granted, 1.0) <= burst + chat_rate


class _Unreachable:
    async def take(self, buckets: Sequence[Bucket], pause: str | None = None) -> float:
        raise ConnectionError("the store is away")

    async def pause(self, key: str, seconds: float) -> None:
        raise ConnectionError("the store is away")

    async def forget_idle(self, seconds: float) -> int:
        return 0

    async def close(self) -> None:
        return None


async def test_an_unreachable_store_degrades_to_the_process_own_rate_instead_of_blocking_sends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limiter = SharedRateLimiter(_Unreachable(), "test", 1000.0, 1000.0, 10)
    await asyncio.wait_for(asyncio.gather(*(limiter.acquire("c") for _ in range(5))), timeout=10)
    assert "cannot be reached" in caplog.text


async def test_workers_cut_off_from_redis_together_send_no_more_than_the_rate_between_them() -> None:
    url, prefix, rate = require_redis(), f"test:{secrets.token_hex(4)}", 20.0
    async with TcpProxy("127.0.0.1", 6379) as proxy:
        stores = [RedisBuckets(proxy.through(url)) for _ in range(2)]
        counts = [WorkerCount(store, f"{prefix}:workers", f"worker{i}") for i, store in enumerate(stores)]
        try:
            for count in counts:
                await count.start()
            await counts[0].refresh()  # (as its next period would)
            assert [count() for count in counts] == [2, 2]
            workers = [
                SharedRateLimiter(store, prefix, rate, 1000.0, 1000, workers=count)
                for store, count in zip(stores, counts, strict=True)
            ]
            await proxy.cut()  # Redis is away for both
            granted: list[float] = []

            async def send(worker: SharedRateLimiter, chat: int) -> None:
                await worker.acquire(str(chat))
                granted.append(time.monotonic())

            await asyncio.gather(*(send(workers[i % 2], i) for i in range(50)))
        finally:
            for count, store in zip(counts, stores, strict=True):
                await count.stop()
                await store.close()
    assert most_in_any_window(granted, 1.0) <= rate


def degraded_sends(store: str) -> float:
    return metrics.REGISTRY.get_sample_value("baraza_rate_limit_degraded_total", {"store": store}) or 0.0


def limiter_on(store: BucketStore) -> SharedRateLimiter | LeasedRateLimiter:
    """The limiter a deployment puts on ``store``: Redis's, or PostgreSQL's leased one while other
    workers are live (its chat buckets are then taken in the store)."""
    if isinstance(store, RedisBuckets):
        return SharedRateLimiter(store, f"test:{secrets.token_hex(4)}", 1000.0, 1000.0, 10)
    limiter = LeasedRateLimiter(store, f"test:{secrets.token_hex(4)}", 1000.0, 1000.0, 10)
    limiter.share.set_allowance(1000.0)  # as a renewal granting the whole rate would
    limiter.share.extend(time.monotonic() + 3600)
    return limiter


@pytest.fixture(params=["redis", "postgresql"])
async def down_store(request: pytest.FixtureRequest) -> AsyncIterator[BucketStore]:
    """A store whose server does not listen (nothing answers on port 1 of 127.0.0.1)."""
    if request.param == "redis":
        store = RedisBuckets("redis://127.0.0.1:1")
        try:
            yield store
        finally:
            await store.close()
        return
    database = Database("postgresql+asyncpg://postgres@127.0.0.1:1/gone")
    try:
        yield PostgresBuckets(database)
    finally:
        await database.dispose()


async def test_a_store_outage_lets_sends_through_counted_and_warned_about_once(
    down_store: BucketStore, caplog: pytest.LogCaptureFixture
) -> None:
    name = "redis" if isinstance(down_store, RedisBuckets) else "postgresql"
    before = degraded_sends(name)
    limiter = limiter_on(down_store)
    for _ in range(3):
        await asyncio.wait_for(limiter.acquire("chat"), timeout=30)
    assert degraded_sends(name) - before == 3, "every send let through without the store is counted"
    warnings = [record for record in caplog.records if "cannot be reached" in record.getMessage()]
    assert len(warnings) == 1, "one warning a minute per store, not one per send"
    assert name in warnings[0].getMessage() and "127.0.0.1" not in caplog.text, "the error's class, not its text"


class _BrokenRedis(RedisBuckets):
    async def take(self, buckets: Sequence[Bucket], pause: str | None = None) -> float:
        raise TypeError("a bug in the store")


class _BrokenPostgres(PostgresBuckets):
    async def take(self, wanted: Sequence[tuple[str, float, float]], pause: str | None = None) -> float:
        raise TypeError("a bug in the store")


@pytest.mark.parametrize("name", ["redis", "postgresql"])
async def test_a_bug_in_the_store_is_raised_to_the_sender_not_taken_for_an_outage(name: str) -> None:
    database = Database("postgresql+asyncpg://postgres@127.0.0.1:1/unused")
    store: BucketStore = _BrokenRedis("redis://127.0.0.1:1") if name == "redis" else _BrokenPostgres(database)
    before = degraded_sends(name)
    try:
        with pytest.raises(TypeError, match="a bug in the store"):
            await asyncio.wait_for(limiter_on(store).acquire("chat"), timeout=30)
        assert degraded_sends(name) == before, "a bug is not counted as an outage"
    finally:
        await store.close()
        await database.dispose()


async def test_the_backend_follows_the_configuration(tmp_path: Path) -> None:
    sqlite = Database(f"sqlite+aiosqlite:///{tmp_path}/one.db")
    settings = Settings(telegram=TelegramSettings(token="42:abc"), broadcast=BroadcastSettings())
    try:
        limiters = await send_limiters(settings, sqlite)
        assert (limiters.backend, limiters.broadcasts) == ("in-process", None)
    finally:
        await sqlite.dispose()
    url = await require_postgres_database()
    postgres = Database(url)
    try:
        await postgres.migrate()  # as ``baraza run`` does first: the leases live in a table
        limiters = await send_limiters(settings, postgres)
        assert limiters.backend == "postgresql"
        await limiters.close()
        redis_url = require_redis()
        limiters = await send_limiters(Settings(telegram=settings.telegram, redis_url=redis_url), postgres)
        assert limiters.backend == "redis"
        await limiters.close()
    finally:
        await postgres.dispose()
        await drop_postgres_database(url)


async def test_a_send_waiting_for_the_bots_bucket_keeps_its_chats_token(
    stores: tuple[BucketStore, BucketStore],
) -> None:
    store = stores[0]
    prefix = f"test:{secrets.token_hex(4)}"
    chat, bot = (f"{prefix}:chat", 0.01, 2.0), (f"{prefix}:all", 0.01, 1.0)
    assert await store.take([chat, bot]) == 0
    assert await store.take([chat, bot]) > 0, "the bot's bucket is empty"
    assert await store.take([chat]) == 0, "the chat's second token was not spent by the refused send"
    assert await store.take([chat]) > 0


async def test_redis_never_reports_a_wait_too_short_to_show_as_a_token_taken() -> None:
    store = RedisBuckets(require_redis())
    key = f"test:{secrets.token_hex(4)}:chat"
    try:
        # 0.6 of a token at a fast rate: a wait of 0.4 microseconds, which six decimals round to 0.
        # The time of the level is ahead of Redis's clock, so the level stays where it is.
        await store.client.hset(key, mapping={"tokens": "0.6", "at": str(time.time() + 3600)})
        assert await store.take([(key, 1_000_000.0, 1.0)]) > 0, "nothing was taken: a wait, not 0"
        assert float(await store.client.hget(key, "tokens")) == pytest.approx(0.6)
    finally:
        await store.client.delete(key)
        await store.close()


async def test_a_retry_after_seen_by_one_worker_pauses_the_other(stores: tuple[BucketStore, BucketStore]) -> None:
    prefix = f"test:{secrets.token_hex(4)}"
    pause_key = f"{prefix}:paused"
    first, second = (SharedRateLimiter(store, prefix, 100.0, 1000.0, 1000, pause_key=pause_key) for store in stores)
    await second.acquire("chat")  # sends at once before
    await first.pause(0.6)  # Telegram told the first worker to wait
    started = time.monotonic()
    await second.acquire("chat")
    assert time.monotonic() - started >= 0.5, "the second worker waited out the first one's retry_after"
