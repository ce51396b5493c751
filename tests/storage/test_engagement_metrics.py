"""The engagement metrics that compute a whole trend in one query give, window by window, what
the one-window function gives; and every metric of the registry answers on an empty database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from handlers.engagement import month_windows
from storage.database import Database
from storage.engagement import METRICS, MetricParams, WorkingDays
from testkit.engagement import seed_engagement

NOW = datetime(2027, 3, 17, 12, 0, tzinfo=UTC)
PARAMS = MetricParams(survey="usat2026", question="sat_overall", good=("4", "5"), working_days=WorkingDays())


async def test_a_series_gives_each_window_what_the_single_window_function_gives(database: Database) -> None:
    await seed_engagement(database, NOW)
    windows = [(NOW - timedelta(days=90), NOW), *month_windows(NOW)]
    async with database.reading() as connection:
        for metric in METRICS.values():
            series = await metric.values(connection, PARAMS, windows)
            one_by_one = [await metric.compute(connection, PARAMS, since, until) for since, until in windows]
            assert series == one_by_one, metric.name
            if metric.name != "contacts_reached":  # the seeded deliveries name no contact
                assert any(value for value in series), f"{metric.name}: the seeded data give it values"


async def test_every_metric_answers_on_an_empty_database(database: Database) -> None:
    async with database.reading() as connection:
        for metric in METRICS.values():
            value = await metric.compute(connection, PARAMS, NOW - timedelta(days=90), NOW)
            assert value in (None, 0.0), metric.name
