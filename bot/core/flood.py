"""The per-user flood limit: one person sending 100 messages a second cannot hog the bot.

:class:`FloodGuard` wraps the core (any :class:`~handlers.messages.MessageProcessor`) and gives
each ``(channel, user)`` a token bucket: ``burst`` messages at once, then ``per_second`` on
average. A message over the limit never reaches the engine, so it changes nothing (no answer
stored, no conversation moved) and costs no database transaction. The first dropped message of
a flood gets one polite notice in the user's language; the rest of that flood is dropped
silently. A flood ends when the user's bucket is full again (they were quiet for
``burst / per_second`` seconds); the next flood gets its notice again.

The buckets are in memory, per process: with several workers each worker limits the updates it
receives, which is the point (no worker is swamped). Forgetting a bucket loses nothing, since a
full bucket and a missing one behave the same.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import KW_ONLY, dataclass, field

from handlers.messages import Delivered, Inbound, MessageProcessor, Outbound, as_they_are
from handlers.texts import Texts, supported_language

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FloodSettings:
    """``config.yaml`` section ``flood``: the per-user message rate the bot accepts."""

    enabled: bool = True
    burst: int = 10
    per_second: float = 2.0


@dataclass
class _Bucket:
    tokens: float
    updated: float
    noticed: bool = False


@dataclass(eq=False)
class FloodGuard:
    """A :class:`~handlers.messages.MessageProcessor` that drops a user's excess messages.

    ``handle`` returns the inner processor's replies, or ``[notice]`` for the first message
    dropped in a flood, or ``[]`` for the other dropped messages.
    """

    inner: MessageProcessor
    settings: FloodSettings
    _: KW_ONLY
    default_language: str = "en"
    clock: Callable[[], float] = time.monotonic
    #: Above this many buckets, the least recent refilled ones are forgotten.
    max_users: int = 100_000
    #: Messages dropped since start (for logs and tests; no user is named).
    dropped: int = field(default=0, init=False)
    _buckets: OrderedDict[tuple[str, str], _Bucket] = field(default_factory=OrderedDict, init=False, repr=False)

    async def handle(self, inbound: Inbound) -> list[Outbound]:
        return await self.serve(inbound, as_they_are)

    async def serve(self, inbound: Inbound, deliver: Callable[[list[Outbound]], Awaitable[Delivered]]) -> Delivered:
        verdict = self._verdict(inbound)
        if verdict == "accept":
            return await self.inner.serve(inbound, deliver)
        return await deliver(self._dropped(inbound, verdict))

    def _verdict(self, inbound: Inbound) -> str:
        return self._take((inbound.channel, inbound.user_key)) if self.settings.enabled else "accept"

    def _dropped(self, inbound: Inbound, verdict: str) -> list[Outbound]:
        """The answer to a dropped message: the notice for the first of a flood, else nothing."""
        self.dropped += 1
        if verdict == "drop":
            return []
        # Never name the user: a flood is logged by channel only.
        log.warning("a %s user is sending messages too fast: dropping them for a moment", inbound.channel)
        language = supported_language(inbound.language_hint) or self.default_language
        return [Outbound(Texts(language)("flood_notice"))]

    def _take(self, key: tuple[str, str]) -> str:
        """``accept``, ``notice`` (first drop of a flood) or ``drop``."""
        now = self.clock()
        burst = float(self.settings.burst)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(tokens=burst, updated=now)
            self._forget_idle(now)
        else:
            bucket.tokens = min(burst, bucket.tokens + (now - bucket.updated) * self.settings.per_second)
            bucket.updated = now
            self._buckets.move_to_end(key)
        if bucket.tokens >= burst:
            bucket.noticed = False  # quiet long enough: this is not the same flood any more
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return "accept"
        if bucket.noticed:
            return "drop"
        bucket.noticed = True
        return "notice"

    def _forget_idle(self, now: float) -> None:
        """Above ``max_users`` buckets, forget the least recent ones that have refilled."""
        if len(self._buckets) <= self.max_users:
            return
        burst = float(self.settings.burst)
        for key in list(self._buckets)[: len(self._buckets) // 10]:
            bucket = self._buckets[key]
            if bucket.tokens + (now - bucket.updated) * self.settings.per_second >= burst:
                del self._buckets[key]
