"""One sending rate for the whole deployment, however many worker processes send.

Telegram limits the *bot* (about 30 messages a second, about 1 a second per chat), not each
process. With several workers the buckets therefore live where every worker sees them:

- Redis, when ``redis.url`` (``BARAZA_REDIS_URL``) is configured: atomic Lua token buckets on
  Redis's own clock, one round trip per send (the chat's and the bot's bucket together);
- else PostgreSQL (:class:`storage.rate_buckets.PostgresBuckets`), one short transaction a token;
- one process on SQLite keeps the in-process buckets of :mod:`bot.ratelimit`.

The overall bucket is sized so that no window of one second ever holds more than the configured
rate (a burst of ``rate/20`` at most, refilled at 92 % of the rest, leaving room for network
jitter: on a loaded machine a request can reach the platform a whole send interval late and
the next on time). Per-chat buckets keep the configured rate and burst. If the shared store cannot be
reached, sends go on under an in-process limiter and the log says so: a degraded guarantee
rather than a silent bot.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bot.config import Settings
from bot.ratelimit import RateLimiter, SendRateLimiter
from storage.database import Database
from storage.rate_buckets import PostgresBuckets

log = logging.getLogger(__name__)

# KEYS: the buckets; ARGV: rate and capacity of each, then the seconds to keep an idle bucket.
# Takes one token from every bucket, or none when one of them is short (then returns the
# longest wait), so a send waiting for the bot's bucket never wastes its chat's token. Returns
# the wait in seconds as a string (Redis would truncate a Lua number to an integer).
_TAKE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local keep = math.ceil(tonumber(ARGV[#ARGV]) * 1000)
local levels = {}
local wait = 0
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[2 * i - 1])
  local capacity = tonumber(ARGV[2 * i])
  local state = redis.call('HMGET', key, 'tokens', 'at')
  local tokens = tonumber(state[1]) or capacity
  local at = tonumber(state[2]) or now
  tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
  levels[i] = tokens
  if tokens < 1 then
    wait = math.max(wait, (1 - tokens) / rate)
  end
end
for i, key in ipairs(KEYS) do
  local tokens = levels[i]
  if wait == 0 then
    tokens = tokens - 1
  end
  redis.call('HSET', key, 'tokens', string.format('%.9f', tokens), 'at', string.format('%.6f', now))
  redis.call('PEXPIRE', key, keep)
end
return string.format('%.6f', wait)
"""

#: Seconds after which an untouched bucket is forgotten (it is full again long before).
IDLE_BUCKET_SECONDS = 3600.0
FORGET_EVERY_SECONDS = 600.0
#: Share of the configured overall rate the shared bucket refills at (jitter between the
#: limiter's decision and the request's arrival at the platform).
MARGIN = 0.92


#: One bucket to take a token from: (key, refill rate a second, capacity).
Bucket = tuple[str, float, float]


class BucketStore(Protocol):
    """Where shared token buckets live."""

    async def take(self, buckets: Sequence[Bucket]) -> float:
        """Take a token from every bucket at once: 0 if taken, else the seconds to wait (nothing taken)."""
        ...

    async def forget_idle(self, seconds: float) -> int: ...

    async def close(self) -> None: ...


class RedisBuckets:
    """Token buckets in Redis (``redis.asyncio``), each taken atomically by a Lua script."""

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis  # only needed when Redis is configured

        self.client: Any = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._script: Any = self.client.register_script(_TAKE)

    async def take(self, buckets: Sequence[Bucket]) -> float:
        arguments: list[float] = []
        for _, rate, capacity in buckets:
            arguments += [rate, capacity]
        wait = await self._script(keys=[key for key, _, _ in buckets], args=[*arguments, IDLE_BUCKET_SECONDS])
        return float(wait)

    async def forget_idle(self, seconds: float) -> int:
        return 0  # every bucket expires by itself

    async def ping(self) -> None:
        await self.client.ping()

    async def close(self) -> None:
        await self.client.aclose()


