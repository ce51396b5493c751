"""Broadcasts and outbox messages through WhatsApp: :class:`WhatsAppSender`.

Within the 24-hour customer-service window (the person wrote less than a day ago) a message goes
out as :mod:`bot.channels.whatsapp.rendering` lays it out; later WhatsApp only accepts an approved
template, which the notice names. A broadcast's files are uploaded once and sent by media id.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime

from bot.channels.whatsapp.adapter import CHANNEL, PartlySent, send_parts
from bot.channels.whatsapp.graph import STOPPED_MARKETING, GraphClient, GraphError, GraphUnreachable
from bot.channels.whatsapp.rendering import MediaPart, render, template_message
from bot.sending.channel_sender import MaybeSent, NotSent, RecipientBlocked, Rejected
from common.clock import utc_now
from handlers.messages import Outbound
from handlers.notices import Notice, WhatsAppTemplate
from storage.broadcasts import WHATSAPP_SERVICE_WINDOW, BroadcastRepository
from storage.database import Database
from storage.delivery_receipts import ReceiptRepository

log = logging.getLogger(__name__)

#: Free-form messages are accepted until 24 hours after the person's last message; keep a margin
#: for the time a broadcast takes to reach everyone (the audience preview counts with the same).
SERVICE_WINDOW = WHATSAPP_SERVICE_WINDOW
#: Broadcasts whose template and uploaded files are kept (the most recent ones).
BROADCASTS_CACHED = 32


class WhatsAppSender:
    """The dispatcher's :class:`~bot.sending.channel_sender.Sender` for WhatsApp.

    Within 24 hours of the person's last message the notice goes out as the core renders it;
    later WhatsApp only accepts an approved template, named in the notice's
    ``whatsapp_template``. Without one the delivery fails with a message that says so.
    """

    channel = CHANNEL

    def __init__(self, client: GraphClient, database: Database, *, clock: Callable[[], datetime] | None = None) -> None:
        self.client = client
        self.database = database
        self.clock = clock or (utc_now)
        # Per broadcast (the recent ones only): its template, its uploaded files, a warning given.
        self._templates: OrderedDict[str, WhatsAppTemplate | None] = OrderedDict()
        self._uploads: OrderedDict[str, tuple[asyncio.Lock, dict[str, str]]] = OrderedDict()
        self._warned: set[str] = set()

    async def _template(self, cache_key: str) -> WhatsAppTemplate | None:
        """The template of the broadcast ``cache_key`` names (other messages, such as the
        outbox's answers to data requests, have none)."""
        if not cache_key.isdigit():
            return None
        if cache_key not in self._templates:
            async with self.database.transaction() as connection:
                record = await BroadcastRepository(connection).notice(int(cache_key))
            notice = Notice.from_json(record.notice) if record is not None else None
            self._templates[cache_key] = notice.whatsapp_template if notice is not None else None
            while len(self._templates) > BROADCASTS_CACHED:
                self._templates.popitem(last=False)
        return self._templates[cache_key]

    def _uploaded(self, cache_key: str) -> tuple[asyncio.Lock, dict[str, str]]:
        """The media ids of a broadcast's files; other messages (the outbox) upload their own."""
        if not cache_key.isdigit():
            return asyncio.Lock(), {}
        if cache_key not in self._uploads:
            self._uploads[cache_key] = (asyncio.Lock(), {})
            while len(self._uploads) > BROADCASTS_CACHED:
                self._uploads.popitem(last=False)
        return self._uploads[cache_key]

    async def _in_window(self, chat_key: str) -> bool:
        async with self.database.transaction() as connection:
            last_seen = await ReceiptRepository(connection).last_seen(CHANNEL, chat_key)
        return last_seen is not None and self.clock() - last_seen < SERVICE_WINDOW

    async def send(self, chat_key: str, message: Outbound, *, cache_key: str) -> str:
        if await self._in_window(chat_key):
            parts = render(message)
        else:
            template = await self._template(cache_key)
            if template is None:
                if cache_key.isdigit() and cache_key not in self._warned:
                    self._warned.add(cache_key)
                    log.warning(
                        "broadcast %s: WhatsApp contacts silent for 24 hours need an approved template, "
                        "and the notice names no whatsapp_template: they do not get it",
                        cache_key,
                    )
                what = "the notice names no whatsapp_template" if cache_key.isdigit() else "no template is given"
                raise Rejected(f"outside WhatsApp's 24-hour window and {what}")
            parts = [template_message(template.name, template.language, template.parameters)]
        lock, uploaded = self._uploaded(cache_key)
        try:
            async with lock:  # one upload per file and broadcast
                for part in parts:
                    if isinstance(part, MediaPart) and part.attachment.filename not in uploaded:
                        uploaded[part.attachment.filename] = await self.client.upload(part.attachment)
            return await send_parts(self.client, chat_key, parts, uploaded)
        except GraphError as error:
            if error.code == STOPPED_MARKETING:
                raise RecipientBlocked(str(error)) from error
            if error.retriable:
                raise NotSent(str(error), retry_after=self.client.settings.retry_delay * 4) from error
            raise Rejected(str(error)) from error
        except GraphUnreachable as error:
            if error.maybe_sent:
                raise MaybeSent(str(error)) from error
            raise NotSent(str(error)) from error
        except PartlySent as error:
            raise MaybeSent(f"partly sent: {error}") from error
