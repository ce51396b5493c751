"""Web Push subscriptions: the browsers in which a web-chat contact accepted notifications.

The page (``static/push.js``) hands the browser's subscription to the server, which keeps it
under the contact of the chat session; the web chat's sender
(:mod:`bot.channels.webchat.push`) encrypts each notice to every subscription of the contact.
A subscription the push service calls gone (404, 410) is removed; ``/delete_my_data`` removes
them with the contact (``ON DELETE CASCADE``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, and_, delete, exists, func, insert, select
from sqlalchemy.sql.elements import ColumnElement

from common.clock import as_utc
from storage.models import ContactRow, WebNoticeReadRow, WebPushSubscriptionRow
from storage.repository_base import Repository, from_row

webpush_subscriptions = cast(Table, WebPushSubscriptionRow.__table__)
web_notice_reads = cast(Table, WebNoticeReadRow.__table__)
contacts = cast(Table, ContactRow.__table__)
#: The web chat's channel name (the contacts of the chat page).
WEB_CHANNEL = "web"
MAX_ENDPOINT, MAX_KEY = 1000, 200


@dataclass(frozen=True)
class PushSubscription:
    """Where and how to send a push message to one browser (the fields of ``PushSubscription.toJSON()``)."""

    endpoint: str
    p256dh: str
    auth: str


def has_push() -> ColumnElement[bool]:
    """The contact (``contacts`` row) has at least one browser subscribed to notifications."""
    return exists().where(webpush_subscriptions.c.contact_id == contacts.c.id)


class WebPushRepository(Repository):
    """Runs in the caller's transaction, like every repository."""

    async def subscribe(self, contact_id: int, subscription: PushSubscription, now: datetime) -> None:
        """Keep ``subscription`` for the contact (a browser subscribing again replaces its row)."""
        await self.connection.execute(
            delete(webpush_subscriptions).where(webpush_subscriptions.c.endpoint == subscription.endpoint)
        )
        await self.connection.execute(
            insert(webpush_subscriptions).values(
                endpoint=subscription.endpoint,
                contact_id=contact_id,
                p256dh=subscription.p256dh,
                auth=subscription.auth,
                created_at=now,
            )
        )

    async def for_chat(self, chat_key: str) -> list[PushSubscription]:
        """The subscriptions of the web-chat contact whose chat is ``chat_key``."""
        rows = await self.connection.execute(
            select(webpush_subscriptions.c.endpoint, webpush_subscriptions.c.p256dh, webpush_subscriptions.c.auth)
            .select_from(webpush_subscriptions.join(contacts, contacts.c.id == webpush_subscriptions.c.contact_id))
            .where(contacts.c.channel == WEB_CHANNEL, contacts.c.chat_key == chat_key)
            .order_by(webpush_subscriptions.c.created_at)
        )
        return [from_row(PushSubscription, row) for row in rows]

    async def remove(self, endpoint: str, *, contact_id: int | None = None) -> None:
        """Forget a subscription (the push service said it is gone; or the page unsubscribed,
        when it is ``contact_id``'s)."""
        where = webpush_subscriptions.c.endpoint == endpoint
        if contact_id is not None:
            where = and_(where, webpush_subscriptions.c.contact_id == contact_id)
        await self.connection.execute(delete(webpush_subscriptions).where(where))

    async def count(self, contact_id: int) -> int:
        return int(
            await self.connection.scalar(select(func.count()).where(webpush_subscriptions.c.contact_id == contact_id))
            or 0
        )

    async def notices_read_at(self, contact_id: int) -> datetime | None:
        """Until when the contact has seen the notices in the page (None: never shown any)."""
        value = await self.connection.scalar(
            select(web_notice_reads.c.read_at).where(web_notice_reads.c.contact_id == contact_id)
        )
        return as_utc(value) if value is not None else None

    async def mark_notices_read(self, contact_id: int, now: datetime) -> None:
        await self.connection.execute(delete(web_notice_reads).where(web_notice_reads.c.contact_id == contact_id))
        await self.connection.execute(insert(web_notice_reads).values(contact_id=contact_id, read_at=now))
