"""The indicator store: a new load replaces the one in service at once, a failed load changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from catalogue.model import Dimension, Indicator, Observation, SeriesData
from storage.database import Database
from storage.indicators import IndicatorLoader
from storage.repositories import Repositories

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
REGION = Dimension("REF_AREA", {"en": "Region", "fr": "Région"}, {"N": {"en": "Northern", "fr": "Nord"}})
CPI = Indicator(
    code="CPI_YOY",
    names={"en": "Inflation rate", "fr": "Taux d'inflation"},
    synonyms={"en": ("inflation", "consumer prices")},
    unit={"en": "%"},
    decimals=1,
    dimensions=(REGION,),
)


def _series(value: float) -> SeriesData:
    return SeriesData(
        "CPI_YOY",
        "M.N",
        {"FREQ": "M", "REF_AREA": "N"},
        (Observation("2026-09", value - 0.2, "A"), Observation("2026-10", value, "P")),
        {"UNIT_MEASURE": "PC"},
    )


async def test_a_new_load_replaces_the_catalogue_and_a_failed_one_changes_nothing(database: Database) -> None:
    loader = IndicatorLoader(database)
    first = await loader.replace([CPI], [_series(4.1)], source="first", now=NOW)
    assert (first.indicators, first.series, first.observations) == (1, 1, 2)

    def broken() -> list[SeriesData]:
        return [_series(9.9), SeriesData("UNKNOWN", "X", {}, ())]

    with pytest.raises(ValueError, match="no metadata"):
        await loader.replace([CPI], broken(), source="broken", now=NOW)
    async with database.transaction() as connection:
        snapshot = await Repositories(connection).indicators.snapshot()
        assert snapshot is not None and snapshot.load_id == first.load_id
        assert snapshot.indicators["CPI_YOY"] == CPI
        (series,) = snapshot.series_of("CPI_YOY")
        assert series.dimensions == {"FREQ": "M", "REF_AREA": "N"}
        values = await Repositories(connection).indicators.observations(series.id)
        assert [o.value for o in values] == [pytest.approx(3.9), 4.1]

    second = await loader.replace([CPI], [_series(5.0)], source="second", now=NOW)
    async with database.transaction() as connection:
        repository = Repositories(connection).indicators
        snapshot = await repository.snapshot()
        assert snapshot is not None and snapshot.load_id == second.load_id
        (series,) = snapshot.series_of("CPI_YOY")
        assert (await repository.observations(series.id))[-1] == Observation("2026-10", 5.0, "P")
    history = await loader.history()
    assert [(h.source, h.status) for h in history] == [
        ("second", "active"),
        ("broken", "failed"),
        ("first", "retired"),
    ]
