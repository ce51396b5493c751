"""The indicator catalogue at rest: loads written beside the data in service, switched in at once.

:class:`IndicatorLoader` writes a new load (``loading``) in chunks, outside any bot transaction,
then makes it ``active`` and the previous one ``retired`` in ONE transaction: a reader sees the
old catalogue or the new one, never a mix. A load that fails is marked ``failed`` and its rows
removed; the active load is untouched. Retired loads' rows are deleted afterwards.

:class:`IndicatorRepository` reads the active load inside a caller's transaction, like every
repository.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, Iterable, Mapping
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

#: Rows per INSERT batch while loading: large enough to amortise round trips, small enough that
#: SQLite's write lock is released often for the bot's own transactions.
BATCH = 5000


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

    def __init__(self, database: Database) -> None:
        self.database = database

    async def replace(
        self,
        catalogue: Iterable[Indicator],
        series: AsyncIterable[SeriesData] | Iterable[SeriesData],
        *,
        source: str,
        now: datetime,
    ) -> LoadSummary:
        """Store ``catalogue`` and ``series`` as a new load and make it the active one.

        Series whose indicator is not in ``catalogue`` are an error (raised before the switch).
        On any exception the new load is marked failed, its rows are removed and the exception
        propagates: the load in service stays in service.
        """
        async with self.database.transaction() as connection:
            result = await connection.execute(
                insert(loads).values(
                    status=LOADING, source=source, started_at=now, indicators=0, series=0, observations=0
                )
            )
            load_id = int(cast(Any, result).inserted_primary_key[0])
        try:
            summary = await self._write(load_id, list(catalogue), series)
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
        for old in previous:
            await self._delete_rows(old)
        return summary

    async def _write(
        self, load_id: int, catalogue: list[Indicator], all_series: AsyncIterable[SeriesData] | Iterable[SeriesData]
    ) -> LoadSummary:
        known = {indicator.code for indicator in catalogue}
        async with self.database.transaction() as connection:
            rows = [
                {"load_id": load_id, "code": i.code, "topic": i.topic, "metadata_json": indicator_to_json(i)}
                for i in catalogue
            ]
            if rows:
                await connection.execute(insert(indicators), rows)
        series_count = observation_count = 0
        pending: list[SeriesData] = []

        async def flush() -> None:
            nonlocal observation_count
            async with self.database.transaction() as connection:
                for item in pending:
                    result = await connection.execute(
                        insert(series_table).values(
                            load_id=load_id,
                            indicator_code=item.indicator_code,
                            series_key=item.key,
                            dimensions_json=_compact(item.dimensions),
                            attributes_json=_compact(item.attributes),
                        )
                    )
                    series_id = int(cast(Any, result).inserted_primary_key[0])
                    rows = [
                        {"series_id": series_id, "time_period": o.period, "value": o.value, "status": o.status}
                        for o in item.observations
                    ]
                    for start in range(0, len(rows), BATCH):
                        await connection.execute(insert(observations), rows[start : start + BATCH])
                    observation_count += len(rows)
            pending.clear()

        async for item in _each(all_series):
            if item.indicator_code not in known:
                raise ValueError(f"series {item.key} belongs to indicator {item.indicator_code}, which has no metadata")
            pending.append(item)
            series_count += 1
            if sum(len(p.observations) for p in pending) >= BATCH:
                await flush()
        if pending:
            await flush()
        return LoadSummary(load_id, len(catalogue), series_count, observation_count)

    async def _discard(self, load_id: int, error: str, now: datetime) -> None:
        await self._delete_rows(load_id)
        async with self.database.transaction() as connection:
            await connection.execute(
                update(loads).where(loads.c.id == load_id).values(status=FAILED, finished_at=now, error=error[:2000])
            )

    async def _delete_rows(self, load_id: int) -> None:
        """Remove a load's data in steps (a retired catalogue can hold millions of rows)."""
        while True:
            async with self.database.transaction() as connection:
                ids = (
                    (
                        await connection.execute(
                            select(series_table.c.id).where(series_table.c.load_id == load_id).limit(200)
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


async def _each(items: AsyncIterable[SeriesData] | Iterable[SeriesData]) -> AsyncIterable[SeriesData]:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item


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
