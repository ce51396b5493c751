"""Text every database can store: the characters a hostile message may carry that break storage.

PostgreSQL ``text`` cannot hold the NUL character (U+0000), and no UTF-8 database can hold a
lone surrogate (U+D800..U+DFFF), which JSON's ``\\udXXX`` escapes let any client send (Telegram
updates, the web chat, WhatsApp webhooks). :class:`Sanitiser` replaces both with U+FFFD (the
replacement character) before the core sees the message, so the same text is stored on SQLite
and PostgreSQL and nothing fails mid-transaction. Every other character, control characters,
right-to-left marks and emoji included, is kept exactly as typed.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import replace

from handlers.messages import Delivered, Inbound, MessageProcessor, Outbound, as_they_are

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def storable(text: str | None) -> str | None:
    """``text`` with NUL and lone surrogates replaced by U+FFFD (None stays None)."""
    if text is None:
        return None
    return _UNSTORABLE.sub(REPLACEMENT, text)


class Sanitiser:
    """A :class:`~handlers.messages.MessageProcessor` that hands ``inner`` storable text only."""

    def __init__(self, inner: MessageProcessor) -> None:
        self.inner = inner

    async def handle(self, inbound: Inbound) -> list[Outbound]:
        return await self.serve(inbound, as_they_are)

    async def serve(self, inbound: Inbound, deliver: Callable[[list[Outbound]], Awaitable[Delivered]]) -> Delivered:
        return await self.inner.serve(_storable(inbound), deliver)


def _storable(inbound: Inbound) -> Inbound:
    fields = (inbound.text, inbound.payload, inbound.user_key, inbound.chat_key, inbound.update_key)
    if not any(value is not None and _UNSTORABLE.search(value) for value in fields):
        return inbound
    return replace(
        inbound,
        text=storable(inbound.text),
        payload=storable(inbound.payload),
        user_key=storable(inbound.user_key) or "",
        chat_key=storable(inbound.chat_key) or "",
        update_key=storable(inbound.update_key) or "",
    )
