"""The audit trail's table: rows appended and read back with filters and pages, and refused
UPDATE and DELETE (and TRUNCATE on PostgreSQL) on both backends, even as raw SQL."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from storage import audit
from storage.audit import AuditFilter
from storage.database import Database

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


async def _fill(database: Database) -> None:
    async with database.transaction() as connection:
        await audit.record(connection, actor="amina", action=audit.SIGN_IN, now=T0, details={"address": "10.0.0.1"})
        await audit.record(
            connection,
            actor="amina",
            action=audit.BROADCAST_STORED,
            now=T0 + timedelta(minutes=1),
            target="broadcast:1",
            details={"recipients": 3, "send_at": None},
        )
        await audit.record(
            connection,
            actor="cli:ops",
            action=audit.EXPORT,
            now=T0 + timedelta(days=1),
            target="survey:usat2026",
            details={"format": "csv", "since": "2026-01-01", "rows": 12},
        )


async def test_rows_come_back_newest_first_with_filters_and_pages(database: Database) -> None:
    await _fill(database)
    async with database.reading() as connection:
        everything = await audit.events(connection)
        assert [event.action for event in everything] == [audit.EXPORT, audit.BROADCAST_STORED, audit.SIGN_IN]
        assert everything[1].details == {"recipients": "3"}  # None left out, values as text
        assert everything[1].at == T0 + timedelta(minutes=1)
        assert everything[0].target == "survey:usat2026"
        assert await audit.count(connection, AuditFilter(actor="amina")) == 2
        assert [e.action for e in await audit.events(connection, AuditFilter(action=audit.EXPORT))] == [audit.EXPORT]
        day_one = AuditFilter(since=T0, until=T0 + timedelta(hours=1))
        assert [e.action for e in await audit.events(connection, day_one)] == [audit.BROADCAST_STORED, audit.SIGN_IN]
        second_page = await audit.events(connection, limit=2, offset=2)
        assert [e.action for e in second_page] == [audit.SIGN_IN]
        assert await audit.actors(connection) == ["amina", "cli:ops"]


async def test_an_unknown_action_is_refused(database: Database) -> None:
    async with database.transaction() as connection:
        with pytest.raises(ValueError, match="unknown audit action"):
            await audit.record(connection, actor="amina", action="made_coffee", now=T0)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET actor = 'someone else'",
        "DELETE FROM audit_events",
        "DELETE FROM audit_events WHERE action = 'sign_in'",
    ],
)
async def test_rows_cannot_be_changed_or_deleted(database: Database, statement: str) -> None:
    await _fill(database)
    with pytest.raises((IntegrityError, DBAPIError), match="append-only"):
        async with database.transaction() as connection:
            await connection.execute(text(statement))
    async with database.reading() as connection:
        rows = await audit.events(connection)
    assert len(rows) == 3
    assert {event.actor for event in rows} == {"amina", "cli:ops"}


async def test_postgresql_refuses_truncate_too(database: Database) -> None:
    if database.is_sqlite:
        pytest.skip("SQLite has no TRUNCATE (DELETE without WHERE is refused above)")
    await _fill(database)
    with pytest.raises(DBAPIError, match="append-only"):
        async with database.transaction() as connection:
            await connection.execute(text("TRUNCATE audit_events"))
    async with database.reading() as connection:
        assert await audit.count(connection) == 3


async def test_the_csv_export_is_oldest_first_and_neutralises_formulas(database: Database) -> None:
    await _fill(database)
    async with database.transaction() as connection:
        await audit.record(
            connection, actor="=cmd|' /C calc'!A0", action=audit.SIGN_IN_FAILED, now=T0 + timedelta(days=2)
        )
    out = io.StringIO()
    written = await audit.write_csv(database, AuditFilter(), out)
    lines = out.getvalue().splitlines()
    assert written == 4
    assert lines[0] == "id,at,actor,action,target,details"
    assert lines[1].startswith("1,2026-05-04T09:00:00+00:00,amina,sign_in,,")
    assert lines[4].split(",")[2].startswith("'=cmd")
    only_exports = io.StringIO()
    assert await audit.write_csv(database, AuditFilter(action=audit.EXPORT), only_exports) == 1
    assert "survey:usat2026" in only_exports.getvalue()
