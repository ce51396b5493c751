"""Several dispatchers (one per worker) share one broadcast on PostgreSQL: each recipient gets the
notice exactly once, every dispatcher takes a share, and together they keep one send rate."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from dataclasses import replace

import pytest

from bot.config import BroadcastSettings
from bot.sending.broadcast_rows import broadcast_sender
from bot.sending.rate import RateLimiter
from bot.sending.shared_rate import (
    LEASE_EXPIRY_SECONDS,
    BucketStore,
    LeasedRateLimiter,
    LeaseKeeper,
    RedisBuckets,
    SharedRateLimiter,
)
from handlers.messages import Outbound
from storage.broadcasts import SENT, Audience
from storage.database import Database
from storage.rate_buckets import PostgresBuckets
from storage.rate_leases import PostgresLeases
from testkit.broadcasts import CPI, create_broadcast, wait_until_finished
from testkit.databases import require_redis
from testkit.rates import most_in_any_window
from testkit.register import Person, add_people

PEOPLE = 150
RATE = 60.0


class RecordingSender:
    """A channel that takes a moment per message and remembers who got what, and when."""

    channel = "telegram"

    def __init__(self, name: str, log: list[tuple[str, str, float]]) -> None:
        self.name = name
        self.log = log

    async def send(self, chat_key: str, message: Outbound, *, cache_key: str) -> str:
        await asyncio.sleep(0.002)
        self.log.append((self.name, chat_key, time.monotonic()))
        return secrets.token_hex(4)


@pytest.mark.parametrize("rate_store", ["redis", "postgresql", "postgresql-leases"])
async def test_three_dispatchers_share_one_broadcast_without_duplicates_and_within_one_rate(
    rate_store: str, postgres_url: str
) -> None:
    redis_url = require_redis() if rate_store == "redis" else None
    setup = Database(postgres_url)
    await setup.migrate()
    databases = [Database(postgres_url) for _ in range(3)]
    stores: list[BucketStore] = [
        RedisBuckets(redis_url) if redis_url else PostgresBuckets(database) for database in databases
    ]
    sends: list[tuple[str, str, float]] = []
    prefix = f"test:{secrets.token_hex(4)}:broadcast"
    limiters: list[RateLimiter] = [SharedRateLimiter(store, prefix, RATE, 1.0, 1) for store in stores]
    keepers: list[LeaseKeeper] = []
    if rate_store == "postgresql-leases":  # each worker spends its leased share of the rate
        leased = [LeasedRateLimiter(store, prefix, RATE, 1.0, 1) for store in stores]
        keepers = [
            LeaseKeeper(PostgresLeases(database, LEASE_EXPIRY_SECONDS), [limiter])
            for database, limiter in zip(databases, leased, strict=True)
        ]
        limiters = list(leased)
    try:
        for keeper in keepers:
            await keeper.start()
        for keeper in keepers * 2:  # every worker has seen the others: the shares are settled
            await keeper.renew()
        await add_people(setup, [Person(20_000 + i) for i in range(PEOPLE)])
        dispatchers = [
            broadcast_sender(
                database,
                [RecordingSender(f"worker{i}", sends)],
                BroadcastSettings(RATE, 1.0, 8),
                poll_interval=0.05,
                shared_limiter=limiter,
            )
            for i, (database, limiter) in enumerate(zip(databases, limiters, strict=True))
        ]
        for dispatcher in dispatchers:
            await dispatcher.start()
        broadcast_id, recipients = await create_broadcast(setup, replace(CPI, audience=Audience()))
        assert recipients == PEOPLE
        summary = await wait_until_finished(setup, broadcast_id, within=60)
        for dispatcher in dispatchers:
            await dispatcher.stop()
    finally:
        for keeper in keepers:
            await keeper.stop()
        for store in stores:
            await store.close()
        for database in [setup, *databases]:
            await database.dispose()
    assert summary.count(SENT) == PEOPLE
    per_chat = Counter(chat for _, chat, _ in sends)
    assert len(per_chat) == PEOPLE and set(per_chat.values()) == {1}, "everyone exactly once"
    shares = Counter(name for name, _, _ in sends)
    assert len(shares) == 3, f"every dispatcher sent a share: {shares}"
    assert most_in_any_window([moment for _, _, moment in sends], 1.0) <= RATE
