"""The catalogue's search index is built outside updates' transactions: warmed at start, rebuilt in
the background when a new load is switched in, the previous catalogue answering meanwhile; on
SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.core.engine import Engine, load_pseudonymizer
from catalogue.cache import CacheTimings, CatalogueCache
from catalogue.model import CatalogueSnapshot, Observation, SeriesData
from storage.database import Database
from storage.indicators import RETIRE_GRACE_SECONDS, IndicatorLoader, StoredCatalogue
from testkit.fakes.engine_user import EngineUser
from testkit.fakes.indicators import INDICATORS, load_sample

GDP = next(indicator for indicator in INDICATORS if indicator.code == "GDP_GROWTH")
NEW_GDP = SeriesData(
    "GDP_GROWTH", "Q.GDP", {"FREQ": "Q"}, (Observation("2024-Q2", 0.5), Observation("2024-Q3", 0.8, "P"))
)


class CountingDatabase(Database):
    """A database that knows how many transactions are open at any moment."""

    open_transactions = 0

    @contextlib.asynccontextmanager
    async def transaction(self, *, quick: bool = False) -> AsyncIterator[AsyncConnection]:
        self.open_transactions += 1
        try:
            async with super().transaction(quick=quick) as connection:
                yield connection
        finally:
            self.open_transactions -= 1


class GatedCatalogue(StoredCatalogue):
    """Reads the catalogue once ``gate`` is open, noting how many transactions were open then."""

    def __init__(self, database: CountingDatabase) -> None:
        super().__init__(database)
        self.counting = database
        self.gate = asyncio.Event()
        self.gate.set()
        self.waiting = asyncio.Event()
        self.snapshots = 0
        self.read_during_transactions = 0
        self.fail_next = False

    async def snapshot(self) -> CatalogueSnapshot | None:
        self.snapshots += 1
        self.waiting.set()
        await self.gate.wait()
        if self.fail_next:
            self.fail_next = False
            raise ConnectionResetError("secret row text")
        self.read_during_transactions += self.counting.open_transactions > 0
        return await super().snapshot()


async def eventually(condition: Callable[[], bool]) -> None:
    """Wait (generously) until ``condition`` holds; the background task decides when."""
    async with asyncio.timeout(30):
        while True:
            if condition():
                return
            await asyncio.sleep(0.01)


async def switched_in(database: Database, previous: int) -> int:
    """Wait until a load running in the background has switched its catalogue in; its id."""
    loader = IndicatorLoader(database)
    async with asyncio.timeout(30):
        while True:
            active = await loader.active()
            if active is not None and active.id != previous:
                return active.id
            await asyncio.sleep(0.01)


@pytest.fixture
async def counting_database(migrated_database_url: str) -> AsyncIterator[CountingDatabase]:
    database = CountingDatabase(migrated_database_url)
    try:
        yield database
    finally:
        await database.dispose()


async def an_engine(database: Database, cache: CatalogueCache) -> Engine:
    pseudonymizer = await load_pseudonymizer(database, "test-pseudonym-key-0123456789")
    return Engine(database, {}, pseudonymizer, catalogue=cache)


async def test_a_lookup_after_a_new_load_answers_from_it_once_the_background_rebuild_ran(
    counting_database: CountingDatabase,
) -> None:
    first = await load_sample(counting_database)
    source = GatedCatalogue(counting_database)
    cache = CatalogueCache(source, CacheTimings(poll=0.01))
    engine = await an_engine(counting_database, cache)
    await cache.start()
    try:
        assert cache.index is not None and cache.index.load_id == first.load_id, "warmed up at start"
        user = EngineUser(engine, "warm1")
        (reply,) = await user.say("/data gdp")
        assert "0.49 % in Q2 2024" in reply.text
        # Loaded by another process (here: another connection pool), as `baraza indicators load` does.
        other = Database(counting_database.url)
        try:
            second = await IndicatorLoader(other).replace([GDP], [NEW_GDP], source="new", now=datetime.now(UTC))
        finally:
            await other.dispose()
        await eventually(lambda: cache.index is not None and cache.index.load_id == second.load_id)
        (reply,) = await user.say("/data gdp")
        assert reply.text.split("\n")[1] == "0.80 % in Q3 2024 (provisional)", "no restart needed"
        assert source.snapshots == 2, "one read at start, one per new load"
        assert source.read_during_transactions == 0
    finally:
        await cache.stop()


async def test_while_a_rebuild_runs_a_lookup_answers_from_the_previous_catalogue_without_waiting(
    counting_database: CountingDatabase,
) -> None:
    first = await load_sample(counting_database)
    source = GatedCatalogue(counting_database)
    # Only lookups notice the new load, and the previous index may serve as long as the test needs.
    cache = CatalogueCache(source, CacheTimings(poll=3600, stale=3600))
    engine = await an_engine(counting_database, cache)
    await cache.start()
    # The old rows stay while the loader waits its grace period, as they do for 2 s in service.
    loading = asyncio.create_task(
        IndicatorLoader(counting_database, retire_grace=3600).replace(
            [GDP], [NEW_GDP], source="new", now=datetime.now(UTC)
        )
    )
    try:
        new_load = await switched_in(counting_database, first.load_id)
        source.gate.clear()
        source.waiting.clear()
        user = EngineUser(engine, "warm2")
        async with asyncio.timeout(30):  # a lookup waiting for the blocked rebuild would never return
            (reply,) = await user.say("/data gdp")
        assert "0.49 % in Q2 2024" in reply.text, "answered from the previous catalogue"
        await source.waiting.wait()
        assert source.snapshots == 2, "the lookup started the rebuild"
        async with asyncio.timeout(30):
            (reply,) = await user.say("/data gdp")
        assert "0.49 % in Q2 2024" in reply.text, "still building: the previous catalogue again"
        assert source.snapshots == 2, "one rebuild at a time"
        source.gate.set()
        await eventually(lambda: cache.index is not None and cache.index.load_id == new_load)
        (reply,) = await user.say("/data gdp")
        assert reply.text.split("\n")[1] == "0.80 % in Q3 2024 (provisional)"
    finally:
        loading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loading
        await cache.stop()


async def test_without_an_index_yet_an_update_waits_for_the_build_before_its_transaction(
    counting_database: CountingDatabase,
) -> None:
    await load_sample(counting_database)
    source = GatedCatalogue(counting_database)
    source.gate.clear()
    cache = CatalogueCache(source, CacheTimings(poll=3600))
    engine = await an_engine(counting_database, cache)
    starting = asyncio.create_task(cache.start())
    await source.waiting.wait()
    asking = asyncio.create_task(EngineUser(engine, "warm3").say("/data gdp"))
    for _turn in range(100):  # the engine reaches its transaction in a few turns, without I/O before it
        await asyncio.sleep(0)
    assert not asking.done()
    assert counting_database.open_transactions == 0, "it waits holding no transaction"
    source.gate.set()
    (reply,) = await asking
    assert "0.49 % in Q2 2024" in reply.text, "never answered from nothing"
    await starting
    await cache.stop()
    assert source.read_during_transactions == 0


async def test_when_the_previous_index_is_too_old_a_lookup_waits_for_the_new_one(
    counting_database: CountingDatabase,
) -> None:
    now = [0.0]
    await load_sample(counting_database)
    source = GatedCatalogue(counting_database)
    cache = CatalogueCache(source, CacheTimings(poll=3600, stale=1.0), clock=lambda: now[0])
    engine = await an_engine(counting_database, cache)
    await cache.start()
    try:
        other = Database(counting_database.url)
        try:
            second = await IndicatorLoader(other).replace([GDP], [NEW_GDP], source="new", now=datetime.now(UTC))
        finally:
            await other.dispose()
        now[0] += 2.0  # the old rows may be gone: answering from them would show no figure
        (reply,) = await EngineUser(engine, "warm4").say("/data gdp")
        assert reply.text.split("\n")[1] == "0.80 % in Q3 2024 (provisional)"
        assert cache.index is not None and cache.index.load_id == second.load_id
    finally:
        await cache.stop()


async def test_a_failed_rebuild_is_logged_by_kind_and_retried_at_the_next_lookup(
    counting_database: CountingDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    first = await load_sample(counting_database)
    source = GatedCatalogue(counting_database)
    cache = CatalogueCache(source, CacheTimings(poll=3600, stale=3600))
    engine = await an_engine(counting_database, cache)
    await cache.start()
    loading = asyncio.create_task(
        IndicatorLoader(counting_database, retire_grace=3600).replace(
            [GDP], [NEW_GDP], source="new", now=datetime.now(UTC)
        )
    )
    try:
        new_load = await switched_in(counting_database, first.load_id)
        source.fail_next = True
        user = EngineUser(engine, "warm5")
        with caplog.at_level(logging.ERROR, logger="catalogue.cache"):
            (reply,) = await user.say("/data gdp")
            assert "0.49 % in Q2 2024" in reply.text
            await eventually(lambda: not source.fail_next and "ConnectionResetError" in caplog.text)
        assert "secret row text" not in caplog.text
        await user.say("/data gdp")  # sees the newer load again: a second rebuild
        await eventually(lambda: cache.index is not None and cache.index.load_id == new_load)
        (reply,) = await user.say("/data gdp")
        assert reply.text.split("\n")[1] == "0.80 % in Q3 2024 (provisional)"
    finally:
        loading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loading
        await cache.stop()


async def test_stopping_cancels_a_rebuild_in_progress(counting_database: CountingDatabase) -> None:
    await load_sample(counting_database)
    source = GatedCatalogue(counting_database)
    source.gate.clear()
    cache = CatalogueCache(source)
    starting = asyncio.create_task(cache.start())
    await source.waiting.wait()
    await cache.stop()
    await starting  # the warm-up's build was cancelled: start ends, nothing is left running
    assert cache.index is None


def test_the_previous_index_serves_only_while_its_rows_are_kept() -> None:
    assert CacheTimings().stale < RETIRE_GRACE_SECONDS
