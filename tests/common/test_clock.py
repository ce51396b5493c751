"""The one clock: UTC now, and ISO dates and times read as stored (UTC)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from common.clock import as_utc, parse_date, parse_datetime, start_of_day, utc_now


def test_now_is_aware_and_in_utc() -> None:
    before = datetime.now(UTC)
    now = utc_now()
    assert now.tzinfo is UTC
    assert before <= now <= datetime.now(UTC)


def test_a_naive_time_is_taken_as_utc_and_an_aware_one_is_converted() -> None:
    assert as_utc(datetime(2026, 5, 4, 10, 30)) == datetime(2026, 5, 4, 10, 30, tzinfo=UTC)
    nairobi = timezone(timedelta(hours=3))
    converted = as_utc(datetime(2026, 5, 4, 13, 30, tzinfo=nairobi))
    assert converted.tzinfo is UTC and converted == datetime(2026, 5, 4, 10, 30, tzinfo=UTC)
    assert (converted.hour, converted.minute) == (10, 30)
    assert as_utc(None) is None


def test_a_day_starts_at_midnight_utc() -> None:
    assert start_of_day(date(2026, 12, 31)) == datetime(2026, 12, 31, tzinfo=UTC)


def test_iso_dates_and_times_are_read_or_refused_with_none() -> None:
    assert parse_date("2026-05-04") == date(2026, 5, 4)
    assert parse_date("2026-13-01") is None
    assert parse_date("tomorrow") is None
    assert parse_datetime("2026-05-04T10:30") == datetime(2026, 5, 4, 10, 30)
    assert parse_datetime("2026-05-04T10:30Z") == datetime(2026, 5, 4, 10, 30, tzinfo=UTC)
    assert parse_datetime("2026-05-04 10:30+03:00") == datetime(2026, 5, 4, 7, 30, tzinfo=UTC)
    assert parse_datetime("10:30 tomorrow") is None
