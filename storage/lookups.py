"""What people asked the bot for, and what they thought of the answers.

Every lookup typed in a chat is a row of ``indicator_queries`` (matched or not: unmatched ones are
the office's evidence of unmet demand). A "Was this useful?" press is a row of
``indicator_ratings``, one per person and series (pressing again changes it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, delete, insert, select, update

from storage.models import IndicatorQueryRow, IndicatorRatingRow
from storage.repository_base import Repository

queries = cast(Table, IndicatorQueryRow.__table__)
ratings = cast(Table, IndicatorRatingRow.__table__)


@dataclass(frozen=True)
class LookupQuery:
    id: int
    contact_id: int | None
    language: str
    text: str
    indicator_code: str | None
    matched: bool
    asked_at: datetime


@dataclass(frozen=True)
class Rating:
    contact_id: int | None
    indicator_code: str
    series_key: str
    useful: bool
    rated_at: datetime


@dataclass(frozen=True)
class ErasedLookups:
    queries: int
    ratings: int


class LookupRepository(Repository):
    """``indicator_queries`` and ``indicator_ratings``, in the caller's transaction."""

    async def record_query(
        self,
        *,
        contact_id: int | None,
        language: str,
        text: str,
        indicator_code: str | None,
        matched: bool,
        now: datetime,
    ) -> int:
        """Log one lookup; returns its id."""
        result = await self.connection.execute(
            insert(queries).values(
                contact_id=contact_id,
                language=language[:20],
                text=text,
                indicator_code=indicator_code[:80] if indicator_code else None,
                matched=int(matched),
                asked_at=now,
            )
        )
        return int(cast(Any, result).inserted_primary_key[0])

    async def rate(self, *, contact_id: int, indicator_code: str, series_key: str, useful: bool, now: datetime) -> None:
        """Store the person's rating of a series, replacing their earlier one."""
        where = (
            (ratings.c.contact_id == contact_id)
            & (ratings.c.indicator_code == indicator_code)
            & (ratings.c.series_key == series_key)
        )
        changed = await self.connection.execute(update(ratings).where(where).values(useful=int(useful), rated_at=now))
        if changed.rowcount == 0:
            await self.connection.execute(
                insert(ratings).values(
                    contact_id=contact_id,
                    indicator_code=indicator_code,
                    series_key=series_key,
                    useful=int(useful),
                    rated_at=now,
                )
            )

    async def queries(self, limit: int = 1000) -> list[LookupQuery]:
        """The latest lookups, newest first."""
        rows = await self.connection.execute(select(queries).order_by(queries.c.id.desc()).limit(limit))
        return [
            LookupQuery(r.id, r.contact_id, r.language, r.text, r.indicator_code, bool(r.matched), r.asked_at)
            for r in rows
        ]

    async def ratings(self) -> list[Rating]:
        rows = await self.connection.execute(select(ratings).order_by(ratings.c.id))
        return [Rating(r.contact_id, r.indicator_code, r.series_key, bool(r.useful), r.rated_at) for r in rows]

    async def erase(self, contact_id: int) -> ErasedLookups:
        """Delete what a person asked and rated (``/delete_my_data``)."""
        removed_queries = await self.connection.execute(delete(queries).where(queries.c.contact_id == contact_id))
        removed_ratings = await self.connection.execute(delete(ratings).where(ratings.c.contact_id == contact_id))
        return ErasedLookups(int(removed_queries.rowcount), int(removed_ratings.rowcount))
