"""What channels report about messages after sending them (WhatsApp status webhooks), and the
last time a contact wrote (WhatsApp's 24-hour customer-service window).

A receipt names the platform's message id, which the durable sender stored as the delivery's
``message_key``. ``delivered`` and ``read`` set ``delivered_at`` / ``read_at``; ``failed`` turns a
``sent`` (or ``unknown``) delivery into ``failed`` with the platform's error. Receipts of
messages that are not broadcast deliveries (replies) change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.deliveries import FAILED, SENT, UNKNOWN
from storage.models import ContactRow, DeliveryRow

deliveries = cast(Table, DeliveryRow.__table__)
contacts = cast(Table, ContactRow.__table__)

DELIVERED, READ = "delivered", "read"


@dataclass(frozen=True)
class Receipt:
    """One status report: ``status`` is sent, delivered, read or failed."""

    channel: str
    message_key: str
    status: str
    at: datetime
    error: str | None = None


def _stored(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class ReceiptRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection

    async def record(self, receipt: Receipt) -> bool:
        """Apply one receipt; True if it belonged to a broadcast delivery and changed it."""
        at = _stored(receipt.at)
        match = (deliveries.c.channel == receipt.channel) & (deliveries.c.message_key == receipt.message_key)
        if receipt.status == FAILED:
            error = (receipt.error or "failed after sending")[:200]
            result = await self.connection.execute(
                update(deliveries)
                .where(match, deliveries.c.status.in_((SENT, UNKNOWN)))
                .values(status=FAILED, error=error)
            )
            return bool(result.rowcount)
        if receipt.status not in (DELIVERED, READ):
            return False  # "sent": the durable sender recorded it already
        changed = await self.connection.execute(
            update(deliveries).where(match, deliveries.c.delivered_at.is_(None)).values(delivered_at=at)
        )
        if receipt.status == READ:
            changed = await self.connection.execute(
                update(deliveries).where(match, deliveries.c.read_at.is_(None)).values(read_at=at)
            )
        return bool(changed.rowcount)

    async def counts(self, broadcast_id: int) -> dict[str, int]:
        """How many deliveries of a broadcast were reported delivered and read."""
        rows = await self.connection.execute(
            select(deliveries.c.delivered_at.is_not(None), deliveries.c.read_at.is_not(None)).where(
                deliveries.c.broadcast_id == broadcast_id
            )
        )
        found = list(rows)
        return {DELIVERED: sum(1 for row in found if row[0]), READ: sum(1 for row in found if row[1])}

    async def last_seen(self, channel: str, chat_key: str) -> datetime | None:
        """When the contact of this chat last wrote to the bot (None: unknown contact)."""
        value = await self.connection.scalar(
            select(contacts.c.last_seen_at).where(contacts.c.channel == channel, contacts.c.chat_key == chat_key)
        )
        return None if value is None else _stored(value)