def overall_bucket(per_second: float) -> tuple[float, float]:
    """(refill rate, capacity) such that no one-second window holds more than ``per_second`` tokens.

    A token bucket lets through at most ``capacity + rate * W`` in any window of W seconds; with
    a capacity of 1 the tokens are spaced ``1/rate`` apart, so at most ``ceil(rate * W)``.
    """
    capacity = max(1.0, float(int(per_second / 20)))
    refill = per_second * MARGIN if capacity == 1 else (per_second - capacity) * MARGIN
    return refill, capacity


class SharedRateLimiter:
    """The bot-wide bucket plus one bucket per chat, kept in a :class:`BucketStore`.

    Implements :class:`bot.ratelimit.RateLimiter` like the in-process :class:`SendRateLimiter`.
    """

    def __init__(
        self,
        store: BucketStore,
        prefix: str,
        per_second: float,
        chat_per_second: float,
        chat_burst: float,
        *,
        fallback: RateLimiter | None = None,
    ) -> None:
        self.store = store
        self.prefix = prefix
        self.refill, self.capacity = overall_bucket(per_second)
        self.chat_per_second = chat_per_second
        self.chat_burst = max(1.0, float(chat_burst))
        self.fallback = fallback or SendRateLimiter(per_second, chat_per_second, int(self.chat_burst))
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
                wait = await self.store.take(buckets)
                if wait <= 0:
                    break
                await asyncio.sleep(wait)  # the tokens are in another process's hands: poll
        except Exception as error:  # the store is away: keep sending, at this process's own rate
            if self._failing_since is None:
                log.error(
                    "the shared send-rate store cannot be reached (%s): each worker now limits only itself",
                    type(error).__name__,
                )
                self._failing_since = time.monotonic()
            await self.fallback.acquire(chat)
            return
        if self._failing_since is not None:
            log.warning("the shared send-rate store answers again")
            self._failing_since = None
        await self._forget_now_and_then()

    async def _forget_now_and_then(self) -> None:
        now = time.monotonic()
        if now - self._forgotten_at < FORGET_EVERY_SECONDS:
            return
        self._forgotten_at = now
        try:
            await self.store.forget_idle(IDLE_BUCKET_SECONDS)
        except Exception as error:
            log.warning("could not forget idle send-rate buckets: %s", type(error).__name__)


@dataclass
class SendLimiters:
    """The limiters of one worker: replies (``telegram.rate_limit``) and broadcasts (``broadcast``)."""

    backend: str  # "redis", "postgresql" or "in-process"
    replies: RateLimiter
    #: Shared broadcast limiter, or None in one process (the dispatcher's own limiter suffices).
    broadcasts: RateLimiter | None
    store: BucketStore | None = None

    async def close(self) -> None:
        if self.store is not None:
            await self.store.close()


def bot_prefix(token: str | None) -> str:
    """Keys of one bot: its numeric id (the public part of the token), never the secret part."""
    bot_id = (token or "").split(":", 1)[0]
    if not bot_id.isdigit():
        bot_id = hashlib.sha256((token or "").encode()).hexdigest()[:12]
    return f"baraza:rate:{bot_id}"


async def send_limiters(settings: Settings, database: Database) -> SendLimiters:
    """The limiters for ``settings``: Redis if configured, else PostgreSQL, else in-process (SQLite).

    Raises :class:`SharedRateError` if Redis is configured but does not answer at start: a
    deployment that believes it shares one rate must not start without it.
    """
    telegram, broadcast = settings.telegram, settings.broadcast
    local = SendRateLimiter(telegram.messages_per_second, telegram.chat_messages_per_second, telegram.chat_burst)
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
        store, backend = PostgresBuckets(database), "postgresql"
    else:
        return SendLimiters("in-process", local, None)
    prefix = bot_prefix(telegram.token)
    replies = SharedRateLimiter(
        store,
        f"{prefix}:replies",
        telegram.messages_per_second,
        telegram.chat_messages_per_second,
        telegram.chat_burst,
        fallback=local,
    )
    broadcasts = SharedRateLimiter(
        store, f"{prefix}:broadcast", broadcast.messages_per_second, broadcast.chat_messages_per_second, 1
    )
    log.info("send rates shared by all workers through %s", backend)
    return SendLimiters(backend, replies, broadcasts, store)


class SharedRateError(Exception):
    """The configured shared send-rate store cannot be used."""
