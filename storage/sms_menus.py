"""The choices last sent to an SMS chat, so that a reply "2" is the second button's press.

SMS has no buttons: the channel writes a question's choices as ``1. label`` lines, and keeps the
buttons' payloads here (one row per contact, replaced by each message with choices, cleared by
one without; erased with the contact). A reply that is just a number (or a word such as *Skip*)
of that menu reaches the core as that button's payload, checked against the stored conversation
like any press, so a stale menu changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.models import ContactRow, SmsMenuRow

menus = cast(Table, SmsMenuRow.__table__)
contacts = cast(Table, ContactRow.__table__)


class SmsMenuRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection

    async def remember(self, channel: str, chat_key: str, menu: Sequence[tuple[str, str]], now: datetime) -> None:
        """The menu just sent to the chat: what a reply may be (``"2"``, ``"skip"``) and the payload it
        presses. An empty one forgets the previous menu; a chat without a contact keeps none."""
        contact_id = await self.connection.scalar(
            select(contacts.c.id).where(contacts.c.channel == channel, contacts.c.chat_key == chat_key)
        )
        if contact_id is None:
            return
        if not menu:
            await self.connection.execute(delete(menus).where(menus.c.contact_id == contact_id))
            return
        insert = (postgresql.insert if self.connection.dialect.name == "postgresql" else sqlite.insert)(menus)
        statement = insert.values(contact_id=contact_id, payloads=json.dumps(dict(menu)), updated_at=now)
        await self.connection.execute(
            statement.on_conflict_do_update(
                index_elements=["contact_id"],
                set_={"payloads": statement.excluded.payloads, "updated_at": statement.excluded.updated_at},
            )
        )

    async def payload_for(self, channel: str, chat_key: str, reply: str) -> str | None:
        """The payload ``reply`` presses in the chat's last menu; None if it presses nothing."""
        stored = await self.connection.scalar(
            select(menus.c.payloads)
            .join(contacts, contacts.c.id == menus.c.contact_id)
            .where(contacts.c.channel == channel, contacts.c.chat_key == chat_key)
        )
        if stored is None:
            return None
        found = json.loads(stored).get(reply)
        return found if isinstance(found, str) else None
