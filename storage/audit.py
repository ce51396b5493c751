"""The staff audit trail: who did what, when, in one append-only table.

Every staff action is recorded by :func:`record`, called where the action is performed, in the
action's own transaction (the action and its audit row commit together or not at all):

* signing in (and failing to), signing out: :mod:`bot.admin.login`;
* storing and cancelling a broadcast: :mod:`handlers.broadcast_actions`;
* answering, taking, assigning and closing a data request, closing a message: :mod:`handlers.request_desk`;
* an export (dashboard download or ``baraza export``/``contacts export``) with its filters;
* adding and removing accounts, passwords and roles: ``baraza staff`` (:mod:`bot.cli.staff`);
* importing a survey (``baraza survey import``).

``actor`` is the staff account name, or ``cli:<operating-system user>`` for the command line.
``target`` names the object (``broadcast:12``, ``request:5``, ``survey:usat2026``,
``account:amina``); ``details`` are short strings (filters, counts, a reason), never a citizen's
personal data: ids and pseudonyms only. The table refuses UPDATE and DELETE (triggers on
SQLite and PostgreSQL, also TRUNCATE on PostgreSQL; migration 0007): a row once written stays.
"""

from __future__ import annotations

import csv
import getpass
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, TextIO, cast

from sqlalchemy import Select, Table, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from common.clock import as_utc
from storage.database import Database
from storage.exports import ExportOptions
from storage.models import AuditEventRow

audit_events = cast(Table, AuditEventRow.__table__)

# What staff did (the ``action`` column).
SIGN_IN = "sign_in"
SIGN_IN_FAILED = "sign_in_failed"
SIGN_OUT = "sign_out"
BROADCAST_STORED = "broadcast_stored"
BROADCAST_CANCELLED = "broadcast_cancelled"
BROADCAST_RESENT = "broadcast_resent"
REQUEST_ANSWERED = "request_answered"
REQUEST_IN_PROGRESS = "request_in_progress"
REQUEST_ASSIGNED = "request_assigned"
REQUEST_CLOSED = "request_closed"
MESSAGE_CLOSED = "message_closed"
EXPORT = "export"
ACCOUNT_ADDED = "account_added"
ACCOUNT_REMOVED = "account_removed"
# An action name, not a password:
PASSWORD_CHANGED = "password_changed"  # noqa: S105  # nosec B105
ROLE_CHANGED = "role_changed"
SURVEY_IMPORTED = "survey_imported"
KEY_ROTATED = "key_rotated"
RESULTS_PUBLISHED = "results_published"
RESULTS_WITHDRAWN = "results_withdrawn"
ACTIONS = (
    SIGN_IN,
    SIGN_IN_FAILED,
    SIGN_OUT,
    BROADCAST_STORED,
    BROADCAST_CANCELLED,
    BROADCAST_RESENT,
    REQUEST_ANSWERED,
    REQUEST_IN_PROGRESS,
    REQUEST_ASSIGNED,
    REQUEST_CLOSED,
    MESSAGE_CLOSED,
    EXPORT,
    ACCOUNT_ADDED,
    ACCOUNT_REMOVED,
    PASSWORD_CHANGED,
    ROLE_CHANGED,
    SURVEY_IMPORTED,
    KEY_ROTATED,
    RESULTS_PUBLISHED,
    RESULTS_WITHDRAWN,
)
#: The columns of ``baraza audit export``.
CSV_COLUMNS = ("id", "at", "actor", "action", "target", "details")
MAX_DETAIL = 300


def cli_actor() -> str:
    """The actor of a command-line action: ``cli:`` and the operating-system user."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"cli:{user}"[:120]


@dataclass(frozen=True)
class AuditEvent:
    id: int
    at: datetime
    actor: str
    action: str
    target: str | None
    details: Mapping[str, str]


@dataclass(frozen=True)
class AuditFilter:
    """Which rows to show or export; None matches everything. ``since`` inclusive, ``until`` exclusive."""

    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


async def record(
    connection: AsyncConnection,
    *,
    actor: str,
    action: str,
    now: datetime,
    target: str | None = None,
    details: Mapping[str, object] | None = None,
) -> None:
    """Append one row, in the caller's transaction. ``details`` values are stored as strings
    (None left out, each cut to 300 characters)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    kept = {key: str(value)[:MAX_DETAIL] for key, value in (details or {}).items() if value is not None}
    await connection.execute(
        audit_events.insert().values(
            at=now.astimezone(UTC),
            actor=actor[:120] or "unknown",
            action=action,
            target=None if target is None else target[:200],
            details=json.dumps(kept, ensure_ascii=False, sort_keys=True),
        )
    )


