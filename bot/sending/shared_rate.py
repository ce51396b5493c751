"""One sending rate for the whole deployment, however many worker processes send.

Telegram limits the *bot* (about 30 messages a second, about 1 a second per chat), not each
process. With several workers the buckets therefore live where every worker sees them:

- Redis, when ``redis.url`` (``BARAZA_REDIS_URL``) is configured: atomic Lua token buckets on
  Redis's own clock, one round trip per send (the chat's and the bot's bucket together);
- else PostgreSQL, with *worker leases* (:mod:`storage.rate_leases`): each worker renews a lease
  every :data:`HEARTBEAT_SECONDS` (dead after :data:`LEASE_EXPIRY_SECONDS`) and spends its
  share of the bot-wide rate in its own :class:`ShareBucket`, with no round trip per send.
  The shares in use never add up to more than the rate: renewals are serialised and grant at
  most what the live leases leave, a worker lowers its rate before it publishes a lower share
  and raises it only after, and stops sending when its lease may have expired. A new worker
  thus sends nothing until the others have made room (about one heartbeat). Per-chat buckets
  stay in the process while it is the only live worker; while several are, each send also
  takes its chat's token from :class:`storage.rate_buckets.PostgresBuckets` (a chat's updates
  are serialised across workers, but the replies of two consecutive ones can overlap). Chat
  buckets are handed to the table when a second worker appears or a worker stops, and read
  back once a worker has been alone for a refill period (``chat_burst / chat rate``). A lease of
  a worker known to be gone (an earlier process of this worker's slot, a dead process on this
  host: :mod:`storage.workers`) is ended at once, not at its expiry; after a worker that kept
  chats to itself dies, every chat counts as emptied at its death;
- one process on SQLite keeps the in-process buckets of :mod:`bot.sending.rate`.

The overall bucket is sized so that no window of one second ever holds more than the configured
rate (a burst of ``rate/20`` at most, refilled at 92 % of the rest, leaving room for network
jitter: on a loaded machine a request can reach the platform a whole send interval late and
the next on time); a worker's share is sized the same way. Per-chat buckets keep the configured
rate and burst. If Redis (or, for chats, the bucket table) cannot be reached, sends go on under
an in-process limiter, counted in ``baraza_rate_limit_degraded_total`` and warned about in the log:
a degraded guarantee rather than a silent bot. Its bot-wide bucket is this worker's share of the
rate among the workers Redis last counted (:class:`WorkerCount`), so workers cut off together
still send no more than the rate. Other errors of a store are bugs and propagate.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import math
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from redis.exceptions import BusyLoadingError, MasterDownError, OutOfMemoryError, ReadOnlyError, TryAgainError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from bot import metrics
from bot.config import Settings
from bot.sending.rate import LocalRateLimiter, RateLimiter, TokenBucket, broadcast_bucket, overall_bucket
from common.errors import BarazaError
from common.tasks import cancel_and_wait
from storage.database import Database
from storage.errors import StorageError
from storage.rate_buckets import PostgresBuckets
from storage.rate_leases import Grant, PostgresLeases, Renewal, fair_share
from storage.workers import WorkerIdentity, this_process

log = logging.getLogger(__name__)

# KEYS: the bot's pause (a Telegram retry_after), then the buckets; ARGV: rate and capacity of
# each bucket, then the seconds to keep an idle bucket. While the pause lasts nothing is taken and
# its remaining time is the wait. Else takes one token from every bucket, or none when one of
# them is short (then returns the longest wait), so a send waiting for the bot's bucket never
# wastes its chat's token. Returns the wait in seconds as a string (Redis would truncate a Lua
# number to an integer).
_TAKE = """
local paused = redis.call('PTTL', KEYS[1])
if paused > 0 then
  return string.format('%.6f', paused / 1000)
