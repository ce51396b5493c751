"""Contacts of the register created directly in the database, as onboarding would have left them
(for tests and benchmarks that are not about onboarding itself)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import Table, select

from storage.database import Database
from storage.models import ContactRow, SubscriptionRow

contacts = cast(Table, ContactRow.__table__)
subscriptions = cast(Table, SubscriptionRow.__table__)


@dataclass(frozen=True)
class Person:
    """A contact of the register, as onboarding would have left it."""

    user_id: int
    language: str | None = "en"
    user_group: str | None = None
    region: str | None = None
    topics: tuple[str, ...] = ()
    consent: bool = True
    declined_later: bool = False
    opted_out: bool = False
    blocked: bool = False
    channel: str = "telegram"
    #: When the person last wrote (WhatsApp's 24-hour window), in hours before now.
    silent_hours: float = 0.0
    #: The E.164 number linking the person's contacts on the phone channels (storage.linked_contacts).
    phone: str | None = None


async def add_people(database: Database, people: Iterable[Person], *, batch: int = 5000) -> dict[int, int]:
    """Insert contacts (and their subscriptions) directly, in batches; returns user id → contact id."""
    now = datetime.now(UTC)
    people = list(people)
    ids: dict[int, int] = {}
    for start in range(0, len(people), batch):
        chunk = people[start : start + batch]
        async with database.transaction() as connection:
            await connection.execute(
                contacts.insert(),
                [
                    {
                        "channel": p.channel,
                        "user_key": str(p.user_id),
                        "chat_key": str(p.user_id),
                        "language": p.language,
                        "first_seen_at": now - timedelta(hours=p.silent_hours),
                        "last_seen_at": now - timedelta(hours=p.silent_hours),
                        "consent_at": now - timedelta(days=1) if p.consent else None,
                        "declined_at": now if p.declined_later else None,
                        "user_group": p.user_group,
                        "region": p.region,
                        "opted_out_at": now if p.opted_out else None,
                        "blocked_at": now if p.blocked else None,
                        "phone_key": p.phone,
                    }
                    for p in chunk
                ],
            )
            rows = await connection.execute(
                select(contacts.c.user_key, contacts.c.id).where(
                    contacts.c.user_key.in_([str(p.user_id) for p in chunk])
                )
            )
            found = {int(user_key): int(contact_id) for user_key, contact_id in rows}
            ids.update(found)
            topics = [
                {"contact_id": found[p.user_id], "topic": t, "subscribed_at": now} for p in chunk for t in p.topics
            ]
            if topics:
                await connection.execute(subscriptions.insert(), topics)
    return ids
