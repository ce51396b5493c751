"""Feedback: messages from users that are not answers to a survey, such as replies to a notice.

They are kept for the office's team (``baraza broadcast replies``, and the inbox of
``baraza requests list``, which shows and closes them beside the data requests) with ``status``
``new``; a ``message`` the person sent on as a data request becomes ``request``;
``/delete_my_data`` removes a person's feedback with :meth:`FeedbackRepository.delete_for_contact`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.models import ContactRow, FeedbackRow
from storage.repository_base import Repository, from_row

feedback = cast(Table, FeedbackRow.__table__)
contacts = cast(Table, ContactRow.__table__)

#: A free-text message that came in after the person received a broadcast.
BROADCAST_REPLY = "broadcast_reply"
MAX_TEXT = 4096


@dataclass(frozen=True)
class Feedback:
    id: int
    kind: str
    broadcast_id: int | None
    channel: str
    text: str
    received_at: datetime
    status: str
    # The sender as the register knows them (None once they deleted their data).
    contact_id: int | None = None
    user_key: str | None = None
    user_group: str | None = None
    region: str | None = None
    language: str | None = None


class FeedbackRepository(Repository):
    """Runs in the caller's transaction, like every repository."""

    async def add(
        self,
        *,
        contact_id: int | None,
        channel: str,
        kind: str,
        text: str,
        now: datetime,
        broadcast_id: int | None = None,
    ) -> int:
        result = await self.connection.execute(
            feedback.insert()
            .values(
                contact_id=contact_id,
                channel=channel,
                kind=kind,
                broadcast_id=broadcast_id,
                text=text[:MAX_TEXT],
                received_at=now.astimezone(UTC),
                status="new",
            )
            .returning(feedback.c.id)
        )
        return int(result.scalar_one())

    async def stream(self, *, broadcast_id: int | None = None, kind: str | None = None) -> AsyncIterator[Feedback]:
        """Feedback oldest first, with the sender's register entry; optionally of one broadcast or kind."""
        query = (
            select(
                feedback,
                contacts.c.user_key,
                contacts.c.user_group,
                contacts.c.region,
                contacts.c.language,
            )
            .select_from(feedback.outerjoin(contacts, contacts.c.id == feedback.c.contact_id))
            .order_by(feedback.c.id)
        )
        if broadcast_id is not None:
            query = query.where(feedback.c.broadcast_id == broadcast_id)
        if kind is not None:
            query = query.where(feedback.c.kind == kind)
        result = await self.connection.stream(query)
        async for row in result:
            yield _feedback(row)

    async def delete_for_contact(self, contact_id: int) -> int:
        """Erase everything a person wrote to us (``/delete_my_data``)."""
        result = await self.connection.execute(delete(feedback).where(feedback.c.contact_id == contact_id))
        return int(result.rowcount)


# --------------------------------------------------------------------------- the team's inbox

#: A free-text message outside any conversation that matched no published data.
MESSAGE = "message"
NEW, CLOSED = "new", "closed"
#: The person turned the message into a data request (the ticket holds the text from then on).
CONVERTED = "request"


async def get_feedback(connection: AsyncConnection, feedback_id: int) -> Feedback | None:
    """One feedback message with its sender's register entry."""
    row = (
        await connection.execute(
            select(feedback, contacts.c.user_key, contacts.c.user_group, contacts.c.region, contacts.c.language)
            .select_from(feedback.outerjoin(contacts, contacts.c.id == feedback.c.contact_id))
            .where(feedback.c.id == feedback_id)
        )
    ).one_or_none()
    return None if row is None else _feedback(row)


async def recent_feedback(
    connection: AsyncConnection, *, statuses: tuple[str, ...] = (), kinds: tuple[str, ...] = (), limit: int = 50
) -> list[Feedback]:
    """Feedback newest first, optionally only in ``statuses`` and of ``kinds``."""
    query = (
        select(feedback, contacts.c.user_key, contacts.c.user_group, contacts.c.region, contacts.c.language)
        .select_from(feedback.outerjoin(contacts, contacts.c.id == feedback.c.contact_id))
        .order_by(feedback.c.id.desc())
        .limit(limit)
    )
    if statuses:
        query = query.where(feedback.c.status.in_(list(statuses)))
    if kinds:
        query = query.where(feedback.c.kind.in_(list(kinds)))
    return [_feedback(row) for row in await connection.execute(query)]


async def set_feedback_status(
    connection: AsyncConnection, feedback_id: int, status: str, *, only_if: str | None = None
) -> bool:
    """Change a message's status (``only_if``: only from that status); False if nothing changed."""
    query = update(feedback).where(feedback.c.id == feedback_id)
    if only_if is not None:
        query = query.where(feedback.c.status == only_if)
    result = await connection.execute(query.values(status=status))
    return bool(result.rowcount)


def _feedback(row: Any) -> Feedback:
    received = row.received_at if row.received_at.tzinfo else row.received_at.replace(tzinfo=UTC)
    return from_row(Feedback, row, received_at=received)
