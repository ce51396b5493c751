"""The indicator catalogue at rest: loads written beside the data in service, switched in at once.

:class:`IndicatorLoader` writes a new load (``loading``) in chunks, outside any bot transaction,
then makes it ``active`` and the previous one ``retired`` in ONE transaction: a reader sees the
old catalogue or the new one, never a mix. A load that fails is marked ``failed`` and its rows
removed; the active load is untouched. Retired loads' rows are deleted afterwards, after a
grace period for readers that were in the middle of reading them.

:class:`IndicatorRepository` reads the active load inside a caller's transaction, like every
repository.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
from collections.abc import AsyncGenerator, AsyncIterable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Table, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from catalogue.model import CatalogueSnapshot, Dimension, Indicator, Observation, Series, SeriesData
from storage.database import Database
from storage.models import IndicatorLoadRow, IndicatorObservationRow, IndicatorRow, IndicatorSeriesRow

loads = cast(Table, IndicatorLoadRow.__table__)
indicators = cast(Table, IndicatorRow.__table__)
series_table = cast(Table, IndicatorSeriesRow.__table__)
observations = cast(Table, IndicatorObservationRow.__table__)

LOADING = "loading"
ACTIVE = "active"
RETIRED = "retired"
FAILED = "failed"

#: Observations per write transaction while loading: large enough to amortise round trips and
#: commits, small enough that SQLite's write lock is released often for the bot's own transactions.
BATCH = 20_000
#: At most this many series per write transaction (series with few observations each).
SERIES_BATCH = 2_000
#: Series whose rows are deleted per transaction when a retired or failed load is removed.
DELETE_BATCH = 200
#: Seconds between switching a new load in and deleting the retired one's rows.
RETIRE_GRACE_SECONDS = 2.0


# --------------------------------------------------------------------------- JSON columns


def indicator_to_json(indicator: Indicator) -> str:
    return json.dumps(
        {
            "names": dict(indicator.names),
            "synonyms": {language: list(words) for language, words in indicator.synonyms.items()},
            "descriptions": dict(indicator.descriptions),
            "unit": dict(indicator.unit),
            "decimals": indicator.decimals,
            "dataflow": indicator.dataflow,
            "source": dict(indicator.source),
            "release": dict(indicator.release),
            "release_date": indicator.release_date.isoformat() if indicator.release_date else None,
            "link": indicator.link,
            "dimensions": [
                {
                    "id": d.id,
                    "names": dict(d.names),
                    "values": {code: dict(labels) for code, labels in d.values.items()},
                }
                for d in indicator.dimensions
            ],
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def indicator_from_json(code: str, topic: str | None, text: str) -> Indicator:
    data: dict[str, Any] = json.loads(text)
    return Indicator(
        code=code,
        topic=topic,
        names=data.get("names", {}),
        synonyms={language: tuple(words) for language, words in data.get("synonyms", {}).items()},
        descriptions=data.get("descriptions", {}),
        unit=data.get("unit", {}),
        decimals=int(data.get("decimals", 1)),
        dataflow=data.get("dataflow"),
        source=data.get("source", {}),
        release=data.get("release", {}),
        release_date=date.fromisoformat(data["release_date"]) if data.get("release_date") else None,
        link=data.get("link"),
        dimensions=tuple(
            Dimension(id=d["id"], names=d.get("names", {}), values=d.get("values", {}))
            for d in data.get("dimensions", [])
        ),
    )


def _compact(mapping: Mapping[str, str]) -> str:
    return json.dumps(dict(mapping), ensure_ascii=False, separators=(",", ":"), sort_keys=True)


# --------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class LoadSummary:
    load_id: int
    indicators: int
    series: int
    observations: int


@dataclass(frozen=True)
class LoadRecord:
    """One row of the load history (``baraza indicators list`` shows the active one)."""

    id: int
    status: str
    source: str
    started_at: datetime
    finished_at: datetime | None
    indicators: int
    series: int
    observations: int
    error: str | None


class IndicatorLoader:
    """Writes a whole catalogue and switches it in; see the module docstring."""

    def __init__(self, database: Database, *, retire_grace: float = RETIRE_GRACE_SECONDS) -> None:
        self.database = database
        self.retire_grace = retire_grace

    async def replace(
        self,
        catalogue: Iterable[Indicator] | Callable[[], Iterable[Indicator]],
        series: AsyncIterable[SeriesData] | Iterable[SeriesData],
        *,
        source: str,
        now: datetime,
    ) -> LoadSummary:
        """Store ``catalogue`` and ``series`` as a new load and make it the active one.

        ``catalogue`` may be a function called once every series has been read (a reader that
        learns the indicators' dimensions from the data). Series whose indicator is not in the
        catalogue are an error (raised before the switch). On any exception the new load is
        marked failed, its rows are removed and the exception propagates: the load in service
        stays in service.
        """
        async with self.database.transaction() as connection:
            result = await connection.execute(
                insert(loads).values(
                    status=LOADING, source=source, started_at=now, indicators=0, series=0, observations=0
                )
            )
            load_id = int(cast(Any, result).inserted_primary_key[0])
        try:
            summary = await self._write(load_id, catalogue, series)
        except BaseException as error:
            await self._discard(load_id, str(error) or type(error).__name__, now)
            raise
        async with self.database.transaction() as connection:
            previous = (await connection.execute(select(loads.c.id).where(loads.c.status == ACTIVE))).scalars().all()
            await connection.execute(update(loads).where(loads.c.status == ACTIVE).values(status=RETIRED))
            await connection.execute(
                update(loads)
                .where(loads.c.id == load_id)
                .values(
                    status=ACTIVE,
                    finished_at=now,
                    indicators=summary.indicators,
                    series=summary.series,
                    observations=summary.observations,
                )
            )
        if previous:
            # A reader that took the old load's id just before the switch may still be reading
            # its series (a snapshot, then observations): give it time before the rows go.
            await asyncio.sleep(self.retire_grace)
        for old in previous:
            await self._delete_rows(old)
        return summary

    async def _write(
        self,
        load_id: int,
        catalogue: Iterable[Indicator] | Callable[[], Iterable[Indicator]],
        all_series: AsyncIterable[SeriesData] | Iterable[SeriesData],
    ) -> LoadSummary:
        known: set[str] | None = None
        if not callable(catalogue):
            indicators_list = list(catalogue)
            known = {indicator.code for indicator in indicators_list}
        seen: set[str] = set()
        series_count = observation_count = 0
        pending: list[SeriesData] = []
        pending_observations = 0
        async with contextlib.aclosing(_each(all_series)) as items:
            async for item in items:
                if known is not None and item.indicator_code not in known:
                    raise ValueError(
                        f"series {item.key} belongs to indicator {item.indicator_code}, which has no metadata"
                    )
                seen.add(item.indicator_code)
                pending.append(item)
                series_count += 1
                pending_observations += len(item.observations)
                if pending_observations >= BATCH or len(pending) >= SERIES_BATCH:
                    observation_count += await self._write_series(load_id, pending)
                    pending, pending_observations = [], 0
        if pending:
            observation_count += await self._write_series(load_id, pending)
        if callable(catalogue):
            indicators_list = list(catalogue())
            codes = {indicator.code for indicator in indicators_list}
            unknown = sorted(seen - codes)
            if unknown:
                raise ValueError(f"series belong to indicator(s) {', '.join(unknown)}, which have no metadata")
        async with self.database.transaction() as connection:
            rows = [
                {"load_id": load_id, "code": i.code, "topic": i.topic, "metadata_json": indicator_to_json(i)}
                for i in indicators_list
            ]
            if rows:
                await connection.execute(insert(indicators), rows)
        return LoadSummary(load_id, len(indicators_list), series_count, observation_count)

    async def _write_series(self, load_id: int, batch: list[SeriesData]) -> int:
        """Insert a batch of series and their observations in one transaction; returns the count."""
        async with self.database.transaction() as connection:
            result = await connection.execute(
                insert(series_table).returning(series_table.c.id, sort_by_parameter_order=True),
                [
                    {
                        "load_id": load_id,
                        "indicator_code": item.indicator_code,
                        "series_key": item.key,
                        "dimensions_json": _compact(item.dimensions),
                        "attributes_json": _compact(item.attributes),
                    }
                    for item in batch
                ],
            )
            ids = [int(row[0]) for row in result]
            records = [
                (series_id, o.period, o.value, o.status)
                for series_id, item in zip(ids, batch, strict=True)
                for o in item.observations
            ]
            if not records:
                return 0
            if self.database.is_sqlite:
                # The driver's executemany: SQLAlchemy's per-row parameter handling would cost
                # more than SQLite's own insert at millions of rows.
                await connection.exec_driver_sql(
                    "INSERT INTO indicator_observations (series_id, time_period, value, status) VALUES (?, ?, ?, ?)",
                    records,
                )
            else:
                raw = await connection.get_raw_connection()
                # COPY, inside the same transaction: an order of magnitude faster than INSERTs.
                await cast(Any, raw.driver_connection).copy_records_to_table(
                    "indicator_observations",
                    records=records,
                    columns=["series_id", "time_period", "value", "status"],
                )
            return len(records)

    async def _discard(self, load_id: int, error: str, now: datetime) -> None:
        await self._delete_rows(load_id)
        async with self.database.transaction() as connection:
            await connection.execute(
                update(loads).where(loads.c.id == load_id).values(status=FAILED, finished_at=now, error=error[:2000])
            )

    async def _delete_rows(self, load_id: int) -> None:
        """Remove a load's data (a retired catalogue can hold millions of rows).

        On SQLite in steps, so the bot's own transactions get the write lock in between; on
        PostgreSQL, where readers and writers do not wait for each other, in one transaction.
        """
        if not self.database.is_sqlite:
            load_series = select(series_table.c.id).where(series_table.c.load_id == load_id).scalar_subquery()
            async with self.database.transaction() as connection:
                await connection.execute(delete(observations).where(observations.c.series_id.in_(load_series)))
                await connection.execute(delete(series_table).where(series_table.c.load_id == load_id))
                await connection.execute(delete(indicators).where(indicators.c.load_id == load_id))
            return
        while True:
            async with self.database.transaction() as connection:
                ids = (
                    (
                        await connection.execute(
                            select(series_table.c.id).where(series_table.c.load_id == load_id).limit(DELETE_BATCH)
                        )
                    )
                    .scalars()
                    .all()
                )
                if not ids:
                    await connection.execute(delete(indicators).where(indicators.c.load_id == load_id))
                    return
                await connection.execute(delete(observations).where(observations.c.series_id.in_(ids)))
                await connection.execute(delete(series_table).where(series_table.c.id.in_(ids)))

    async def history(self, limit: int = 20) -> list[LoadRecord]:
        async with self.database.reading() as connection:
            rows = (await connection.execute(select(loads).order_by(loads.c.id.desc()).limit(limit))).mappings().all()
        return [LoadRecord(**{key: row[key] for key in LoadRecord.__dataclass_fields__}) for row in rows]

    async def active(self) -> LoadRecord | None:
        """The load in service, or None before the first successful load."""
        async with self.database.reading() as connection:
            row = (
                (await connection.execute(select(loads).where(loads.c.status == ACTIVE).order_by(loads.c.id.desc())))
                .mappings()
                .first()
            )
        return None if row is None else LoadRecord(**{key: row[key] for key in LoadRecord.__dataclass_fields__})


async def _each(items: AsyncIterable[SeriesData] | Iterable[SeriesData]) -> AsyncGenerator[SeriesData, None]:
    """The items of either kind of iterable; a source generator is closed when this one is."""
    try:
        if isinstance(items, AsyncIterable):
            async for item in items:
                yield item
        else:
            for item in items:
                yield item
    finally:
        close = getattr(items, "aclose", None) or getattr(items, "close", None)
        if close is not None:
            result = close()
            if inspect.isawaitable(result):
                await result


# --------------------------------------------------------------------------- reading


class IndicatorRepository:
    """Reads the active catalogue; runs in the caller's transaction."""

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection

    async def active_load_id(self) -> int | None:
        """The id of the load in service (None before the first load): cheap, for cache checks."""
        return cast(
            int | None,
            (await self.connection.execute(select(func.max(loads.c.id)).where(loads.c.status == ACTIVE))).scalar(),
        )

    async def snapshot(self) -> CatalogueSnapshot | None:
        """The active catalogue's indicators and series (no observations), or None."""
        load_id = await self.active_load_id()
        if load_id is None:
            return None
        indicator_rows = await self.connection.execute(
            select(indicators.c.code, indicators.c.topic, indicators.c.metadata_json).where(
                indicators.c.load_id == load_id
            )
        )
        catalogue = {code: indicator_from_json(code, topic, text) for code, topic, text in indicator_rows}
        by_indicator: dict[str, list[Series]] = {}
        series_rows = await self.connection.execute(
            select(
                series_table.c.id,
                series_table.c.indicator_code,
                series_table.c.series_key,
                series_table.c.dimensions_json,
                series_table.c.attributes_json,
            )
            .where(series_table.c.load_id == load_id)
            .order_by(series_table.c.id)
        )
        for series_id, code, key, dimensions, attributes in series_rows:
            by_indicator.setdefault(code, []).append(
                Series(int(series_id), code, key, json.loads(dimensions), json.loads(attributes))
            )
        return CatalogueSnapshot(load_id, catalogue, {code: tuple(items) for code, items in by_indicator.items()})

    async def observations(self, series_id: int) -> tuple[Observation, ...]:
        """A series' observations in period order."""
        rows = await self.connection.execute(
            select(observations.c.time_period, observations.c.value, observations.c.status)
            .where(observations.c.series_id == series_id)
            .order_by(observations.c.time_period)
        )
        return tuple(Observation(period, value, status) for period, value, status in rows)

    async def latest_periods(self) -> dict[str, str]:
        """Indicator code → its most recent period with an observation, in the active load."""
        load_id = await self.active_load_id()
        if load_id is None:
            return {}
        rows = await self.connection.execute(
            select(series_table.c.indicator_code, func.max(observations.c.time_period))
            .join(observations, observations.c.series_id == series_table.c.id)
            .where(series_table.c.load_id == load_id)
            .group_by(series_table.c.indicator_code)
        )
        return {code: period for code, period in rows}


class StoredCatalogue:
    """The active catalogue read on a reading connection of its own, outside any bot transaction:
    what :class:`catalogue.cache.CatalogueCache` reads by itself."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def active_load_id(self) -> int | None:
        async with self.database.reading() as connection:
            return await IndicatorRepository(connection).active_load_id()

    async def snapshot(self) -> CatalogueSnapshot | None:
        # One read transaction (on SQLite a WAL snapshot): no write lock, writers go on meanwhile.
        async with self.database.reading() as connection:
            return await IndicatorRepository(connection).snapshot()
