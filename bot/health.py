"""Degrade, never die: a channel that cannot reach its platform keeps trying, and says so.

A channel (Telegram, WhatsApp) holds a :class:`ChannelHealth`: ``starting`` until it first
connects, ``connected`` while its platform answers, ``degraded`` (with a short reason, never a
person's data) while it does not. ``/healthz``, the dashboard, ``/metrics`` and the log all read
the same object, so they always agree. :func:`keep_trying` runs a channel's connecting step again
and again, with a growing pause, until it succeeds or the channel is stopped; the other channels
and the web server are never held up by it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from bot import metrics
from common.clock import utc_now

log = logging.getLogger(__name__)

STARTING = "starting"
CONNECTED = "connected"
DEGRADED = "degraded"

#: The first pause before connecting again (seconds); it doubles up to :data:`MAX_RETRY_DELAY`.
FIRST_RETRY_DELAY = 1.0
MAX_RETRY_DELAY = 300.0


@dataclass(frozen=True)
class ChannelState:
    """What ``/healthz`` and the dashboard show of one channel."""

    channel: str
    state: str
    #: Why it is degraded ("cannot connect to api.telegram.org", "token refused"); None otherwise.
    reason: str | None = None
    since: datetime | None = None
    #: When the next attempt is due (degraded only).
    retry_in_seconds: float | None = None

    @property
    def up(self) -> bool:
        return self.state == CONNECTED


class ChannelHealth:
    """The connection state of one channel; every change is logged once and counted in ``/metrics``."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self._state = ChannelState(channel, STARTING, since=utc_now())
        #: Called when the channel turns degraded (the channel starts trying again from there).
        self.on_degraded: Callable[[], None] | None = None
        metrics.observe_channel_state(channel, up=False)

    @property
    def state(self) -> ChannelState:
        return self._state

    def connected(self) -> None:
        if self._state.state != CONNECTED:
            if self._state.state == DEGRADED:
                log.warning("%s channel connected again", self.channel)
            self._state = ChannelState(self.channel, CONNECTED, since=utc_now())
            metrics.observe_channel_state(self.channel, up=True)

    def degraded(self, reason: str, retry_in_seconds: float | None = None) -> None:
        """The platform does not answer (or refuses us) for ``reason``; logged when it changes."""
        before = self._state
        since = before.since if before.state == DEGRADED and before.since is not None else utc_now()
        self._state = ChannelState(self.channel, DEGRADED, reason, since, retry_in_seconds)
        if before.state != DEGRADED or before.reason != reason:
            again = f"; trying again in {retry_in_seconds:.0f} s" if retry_in_seconds is not None else ""
            log.warning("%s channel degraded: %s%s (the other channels keep serving)", self.channel, reason, again)
        metrics.observe_channel_state(self.channel, up=False)
        if before.state != DEGRADED and self.on_degraded is not None:
            self.on_degraded()


def next_delay(delay: float) -> float:
    """The pause after one of ``delay`` seconds: doubled, at most :data:`MAX_RETRY_DELAY`."""
    return min(delay * 2, MAX_RETRY_DELAY)


async def connect_or_keep_trying(
    health: ChannelHealth,
    connect: Callable[[], Awaitable[None]],
    describe: Callable[[BaseException], str],
    *,
    first_delay: float = FIRST_RETRY_DELAY,
) -> asyncio.Task[None] | None:
    """Try ``connect`` once now; if it fails, mark ``health`` degraded and return the background
    task that keeps trying (see :func:`keep_trying`; the caller cancels it on stop)."""
    try:
        await connect()
    except Exception as error:  # anything the platform or the network does: try again later
        health.degraded(describe(error), retry_in_seconds=first_delay)
        return asyncio.create_task(keep_trying(health, connect, describe, first_delay=first_delay, wait_first=True))
    health.connected()
    return None


async def keep_trying(
    health: ChannelHealth,
    connect: Callable[[], Awaitable[None]],
    describe: Callable[[BaseException], str],
    *,
    first_delay: float = FIRST_RETRY_DELAY,
    wait_first: bool = False,
) -> None:
    """Run ``connect`` until it returns, pausing longer after each failure (marked degraded with
    ``describe(error)``, never a traceback); with ``wait_first``, pause before the first attempt
    too. Cancelled when the channel stops."""
    delay = first_delay
    if wait_first:
        await asyncio.sleep(delay)
        delay = next_delay(delay)
    while True:
        try:
            await connect()
        except asyncio.CancelledError:
            raise
        except Exception as error:  # anything the platform or the network does: try again later
            health.degraded(describe(error), retry_in_seconds=delay)
            await asyncio.sleep(delay)
            delay = next_delay(delay)
            continue
        health.connected()
        return
