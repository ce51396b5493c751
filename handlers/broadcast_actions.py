"""What staff do with a broadcast, written once for the dashboard and the ``baraza`` commands.

The dashboard (:mod:`bot.admin.broadcasts`), ``baraza broadcast`` (:mod:`bot.cli.broadcast`) and
``baraza calendar publish`` (:mod:`bot.cli.calendar`) preview an audience, store a broadcast,
look one up and cancel one through these functions, each in the caller's transaction; they
differ only in how they ask and show. Storing a broadcast stores every delivery row with it; the
durable sender of ``baraza run`` (:mod:`bot.sending.sender`) sends them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from handlers.notices import Notice
from storage import audit
from storage.broadcasts import Audience, BroadcastRepository, BroadcastSummary


@dataclass(frozen=True)
class AudiencePreview:
    """How many contacts an audience reaches now, and how many of them get each language."""

    size: int
    languages: Mapping[str, int]


@dataclass(frozen=True)
class StoredBroadcast:
    """A broadcast as staff see it: how far it got, its notice and its audience."""

    summary: BroadcastSummary
    notice: Notice
    audience: Audience


async def preview_audience(
    connection: AsyncConnection, audience: Audience, languages: tuple[str, ...], default_language: str
) -> AudiencePreview:
    """Count the contacts ``audience`` reaches and, for a notice in ``languages``, who gets which."""
    repository = BroadcastRepository(connection)
    size = await repository.audience_size(audience)
    by_language = await repository.audience_languages(audience, languages, default_language) if languages else {}
    return AudiencePreview(size, by_language)


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
    )
    await audit.record(
        connection,
        actor=actor or created_by,
        action=audit.BROADCAST_STORED,
        now=now,
        target=f"broadcast:{broadcast_id}",
        details={
            "title": notice.title,
            "recipients": recipients,
            "audience": _audience_text(chosen),
            "send_at": None if send_at is None else send_at.isoformat(),
        },
    )
    return broadcast_id, recipients


def _audience_text(chosen: Audience) -> str:
    """The audience's filters as ``field=value`` pairs (the whole register: ``everyone``)."""
    parts = []
    for field in fields(chosen):
        value = getattr(chosen, field.name)
        if value and value != field.default:
            parts.append(f"{field.name}={','.join(value) if isinstance(value, tuple) else value}")
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
