"""Notices kept for the web chat's next visit: a web-chat contact whose browser did not accept
notifications (Web Push) cannot be sent a notice when it goes out; when their page resumes they
are shown the notices meant for them since they last saw them (since their consent at first).
Answers to their data requests wait in ``/my_requests`` (:mod:`handlers.requests`)."""

from __future__ import annotations

from handlers.context import Context
from handlers.messages import Outbound
from handlers.notices import Notice
from storage.broadcasts import BroadcastRepository
from storage.webpush import WEB_CHANNEL

#: The most notices shown at one visit (the newest); older ones are not shown again.
MAX_SHOWN = 5


async def missed_notices(ctx: Context) -> list[Outbound]:
    """The notices the web-chat contact has not seen, oldest first; each shown once."""
    contact = ctx.contact
    if contact.channel != WEB_CHANNEL or contact.consent_at is None:
        return []
    repository = ctx.repos.webpush
    if await repository.count(contact.id):
        return []  # their browser is sent every notice as it goes out
    since = await repository.notices_read_at(contact.id) or contact.consent_at
    records = await BroadcastRepository(ctx.repos.connection).missed_by(contact.id, since, ctx.now)
    await repository.mark_notices_read(contact.id, ctx.now)
    shown: list[Outbound] = []
    for record in records[-MAX_SHOWN:]:
        try:
            notice = Notice.from_json(record.notice, title=record.title, audience=record.audience)
        except (ValueError, KeyError, TypeError):
            continue
        shown.append(notice.outbound(contact.language))
    return shown
