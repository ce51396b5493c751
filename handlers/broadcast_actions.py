"""What staff do with a broadcast, written once for the dashboard and the ``baraza`` commands.

The dashboard (:mod:`bot.admin.broadcasts`), ``baraza broadcast`` (:mod:`bot.cli.broadcast`) and
``baraza calendar publish`` (:mod:`bot.cli.calendar`) preview an audience, store a broadcast,
look one up and cancel one through these functions, each in the caller's transaction; they
differ only in how they ask and show. Storing a broadcast stores every delivery row with it; the
durable sender of ``baraza run`` (:mod:`bot.sending.sender`) sends them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from handlers.notices import Notice
from storage import audit
from storage.broadcasts import (
    WHATSAPP_SERVICE_WINDOW,
    Audience,
    BroadcastRepository,
    BroadcastSummary,
    ChannelReach,
    Reach,
)

#: How channels are named to staff.
CHANNEL_NAMES = {
    "telegram": "Telegram",
    "whatsapp": "WhatsApp",
    "webchat": "web chat",
    "web": "web chat",
    "sms": "SMS",
    "ussd": "USSD",
}


@dataclass(frozen=True)
class AudiencePreview:
    """How many contacts an audience reaches now, and how many of them get each language."""

    size: int
    languages: Mapping[str, int]
    #: Everyone the filters match, by channel, with why people are left out.
    reach: Reach = field(default_factory=lambda: Reach(()))


@dataclass(frozen=True)
class StoredBroadcast:
    """A broadcast as staff see it: how far it got, its notice and its audience."""

    summary: BroadcastSummary
    notice: Notice
    audience: Audience


async def preview_audience(
    connection: AsyncConnection,
    audience: Audience,
    languages: tuple[str, ...],
    default_language: str,
    *,
    silent_before: datetime | None = None,
) -> AudiencePreview:
    """Count the contacts ``audience`` reaches and, for a notice in ``languages``, who gets which;
    and the reach by channel with the reasons people are left out (``silent_before``: see
    :func:`whatsapp_silent_before`)."""
    repository = BroadcastRepository(connection)
    size = await repository.audience_size(audience, silent_before=silent_before)
    by_language = (
        await repository.audience_languages(audience, languages, default_language, silent_before=silent_before)
        if languages
        else {}
    )
    reach = await repository.reach(audience, silent_before=silent_before)
    return AudiencePreview(size, by_language, reach)


def whatsapp_silent_before(notice: Notice, now: datetime) -> datetime | None:
    """For a notice without a WhatsApp template: WhatsApp contacts who last wrote before this
    moment cannot get it (None when the notice names a template, which reaches them)."""
    return None if notice.whatsapp_template is not None else now - WHATSAPP_SERVICE_WINDOW


def channel_name(channel: str) -> str:
    return CHANNEL_NAMES.get(channel, channel)


def reach_line(channel: ChannelReach, sms_segments: Mapping[str, int] | None = None) -> str:
    """``Telegram: 3 can receive it; left out: 1 no consent, 2 opted out``; for SMS with the notice's
    cost, ``SMS: 12,400 can receive it; 12,400 recipients x 2 segments`` (with a multiplication sign)."""
    line = f"{channel_name(channel.channel)}: {channel.reached:,} can receive it"
    if channel.channel == "sms" and sms_segments and channel.reached:
        low, high = min(sms_segments.values()), max(sms_segments.values())
        each = f"{high} segment{'s' if high != 1 else ''}" if low == high else f"{low}–{high} segments by language"
        line += f"; {channel.reached:,} recipients × {each}"
    if channel.left_out:
        line += "; left out: " + ", ".join(f"{count:,} {reason}" for reason, count in channel.left_out.items())
    return line


def reach_lines(reach: Reach, sms_segments: Mapping[str, int] | None = None) -> list[str]:
    """The reach by channel, one line each, as staff read it (``baraza broadcast send --dry-run``);
    ``sms_segments``: the notice's SMS segments by language, shown on the SMS line (its cost)."""
    if not reach.channels:
        return ["nobody matches these filters"]
    return [reach_line(channel, sms_segments) for channel in reach.channels]


async def store_broadcast(
    connection: AsyncConnection,
    notice: Notice,
    *,
    created_by: str,
    now: datetime,
    send_at: datetime | None = None,
    audience: Audience | None = None,
    actor: str | None = None,
) -> tuple[int, int]:
    """Store ``notice`` as a broadcast with one pending delivery per recipient; returns (id, recipients).

    ``audience`` replaces the notice's own; ``send_at`` None sends it now. The audit trail
    records it under ``actor`` (default: ``created_by``).
    """
    chosen = notice.audience if audience is None else audience
    broadcast_id, recipients = await BroadcastRepository(connection).create(
        title=notice.title,
        notice=notice.to_json(),
        audience=chosen,
        languages=notice.languages,
        default_language=notice.default_language,
        created_by=created_by,
        now=now,
        send_at=send_at,
        silent_before=whatsapp_silent_before(notice, now),
    )
    await record_stored(
        connection,
        broadcast_id,
        notice,
        recipients=recipients,
        audience=_audience_text(chosen),
        actor=actor or created_by,
        now=now,
        send_at=send_at,
    )
    return broadcast_id, recipients


async def record_stored(
    connection: AsyncConnection,
    broadcast_id: int,
    notice: Notice,
    *,
    recipients: int,
    audience: str,
    actor: str,
    now: datetime,
    send_at: datetime | None,
) -> None:
    """Write in the audit trail that ``actor`` stored a broadcast of ``notice`` for ``audience``."""
    await audit.record(
        connection,
        actor=actor,
        action=audit.BROADCAST_STORED,
        now=now,
        target=f"broadcast:{broadcast_id}",
        details={
            "title": notice.title,
            "recipients": recipients,
            "audience": audience,
            "send_at": None if send_at is None else send_at.isoformat(),
        },
    )


def _audience_text(chosen: Audience) -> str:
    """The audience's filters as ``field=value`` pairs (the whole register: ``everyone``)."""
    parts = []
    for attribute in fields(chosen):
        value = getattr(chosen, attribute.name)
        if value and value != attribute.default:
            parts.append(f"{attribute.name}={','.join(value) if isinstance(value, tuple) else value}")
    return " ".join(parts) or "everyone"


async def find_broadcast(connection: AsyncConnection, broadcast_id: int) -> StoredBroadcast | None:
    """The broadcast, its notice and its audience; None when there is no such broadcast."""
    repository = BroadcastRepository(connection)
    summary = await repository.summary(broadcast_id)
    record = await repository.notice(broadcast_id)
    if summary is None or record is None:
        return None
    return StoredBroadcast(summary, Notice.from_json(record.notice, title=record.title), record.audience)


async def cancel_broadcast(connection: AsyncConnection, broadcast_id: int, now: datetime, *, actor: str) -> int | None:
    """Stop a broadcast: returns how many unsent messages will not be sent (None: no such broadcast).

    Messages already on their way finish. The audit trail records it under ``actor``.
    """
    cancelled = await BroadcastRepository(connection).cancel(broadcast_id, now)
    if cancelled is not None:
        await audit.record(
            connection,
            actor=actor,
            action=audit.BROADCAST_CANCELLED,
            now=now,
            target=f"broadcast:{broadcast_id}",
            details={"unsent": cancelled},
        )
    return cancelled
