"""Token buckets for the sending rate: one for the whole bot and one per chat.

Channel-agnostic: the Telegram adapter uses it now; WhatsApp and broadcasts can share it.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol


class RateLimiter(Protocol):
    """Paces sends: ``acquire`` returns when one more message may leave (for ``chat``, if given).

    :class:`SendRateLimiter` paces one process; :class:`bot.sending.shared_rate.SharedRateLimiter`
    paces every worker of a deployment together.
    """

    async def acquire(self, chat: str | None) -> None: ...


class TokenBucket:
    """Allows ``rate`` acquisitions a second on average and bursts of up to ``capacity``."""

    def __init__(self, rate: float, capacity: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.capacity = capacity
        self._clock = clock
        self._tokens = capacity
        self._updated = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    @property
    def is_full(self) -> bool:
        self._refill()
        return self._tokens >= self.capacity

    async def acquire(self) -> None:
        """Wait until a token is available and take it; waiters are served in arrival order."""
        async with self._lock:
            self._refill()
            if self._tokens < 1:
                await asyncio.sleep((1 - self._tokens) / self.rate)
                self._refill()
            self._tokens -= 1


class SendRateLimiter:
    """The bot-wide bucket plus one bucket per chat (kept for the most recent chats only)."""

    def __init__(self, per_second: float, chat_per_second: float, chat_burst: int, max_chats: int = 50_000) -> None:
        self.overall = TokenBucket(per_second, max(1.0, per_second))
        self.chat_per_second = chat_per_second
        self.chat_burst = chat_burst
        self.max_chats = max_chats
        self._chats: OrderedDict[str, TokenBucket] = OrderedDict()

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
        if chat is not None:
            await self._chat_bucket(chat).acquire()
        await self.overall.acquire()
