"""Send rates: the one :class:`RateLimiter` interface, and its in-process implementation.

:class:`LocalRateLimiter` holds token buckets in this process: one for the whole bot and one per
chat. The limiters shared by every worker of a deployment (Redis, PostgreSQL leases) implement
the same interface in :mod:`bot.sending.shared_rate`. Channel-agnostic: replies (the Telegram
adapter) and the durable sender (:mod:`bot.sending.sender`) pace themselves through it.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Protocol


class RateLimiter(Protocol):
    """Paces sends: ``acquire`` returns when one more message may leave (for ``chat``, if given).

    :class:`LocalRateLimiter` paces one process; :class:`bot.sending.shared_rate.SharedRateLimiter`
    (Redis) and :class:`bot.sending.shared_rate.LeasedRateLimiter` (PostgreSQL leases) pace every
    worker of a deployment together.
    """

    async def acquire(self, chat: str | None) -> None: ...

    async def pause(self, seconds: float) -> None:
        """The platform said to wait ``seconds`` (Telegram's ``retry_after``): it limits the bot,
        so no send paced by this limiter (or, when shared, by any worker's) leaves before then."""
        ...


#: Share of the configured overall rate a bot-wide bucket refills at (jitter between the
#: limiter's decision and the request's arrival at the platform).
MARGIN = 0.92


def overall_bucket(per_second: float) -> tuple[float, float]:
    """(refill rate, capacity) such that no one-second window holds more than ``per_second`` tokens.

    A token bucket lets through at most ``capacity + rate * W`` in any window of W seconds; with
    a capacity of 1 the tokens are spaced ``1/rate`` apart, so at most ``ceil(rate * W)``.
    """
    capacity = max(1.0, float(int(per_second / 20)))
    refill = per_second * MARGIN if capacity == 1 else (per_second - capacity) * MARGIN
    return refill, capacity


#: The longest a token bucket's pacer waits between two hand-outs while the bucket can hold
#: several tokens: the tokens due meanwhile go together.
TICK_SECONDS = 0.005


class TokenBucket:
    """Allows ``rate`` acquisitions a second on average and bursts of up to ``capacity``.

    ``tokens`` is the level at creation (default full). A bot-wide bucket starts empty: the
    process before a restart may have spent the whole second's rate just before it died, and a
    full bucket at start would add its capacity to that second.
    """

    def __init__(
        self, rate: float, capacity: float, clock: Callable[[], float] = time.monotonic, *, tokens: float | None = None
    ) -> None:
        self.rate = rate
        self.capacity = capacity
        self._clock = clock
        self._tokens = capacity if tokens is None else min(capacity, tokens)
        self._updated = clock()
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._pacer: asyncio.Task[None] | None = None

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    def available(self) -> float:
        """How many tokens the bucket holds now (none are taken)."""
        self._refill()
        return self._tokens

    @property
    def is_full(self) -> bool:
        self._refill()
        return self._tokens >= self.capacity

    async def acquire(self) -> None:
        """Wait until a token is available and take it; waiters are served in arrival order.

        One pacer task hands out the tokens to the waiters: every token due when it wakes goes
        at once (a tick at most :data:`TICK_SECONDS` apart while the bucket can hold them), so
        no time is lost to the granularity of one sleep per token, and a token is only taken
        when it is handed out, so the bucket's bound holds at that moment.
        """
        self._refill()
        if not self._waiters and self._tokens >= 1:
            self._tokens -= 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        if self._pacer is None or self._pacer.done():
            self._pacer = asyncio.create_task(self._pace())
        await waiter  # cancelled before its turn: the pacer passes over it

    async def _pace(self) -> None:
        while self._waiters:
            self._refill()
            while self._waiters and self._tokens >= 1:
                waiter = self._waiters.popleft()
                if not waiter.done():
                    self._tokens -= 1
                    waiter.set_result(None)
            if self._waiters:
                # The next token, or a tick's worth when the bucket can hold more than one.
                due = (1 - self._tokens) / self.rate
                await asyncio.sleep(max(due, min(TICK_SECONDS, (self.capacity - 1) / self.rate)))


class LocalRateLimiter:
    """In this process: the bot-wide bucket plus one bucket per chat (kept for the most recent chats only).

    The bot-wide bucket is sized by :func:`overall_bucket` and starts empty, so that no window of
    one second holds more than ``per_second`` sends, also across a restart (see
    docs/operations.md, "The send rate across restarts").
    """

    def __init__(self, per_second: float, chat_per_second: float, chat_burst: int, max_chats: int = 50_000) -> None:
        refill, capacity = overall_bucket(per_second)
        self.overall = TokenBucket(refill, capacity, tokens=0.0)
        self.chat_per_second = chat_per_second
        self.chat_burst = chat_burst
        self.max_chats = max_chats
        self._chats: OrderedDict[str, TokenBucket] = OrderedDict()
        self._resume_at = 0.0  # time.monotonic() before which nothing is handed out

    def _chat_bucket(self, chat: str) -> TokenBucket:
        bucket = self._chats.get(chat)
        if bucket is None:
            bucket = self._chats[chat] = TokenBucket(self.chat_per_second, self.chat_burst)
            if len(self._chats) > self.max_chats:
                # A full bucket carries no history, so forgetting it changes nothing.
                for key in [k for k, b in list(self._chats.items())[: len(self._chats) // 10] if b.is_full]:
                    del self._chats[key]
        self._chats.move_to_end(chat)
        return bucket

    async def acquire(self, chat: str | None) -> None:
        await wait_until(lambda: self._resume_at)
        if chat is not None:
            await self._chat_bucket(chat).acquire()
        await self.overall.acquire()

    async def pause(self, seconds: float) -> None:
        self._resume_at = max(self._resume_at, time.monotonic() + seconds)


async def wait_until(resume_at: Callable[[], float]) -> None:
    """Wait until ``time.monotonic()`` reaches ``resume_at()``, looked at again after each wait
    (a pause may be extended meanwhile; bounded)."""
    for _ in range(8):
        wait = resume_at() - time.monotonic()
        if wait <= 0:
            return
        await asyncio.sleep(wait)


def broadcast_rate_limiter(per_second: float, chat_per_second: float) -> LocalRateLimiter:
    """The limiter all sends of the durable sender share.

    Its overall bucket (:func:`broadcast_bucket`) holds a burst of ``max(1, rate/50)``, refills the
    rest over 1 + :data:`ARRIVAL_SLACK` seconds and starts empty, so no window of one second ever
    holds more than ``per_second`` sends, when they leave or when they arrive, also across a
    restart; a token bucket as large as the rate would allow twice the rate in the first second.
    Each chat gets at most ``chat_per_second``.
    """
    limiter = LocalRateLimiter(per_second, chat_per_second, chat_burst=1, max_chats=4096)
    refill, burst = broadcast_bucket(per_second)
    limiter.overall = TokenBucket(refill, burst, tokens=0.0)  # empty: see LocalRateLimiter
    return limiter


#: Messages that leave a little more than a second apart can arrive within one second at the
#: platform (network and server jitter): at 1,000/s, sends paced to 990 in every second of leaving
#: were counted as 1,002-1,010 in one second of arriving at the fake Bot API (bench.broadcast_load,
#: quiet machine). The broadcast bucket leaves this much room, so the platform's count stays under
#: the setting too.
ARRIVAL_SLACK = 0.05


def broadcast_bucket(per_second: float) -> tuple[float, float]:
    """(refill rate, capacity) of the bot-wide broadcast bucket (see :func:`broadcast_rate_limiter`):
    a burst of ``max(1, rate/50)`` and the rest spread over 1 + :data:`ARRIVAL_SLACK` seconds, so no
    second holds more than ``per_second``, when the messages leave or when they arrive."""
    burst = max(1.0, float(int(per_second / 50)))
    rest = per_second - burst if per_second - burst >= per_second / 2 else per_second
    return rest / (1 + ARRIVAL_SLACK), burst