end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local keep = math.ceil(tonumber(ARGV[#ARGV]) * 1000)
local levels = {}
local wait = 0
for i = 1, #KEYS - 1 do
  local key = KEYS[i + 1]
  local rate = tonumber(ARGV[2 * i - 1])
  local capacity = tonumber(ARGV[2 * i])
  local state = redis.call('HMGET', key, 'tokens', 'at')
  local tokens = tonumber(state[1]) or capacity
  local at = tonumber(state[2]) or now
  tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
  levels[i] = tokens
  if tokens < 1 then
    -- at least the smallest wait the reply can show: '0.000000' would read as taken
    wait = math.max(wait, (1 - tokens) / rate, 0.000001)
  end
end
for i = 1, #KEYS - 1 do
  local tokens = levels[i]
  if wait == 0 then
    tokens = tokens - 1
  end
  redis.call('HSET', KEYS[i + 1], 'tokens', string.format('%.9f', tokens), 'at', string.format('%.6f', now))
  redis.call('PEXPIRE', KEYS[i + 1], keep)
end
return string.format('%.6f', wait)
"""
# KEYS: the pause; ARGV: its length in milliseconds. Extends the pause, never shortens it.
_PAUSE = """
local left = redis.call('PTTL', KEYS[1])
if left < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 1
"""

# KEYS: the set of workers; ARGV: this worker, then the seconds a worker not seen again counts.
# Marks this worker seen now (Redis's clock) and returns how many were seen within that time.
_SEEN = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local keep = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - keep)
redis.call('PEXPIRE', KEYS[1], math.ceil(keep * 1000))
return redis.call('ZCARD', KEYS[1])
"""

#: Seconds after which an untouched bucket is forgotten (it is full again long before).
IDLE_BUCKET_SECONDS = 3600.0
FORGET_EVERY_SECONDS = 600.0


#: One bucket to take a token from: (key, refill rate a second, capacity).
Bucket = tuple[str, float, float]

#: What a store raises when it cannot be reached or fails on its side (the database, its driver,
#: the network, Redis): sends then go on without it. Anything else is a bug and propagates.
STORE_ERRORS: tuple[type[Exception], ...] = (
    StorageError,
    OSError,
    DBAPIError,
    PoolTimeoutError,
    RedisConnectionError,
    RedisTimeoutError,
    # Redis answering but unable to serve for now: a replica after failover, loading its data,
    # out of memory.
    ReadOnlyError,
    BusyLoadingError,
    MasterDownError,
    OutOfMemoryError,
    TryAgainError,
)
#: While a store fails, its warning is logged at most this often (every send is counted).
DEGRADED_LOG_SECONDS = 60.0
_degraded_logged_at: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()


class BucketStore(Protocol):
    """Where shared token buckets live."""

    async def take(self, buckets: Sequence[Bucket], pause: str | None = None) -> float:
        """Take a token from every bucket at once: 0 if taken, else the seconds to wait (nothing
        taken), the rest of the pause ``pause`` (a key) while it lasts."""
        ...

    async def pause(self, key: str, seconds: float) -> None:
        """Nothing is taken with the pause ``key`` for ``seconds`` from now (a longer one stays)."""
        ...

    async def forget_idle(self, seconds: float) -> int: ...

    async def close(self) -> None: ...


class RedisBuckets:
    """Token buckets in Redis (``redis.asyncio``), each taken atomically by a Lua script."""

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis  # only needed when Redis is configured

        self.client: Any = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._script: Any = self.client.register_script(_TAKE)
        self._pause: Any = self.client.register_script(_PAUSE)
        self._seen: Any = self.client.register_script(_SEEN)

    async def take(self, buckets: Sequence[Bucket], pause: str | None = None) -> float:
        arguments: list[float] = []
        for _, rate, capacity in buckets:
            arguments += [rate, capacity]
        keys = [pause or "baraza:rate:no-pause", *(key for key, _, _ in buckets)]
        wait = await self._script(keys=keys, args=[*arguments, IDLE_BUCKET_SECONDS])
        return float(wait)

    async def pause(self, key: str, seconds: float) -> None:
        await self._pause(keys=[key], args=[max(1, math.ceil(seconds * 1000))])

    async def forget_idle(self, seconds: float) -> int:
        return 0  # every bucket expires by itself

    async def seen(self, key: str, worker: str, seconds: float) -> int:
        """Mark ``worker`` seen now in the set ``key``; how many workers it saw within ``seconds``."""
        return int(await self._seen(keys=[key], args=[worker, seconds]))

    async def ping(self) -> None:
        await self.client.ping()

    async def close(self) -> None:
        await self.client.aclose()


def store_name(store: BucketStore) -> str:
    """The ``store`` label of the degraded-sends metric."""
    if isinstance(store, RedisBuckets):
        return "redis"
    if isinstance(store, PostgresBuckets):
        return "postgresql"
    return type(store).__name__


def degraded(store: BucketStore, error: Exception) -> None:
    """A send goes on without ``store``, which raised ``error`` (one of :data:`STORE_ERRORS`):
    count it, and warn at most once every :data:`DEGRADED_LOG_SECONDS` per store."""
    name = store_name(store)
    metrics.observe_rate_limit_degraded(name)
    now = time.monotonic()
    logged = _degraded_logged_at.get(store)
    if logged is None or now - logged >= DEGRADED_LOG_SECONDS:
        _degraded_logged_at[store] = now
        # The class only: a driver's message may carry addresses or parameters.
        log.warning(
            "the shared send-rate store (%s) cannot be reached (%s): sends go on at this worker's share of the rate",
            name,
            type(error).__name__,
        )


class SharedRateLimiter:
    """The bot-wide bucket plus one bucket per chat, kept in a :class:`BucketStore`.

    Implements :class:`bot.sending.rate.RateLimiter` like the in-process :class:`LocalRateLimiter`.
    """

    def __init__(
        self,
        store: BucketStore,
        prefix: str,
        per_second: float,
        chat_per_second: float,
        chat_burst: float,
        *,
        fallback: LocalRateLimiter | None = None,
        pause_key: str | None = None,
        workers: Callable[[], int] = lambda: 1,
    ) -> None:
        """``pause_key`` is the bot's pause, shared by its limiters (default: this one's own);
        ``workers()`` how many workers share the rate (:class:`WorkerCount`): while the store is
        away this one sends at most its share of the rate."""
        self.store = store
        self.prefix = prefix
        self.pause_key = pause_key or f"{prefix}:paused"
        self.per_second = per_second
        #: (refill rate, capacity) of the bot-wide bucket for a rate (broadcasts: :func:`broadcast_bucket`).
        self.shape: Callable[[float], tuple[float, float]] = overall_bucket
        self.refill, self.capacity = overall_bucket(per_second)
        self.chat_per_second = chat_per_second
        self.chat_burst = max(1.0, float(chat_burst))
        self.workers = workers
        self.fallback = fallback or LocalRateLimiter(per_second, chat_per_second, int(self.chat_burst))
        self._fallback_rate = per_second
        self._forgotten_at = time.monotonic()
        self._failing_since: float | None = None

    async def acquire(self, chat: str | None) -> None:
        """Wait until this send fits the shared rate: the chat's bucket and the bot's, taken together."""
        buckets: list[Bucket] = []
        if chat is not None:
            buckets.append((f"{self.prefix}:chat:{chat}", self.chat_per_second, self.chat_burst))
        buckets.append((f"{self.prefix}:all", self.refill, self.capacity))
        try:
            while True:
                wait = await self.store.take(buckets, self.pause_key)
                if wait <= 0:
                    break
                await asyncio.sleep(wait)  # the tokens are in another process's hands: poll
        except STORE_ERRORS as error:  # the store is away: keep sending, at this worker's share
            degraded(self.store, error)
            if self._failing_since is None:
                self._failing_since = time.monotonic()
            self._fit_fallback()
            await self.fallback.acquire(chat)
            return
        if self._failing_since is not None:
            log.warning("the shared send-rate store answers again")
            self._failing_since = None
        await self._forget_now_and_then()

    def _fit_fallback(self) -> None:
        """Size the in-process bucket to this worker's share of the rate (the others, away from
        the store too, send theirs): at the full rate, each would add the whole rate."""
        share = self.per_second / max(1, self.workers())
        if share != self._fallback_rate:
            # Empty, as at a start: its last second may already hold the former share's sends.
            self.fallback.overall = TokenBucket(*self.shape(share), tokens=0.0)
            self._fallback_rate = share

    async def pause(self, seconds: float) -> None:
        """Every worker's sends wait ``seconds`` (the pause lives in the store, read with each take)."""
        await self.fallback.pause(seconds)  # also while the store is away
        try:
            await self.store.pause(self.pause_key, seconds)
        except STORE_ERRORS as error:
            degraded(self.store, error)

    async def _forget_now_and_then(self) -> None:
        now = time.monotonic()
        if now - self._forgotten_at < FORGET_EVERY_SECONDS:
            return
        self._forgotten_at = now
        try:
            await self.store.forget_idle(IDLE_BUCKET_SECONDS)
        except Exception as error:
            log.warning("could not forget idle send-rate buckets: %s", type(error).__name__)


# --------------------------------------------------------------------------- worker leases

#: A worker renews its leases this often ...
HEARTBEAT_SECONDS = 1.0
#: ... and a lease not renewed for this long is dead (its worker has stopped sending by then).
LEASE_EXPIRY_SECONDS = 5.0
#: While a worker holds less than its fair share (it has just joined), it renews this often.
CATCH_UP_SECONDS = 0.2


class ShareBucket:
    """This worker's share of a bot-wide rate: a token bucket whose rate the lease sets.

    It starts empty at a rate of 0 (nothing may be sent before a lease grants something), never
    hands out a burst on a raise (the level only refills at the new rate), and stops handing out
    tokens once ``deadline`` has passed without a renewal: by then the other workers may
    already count this one as gone and spend its share.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.allowance = 0.0
        self.rate = 0.0
        self.capacity = 1.0
        self.deadline = -math.inf
        #: Nothing is handed out before this (this clock): Telegram's retry_after, for every worker.
        self.paused_until = -math.inf
        self._tokens = 0.0
        self._updated = clock()
        self._lock = asyncio.Lock()
        self._changed = asyncio.Event()
        #: (refill rate, capacity) of the bucket for an allowance (broadcasts: :func:`broadcast_bucket`).
        self.shape: Callable[[float], tuple[float, float]] = overall_bucket

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + max(0.0, now - self._updated) * self.rate)
        self._updated = now

    def set_allowance(self, allowance: float) -> None:
        """Spend ``allowance`` messages a second from now on (0: none)."""
        self._refill()
        self.allowance = allowance
        self.rate, self.capacity = self.shape(allowance) if allowance > 0 else (0.0, 1.0)
        self._tokens = min(self._tokens, self.capacity)
        self._changed.set()

    def extend(self, deadline: float) -> None:
        """The lease is renewed: tokens may be handed out until ``deadline`` (this clock)."""
        self.deadline = deadline
        self._changed.set()

    def pause_until(self, moment: float) -> None:
        """Hand out nothing before ``moment`` (this clock; a later pause already set stays)."""
        self.paused_until = max(self.paused_until, moment)
        self._changed.set()

    async def take(self) -> None:
        """Wait for a token of this worker's share and take it (waiters in arrival order)."""
        async with self._lock:
            while True:
                self._refill()
                now = self._clock()
                if self._tokens >= 1 and self.paused_until <= now < self.deadline:
                    self._tokens -= 1
                    return
                self._changed.clear()
                if now < self.paused_until:
                    timeout = self.paused_until - now
                elif now >= self.deadline or self.rate <= 0:
                    timeout = HEARTBEAT_SECONDS  # until a renewal changes something
                else:
                    timeout = min((1 - self._tokens) / self.rate, self.deadline - now)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), timeout)

    def give_back(self) -> None:
        """Return a token taken for a send that did not happen (its chat had to wait)."""
        self._refill()
        self._tokens = min(self.capacity, self._tokens + 1)


class ChatBuckets:
    """Per-chat token buckets kept in this process (the most recent chats: a full one holds no history)."""

    def __init__(
        self, rate: float, capacity: float, max_chats: int = 50_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.capacity = capacity
        self.max_chats = max_chats
        self._clock = clock
        self._levels: OrderedDict[str, tuple[float, float]] = OrderedDict()  # chat -> (tokens, at)
        #: Since when (this clock) what was sent to any chat is unknown (see :meth:`unknown_since`).
        self._unknown_since = -math.inf

    def unknown_since(self, moment: float) -> None:
        """A worker that kept chats to itself died at ``moment`` (this clock) at the latest: every
        chat not sent to since counts as emptied then, refilling from then on."""
        self._unknown_since = max(self._unknown_since, moment)

    def level(self, chat: str) -> float:
        now = self._clock()
        known = self._levels.get(chat)
        tokens, at = known if known is not None else (self.capacity, now)
        level = min(self.capacity, tokens + max(0.0, now - at) * self.rate)
        if known is None or at < self._unknown_since:
            level = min(level, max(0.0, now - self._unknown_since) * self.rate)
        return level

    def _set(self, chat: str, tokens: float) -> None:
        self._levels[chat] = (tokens, self._clock())
        self._levels.move_to_end(chat)
        if len(self._levels) > self.max_chats:
            for key in [key for key in list(self._levels)[: self.max_chats // 10] if self.level(key) >= self.capacity]:
                del self._levels[key]

    def try_take(self, chat: str) -> float:
        """Take the chat's token: 0 if taken, else the seconds until there is one."""
        level = self.level(chat)
        if level < 1:
            return (1 - level) / self.rate
        self._set(chat, level - 1)
        return 0.0

    def give_back(self, chat: str) -> None:
        self._set(chat, min(self.capacity, self.level(chat) + 1))

    def lower_to(self, chat: str, tokens: float) -> None:
        """What another worker knew of the chat: never more than ``tokens`` now."""
        if tokens < self.level(chat):
            self._set(chat, max(0.0, tokens))

    def not_full(self) -> list[tuple[str, float]]:
        """(chat, tokens now) of every bucket that still remembers a recent send."""
        return [(chat, level) for chat in list(self._levels) if (level := self.level(chat)) < self.capacity]


class LeasedRateLimiter:
    """One worker's part of a shared rate without a per-send round trip (PostgreSQL, no Redis).

    The bot-wide bucket is this worker's leased share (:class:`ShareBucket`, set by
    :class:`LeaseKeeper`). Per-chat buckets are kept in this process while it is the only
    worker (nobody else can send to the chat), and also taken in the shared store while other
    workers are live: a chat's updates may be handled by any of them. Implements
    :class:`bot.sending.rate.RateLimiter`.
    """

    def __init__(
        self,
        store: BucketStore,
        scope: str,
        per_second: float,
        chat_per_second: float,
        chat_burst: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.scope = scope
        self.per_second = per_second
        self.chat_per_second = chat_per_second
        self.chat_burst = max(1.0, float(chat_burst))
        #: Seconds for an emptied chat bucket to be full again: older sends no longer matter.
        self.refill_seconds = self.chat_burst / chat_per_second
        self._clock = clock
        self.share = ShareBucket(clock)
        self.chats = ChatBuckets(chat_per_second, self.chat_burst, clock=clock)
        #: Whether chat buckets are kept here only; False until a renewal finds this worker alone.
        self.local_chats = False
        #: The keeper renewing this limiter's lease (it shares a pause with every worker).
        self.keeper: LeaseKeeper | None = None
        self.workers = 0
        self._switching: asyncio.Event | None = None
        self._handing_over = False
        self._store_takes = 0
        self._store_idle = asyncio.Event()
        self._store_idle.set()
        self._failing = False

    def _key(self, chat: str) -> str:
        return f"{self.scope}:chat:{chat}"

    async def acquire(self, chat: str | None) -> None:
        """Wait until this send fits this worker's share and its chat's rate, then take both."""
        while True:
            await self.share.take()
            if chat is None:
                return
            if self._switching is not None:  # chats move from the store to this process
                self.share.give_back()  # (no share's token is held while anything is awaited)
                await self._switching.wait()
                continue
            wait = self.chats.try_take(chat)
            if wait > 0:
                self.share.give_back()
                await asyncio.sleep(wait)
                continue
            if self.local_chats:
                return
            # The share's token is taken again once the store has answered: tokens taken before
            # a slow round trip would leave together when it ends, more than the share in one
            # second. Nothing is awaited between that take and the send.
            self.share.give_back()
            wait = await self._take_shared(chat)
            if wait <= 0:
                await self.share.take()
                return
            self.chats.give_back(chat)
            await asyncio.sleep(wait)

    async def pause(self, seconds: float) -> None:
        """Every worker's sends wait ``seconds``: this one's at once, the others' from their next
        renewal (a heartbeat at most, see :meth:`LeaseKeeper.pause`)."""
        if self.keeper is not None:
            await self.keeper.pause(seconds)
        else:
            self.share.pause_until(self._clock() + seconds)

    async def _take_shared(self, chat: str) -> float:
        self._store_takes += 1
        self._store_idle.clear()
        try:
            wait = await self.store.take([(self._key(chat), self.chat_per_second, self.chat_burst)])
        except STORE_ERRORS as error:  # the database is away: this process's own chat bucket only
            degraded(self.store, error)
            self._failing = True
            return 0.0
        finally:
            self._store_takes -= 1
            if self._store_takes == 0:
                self._store_idle.set()
        if self._failing:
            log.warning("shared chat send-rate buckets answer again")
            self._failing = False
        return wait

    async def renew(self, renewal: Renewal) -> Grant:
        """This scope's part of a lease renewal, inside its transaction (see :mod:`storage.rate_leases`)."""
        grant = await renewal.grant(self.scope, self.per_second)
        allowance = grant.allowance
        if grant.quiet_for < self.refill_seconds:
            # A worker died keeping chats to itself: what it sent them is unknown, so each chat
            # counts as emptied at its death (rather than this worker sending nothing until every
            # chat has refilled: a mute bot after each crash).
            self.chats.unknown_since(self._clock() - grant.quiet_for)
        if allowance < self.share.allowance:
            self.share.set_allowance(allowance)  # lower before publishing
        local = grant.workers == 1 and grant.alone_for >= self.refill_seconds
        if self.local_chats and not local:
            # Another worker appears: from now on chats go through the store too (it cannot send
            # before this commits), knowing what this process sent lately.
            self.local_chats = False
            self._handing_over = True
            await renewal.hand_over(
                [(self._key(chat), tokens, self.chat_per_second) for chat, tokens in self.chats.not_full()]
            )
        elif local and not self.local_chats:
            # Alone for long enough: what the store knows of the chats comes here, with nothing
            # taken from it meanwhile (the others are gone, this process's takes wait).
            self._switching = asyncio.Event()
            await self._store_idle.wait()
            prefix = self._key("")
            for key, (tokens, ago) in (await renewal.recent_buckets(prefix, self.refill_seconds)).items():
                self.chats.lower_to(key[len(prefix) :], tokens + ago * self.chat_per_second)
        await renewal.publish(self.scope, allowance, local)
        return Grant(allowance, grant.workers, grant.alone_for, grant.quiet_for)

    def renewed(self, grant: Grant | None, deadline: float, committed: bool) -> None:
        """After the renewal (``grant`` None if it failed before this scope): raise the share if
        it grew, keep sending until ``deadline``."""
        if self._switching is not None:
            self.local_chats = committed
            self._switching.set()
            self._switching = None
        if self._handing_over and not committed:
            self.local_chats = True  # the hand-over was rolled back: the next renewal hands over
        self._handing_over = False
        if not committed or grant is None:
            return
        if grant.allowance > self.share.allowance:
            self.share.set_allowance(grant.allowance)
        self.share.extend(deadline)
        if grant.workers != self.workers:
            log.info(
                "send rate %s: %g of %g messages a second for this worker (%d worker(s))",
                self.scope.rsplit(":", 1)[-1],
                grant.allowance,
                self.per_second,
                grant.workers,
            )
            self.workers = grant.workers

    def hand_over(self) -> list[tuple[str, float, float]]:
        """The chat buckets kept here, for the store (a clean stop)."""
        if not self.local_chats:
            return []
        return [(self._key(chat), tokens, self.chat_per_second) for chat, tokens in self.chats.not_full()]


class LeaseKeeper:
    """Renews this worker's leases (one per :class:`LeasedRateLimiter`) every heartbeat.

    A worker whose renewals fail stops sending once its lease has expired: the database is
    where every reply comes from, so a worker that cannot reach it has nothing else to send.
    """

    def __init__(
        self,
        leases: PostgresLeases,
        limiters: Sequence[LeasedRateLimiter],
        *,
        heartbeat: float = HEARTBEAT_SECONDS,
        catch_up: float = CATCH_UP_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        identity: WorkerIdentity | None = None,
        pause_key: str = "baraza:rate",
    ) -> None:
        """``identity`` is this worker's (default: a slot of its own); the leases of its earlier
        processes, and of dead processes on this host, are ended at once (:mod:`storage.workers`)."""
        self.leases = leases
        self.limiters = list(limiters)
        self.heartbeat = heartbeat
        self.catch_up = catch_up
        self.identity = identity or this_process()
        self.worker = self.identity.name
        #: The bot's pause in ``send_rate_pauses`` (a Telegram retry_after kept by every worker).
        self.pause_key = pause_key
        for limiter in self.limiters:
            limiter.keeper = self
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self._renewing = asyncio.Lock()
        self._failing = False
        self._forgotten_at = clock()

    async def renew(self) -> list[Grant]:
        """One renewal of every lease; raises if the database does not answer."""
        async with self._renewing:  # one at a time in this process too
            return await self._renew()

    async def _renew(self) -> list[Grant]:
        started = self._clock()
        grants: list[Grant] = []
        committed = False
        try:
            async with self.leases.renewal(self.worker, self.identity.knows_gone) as renewal:
                for limiter in self.limiters:
                    grants.append(await limiter.renew(renewal))
                paused = await renewal.paused_for(self.pause_key)
            committed = True
            if paused > 0:  # another worker was told to wait: so is this one
                self._pause_here(paused)
        finally:
            # The others count this lease from its renewal, which began after ``started``.
            deadline = started + self.leases.expiry
            for index, limiter in enumerate(self.limiters):
                limiter.renewed(grants[index] if index < len(grants) else None, deadline, committed)
        return grants

    def _pause_here(self, seconds: float) -> None:
        until = self._clock() + seconds
        for limiter in self.limiters:
            limiter.share.pause_until(until)

    async def pause(self, seconds: float) -> None:
        """Telegram said to wait ``seconds``: this worker stops sending at once, and the pause is
        written where every other worker reads it at its next renewal (within a heartbeat)."""
        self._pause_here(seconds)
        try:
            await self.leases.pause(self.pause_key, seconds)
        except Exception as error:  # the others learn it from their own 429
            log.warning("could not share a pause with the other workers: %s", type(error).__name__)

    async def start(self) -> None:
        """Take the first leases (before anything is sent), then renew them in the background."""
        await self.renew()
        self._task = asyncio.create_task(self._keep())

    async def _keep(self) -> None:
        while True:
            catching_up = any(
                limiter.share.allowance < fair_share(limiter.per_second, limiter.workers) for limiter in self.limiters
            )
            await asyncio.sleep(self.catch_up if catching_up else self.heartbeat)
            try:
                await self.renew()
            except Exception as error:  # keep trying; sends stop when the lease expires
                if not self._failing:
                    log.error("cannot renew the send-rate lease (%s): sends stop when it expires", type(error).__name__)
                    self._failing = True
                continue
            if self._failing:
                log.warning("send-rate lease renewed again")
                self._failing = False
            await self._forget_now_and_then()

    async def _forget_now_and_then(self) -> None:
        now = self._clock()
        if now - self._forgotten_at < FORGET_EVERY_SECONDS or not self.limiters:
            return
        self._forgotten_at = now
        try:
            await self.limiters[0].store.forget_idle(IDLE_BUCKET_SECONDS)
        except Exception as error:
            log.warning("could not forget idle send-rate buckets: %s", type(error).__name__)

    async def stop(self) -> None:
        """Stop sending and give the leases back (handing over the chats kept here)."""
        await cancel_and_wait(self._task)
        self._task = None
        chats: list[tuple[str, float, float]] = []
        for limiter in self.limiters:
            limiter.share.set_allowance(0.0)
            chats += limiter.hand_over()
        try:
            await self.leases.release(self.worker, chats)
        except Exception as error:  # the lease expires by itself
            log.warning("could not end the send-rate lease: %s", type(error).__name__)


#: A worker sharing the rates through Redis marks itself seen this often ...
SEEN_EVERY_SECONDS = 2.0
#: ... and counts as one of the workers until this long after it was last seen (a worker
#: stopped is counted a while longer: the others' shares are then only smaller).
SEEN_FOR_SECONDS = 30.0


class WorkerCount:
    """How many workers share the rates through Redis, for the share each sends at while Redis
    is away (:meth:`SharedRateLimiter.acquire`).

    Each worker marks itself seen every :data:`SEEN_EVERY_SECONDS`; the count is what Redis
    answered last, kept while it is away. A worker that joins just before Redis goes away may
    be missing from the others' count for one period.
    """

    def __init__(self, store: RedisBuckets, key: str, worker: str, *, every: float = SEEN_EVERY_SECONDS) -> None:
        self.store = store
        self.key = key
        self.worker = worker
        self.every = every
        self.count = 1
        self._task: asyncio.Task[None] | None = None

    def __call__(self) -> int:
        return self.count

    async def refresh(self) -> int:
        """Mark this worker seen; the number of workers seen lately (this one included)."""
        self.count = max(1, await self.store.seen(self.key, self.worker, SEEN_FOR_SECONDS))
        return self.count

    async def start(self) -> None:
        """Count once (raises if Redis does not answer), then again every period in the background."""
        await self.refresh()
        self._task = asyncio.create_task(self._keep())

    async def _keep(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            with contextlib.suppress(*STORE_ERRORS):  # the last count stays; the limiters warn
                await self.refresh()

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None


@dataclass
class SendLimiters:
    """The limiters of one worker: replies (``telegram.rate_limit``) and broadcasts (``broadcast``)."""

    backend: str  # "redis", "postgresql" or "in-process"
    replies: RateLimiter
    #: Shared broadcast limiter, or None in one process (the durable sender's own limiter suffices).
    broadcasts: RateLimiter | None
    store: BucketStore | None = None
    #: PostgreSQL without Redis: renews this worker's leases of the rates.
    keeper: LeaseKeeper | None = None
    #: This worker (:mod:`storage.workers`).
    identity: WorkerIdentity = field(default_factory=this_process)
    #: Redis: how many workers share the rates (their shares while Redis is away).
    workers: WorkerCount | None = None

    async def gone(self, worker: str) -> bool:
        """Whether the worker called ``worker`` is known to be gone: an earlier process of this
        worker's slot, a dead process on this host, or (with leases) a worker holding no live
        lease. Rows it left ``sending`` are then lost (see :mod:`bot.sending.sender`)."""
        if self.identity.knows_gone(worker):
            return True
        if self.keeper is None or worker == self.identity.name:
            return False
        return worker not in await self.keeper.leases.live_workers()

    async def close(self) -> None:
        if self.workers is not None:
            await self.workers.stop()
        if self.keeper is not None:
            await self.keeper.stop()
        if self.store is not None:
            await self.store.close()


def bot_prefix(token: str | None) -> str:
    """Keys of one bot: its numeric id (the public part of the token), never the secret part."""
    bot_id = (token or "").split(":", 1)[0]
    if not bot_id.isdigit():
        bot_id = hashlib.sha256((token or "").encode()).hexdigest()[:12]
    return f"baraza:rate:{bot_id}"


LimiterT = TypeVar("LimiterT", "SharedRateLimiter", "LeasedRateLimiter")


def _replies_and_broadcasts(
    settings: Settings, make: Callable[[str, float, float, float], LimiterT]
) -> tuple[LimiterT, LimiterT]:
    """The deployment's two rates (replies, broadcasts), built by ``make(scope, rate, chat rate, chat burst)``.

    Broadcasts send one message a chat at a time: a burst of 1.
    """
    telegram, broadcast = settings.telegram, settings.broadcast
    prefix = bot_prefix(telegram.token)
    return (
        make(f"{prefix}:replies", telegram.messages_per_second, telegram.chat_messages_per_second, telegram.chat_burst),
        make(f"{prefix}:broadcast", broadcast.messages_per_second, broadcast.chat_messages_per_second, 1),
    )


async def send_limiters(settings: Settings, database: Database, identity: WorkerIdentity | None = None) -> SendLimiters:
    """The limiters for ``settings``: Redis if configured, else PostgreSQL, else in-process (SQLite),
    for the worker ``identity`` (default: a slot of its own).

    Raises :class:`SharedRateError` if Redis is configured but does not answer at start: a
    deployment that believes it shares one rate must not start without it.
    """
    telegram = settings.telegram
    local = LocalRateLimiter(telegram.messages_per_second, telegram.chat_messages_per_second, telegram.chat_burst)
    store: BucketStore
    if settings.redis_url:
        redis_store = RedisBuckets(settings.redis_url)
        try:
            await redis_store.ping()
        except Exception as error:
            await redis_store.close()
            raise SharedRateError(f"redis.url: Redis does not answer ({type(error).__name__}: {error})") from error
        store, backend = redis_store, "redis"
    elif not database.is_sqlite:
        return await _leased_limiters(settings, database, identity)
    else:
        return SendLimiters("in-process", local, None, identity=identity or this_process())
    identity = identity or this_process()
    workers = WorkerCount(redis_store, f"{bot_prefix(settings.telegram.token)}:workers", identity.name)
    try:
        await workers.start()
    except Exception as error:
        await redis_store.close()
        raise SharedRateError(f"redis.url: Redis does not answer ({type(error).__name__}: {error})") from error
    pause_key = f"{bot_prefix(settings.telegram.token)}:paused"
    replies, broadcasts = _replies_and_broadcasts(
        settings, functools.partial(SharedRateLimiter, store, pause_key=pause_key, workers=workers)
    )
    # Broadcasts are paced like in one process (bot.sending.rate.broadcast_rate_limiter).
    broadcasts.shape = broadcast_bucket
    broadcasts.refill, broadcasts.capacity = broadcast_bucket(settings.broadcast.messages_per_second)
    log.info("send rates shared by all workers through %s", backend)
    return SendLimiters(backend, replies, broadcasts, store, workers=workers, identity=identity)


async def _leased_limiters(settings: Settings, database: Database, identity: WorkerIdentity | None) -> SendLimiters:
    """PostgreSQL without Redis: each worker spends its leased share of the rates locally."""
    store = PostgresBuckets(database)
    replies, broadcasts = _replies_and_broadcasts(settings, functools.partial(LeasedRateLimiter, store))
    broadcasts.share.shape = broadcast_bucket  # like in one process (bot.sending.rate)
    keeper = LeaseKeeper(
        PostgresLeases(database, LEASE_EXPIRY_SECONDS),
        [replies, broadcasts],
        identity=identity,
        pause_key=bot_prefix(settings.telegram.token),
    )
    try:
        await keeper.start()
    except Exception as error:
        raise SharedRateError(f"the send-rate lease cannot be taken ({type(error).__name__}: {error})") from error
    log.info("send rates shared by all workers through leases in PostgreSQL")
    return SendLimiters("postgresql", replies, broadcasts, store, keeper, keeper.identity)


class SharedRateError(BarazaError):
    """The configured shared send-rate store cannot be used."""


def sms_rate_limiter(settings: Settings, limiters: SendLimiters) -> RateLimiter | None:
    """The SMS gateway's rate (``sms.messages_per_second``) shared by every worker through Redis;
    None otherwise (each process paces its own sends: see docs/channels.md for several workers).

    A message leaves when the last of its segments' tokens comes, so the rate is lowered by the
    largest message, as :class:`bot.channels.sms.adapter.SmsPacer` does in one process."""
    if not isinstance(limiters.store, RedisBuckets):
        return None
    sms = settings.sms
    largest = sms.max_segments if sms.rate_counts == "segments" else 1
    rate = max(sms.messages_per_second - largest, sms.messages_per_second / 2)
    return SharedRateLimiter(limiters.store, "baraza:rate:sms", rate, rate, 1, workers=limiters.workers or (lambda: 1))
