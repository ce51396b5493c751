"""Broadcasts for tests and benchmarks: a sample notice, creating a broadcast, waiting for it to
finish, and what was delivered (rows in the database, messages in the fake chats)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, select

from handlers.broadcast_actions import store_broadcast
from handlers.notices import Notice, NoticeButton
from storage.broadcasts import DONE, Audience, BroadcastRepository, BroadcastSummary
from storage.database import Database
from storage.deliveries import SENT, UNKNOWN
from storage.models import ContactRow, DeliveryRow
from testkit.fakes.telegram import FakeTelegramServer

contacts = cast(Table, ContactRow.__table__)
deliveries = cast(Table, DeliveryRow.__table__)


async def create_broadcast(
    database: Database, notice: Notice, *, send_at: datetime | None = None, created_by: str = "test"
) -> tuple[int, int]:
    """Store ``notice`` as staff do (the dashboard and ``baraza broadcast send`` call the same function)."""
    async with database.transaction() as connection:
        return await store_broadcast(connection, notice, created_by=created_by, now=datetime.now(UTC), send_at=send_at)


async def summary_of(database: Database, broadcast_id: int) -> BroadcastSummary:
    async with database.transaction() as connection:
        found = await BroadcastRepository(connection).summary(broadcast_id)
    assert found is not None
    return found


async def wait_until_finished(
    database: Database, broadcast_id: int, within: float = 30.0, *, done: bool = True
) -> BroadcastSummary:
    """Poll until nothing of the broadcast is pending or in flight (and, with ``done``, it is marked done)."""
    deadline = time.monotonic() + within
    while True:
        summary = await summary_of(database, broadcast_id)
        if summary.outstanding == 0 and (not done or summary.status == DONE):
            return summary
        if time.monotonic() > deadline:
            raise TimeoutError(f"broadcast {broadcast_id} not finished: {summary}")
        await asyncio.sleep(0.05)


async def delivery_rows(database: Database, broadcast_id: int) -> dict[int, Any]:
    """The delivery rows of a broadcast by the recipient's Telegram user id."""
    async with database.transaction() as connection:
        rows = await connection.execute(
            select(deliveries, contacts.c.user_key)
            .select_from(deliveries.join(contacts, contacts.c.id == deliveries.c.contact_id))
            .where(deliveries.c.broadcast_id == broadcast_id)
        )
        return {int(row.user_key): row for row in rows}


def sends_per_chat(server: FakeTelegramServer) -> Counter[int]:
    """How many messages from the bot each simulated user has in their chat (what they really got)."""
    return Counter({user_id: len(user.bot_messages) for user_id, user in server.users.items() if user.bot_messages})


CPI = Notice(
    title="CPI November",
    texts={"en": "Prices rose by 0.4%.", "fr": "Les prix ont augmenté de 0,4 %.", "ar": "ارتفعت الأسعار بنسبة 0.4%."},
    default_language="en",
    audience=Audience(topics=("prices",), user_groups=("media",)),
    buttons=(
        NoticeButton({"en": "Open the release", "fr": "Ouvrir la publication"}, url="https://stats.example.org/cpi"),
        NoticeButton({"en": "Take the survey", "fr": "Répondre"}, survey="usat2026"),
    ),
)


def assert_each_once_after_kill(
    rows: dict[int, Any],
    received: Counter[int],
    *,
    audience: set[int],
    outsiders: set[int],
    held: int,
    concurrency: int,
    sent_before_kill: int,
) -> list[int]:
    """What a ``kill -9`` mid-broadcast and a restart must leave (``rows`` by user id, ``received``:
    what each phone or chat really got): exactly the audience, no duplicates, no silent losses, at
    most ``concurrency`` rows ``unknown`` of which the ``held`` in flight did arrive. Returns the
    unknown ones."""
    assert set(rows) == audience, "exactly the audience"
    duplicates = {user_id: count for user_id, count in received.items() if count > 1}
    silent_losses = [u for u, row in rows.items() if received[u] == 0 and row.status != UNKNOWN]
    unknown = [u for u, row in rows.items() if row.status == UNKNOWN]
    print(
        f"killed after {sent_before_kill} sends; unknown {len(unknown)} "
        f"(of which received {sum(received[u] for u in unknown)}); duplicates {len(duplicates)}; losses {len(silent_losses)}"
    )
    assert duplicates == {}
    assert silent_losses == []
    assert held <= len(unknown) <= concurrency
    assert sum(received[u] for u in unknown) >= held, "the held messages did arrive: unknown, not resent"
    assert all(row.status in (SENT, UNKNOWN) for row in rows.values())
    assert all(received[u] == 1 and rows[u].message_key for u, row in rows.items() if row.status == SENT)
    assert not set(received) & outsiders
    return unknown
