"""The outbox sender: sends the messages of :mod:`storage.outbox` (staff answers to data requests...).

It runs inside ``baraza run`` beside the broadcast dispatcher, shares its send loop
(:class:`bot.sending.broadcasts.SendLoop`), and uses the same
:class:`bot.sending.broadcasts.Sender` per channel and the same rate limiter, so answers and broadcasts
together never exceed the platform's rate. It polls the table every ``poll_interval`` (an answer
given from the CLI, another process, reaches the person within about that time) and idles with
one cheap read when there is nothing to send.

Crash safety is the broadcast dispatcher's (see :mod:`bot.sending.broadcasts`): a row is committed
``sending`` before its send; on start, rows still ``sending`` become ``unknown`` and are not
resent; on a clean stop the sends under way finish and claimed rows that never left (a row
waiting to be tried again included) go back to ``pending``. One row per chat is in flight at a time, so a person's messages keep their order
("in progress" before the answer). Message texts are never logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from datetime import datetime

from bot import metrics
from bot.sending.broadcasts import Sender, SendLoop
from bot.sending.rate import RateLimiter, SendRateLimiter
from common.clock import utc_now
from handlers.messages import Outbound
from handlers.outbox import decode
from storage.database import Database
from storage.outbox import FAILED, SENT, UNKNOWN, OutboxMessage, OutboxOutcome, OutboxRepository

log = logging.getLogger(__name__)

RECORD_RETRIES = 10


class OutboxSender(SendLoop[OutboxMessage, OutboxOutcome]):
    """Claims pending outbox rows and sends them through ``senders`` at ``limiter``'s rate."""

    kind = "outbox"
    task_name = "outbox-sender"
    recovered_warning = "%d outbox message(s) were being sent when the bot stopped: marked unknown, not resent"
    give_back_on_stop = True
    logger = log

    def __init__(
        self,
        database: Database,
        senders: Iterable[Sender],
        limiter: SendRateLimiter,
        *,
        shared_limiter: RateLimiter | None = None,
        poll_interval: float = 1.0,
        concurrency: int = 4,
        max_attempts: int = 4,
        backoff: float = 1.0,
        stop_timeout: float = 10.0,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        # Several workers: ``shared_limiter`` is the deployment's one rate, shared with the
        # broadcasts of every worker.
        super().__init__(
            database,
            senders,
            limiter,
            store=OutboxRepository,
            outcome=OutboxOutcome,
            concurrency=concurrency,
            shared_limiter=shared_limiter,
            poll_interval=poll_interval,
            max_attempts=max_attempts,
            backoff=backoff,
            stop_timeout=stop_timeout,
            clock=clock,
        )
        self.totals: dict[str, int] = {SENT: 0, FAILED: 0, UNKNOWN: 0}
        self._chats: dict[int, str] = {}  # claimed row → "channel:chat"

    # ------------------------------------------------------------------ claiming

    async def _run(self) -> None:
        while not self._stopping:
            free = self.concurrency - len(self._tasks)
            if free <= 0:
                await self._pause(None, slots=True)
                continue
            try:
                claimed = await self._claim(free)
            except Exception as error:  # the database is away: try again later
                log.warning("could not claim outbox messages: %s", type(error).__name__)
                claimed = []
            for message in claimed:
                self._spawn(message)
            if len(claimed) < free and not self._stopping:
                await self._pause(self.poll_interval)

    async def _claim(self, limit: int) -> list[OutboxMessage]:
        # A read first: when nothing waits (nearly always) no write transaction is opened.
        async with self.database.reading() as connection:
            if not await OutboxRepository(connection).has_pending(self.senders):
                return []
        async with self.database.transaction() as connection:
            return await OutboxRepository(connection).claim(
                self.senders, limit, self.clock(), busy=set(self._chats.values())
            )

    def _spawn(self, row: OutboxMessage) -> None:
        self._chats[row.id] = f"{row.channel}:{row.chat_key}"
        super()._spawn(row)

    # ------------------------------------------------------------------ sending

    async def _deliver(self, row: OutboxMessage) -> None:
        # Cancelled (stop timed out) before its outcome is recorded, the row keeps its state here,
        # so that :meth:`stop` can put it back if it never left.
        outcome = await self._attempt(row)
        metrics.observe_send("outbox", row.channel, outcome.status, outcome.error)
        await self._record(outcome)
        self.totals[outcome.status] = self.totals.get(outcome.status, 0) + 1
        self._state.pop(row.id, None)
        self._chats.pop(row.id, None)
        self._wake.set()  # a free slot, and perhaps the next message to the same chat

    async def _attempt(self, row: OutboxMessage) -> OutboxOutcome:
        sender = self.senders.get(row.channel)
        if sender is None:
            return OutboxOutcome(row.id, FAILED, "no such channel")
        try:
            message: Outbound = decode(row.body)
        except ValueError as error:
            log.error("outbox message %d cannot be read: %s", row.id, error)
            return OutboxOutcome(row.id, FAILED, "the message cannot be read")
        return await self._send(row, sender, message, cache_key=f"outbox:{row.id}", label=f"outbox message {row.id}")

    async def _record(self, outcome: OutboxOutcome) -> None:
        for attempt in range(RECORD_RETRIES + 1):
            try:
                async with self.database.transaction() as connection:
                    await OutboxRepository(connection).record([outcome], self.clock())
                return
            except Exception as error:
                if attempt == RECORD_RETRIES or self._stopping:
                    # The row stays 'sending' and becomes 'unknown' at the next start.
                    log.error("could not record outbox message %d: %s", outcome.message_id, type(error).__name__)
                    return
                await asyncio.sleep(min(5.0, 0.2 * 2**attempt))
