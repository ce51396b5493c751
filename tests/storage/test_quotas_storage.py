"""Quota cells and screened-out responses in the database (SQLite and PostgreSQL): cells recorded
and replaced, live counts, and the quota lock that makes a second decision wait for the first."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from storage.database import Database
from storage.quotas import QuotaRepository, lock_key
from storage.repositories import Repositories

NOW = datetime(2026, 6, 15, 9, 0, tzinfo=UTC)


async def new_response(database: Database, survey_id: str = "qs") -> str:
    async with database.transaction() as connection:
        return await Repositories(connection).responses.create(
            survey_id=survey_id,
            survey_version="1",
            contact=None,
            respondent="",
            language="en",
            now=NOW,
            channel="test",
        )


async def test_cells_are_recorded_replaced_and_counted(database: Database) -> None:
    done, going, out = [await new_response(database) for _ in range(3)]
    async with database.transaction() as connection:
        quotas = QuotaRepository(connection)
        await quotas.record(done, "qs", {"region": ("north",), "user_group+sex": ("media", "male")}, NOW)
        await quotas.record(done, "qs", {"user_group+sex": ("media", "female")}, NOW)  # after /back
        await quotas.record(going, "qs", {"region": ("north",)}, NOW)
        await quotas.record(out, "qs", {"region": ("north",)}, NOW)
        await Repositories(connection).responses.complete(done, NOW)
        await quotas.screen_out(out, NOW)
    async with database.reading() as connection:
        quotas = QuotaRepository(connection)
        assert await quotas.cells(done) == {"region": ("north",), "user_group+sex": ("media", "female")}
        assert await quotas.counts("qs") == {
            ("region", ("north",)): (1, 1),  # the screened-out response is neither
            ("user_group+sex", ("media", "female")): (1, 0),
        }
        assert await quotas.completes("qs", "region", ("north",)) == 1
        assert await quotas.completes("qs", "region", ("south",)) == 0
        assert await quotas.is_screened_out(out) and not await quotas.is_screened_out(going)


async def test_the_quota_lock_makes_a_second_decision_see_the_first_completion(database: Database) -> None:
    first, second = await new_response(database), await new_response(database)
    async with database.transaction() as connection:
        await QuotaRepository(connection).record(first, "qs", {"sex": ("female",)}, NOW)
        await QuotaRepository(connection).record(second, "qs", {"sex": ("female",)}, NOW)
    holding, seen = asyncio.Event(), []

    async def decide(response_id: str, signal: asyncio.Event | None) -> None:
        async with database.transaction() as connection:
            quotas = QuotaRepository(connection)
            await quotas.lock("qs")
            completes = await quotas.completes("qs", "sex", ("female",))
            seen.append(completes)
            if signal is not None:
                signal.set()
                await asyncio.sleep(0.2)  # the other decision runs meanwhile, up to the lock
            if completes < 1:
                await Repositories(connection).responses.complete(response_id, NOW)
            else:
                await quotas.screen_out(response_id, NOW)

    first_task = asyncio.create_task(decide(first, holding))
    await holding.wait()
    await decide(second, None)
    await first_task
    assert seen == [0, 1], "the second decision waited for the first to commit"
    async with database.reading() as connection:
        assert await QuotaRepository(connection).counts("qs") == {("sex", ("female",)): (1, 0)}


def test_lock_keys_are_stable_signed_64_bit_integers() -> None:
    assert lock_key("qs") == lock_key("qs") != lock_key("qs2")
    assert -(2**63) <= lock_key("qs") < 2**63
