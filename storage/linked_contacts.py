"""One person on several phone channels: contacts linked by their phone number.

Contacts stay one row per channel (``contacts.channel`` and the platform's ``user_key``), but on
the phone channels (:data:`PHONE_CHANNELS`: WhatsApp, whose ids are phone numbers, SMS and USSD)
each row also holds its number in E.164 as ``phone_key``. Rows with the same phone key are the
same person, and are *linked*:

- **On creation** a phone contact whose number is already known takes over the person's
  consent (or refusal), language, register fields (user group, region, organisation) and topics
  from the linked contact seen most recently: someone who answered the privacy notice on
  WhatsApp is not asked again by SMS.
- **On change** consent given or withdrawn, the language and the register fields are written to
  every linked contact (:func:`linked_clause`, used by :class:`storage.repositories.ContactRepository`),
  and so are the topics followed.
- **Opt-out stays per channel**: carriers require STOP by SMS to stop SMS, and it must not
  silence a WhatsApp conversation the person still wants (``/stop`` on WhatsApp likewise stops
  WhatsApp only). A blocked bot is per channel by nature.

:func:`linked_contact_ids` is the one function other features use to find a person's contacts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from common.phones import PhoneNumberError, to_e164
from storage.models import ContactRow, ConversationRow, SubscriptionRow

contacts = cast(Table, ContactRow.__table__)
subscriptions = cast(Table, SubscriptionRow.__table__)
conversations = cast(Table, ConversationRow.__table__)

#: Channels whose user key is a phone number.
PHONE_CHANNELS = frozenset({"whatsapp", "sms", "ussd"})
#: What a new linked contact takes over from the person's other contacts (opt-out is per channel).
SHARED_COLUMNS = ("language", "consent_at", "declined_at", "user_group", "region", "organisation")


def phone_key_of(channel: str, user_key: str) -> str | None:
    """The E.164 number of a phone channel's user key; None for other channels or a non-number."""
    if channel not in PHONE_CHANNELS:
        return None
    try:
        return to_e164(user_key)
    except PhoneNumberError:
        return None


def linked_clause(contact_id: int | ColumnElement[Any]) -> Any:
    """A WHERE clause matching the contact ``contact_id`` (or a bound parameter) and every contact linked to it."""
    phone = select(contacts.c.phone_key).where(contacts.c.id == contact_id).scalar_subquery()
    return or_(contacts.c.id == contact_id, contacts.c.phone_key == phone)


async def share_with_linked(connection: AsyncConnection, contact_id: int, **values: Any) -> None:
    """Write ``values`` (shared columns) to the contacts linked to ``contact_id``, not to it."""
    await connection.execute(
        update(contacts).where(linked_clause(contact_id), contacts.c.id != contact_id).values(**values)
    )


async def linked_contact_ids(connection: AsyncConnection, contact_id: int) -> tuple[int, ...]:
    """The ids of the person's contacts on every phone channel: ``contact_id`` and those linked
    to it by phone number, in ascending order (just ``(contact_id,)`` for an unlinked contact;
    empty when it does not exist)."""
    rows = await connection.execute(select(contacts.c.id).where(linked_clause(contact_id)).order_by(contacts.c.id))
    return tuple(int(found) for (found,) in rows)


async def link_new_contact(connection: AsyncConnection, contact_id: int, phone_key: str, now: datetime) -> bool:
    """Give a contact just created on a phone channel its phone key, and take over the shared
    fields and topics of its most recently seen linked contact. True if there was one."""
    await connection.execute(update(contacts).where(contacts.c.id == contact_id).values(phone_key=phone_key))
    columns = [contacts.c[name] for name in SHARED_COLUMNS]
    source = (
        await connection.execute(
            select(contacts.c.id, *columns)
            .where(contacts.c.phone_key == phone_key, contacts.c.id != contact_id)
            .order_by(contacts.c.last_seen_at.desc(), contacts.c.id.desc())
            .limit(1)
        )
    ).first()
    if source is None:
        return False
    shared = {name: source[index + 1] for index, name in enumerate(SHARED_COLUMNS)}
    await connection.execute(update(contacts).where(contacts.c.id == contact_id).values(**shared))
    topics = await connection.execute(select(subscriptions.c.topic).where(subscriptions.c.contact_id == source.id))
    rows = [{"contact_id": contact_id, "topic": topic, "subscribed_at": now} for (topic,) in topics]
    if rows:
        await connection.execute(subscriptions.insert(), rows)
    return True


async def linked_keys(connection: AsyncConnection) -> dict[int, list[tuple[str, str]]]:
    """For every contact linked to others: the ``(channel, user key)`` of those others (one
    query; what a list of pseudonyms drawn from any of a person's contacts is matched against)."""
    other = contacts.alias("other_contact")
    rows = await connection.execute(
        select(contacts.c.id, other.c.channel, other.c.user_key)
        .select_from(contacts.join(other, and_(other.c.phone_key == contacts.c.phone_key, other.c.id != contacts.c.id)))
        .where(contacts.c.phone_key.is_not(None))
    )
    found: dict[int, list[tuple[str, str]]] = {}
    for contact_id, channel, user_key in rows:
        found.setdefault(int(contact_id), []).append((str(channel), str(user_key)))
    return found


async def linked_ids_for_update(connection: AsyncConnection, contact_id: int) -> Sequence[int]:
    """:func:`linked_contact_ids`, or ``[contact_id]`` when the contact is gone (writes then match nothing)."""
    return await linked_contact_ids(connection, contact_id) or (contact_id,)


async def move_conversation(connection: AsyncConnection, from_id: int, to_id: int) -> bool:
    """Hand the conversation of contact ``from_id`` (its flow, response and question) over to the
    linked contact ``to_id``, whose own conversation, if any, it replaces: the person goes on on
    the other channel (a USSD session continued by SMS). False when ``from_id`` has none."""
    if from_id == to_id:
        return True
    moving = await connection.scalar(select(func.count()).where(conversations.c.contact_id == from_id))
    if not moving:
        return False
    await connection.execute(delete(conversations).where(conversations.c.contact_id == to_id))
    await connection.execute(
        update(conversations).where(conversations.c.contact_id == from_id).values(contact_id=to_id)
    )
    return True
