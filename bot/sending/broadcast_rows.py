"""Broadcast deliveries as a source of the durable sender (:mod:`bot.sending.sender`).

Rows are claimed from due broadcasts (:meth:`storage.broadcasts.BroadcastRepository.claim`);
each carries its broadcast's notice in the recipient's language, read once per broadcast and
language. A notice that cannot be read fails its rows rather than stopping the sender.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Unpack

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.config import BroadcastSettings
from bot.sending.channel_sender import Sender
from bot.sending.rate import broadcast_rate_limiter
from bot.sending.row_source import RepositoryRows, Unsendable, Wanted
from bot.sending.sender import DurableSender, SenderOptions
from handlers.messages import Outbound
from handlers.notices import Notice
from storage.broadcasts import BroadcastRepository, ClaimedDelivery
from storage.database import Database

log = logging.getLogger(__name__)

NOTICES_CACHED = 32

#: The durable sender of broadcast deliveries.
BroadcastSender = DurableSender[ClaimedDelivery]


class BroadcastRows(RepositoryRows):
    """The delivery rows of due broadcasts; keeps the notices of the latest broadcasts read."""

    kind = "broadcast"
    recovered_warning = (
        "%d broadcast message(s) were being sent when the bot stopped: marked unknown "
        "(see 'baraza broadcast status'; 'baraza broadcast resend-unknown ID' sends them again)"
    )
    give_back_on_stop = False

    def __init__(self) -> None:
        self._notices: OrderedDict[int, Notice | None] = OrderedDict()
        self._messages: dict[tuple[int, str], Outbound] = {}

    def repository(self, connection: AsyncConnection) -> BroadcastRepository:
        return BroadcastRepository(connection)

    async def claim(self, database: Database, wanted: Wanted) -> tuple[Sequence[ClaimedDelivery], datetime | None]:
        # ``wanted.busy`` does not matter: a person gets one row per broadcast, and the chat's
        # rate keeps two broadcasts to the same person apart. Quick: a few indexed statements
        # (ix_deliveries_broadcast_status), run on SQLite without a thread hand-off each.
        async with database.transaction(quick=True) as connection:
            repository = BroadcastRepository(connection)
            claim = await repository.claim(wanted.channels, wanted.limit, wanted.now, worker=wanted.worker)
            for broadcast_id in {d.broadcast_id for d in claim.deliveries} - set(self._notices):
                record = await repository.notice(broadcast_id)
                try:
                    notice = Notice.from_json(record.notice, title=record.title) if record is not None else None
                except (ValueError, KeyError, TypeError):
                    notice = None
                    log.error("broadcast %d: its notice cannot be read; its messages fail", broadcast_id)
                self._notices[broadcast_id] = notice
                while len(self._notices) > NOTICES_CACHED:
                    evicted, _ = self._notices.popitem(last=False)
                    self._messages = {key: value for key, value in self._messages.items() if key[0] != evicted}
        for delivery in claim.deliveries:
            self._notices.move_to_end(delivery.broadcast_id)
        return claim.deliveries, claim.next_due

    def message(self, row: ClaimedDelivery) -> Outbound:
        key = (row.broadcast_id, row.language)
        message = self._messages.get(key)
        if message is None:
            notice = self._notices.get(row.broadcast_id)
            if notice is None:
                raise Unsendable("the notice cannot be read")
            message = self._messages[key] = notice.outbound(row.language)
        return message

    def cache_key(self, row: ClaimedDelivery) -> str:
        return str(row.broadcast_id)

    def label(self, row: ClaimedDelivery) -> str:
        return f"broadcast {row.broadcast_id}"


def broadcast_sender(
    database: Database,
    senders: Iterable[Sender],
    settings: BroadcastSettings | None = None,
    **options: Unpack[SenderOptions],
) -> BroadcastSender:
    """The durable sender of broadcasts, at ``settings``' rate and concurrency.

    ``shared_limiter`` (several workers) paces the sends of every worker together.
    """
    settings = settings or BroadcastSettings()
    limiter = broadcast_rate_limiter(settings.messages_per_second, settings.chat_messages_per_second)
    return DurableSender(database, BroadcastRows(), senders, limiter, concurrency=settings.concurrency, **options)
