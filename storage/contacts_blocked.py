"""Contacts who blocked the bot, as a send finds out (broadcast deliveries and the outbox alike)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import cast

from sqlalchemy import Table, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.models import ContactRow

contacts = cast(Table, ContactRow.__table__)


async def mark_blocked(connection: AsyncConnection, contact_ids: Iterable[int | None], now: datetime) -> None:
    """Set ``blocked_at`` to ``now`` on each of ``contact_ids`` not marked yet, in one statement.

    ``None`` entries (a send that found no block) are passed over, as is an empty list; a contact
    already marked keeps the moment it was first seen blocked. ``now`` is stored as given (UTC).
    """
    # Sorted: two senders recording at once update the rows in the same order.
    blocked = sorted({contact_id for contact_id in contact_ids if contact_id is not None})
    if blocked:
        await connection.execute(
            update(contacts).where(contacts.c.id.in_(blocked), contacts.c.blocked_at.is_(None)).values(blocked_at=now)
        )
