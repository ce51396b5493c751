"""Release calendar state: who follows which calendar entry, and which entries are published.

The calendar itself (titles, dates) comes from the office's file (:mod:`catalogue.calendar`);
only what changes at run time is stored. A publication row is written at most once per release
(its primary key is the release id), in the same transaction as the broadcast that tells the
followers and the topic's subscribers, so they are told exactly once however often staff
publish.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.models import ReleaseFollowRow, ReleasePublicationRow
from storage.repository_base import Repository

follows = cast(Table, ReleaseFollowRow.__table__)
publications = cast(Table, ReleasePublicationRow.__table__)


def _utc(moment: datetime) -> datetime:
    """SQLite returns naive datetimes; everything Baraza stores is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _insert(connection: AsyncConnection, table: Table) -> Any:
    """An INSERT that supports ON CONFLICT on both SQLite and PostgreSQL."""
    return (postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert)(table)


@dataclass(frozen=True)
class Publication:
    """A release marked published: when, by whom, and the broadcast that announced it."""

    release_id: str
    published_at: datetime
    published_by: str
    broadcast_id: int | None


class ReleaseRepository(Repository):
    """Follows and publications. Runs in the caller's transaction, like every repository."""

    # ------------------------------------------------------------------ follows

    async def follow(self, contact_id: int, release_id: str, now: datetime) -> bool:
        """Follow a release; False if the contact already followed it (nothing changes)."""
        result = await self.connection.execute(
            _insert(self.connection, follows)
            .values(contact_id=contact_id, release_id=release_id, followed_at=_utc(now), notified_at=None)
            .on_conflict_do_nothing()
        )
        return bool(result.rowcount)

    async def unfollow(self, contact_id: int, release_id: str) -> bool:
        """Stop following; False if the contact did not follow it."""
        result = await self.connection.execute(
            delete(follows).where(follows.c.contact_id == contact_id, follows.c.release_id == release_id)
        )
        return bool(result.rowcount)

    async def followed(self, contact_id: int) -> set[str]:
        """The ids of the releases a contact follows."""
        rows = await self.connection.scalars(select(follows.c.release_id).where(follows.c.contact_id == contact_id))
        return set(rows)

    async def followers(self, release_id: str) -> list[int]:
        """The contacts following a release, in the order they followed it."""
        rows = await self.connection.scalars(
            select(follows.c.contact_id)
            .where(follows.c.release_id == release_id)
            .order_by(follows.c.followed_at, follows.c.contact_id)
        )
        return [int(contact_id) for contact_id in rows]

    async def follower_count(self, release_id: str) -> int:
        return int(
            await self.connection.scalar(
                select(func.count()).select_from(follows).where(follows.c.release_id == release_id)
            )
            or 0
        )

    async def mark_notified(self, release_id: str, now: datetime) -> int:
        """Record that the followers not told yet were told now; returns how many."""
        result = await self.connection.execute(
            update(follows)
            .where(follows.c.release_id == release_id, follows.c.notified_at.is_(None))
            .values(notified_at=_utc(now))
        )
        return int(result.rowcount)

    async def erase(self, contact_id: int) -> int:
        """Forget every release a contact follows (``/delete_my_data``, consent withdrawn)."""
        result = await self.connection.execute(delete(follows).where(follows.c.contact_id == contact_id))
        return int(result.rowcount)

    # ------------------------------------------------------------------ publications

    async def publish(self, release_id: str, published_by: str, now: datetime) -> bool:
        """Mark a release published; False if it already was (the first publication stands)."""
        result = await self.connection.execute(
            _insert(self.connection, publications)
            .values(release_id=release_id, published_at=_utc(now), published_by=published_by[:100], broadcast_id=None)
            .on_conflict_do_nothing()
        )
        return bool(result.rowcount)

    async def attach_broadcast(self, release_id: str, broadcast_id: int) -> None:
        await self.connection.execute(
            update(publications).where(publications.c.release_id == release_id).values(broadcast_id=broadcast_id)
        )

    async def publication(self, release_id: str) -> Publication | None:
        found = await self.publications([release_id])
        return found.get(release_id)

    async def publications(self, release_ids: Collection[str] | None = None) -> dict[str, Publication]:
        """The publications of the given releases (of all releases without ``release_ids``)."""
        query = select(publications)
        if release_ids is not None:
            if not release_ids:
                return {}
            query = query.where(publications.c.release_id.in_(list(release_ids)))
        rows = await self.connection.execute(query)
        return {
            row.release_id: Publication(
                release_id=row.release_id,
                published_at=_utc(row.published_at),
                published_by=row.published_by,
                broadcast_id=None if row.broadcast_id is None else int(row.broadcast_id),
            )
            for row in rows
        }
