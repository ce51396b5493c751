"""Messages to one person outside their own conversation, through the outbox.

A handler (or a staff command) that must tell someone something later, such as the answer to
their data request, calls :func:`notify` inside its transaction: the message is stored with the
change it reports and sent by ``baraza run`` (:mod:`bot.sending.outbox_rows`) once committed. Messages are
text with buttons; they are written as JSON (:func:`encode`, :func:`decode`).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from handlers.messages import Button, Outbound
from handlers.texts import rtl
from storage.broadcasts import PUSH_CHANNELS
from storage.records import Contact
from storage.repositories import Repositories
from storage.webpush import WEB_CHANNEL


def encode(message: Outbound, ref: str | None = None) -> str:
    """``message`` as the outbox stores it (attachments are not supported).

    ``ref`` names what the message is about (``request:12``), for staff looking at a ticket.
    """
    if message.attachment is not None:
        raise ValueError("outbox messages cannot carry attachments")
    body: dict[str, Any] = {
        "text": message.text,
        "buttons": [
            [{"label": b.label, "payload": b.payload, **({"url": b.url} if b.url else {})} for b in row]
            for row in message.buttons
        ],
    }
    if ref is not None:
        body["ref"] = ref
    return json.dumps(body, ensure_ascii=False)


def reference(body: str) -> str | None:
    """The ``ref`` a stored message was queued with, if any."""
    try:
        ref = json.loads(body).get("ref")
    except (ValueError, AttributeError):
        return None
    return ref if isinstance(ref, str) else None


def decode(body: str) -> Outbound:
    """The message stored by :func:`encode`; ``ValueError`` if ``body`` is not one."""
    try:
        raw: dict[str, Any] = json.loads(body)
        rows = tuple(
            tuple(Button(str(b["label"]), str(b.get("payload", "")), b.get("url")) for b in row)
            for row in raw.get("buttons", ())
        )
        return Outbound(text=str(raw["text"]), buttons=rows)
    except (TypeError, KeyError, AttributeError, json.JSONDecodeError) as error:
        raise ValueError(f"not an outbox message: {type(error).__name__}") from error


def can_notify(contact: Contact, *, push: bool = False) -> bool:
    """Whether the bot can write to the contact first: on the web chat only when ``push`` (a
    browser of theirs accepted notifications, :func:`can_reach` looks)."""
    if contact.channel == WEB_CHANNEL:
        return push
    return contact.channel in PUSH_CHANNELS


async def can_reach(repos: Repositories, contact: Contact) -> bool:
    """:func:`can_notify`, looking up the web-chat contact's notification subscriptions."""
    push = contact.channel == WEB_CHANNEL and await repos.webpush.count(contact.id) > 0
    return can_notify(contact, push=push)


async def notify(
    repos: Repositories, contact: Contact, kind: str, message: Outbound, now: datetime, *, ref: str | None = None
) -> bool:
    """Queue ``message`` for the contact in the caller's transaction; False (nothing queued) when
    :func:`can_notify` says the channel cannot carry it."""
    if not await can_reach(repos, contact):
        return False
    laid_out = Outbound(text=rtl(message.text), buttons=message.buttons)
    await repos.outbox.enqueue(
        contact_id=contact.id,
        channel=contact.channel,
        chat_key=contact.chat_key,
        kind=kind,
        body=encode(laid_out, ref),
        now=now,
    )
    return True
