"""The one durable sender: broadcast deliveries and outbox messages go through the same code.

A crash (rows committed ``sending`` whose outcome was never recorded) leaves them ``unknown``
at the next start, and they are never sent again; a ``retry_after`` is waited out. Real
databases (SQLite, and PostgreSQL when reachable); the channel is a recording sender.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from sqlalchemy import Table, select

from bot.config import BroadcastSettings
from bot.sending.broadcast_rows import BroadcastRows, broadcast_sender
from bot.sending.channel_sender import NotSent
from bot.sending.outbox_rows import OutboxRows, outbox_sender
from bot.sending.row_source import RowSource, Wanted
from bot.sending.sender import DurableSender
from handlers.messages import Outbound
from handlers.notify import encode
from storage.broadcasts import Audience
from storage.database import Database
from storage.deliveries import SENT, UNKNOWN
from storage.models import DeliveryRow, OutboxRow
from storage.outbox_messages import OutboxRepository
from testkit.broadcasts import CPI, create_broadcast
from testkit.register import Person, add_people

deliveries = cast(Table, DeliveryRow.__table__)
outbox = cast(Table, OutboxRow.__table__)


@dataclass
class RecordingSender:
    """A channel that accepts every message and remembers who got what; ``refusals`` first say retry later."""

    channel: str = "telegram"
    refusals: int = 0
    retry_after: float | None = None
    sent: list[tuple[str, str]] = field(default_factory=list)
    attempts: list[float] = field(default_factory=list)

    async def send(self, chat_key: str, message: Outbound, *, cache_key: str) -> str:
        self.attempts.append(time.monotonic())
        if len(self.attempts) <= self.refusals:
            raise NotSent("too many requests", retry_after=self.retry_after)
        self.sent.append((chat_key, message.text))
        return f"m{len(self.sent)}"


async def queue_answer(database: Database, contact_id: int, chat_key: str, text: str) -> int:
    async with database.transaction() as connection:
        return await OutboxRepository(connection).enqueue(
            contact_id=contact_id,
            channel="telegram",
            chat_key=chat_key,
            kind="request_answer",
            body=encode(Outbound(text)),
            now=datetime.now(UTC),
        )


async def statuses(database: Database, table: Table) -> list[str]:
    async with database.reading() as connection:
        return [str(status) for status in await connection.scalars(select(table.c.status).order_by(table.c.id))]


async def until(condition: Any, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not await condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_one_sender_class_sends_a_broadcast_and_an_outbox_message_through_the_same_channel(
    database: Database,
) -> None:
    ids = await add_people(database, [Person(101), Person(102)])
    channel = RecordingSender()
    broadcasts = broadcast_sender(database, [channel], BroadcastSettings(50, 10, 4), poll_interval=0.05)
    answers = outbox_sender(database, [channel], broadcasts.limiter, poll_interval=0.05)
    assert type(broadcasts) is type(answers) is DurableSender
    await broadcasts.start()
    await answers.start()
    try:
        await create_broadcast(database, replace(CPI, audience=Audience()))
        await queue_answer(database, ids[101], "101", "Your data request is answered")
        broadcasts.wake()
        answers.wake()

        async def all_sent() -> bool:
            rows = [*await statuses(database, deliveries), *await statuses(database, outbox)]
            return rows == [SENT] * 3

        await until(all_sent)
    finally:
        await answers.stop()
        await broadcasts.stop()
    assert sorted(chat for chat, _ in channel.sent) == ["101", "101", "102"]
    assert ("101", "Your data request is answered") in channel.sent
    assert broadcasts.totals[SENT] == 2 and answers.totals[SENT] == 1


@pytest.mark.parametrize("source", ["broadcast", "outbox"])
async def test_rows_claimed_before_a_crash_become_unknown_and_are_never_resent(database: Database, source: str) -> None:
    ids = await add_people(database, [Person(201), Person(202)])
    rows: RowSource[Any]
    if source == "broadcast":
        await create_broadcast(database, replace(CPI, audience=Audience()))
        rows, table = BroadcastRows(), deliveries
    else:
        for user_id in (201, 202):
            await queue_answer(database, ids[user_id], str(user_id), "an answer")
        rows, table = OutboxRows(), outbox
    # The process that claimed them dies: 'sending' was committed, no outcome ever is.
    claimed, _ = await rows.claim(database, Wanted(frozenset({"telegram"}), 10, datetime.now(UTC)))
    assert len(claimed) == 2 and await statuses(database, table) == ["sending", "sending"]

    channel = RecordingSender()
    limiter = broadcast_sender(database, [], BroadcastSettings(50, 10, 4)).limiter
    restarted = DurableSender(database, rows, [channel], limiter, concurrency=4, poll_interval=0.05)
    await restarted.start()
    try:
        restarted.wake()
        await asyncio.sleep(0.5)  # ten polls: time enough to resend, were anything to be resent
    finally:
        await restarted.stop()
    assert restarted.recovered == 2
    assert await statuses(database, table) == [UNKNOWN, UNKNOWN]
    assert channel.sent == []


async def test_a_retry_after_is_waited_out_before_the_message_is_tried_again(database: Database) -> None:
    ids = await add_people(database, [Person(301)])
    channel = RecordingSender(refusals=1, retry_after=0.4)
    limiter = broadcast_sender(database, [], BroadcastSettings(50, 10, 4)).limiter
    answers = outbox_sender(database, [channel], limiter, poll_interval=0.05)
    await answers.start()
    try:
        await queue_answer(database, ids[301], "301", "an answer")
        answers.wake()

        async def sent() -> bool:
            return await statuses(database, outbox) == [SENT]

        await until(sent)
    finally:
        await answers.stop()
    assert len(channel.attempts) == 2 and channel.attempts[1] - channel.attempts[0] >= 0.4
    assert channel.sent == [("301", "an answer")]


async def test_a_retry_after_holds_every_send_on_the_channel_not_only_the_one_told(database: Database) -> None:
    ids = await add_people(database, [Person(401), Person(402), Person(403)])
    channel = RecordingSender(refusals=1, retry_after=0.5)
    limiter = broadcast_sender(database, [], BroadcastSettings(50, 10, 4)).limiter
    answers = outbox_sender(database, [channel], limiter, poll_interval=0.05)
    await answers.start()
    try:
        for user_id in (401, 402, 403):
            await queue_answer(database, ids[user_id], str(user_id), "an answer")
        answers.wake()

        async def sent() -> bool:
            return await statuses(database, outbox) == [SENT] * 3

        await until(sent)
    finally:
        await answers.stop()
    told, *others = channel.attempts
    assert len(others) == 3 and all(later - told >= 0.5 for later in others)


class CountingBroadcastRows(BroadcastRows):
    """Broadcast rows that count the claims (transactions) and the most rows in flight at once."""

    def __init__(self, sender: RecordingSender) -> None:
        super().__init__()
        self.sender = sender
        self.claims: list[int] = []
        self.most_in_flight = 0

    async def claim(self, database: Database, wanted: Wanted) -> Any:
        claimed, next_due = await super().claim(database, wanted)
        if claimed:
            self.claims.append(len(claimed))
        in_flight = sum(self.claims) - len(self.sender.sent)
        self.most_in_flight = max(self.most_in_flight, in_flight)
        return claimed, next_due


async def test_at_a_high_rate_rows_are_claimed_in_batches_never_more_than_the_concurrency(database: Database) -> None:
    await add_people(database, [Person(1000 + i) for i in range(200)])
    await create_broadcast(database, replace(CPI, audience=Audience()))
    channel = RecordingSender()
    rows = CountingBroadcastRows(channel)
    limiter = broadcast_sender(database, [], BroadcastSettings(1000, 10, 32)).limiter
    sender = DurableSender(database, rows, [channel], limiter, concurrency=32, poll_interval=0.05)
    await sender.start()
    try:
        sender.wake()

        async def all_sent() -> bool:
            return await statuses(database, deliveries) == [SENT] * 200

        await until(all_sent)
    finally:
        await sender.stop()
    assert sorted(chat for chat, _ in channel.sent) == sorted(str(1000 + i) for i in range(200))
    # One transaction for several rows (one row a claim before: 200 claims), yet never more than
    # 32 in flight. How the rows fall into claims follows the timing: 8-25 claims on a quiet
    # machine, 30 once with the whole suite alongside; at most 100 is still two rows a claim.
    assert sum(rows.claims) == 200 and len(rows.claims) <= 100, rows.claims
    assert rows.most_in_flight <= 32
