"""The one-person outbox (:mod:`storage.outbox_messages`) as a source of the durable sender.

Staff answers to data requests and other messages to one person outside their conversation
(:func:`handlers.notify.notify`) are sent by :class:`bot.sending.sender.DurableSender` with the
same senders and rate limiter as broadcasts, so answers and broadcasts together never exceed the
platform's rate. The table is polled (an answer given from the CLI, another process, reaches the
person within a poll interval) with one cheap read when nothing waits. One row per chat is in
flight at a time, so a person's messages keep their order ("in progress" before the answer);
a row waiting to be tried again at a clean stop goes back to ``pending`` at once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Unpack

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.sending.channel_sender import Sender
from bot.sending.rate import LocalRateLimiter
from bot.sending.row_source import RepositoryRows, Unsendable, Wanted
from bot.sending.sender import DurableSender, SenderOptions
from handlers.messages import Outbound
from handlers.notify import decode
from storage.database import Database
from storage.outbox_messages import OutboxMessage, OutboxRepository

log = logging.getLogger(__name__)

#: The durable sender of the outbox.
OutboxSender = DurableSender[OutboxMessage]


class OutboxRows(RepositoryRows):
    """The pending rows of the outbox, oldest first, one per chat at a time."""

    kind = "outbox"
    recovered_warning = "%d outbox message(s) were being sent when the bot stopped: marked unknown, not resent"
    give_back_on_stop = True

    def repository(self, connection: AsyncConnection) -> OutboxRepository:
        return OutboxRepository(connection)

    async def claim(self, database: Database, wanted: Wanted) -> tuple[Sequence[OutboxMessage], datetime | None]:
        # A read first: when nothing waits (nearly always) no write transaction is opened.
        async with database.reading() as connection:
            if not await OutboxRepository(connection).has_pending(wanted.channels):
                return [], None
        async with database.transaction() as connection:
            claimed = await OutboxRepository(connection).claim(
                wanted.channels, wanted.limit, wanted.now, busy=wanted.busy, worker=wanted.worker
            )
        return claimed, None

    def message(self, row: OutboxMessage) -> Outbound:
        try:
            return decode(row.body)
        except ValueError as error:
            log.error("outbox message %d cannot be read: %s", row.id, error)
            raise Unsendable("the message cannot be read") from error

    def cache_key(self, row: OutboxMessage) -> str:
        return f"outbox:{row.id}"

    def label(self, row: OutboxMessage) -> str:
        return f"outbox message {row.id}"


def outbox_sender(
    database: Database,
    senders: Iterable[Sender],
    limiter: LocalRateLimiter,
    *,
    concurrency: int = 4,
    **options: Unpack[SenderOptions],
) -> OutboxSender:
    """The durable sender of the outbox; give it the broadcasts' senders and limiters to share their rate."""
    return DurableSender(database, OutboxRows(), senders, limiter, concurrency=concurrency, **options)
