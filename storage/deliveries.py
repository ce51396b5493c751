"""The life of a message row sent durably, written once for both tables that hold such rows.

A broadcast delivery (:mod:`storage.broadcasts`) and a one-person outbox message
(:mod:`storage.outbox_messages`) live the same life::

    pending ─► sending ─► sent | failed | unknown

``sending`` is committed *before* the message leaves (:func:`mark_claimed`, with the worker that
claimed it), so that a crash can only leave rows in ``sending``; they become ``unknown`` when
their worker starts again or is known to be gone (:func:`recover_in_flight`) and are not resent: the platforms have no idempotency key, and a
duplicate is worse than asking staff to check. :func:`record_outcomes` stores what became of the
sends, and marks the contacts found to have blocked the bot.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Table, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.models import ContactRow

contacts = cast(Table, ContactRow.__table__)

PENDING, SENDING, SENT, FAILED, UNKNOWN = "pending", "sending", "sent", "failed", "unknown"
#: Every status of a row sent durably, in its life's order.
STATUSES = (PENDING, SENDING, SENT, FAILED, UNKNOWN)
#: ``error`` of a failed row whose recipient blocked the bot (their contact's ``blocked_at`` is set).
BLOCKED = "blocked"


@dataclass(frozen=True)
class Outcome:
    """What became of one claimed row: ``sent``, ``failed``, ``unknown``, or ``pending`` again."""

    row_id: int
    status: str
    error: str | None = None
    #: The platform's message id of a sent message.
    message_key: str | None = None
    #: Set when the recipient blocked the bot: their contact gets ``blocked_at``.
    blocked_contact_id: int | None = None


async def count_pending(connection: AsyncConnection, table: Table) -> int:
    """How many rows of ``table`` wait to be sent (the queue length ``/metrics`` shows)."""
    return int(await connection.scalar(select(func.count()).where(table.c.status == PENDING)) or 0)


async def mark_claimed(
    connection: AsyncConnection, table: Table, row_ids: Sequence[int], now: datetime, worker: str | None = None
) -> None:
    """Mark the rows ``sending`` (claimed at ``now`` by ``worker``, one more attempt), in one statement."""
    if row_ids:
        await connection.execute(
            update(table)
            .where(table.c.id.in_(list(row_ids)))
            .values(status=SENDING, claimed_at=now.astimezone(UTC), attempts=table.c.attempts + 1, claimed_by=worker)
        )


async def recover_in_flight(
    connection: AsyncConnection, table: Table, note: str, gone: Callable[[str], Awaitable[bool]] | None = None
) -> int:
    """Rows left ``sending`` by a sender that is gone become ``unknown`` with ``note``; returns how many.

    ``gone`` (None: every sender is gone, one process) says whether the worker that claimed a
    row (``claimed_by``) is known to be gone; rows claimed by nobody recorded (a release before
    ``claimed_by``) count as gone. A live worker's rows are never touched: it records their
    outcome itself. A sender still alive elsewhere overwrites rows it lost this way with their
    real outcome (:func:`record_outcomes` accepts ``unknown`` rows).
    """
    in_flight = table.c.status == SENDING
    if gone is None:
        result = await connection.execute(update(table).where(in_flight).values(status=UNKNOWN, error=note))
        return int(result.rowcount)
    owners = (await connection.execute(select(table.c.claimed_by).where(in_flight).distinct())).scalars().all()
    dead = [owner for owner in owners if owner is not None and await gone(owner)]
    if None not in owners and not dead:
        return 0
    result = await connection.execute(
        update(table)
        .where(in_flight, or_(table.c.claimed_by.is_(None), table.c.claimed_by.in_(dead)))
        .values(status=UNKNOWN, error=note)
    )
    return int(result.rowcount)


async def record_outcomes(
    connection: AsyncConnection, table: Table, outcomes: Sequence[Outcome], now: datetime
) -> None:
    """Store the outcomes of sends (one statement for all) and mark the contacts who blocked the bot.

    Only rows still ``sending`` (or turned ``unknown`` meanwhile by another sender's start) change:
    a row staff moved on since is left as they left it. ``sent_at`` is ``now`` for sent rows.
    """
    if not outcomes:
        return
    now = now.astimezone(UTC)
    statement = (
        update(table)
        # ``in_`` cannot be used with executemany.
        .where(table.c.id == bindparam("row_id"), or_(table.c.status == SENDING, table.c.status == UNKNOWN))
        .values(
            status=bindparam("new_status"),
            error=bindparam("new_error"),
            message_key=bindparam("new_message_key"),
            sent_at=bindparam("new_sent_at"),
        )
    )
    await connection.execute(
        statement,
        [
            {
                "row_id": outcome.row_id,
                "new_status": outcome.status,
                "new_error": None if outcome.error is None else outcome.error[:200],
                "new_message_key": outcome.message_key,
                "new_sent_at": now if outcome.status == SENT else None,
            }
            for outcome in outcomes
        ],
    )
    await mark_blocked(connection, (outcome.blocked_contact_id for outcome in outcomes), now)


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
