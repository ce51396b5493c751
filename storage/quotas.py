"""Quota cells of responses, screened-out responses, and the live counts of each cell.

A response's cell of each quota of its survey is a ``response_quota_cells`` row, written when the
cell becomes known (:mod:`handlers.quotas`); a cell's *completes* are its completed responses,
its *in progress* the responses neither completed nor screened out. A person whose cell is full
is screened out: ``responses.screened_out_at`` is set and the response is never completed.

The decision "is the cell full?" reads the completes, so two people must not decide at once on
the last place: :meth:`QuotaRepository.lock` serialises the deciding transactions of one survey
(a transaction-scoped advisory lock on PostgreSQL; SQLite's write transactions begin IMMEDIATE
and are serialised already). Runs in the caller's transaction, like every repository.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Table, and_, delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.models import ResponseQuotaCellRow, ResponseRow
from surveys.quotas import Cell, decode_cell, encode_cell

cells = cast(Table, ResponseQuotaCellRow.__table__)
responses = cast(Table, ResponseRow.__table__)


def lock_key(survey_id: str) -> int:
    """The PostgreSQL advisory lock key of a survey's quota decisions (a signed 64-bit integer)."""
    return int.from_bytes(hashlib.sha256(f"baraza-quota:{survey_id}".encode()).digest()[:8], "big", signed=True)


class QuotaRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection

    async def lock(self, survey_id: str) -> None:
        """Hold the survey's quota lock until the transaction ends (PostgreSQL; a no-op on SQLite,
        whose write transactions are serialised)."""
        if self.connection.dialect.name == "postgresql":
            await self.connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(survey_id)})

    async def cells(self, response_id: str) -> dict[str, Cell]:
        """The response's recorded cells, by quota key."""
        rows = await self.connection.execute(
            select(cells.c.quota, cells.c.cell).where(cells.c.response_id == response_id)
        )
        return {str(quota): decode_cell(str(cell)) for quota, cell in rows}

    async def record(self, response_id: str, survey_id: str, found: Mapping[str, Cell], now: datetime) -> None:
        """Record (or, after /back and another answer, replace) the response's cells ``found``."""
        if not found:
            return
        await self.connection.execute(
            delete(cells).where(cells.c.response_id == response_id, cells.c.quota.in_(list(found)))
        )
        await self.connection.execute(
            insert(cells),
            [
                {
                    "response_id": response_id,
                    "quota": quota,
                    "survey_id": survey_id,
                    "cell": encode_cell(cell),
                    "recorded_at": now.astimezone(UTC),
                }
                for quota, cell in found.items()
            ],
        )

    async def completes(self, survey_id: str, quota: str, cell: Cell) -> int:
        """How many completed responses the cell holds."""
        return int(
            await self.connection.scalar(
                select(func.count())
                .select_from(cells.join(responses, responses.c.id == cells.c.response_id))
                .where(
                    cells.c.survey_id == survey_id,
                    cells.c.quota == quota,
                    cells.c.cell == encode_cell(cell),
                    responses.c.completed_at.is_not(None),
                )
            )
            or 0
        )

    async def counts(self, survey_id: str) -> dict[tuple[str, Cell], tuple[int, int]]:
        """``(quota, cell) -> (completes, in progress)`` of every cell with a response (one query)."""
        completed = responses.c.completed_at.is_not(None)
        running = and_(responses.c.completed_at.is_(None), responses.c.screened_out_at.is_(None))
        rows = await self.connection.execute(
            select(
                cells.c.quota,
                cells.c.cell,
                func.count().filter(completed),
                func.count().filter(running),
            )
            .select_from(cells.join(responses, responses.c.id == cells.c.response_id))
            .where(cells.c.survey_id == survey_id)
            .group_by(cells.c.quota, cells.c.cell)
        )
        return {(str(q), decode_cell(str(c))): (int(done or 0), int(going or 0)) for q, c, done, going in rows}

    async def screen_out(self, response_id: str, now: datetime) -> None:
        await self.connection.execute(
            update(responses).where(responses.c.id == response_id).values(screened_out_at=now.astimezone(UTC))
        )

    async def is_screened_out(self, response_id: str) -> bool:
        found = await self.connection.scalar(select(responses.c.screened_out_at).where(responses.c.id == response_id))
        return found is not None


__all__ = ["QuotaRepository", "lock_key"]
