"""Telegram's send limits for python-telegram-bot: :class:`TelegramRateLimiter`.

Replies are paced by Baraza's limiter (:mod:`bot.sending.rate`, or the shared one of
:mod:`bot.sending.shared_rate`); a 429 from Telegram pauses every throttled call for its
``retry_after``, in every worker sharing the limiter; a reply that certainly did not reach Telegram is sent again.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from telegram.error import BadRequest, NetworkError, RetryAfter
from telegram.ext import BaseRateLimiter

from bot.channels.telegram.ptb_compat import RLARGS
from bot.channels.telegram.transport import certainly_not_sent
from bot.sending.rate import RateLimiter

log = logging.getLogger(__name__)

# Calls that answer the user's own action or manage the bot are not throttled.
UNTHROTTLED = {
    "answerCallbackQuery",
    "getMe",
    "getUpdates",
    "setMyCommands",
    "deleteWebhook",
    "setWebhook",
    "close",
    "logOut",
}
#: ``rate_limit_args`` of broadcast sends: the dispatcher has already paced them.
BROADCAST = 1


def retry_seconds(error: RetryAfter) -> float:
    """How long Telegram asked to wait, in seconds (PTB gives a number or a ``timedelta``)."""
    delay = error.retry_after
    return delay.total_seconds() if isinstance(delay, timedelta) else float(delay)


class TelegramRateLimiter(BaseRateLimiter[int]):
    """Keeps sends under Telegram's limits and retries a 429 after its ``retry_after``.

    A 429 pauses every throttled call, not just the one that got it: flood control applies to
    the whole bot. Broadcast sends (``rate_limit_args=BROADCAST``) are paced by the dispatcher's
    own limiter and only go through the 429 handling here.
    """

    def __init__(self, limiter: RateLimiter, max_retries: int) -> None:
        self.limiter = limiter
        self.max_retries = max_retries
        self._resume_at = 0.0

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def process_request(
        self,
        callback: Any,
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: RLARGS | None,
    ) -> Any:
        chat = data.get("chat_id")
        loop = asyncio.get_running_loop()
        for attempt in range(self.max_retries + 1):
            if endpoint not in UNTHROTTLED:
                paused = self._resume_at - loop.time()
                if paused > 0:
                    await asyncio.sleep(paused)
                if rate_limit_args != BROADCAST:
                    await self.limiter.acquire(None if chat is None else str(chat))
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as error:
                if attempt == self.max_retries:
                    raise
                seconds = retry_seconds(error)
                log.warning("Telegram asked to slow down (%s): retrying in %.1f s", endpoint, seconds)
                self._resume_at = max(self._resume_at, loop.time() + seconds + 0.1)
                # The limit is the bot's: every worker sharing the rate waits too (not only this one).
                await self.limiter.pause(seconds + 0.1)
            except NetworkError as error:
                # A reply that certainly did not reach Telegram (5xx, no connection) is sent again;
                # one that may have arrived (timeout, connection lost mid-answer) is not: no duplicates.
                # Broadcasts decide for themselves (bot.sending.sender); long polls retry in PTB.
                # (PTB's BadRequest is a NetworkError too: Telegram refused the call for good.)
                retry = (
                    rate_limit_args != BROADCAST
                    and endpoint != "getUpdates"
                    and not isinstance(error, BadRequest)
                    and certainly_not_sent(error)
                )
                if not retry or attempt == self.max_retries:
                    raise
                log.warning("Telegram call failed (%s: %s): retrying", endpoint, type(error).__name__)
                await asyncio.sleep(0.2 * 2**attempt)
        raise AssertionError("unreachable")
