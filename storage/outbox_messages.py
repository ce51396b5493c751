"""The outbox: messages to one person that are not replies to their own message.

A staff answer to a data request (given from the CLI, in another process, or by an admin in the
chat) cannot be sent as a reply: it is stored here in the same transaction as the answer, and
the outbox sender of ``baraza run`` (``bot/sending/outbox_rows.py``, through :mod:`bot.sending.sender`) sends it. Each row lives like a
broadcast delivery (:mod:`storage.broadcasts`)::

    pending ─► sending ─► sent | failed | unknown

``sending`` is committed *before* the message leaves, so a crash can only leave rows in
``sending``; they become ``unknown`` when the sender starts again (:meth:`OutboxRepository.recover_in_flight`)
and are not resent: the platform has no idempotency key, and a duplicate answer is worse than
asking staff to check. ``body`` is the message as JSON (``handlers/notify.py`` encodes it);
storage does not look inside.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from common.clock import as_utc
from storage import deliveries as lifecycle
from storage.deliveries import PENDING, SENDING, STATUSES, Outcome
from storage.models import OutboxRow

outbox = cast(Table, OutboxRow.__table__)

IN_FLIGHT_AT_START = "in flight when the sender stopped: delivery unknown"


@dataclass(frozen=True)
class OutboxMessage:
    """A row as the sender and staff see it."""

    id: int
    contact_id: int | None
    channel: str
    chat_key: str
    kind: str
    body: str
    status: str
    attempts: int
    error: str | None
    created_at: datetime
    sent_at: datetime | None


def _message(row: Any) -> OutboxMessage:
    values = {name: getattr(row, name) for name in OutboxMessage.__dataclass_fields__}
    return OutboxMessage(**{**values, "created_at": as_utc(row.created_at), "sent_at": as_utc(row.sent_at)})


class OutboxRepository:
    """Outbox rows. Runs in the caller's transaction, like every repository."""

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection
        self._postgres = connection.dialect.name == "postgresql"

    async def enqueue(
        self, *, contact_id: int, channel: str, chat_key: str, kind: str, body: str, now: datetime
    ) -> int:
        """Store a ``pending`` message; it leaves once the transaction commits. Returns its id."""
        result = await self.connection.execute(
            # The other columns start empty (NULL): not claimed, not sent, no error yet.
            outbox.insert()
            .values(contact_id=contact_id, channel=channel, chat_key=chat_key, kind=kind[:30], body=body)
            .values(status=PENDING, attempts=0, created_at=now.astimezone(UTC))
            .returning(outbox.c.id)
        )
        return int(result.scalar_one())

    async def for_contact(self, contact_id: int, kinds: Sequence[str] = ()) -> list[OutboxMessage]:
        """A person's outbox rows, oldest first (optionally of some kinds only)."""
        query = select(outbox).where(outbox.c.contact_id == contact_id).order_by(outbox.c.id)
        if kinds:
            query = query.where(outbox.c.kind.in_(list(kinds)))
        return [_message(row) for row in await self.connection.execute(query)]

    async def counts(self) -> dict[str, int]:
        rows = await self.connection.execute(select(outbox.c.status, func.count()).group_by(outbox.c.status))
        counts = dict.fromkeys(STATUSES, 0)
        counts.update({str(status): int(count) for status, count in rows})
        return counts

    async def pending(self) -> int:
        """How many messages wait to be sent."""
        return await lifecycle.count_pending(self.connection, outbox)

    async def has_pending(self, channels: Iterable[str]) -> bool:
        """Whether anything waits to be sent on these channels (a cheap check before claiming)."""
        found = await self.connection.scalar(
            select(outbox.c.id).where(outbox.c.status == PENDING, outbox.c.channel.in_(list(channels))).limit(1)
        )
        return found is not None

    async def delete_for_contact(self, contact_id: int) -> int:
        """``/delete_my_data``: every outbox row of the person (those not sent yet never leave)."""
        removed = await self.connection.execute(delete(outbox).where(outbox.c.contact_id == contact_id))
        return int(removed.rowcount)

    # ------------------------------------------------------------------ the sender

    async def recover_in_flight(self, gone: Callable[[str], Awaitable[bool]] | None = None) -> int:
        """At start: rows left ``sending`` by a sender that is gone become ``unknown`` (not resent;
        see :func:`storage.deliveries.recover_in_flight`)."""
        return await lifecycle.recover_in_flight(self.connection, outbox, IN_FLIGHT_AT_START, gone)

    async def claim(
        self,
        channels: Iterable[str],
        limit: int,
        now: datetime,
        *,
        busy: Iterable[str] = (),
        worker: str | None = None,
    ) -> list[OutboxMessage]:
        """Mark up to ``limit`` pending rows ``sending`` (claimed by ``worker``) and return them, oldest first.

        At most one row per chat is claimed, and none for the chats in ``busy`` (``channel:chat``
        keys being sent to), so that the messages of one person arrive in the order they were
        stored. PostgreSQL skips rows another sender has locked.
        """
        if limit <= 0:
            return []
        taken = set(busy)
        query = (
            select(outbox)
            .where(outbox.c.status == PENDING, outbox.c.channel.in_(list(channels)))
            .order_by(outbox.c.id)
            .limit(limit * 4 + len(taken))
        )
        if self._postgres:
            query = query.with_for_update(skip_locked=True)
        claimed: list[OutboxMessage] = []
        for row in await self.connection.execute(query):
            chat = f"{row.channel}:{row.chat_key}"
            if chat in taken:
                continue
            taken.add(chat)
            claimed.append(_message(row))
            if len(claimed) >= limit:
                break
        await lifecycle.mark_claimed(self.connection, outbox, [message.id for message in claimed], now, worker)
        return [
            OutboxMessage(**{**message.__dict__, "status": SENDING, "attempts": message.attempts + 1})
            for message in claimed
        ]

    async def record(self, outcomes: Sequence[Outcome], now: datetime) -> None:
        """Store the outcomes of sends."""
        await lifecycle.record_outcomes(self.connection, outbox, outcomes, now)
