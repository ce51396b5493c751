"""Responses in quota cells, written directly (as the conversation leaves them), for tests of the
live counts on the dashboard and the command line."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from storage.database import Database
from storage.quotas import QuotaRepository
from storage.repositories import Repositories
from surveys.quotas import Cell


async def add_quota_responses(
    database: Database, survey_id: str, responses: Sequence[tuple[str, Cell, bool]], now: datetime
) -> list[str]:
    """One response per ``(quota key, cell, completed)``, without answers; returns their ids."""
    made = []
    async with database.transaction() as connection:
        repositories, quotas = Repositories(connection), QuotaRepository(connection)
        for quota, cell, completed in responses:
            response = await repositories.responses.create(
                survey_id=survey_id,
                survey_version="1",
                contact=None,
                respondent="",
                language="en",
                now=now,
                channel="t",
            )
            await quotas.record(response, survey_id, {quota: cell}, now)
            if completed:
                await repositories.responses.complete(response, now)
            made.append(response)
    return made
