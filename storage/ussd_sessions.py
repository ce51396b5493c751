"""The last USSD screen shown to each phone number, and the session that showed it.

Africa's Talking posts the inputs of a session as one cumulative text (``1*3*2``); what "3"
means depends on the screen it answered. That screen is kept here (one row per phone number,
its E.164 form), so that another worker, or the bot after a restart, reads an input as the
person read the screen. ``screen`` is the channel's own JSON; storage does not look inside.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from common.clock import as_utc
from storage.models import UssdSessionRow

sessions = cast(Table, UssdSessionRow.__table__)

#: The channel whose contacts' user and chat key is the phone number these rows are kept by.
USSD_CHANNEL = "ussd"


@dataclass(frozen=True)
class UssdSession:
    """Where one phone number is: its session, the inputs of it already applied, the screen and
    page last shown, and whether that screen ended the session (END)."""

    phone: str
    session_id: str
    inputs: int
    screen: str
    page: int
    ended: bool
    started_at: datetime
    updated_at: datetime


class UssdSessionRepository:
    """Runs in the caller's transaction, like every repository."""

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection

    async def get(self, phone: str) -> UssdSession | None:
        row = (await self.connection.execute(select(sessions).where(sessions.c.phone == phone))).first()
        if row is None:
            return None
        return UssdSession(
            phone=row.phone,
            session_id=row.session_id,
            inputs=row.inputs,
            screen=row.screen,
            page=row.page,
            ended=bool(row.ended),
            started_at=as_utc(row.started_at),
            updated_at=as_utc(row.updated_at),
        )

    async def save(self, session: UssdSession, replacing: UssdSession | None) -> bool:
        """Store ``session`` for its phone if the stored row is still ``replacing`` (None: no row).

        False when another post of the phone got there first (a gateway retry served by another
        worker): the caller then reads the row again instead of applying an input twice.
        """
        values = {
            "session_id": session.session_id,
            "inputs": session.inputs,
            "screen": session.screen,
            "page": session.page,
            "ended": session.ended,
            "started_at": session.started_at,
            "updated_at": session.updated_at,
        }
        if replacing is None:
            # ON CONFLICT DO NOTHING: a row stored meanwhile by another post is not overwritten.
            dialect = postgresql if self.connection.dialect.name == "postgresql" else sqlite
            statement = dialect.insert(sessions).values(phone=session.phone, **values).on_conflict_do_nothing()
            return bool((await self.connection.execute(statement)).rowcount)
        result = await self.connection.execute(
            update(sessions)
            .where(
                sessions.c.phone == session.phone,
                sessions.c.session_id == replacing.session_id,
                sessions.c.inputs == replacing.inputs,
                sessions.c.page == replacing.page,
            )
            .values(**values)
        )
        return bool(result.rowcount)

    async def forget(self, phone: str) -> None:
        """Drop what is kept for ``phone`` (the person deleted their data)."""
        await self.connection.execute(delete(sessions).where(sessions.c.phone == phone))
