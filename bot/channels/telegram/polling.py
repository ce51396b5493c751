"""Long polling: ``getUpdates`` in a loop, each update's JSON handed on in the order it came.

python-telegram-bot's ``Updater`` does the same but turns each update into ``telegram.Update``
objects first (see :mod:`bot.channels.telegram.updates` for why the channel reads the JSON
itself). This loop keeps the Updater's behaviour: an update is confirmed to Telegram by the next
``getUpdates`` (its ``offset``), a network error is retried with a growing pause (1 s, then
1.5 times longer, at most 30 s) and reported to ``on_error``, a time-out is retried at once,
``retry_after`` is waited out, and :meth:`LongPolling.stop` confirms what was handed on.
Updates are handled concurrently (at most ``concurrency`` at once), each started in arrival
order so a chat's line in the core is entered in that order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Bot
from telegram.error import InvalidToken, RetryAfter, TelegramError, TimedOut

from bot.channels.telegram.ptb_compat import get_update_data
from bot.channels.telegram.rate_limiter import retry_seconds
from common.tasks import cancel_and_wait

log = logging.getLogger(__name__)

#: Seconds :meth:`LongPolling.stop` waits for the updates being handled before confirming them.
STOP_WAIT = 30.0
MAX_PAUSE = 30.0


class LongPolling:
    """Fetches updates with ``getUpdates`` and starts ``handle(update_json)`` for each."""

    def __init__(
        self,
        bot: Bot,
        handle: Callable[[Any], Awaitable[None]],
        *,
        timeout: int,
        allowed_updates: list[str],
        on_error: Callable[[TelegramError], None],
        concurrency: int = 256,
    ) -> None:
        self.bot = bot
        self.handle = handle
        self.timeout = timeout
        self.allowed_updates = allowed_updates
        self.on_error = on_error
        self._slots = asyncio.Semaphore(concurrency)
        self._offset: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._handling: set[asyncio.Task[None]] = set()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start polling in the background (nothing if it runs already)."""
        if not self.running:
            self._task = asyncio.create_task(self._poll(), name="telegram long polling")

    async def stop(self) -> None:
        """Stop fetching, let the updates being handled finish (``STOP_WAIT`` at most), then
        confirm the fetched updates so that a restart does not receive them again."""
        task, self._task = self._task, None
        if task is None:
            return
        await cancel_and_wait(task)
        if self._handling:
            await asyncio.wait(self._handling, timeout=STOP_WAIT)
        if self._offset is None:
            return
        try:
            await get_update_data(
                self.bot, offset=self._offset, poll_seconds=0, allowed_updates=self.allowed_updates, limit=1
            )
        except TelegramError as error:  # they come again at the next start, and the engine knows them
            log.warning("could not confirm the last updates to Telegram: %s", type(error).__name__)

    async def _poll(self) -> None:
        pause = 0.0
        while True:
            try:
                updates = await get_update_data(
                    self.bot, offset=self._offset, poll_seconds=self.timeout, allowed_updates=self.allowed_updates
                )
            except RetryAfter as error:
                pause = retry_seconds(error) + 0.5
            except TimedOut:
                pause = 0.0  # a long poll that outlived its read time-out: poll again at once
            except TelegramError as error:  # InvalidToken included: degraded, and tried again
                self.on_error(error)
                pause = MAX_PAUSE if isinstance(error, InvalidToken) else _longer(pause)
            except Exception as error:  # a body that is not JSON, a bug: the loop must not end
                log.error("could not read Telegram's updates: %s", type(error).__name__)
                pause = _longer(pause)
            else:
                pause = 0.0
                for update in updates:
                    await self._start_handling(update)
                    update_id = update.get("update_id") if isinstance(update, dict) else None
                    if isinstance(update_id, int):
                        self._offset = update_id + 1  # confirmed by the next getUpdates
            if pause:
                await asyncio.sleep(pause)

    async def _start_handling(self, update: Any) -> None:
        await self._slots.acquire()
        task = asyncio.create_task(self._handled(update))
        self._handling.add(task)
        task.add_done_callback(self._handling.discard)

    async def _handled(self, update: Any) -> None:
        try:
            await self.handle(update)
        except Exception:
            # Never the update itself in the log: it holds user ids and message texts.
            log.exception("error while handling a Telegram update")
        finally:
            self._slots.release()


def _longer(pause: float) -> float:
    """The pause after a failed poll that followed ``pause``: 1 s, then 1.5 times longer (as PTB's Updater)."""
    return 1.0 if pause == 0 else min(MAX_PAUSE, pause * 1.5)