def export_details(what: str, fmt: str, rows: int | None, options: ExportOptions | None = None) -> dict[str, object]:
    """The details of an :data:`EXPORT`: what, the format, the rows written and every filter
    that differs from the default (``since``, ``until``, ``complete_only``...)."""
    details: dict[str, object] = {"what": what, "format": fmt, "rows": rows}
    if options is not None:
        for field in fields(options):
            value = getattr(options, field.name)
            if value != field.default:
                details[field.name] = value.isoformat() if isinstance(value, datetime) else value
    return details


async def record_in(
    database: Database,
    *,
    actor: str,
    action: str,
    now: datetime,
    target: str | None = None,
    details: Mapping[str, object] | None = None,
) -> None:
    """:func:`record` in a transaction of its own (for actions that wrote nothing, such as an export)."""
    async with database.transaction() as connection:
        await record(connection, actor=actor, action=action, now=now, target=target, details=details)


def _where(query: Select[Any], chosen: AuditFilter) -> Select[Any]:
    if chosen.actor:
        query = query.where(audit_events.c.actor == chosen.actor)
    if chosen.action:
        query = query.where(audit_events.c.action == chosen.action)
    if chosen.since is not None:
        query = query.where(audit_events.c.at >= chosen.since.astimezone(UTC))
    if chosen.until is not None:
        query = query.where(audit_events.c.at < chosen.until.astimezone(UTC))
    return query


def _event(row: Any) -> AuditEvent:
    try:
        details = json.loads(row.details)
    except ValueError:
        details = {}
    return AuditEvent(
        id=int(row.id),
        at=as_utc(row.at),
        actor=row.actor,
        action=row.action,
        target=row.target,
        details={str(key): str(value) for key, value in details.items()} if isinstance(details, dict) else {},
    )


async def count(connection: AsyncConnection, chosen: AuditFilter = AuditFilter()) -> int:
    return int((await connection.execute(_where(select(func.count()).select_from(audit_events), chosen))).scalar_one())


async def events(
    connection: AsyncConnection, chosen: AuditFilter = AuditFilter(), *, limit: int = 50, offset: int = 0
) -> list[AuditEvent]:
    """One page of rows, newest first."""
    query = _where(select(audit_events), chosen).order_by(audit_events.c.id.desc()).limit(limit).offset(offset)
    return [_event(row) for row in await connection.execute(query)]


async def actors(connection: AsyncConnection) -> list[str]:
    """Everyone who appears in the trail (for the dashboard's filter)."""
    rows = await connection.execute(select(audit_events.c.actor).distinct().order_by(audit_events.c.actor))
    return [row.actor for row in rows]


async def all_events(database: Database, chosen: AuditFilter = AuditFilter()) -> AsyncIterator[AuditEvent]:
    """Every chosen row, oldest first, streamed from a reading connection."""
    async with database.reading() as connection:
        result = await connection.stream(_where(select(audit_events), chosen).order_by(audit_events.c.id))
        async for row in result:
            yield _event(row)


def _cell(value: str) -> str:
    """A CSV cell a spreadsheet will not run as a formula (OWASP: a leading quote)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def csv_row(event: AuditEvent) -> list[str]:
    """One row of the CSV export (:data:`CSV_COLUMNS`, ``details`` as JSON)."""
    details = json.dumps(dict(event.details), ensure_ascii=False, sort_keys=True)
    cells = (str(event.id), event.at.isoformat(), event.actor, event.action, event.target or "", details)
    return [_cell(cell) for cell in cells]


async def write_csv(database: Database, chosen: AuditFilter, out: TextIO) -> int:
    """Write the chosen rows as CSV, oldest first; returns how many."""
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    written = 0
    async for event in all_events(database, chosen):
        writer.writerow(csv_row(event))
        written += 1
    return written
