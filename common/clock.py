"""The one clock: now in UTC, and the reading of ISO dates and times as Baraza stores them (UTC).

Stored times are UTC everywhere (SQLite keeps them without a zone), so a time given without a
zone is taken as UTC and every time handed on carries ``tzinfo=UTC``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import overload


def utc_now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


@overload
def as_utc(moment: datetime) -> datetime: ...
@overload
def as_utc(moment: None) -> None: ...
def as_utc(moment: datetime | None) -> datetime | None:
    """``moment`` in UTC; a naive one (as SQLite returns them) is taken to be UTC already."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def start_of_day(day: date) -> datetime:
    """Midnight UTC at the start of ``day``."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def parse_date(text: str) -> date | None:
    """An ISO date (``2026-05-04``), or None if ``text`` is not one."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def parse_datetime(text: str) -> datetime | None:
    """An ISO date and time (``2026-05-04T10:30``, ``...+03:00``, ``...Z``) as written, or None
    if ``text`` is not one; :func:`as_utc` makes it UTC."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None
