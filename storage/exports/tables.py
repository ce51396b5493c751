"""Exports of the tables beside the survey responses: data requests and their messages,
feedback, broadcast deliveries, the contacts register and indicator ratings.

People appear only as the same keyed pseudonym as in survey exports (``person``), never with
their platform id or chat id; the contacts register holds consenting contacts only. Rows are
read in batches from a server-side cursor.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy import select

from storage.contacts_export import CONTACT_COLUMNS, contact_rows
from storage.database import Database
from storage.exports.responses import iso_utc
from storage.exports.table import Column, Kind, Row, Table
from storage.models import (
    BroadcastRow,
    ContactRow,
    DataRequestMessageRow,
    DataRequestRow,
    DeliveryRow,
    FeedbackRow,
    IndicatorRatingRow,
)

BATCH_SIZE = 2000
Pseudonymize = Callable[[str, str], str]


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if hasattr(value, "strftime"):
        return iso_utc(value)
    return str(value)


def _person(pseudonymize: Pseudonymize, channel: str | None, user_key: str | None) -> str | None:
    return pseudonymize(channel, user_key) if channel is not None and user_key is not None else None


def _streamed(database: Database, statement: Any, convert: Callable[[Any], Row]) -> Callable[[], AsyncIterator[Row]]:
    async def rows() -> AsyncIterator[Row]:
        async with database.reading() as connection:
            result = await connection.stream(statement.execution_options(yield_per=BATCH_SIZE))
            async for record in result:
                yield convert(record)

    return rows


def _simple(record: Sequence[Any], pseudonymize: Pseudonymize) -> Row:
    """A record whose first two fields are the person's (channel, user key)."""
    return [_person(pseudonymize, record[0], record[1]), *(_text(value) for value in record[2:])]


def _columns(*spec: tuple[str, str, Kind]) -> tuple[Column, ...]:
    return tuple(Column(name, label, kind) for name, label, kind in spec)


PERSON = ("person", "Pseudonym of the person (as respondent in survey exports)", Kind.TEXT)


async def data_requests(database: Database, pseudonymize: Pseudonymize) -> Table:
    columns = _columns(
        PERSON,
        ("request_id", "Ticket number", Kind.INTEGER),
        ("channel", "Channel", Kind.TEXT),
        ("language", "Language", Kind.TEXT),
        ("user_group", "User group when asked", Kind.TEXT),
        ("source", "Where the request came from", Kind.TEXT),
        ("text", "The request", Kind.TEXT),
        ("status", "Status", Kind.TEXT),
        ("assigned_to", "Assigned to", Kind.TEXT),
        ("created_at", "Created (UTC)", Kind.DATETIME),
        ("updated_at", "Updated (UTC)", Kind.DATETIME),
        ("answered_at", "Answered (UTC)", Kind.DATETIME),
        ("closed_at", "Closed (UTC)", Kind.DATETIME),
    )
    r = DataRequestRow
    statement = (
        select(
            ContactRow.channel,
            ContactRow.user_key,
            r.id,
            r.channel,
            r.language,
            r.user_group,
            r.source,
            r.text,
            r.status,
            r.assigned_to,
            r.created_at,
            r.updated_at,
            r.answered_at,
            r.closed_at,
        )
        .outerjoin(ContactRow, ContactRow.id == r.contact_id)
        .order_by(r.id)
    )
    return Table("data_requests", columns, _streamed(database, statement, lambda rec: _simple(rec, pseudonymize)))


async def data_request_messages(database: Database, pseudonymize: Pseudonymize) -> Table:
    columns = _columns(
        ("request_id", "Ticket number", Kind.INTEGER),
        ("message_id", "Message number", Kind.INTEGER),
        ("author", "Who wrote it (user or staff)", Kind.TEXT),
        ("staff", "Staff member", Kind.TEXT),
        ("text", "Message", Kind.TEXT),
        ("created_at", "Written (UTC)", Kind.DATETIME),
    )
    m = DataRequestMessageRow
    statement = select(m.request_id, m.id, m.author, m.staff, m.text, m.created_at).order_by(m.request_id, m.id)
    return Table("data_request_messages", columns, _streamed(database, statement, lambda rec: [_text(v) for v in rec]))


async def feedback(database: Database, pseudonymize: Pseudonymize) -> Table:
    columns = _columns(
        PERSON,
        ("feedback_id", "Feedback number", Kind.INTEGER),
        ("channel", "Channel", Kind.TEXT),
        ("kind", "Kind of message", Kind.TEXT),
        ("broadcast_id", "Broadcast replied to", Kind.INTEGER),
        ("text", "Message", Kind.TEXT),
        ("received_at", "Received (UTC)", Kind.DATETIME),
        ("status", "Status", Kind.TEXT),
    )
    f = FeedbackRow
    statement = (
        select(
            ContactRow.channel,
            ContactRow.user_key,
            f.id,
            f.channel,
            f.kind,
            f.broadcast_id,
            f.text,
            f.received_at,
            f.status,
        )
        .outerjoin(ContactRow, ContactRow.id == f.contact_id)
        .order_by(f.id)
    )
    return Table("feedback", columns, _streamed(database, statement, lambda rec: _simple(rec, pseudonymize)))


async def deliveries(database: Database, pseudonymize: Pseudonymize) -> Table:
    columns = _columns(
        PERSON,
        ("broadcast_id", "Broadcast", Kind.INTEGER),
        ("broadcast_title", "Broadcast title", Kind.TEXT),
        ("channel", "Channel", Kind.TEXT),
        ("language", "Language sent", Kind.TEXT),
        ("status", "Delivery status", Kind.TEXT),
        ("attempts", "Attempts", Kind.INTEGER),
        ("error", "Last error", Kind.TEXT),
        ("sent_at", "Sent (UTC)", Kind.DATETIME),
    )
    d = DeliveryRow
    statement = (
        select(
            ContactRow.channel,
            ContactRow.user_key,
            d.broadcast_id,
            BroadcastRow.title,
            d.channel,
            d.language,
            d.status,
            d.attempts,
            d.error,
            d.sent_at,
        )
        .join(BroadcastRow, BroadcastRow.id == d.broadcast_id)
        .outerjoin(ContactRow, ContactRow.id == d.contact_id)
        .order_by(d.broadcast_id, d.id)
    )
    return Table("deliveries", columns, _streamed(database, statement, lambda rec: _simple(rec, pseudonymize)))


async def indicator_ratings(database: Database, pseudonymize: Pseudonymize) -> Table:
    columns = _columns(
        PERSON,
        ("indicator_code", "Indicator", Kind.TEXT),
        ("series_key", "Series", Kind.TEXT),
        ("useful", "Found it useful", Kind.BOOLEAN),
        ("rated_at", "Rated (UTC)", Kind.DATETIME),
    )
    i = IndicatorRatingRow

    def convert(record: Any) -> Row:
        person = _person(pseudonymize, record[0], record[1])
        return [person, record[2], record[3], "true" if record[4] else "false", iso_utc(record[5])]

    statement = (
        select(ContactRow.channel, ContactRow.user_key, i.indicator_code, i.series_key, i.useful, i.rated_at)
        .outerjoin(ContactRow, ContactRow.id == i.contact_id)
        .order_by(i.id)
    )
    return Table("indicator_ratings", columns, _streamed(database, statement, convert))


async def contacts(database: Database, pseudonymize: Pseudonymize) -> Table:
    kinds = {"consent_at": Kind.DATETIME, "first_seen_at": Kind.DATETIME, "last_seen_at": Kind.DATETIME,
             "opted_out": Kind.BOOLEAN, "blocked": Kind.BOOLEAN}  # fmt: skip
    columns = tuple(Column(name, name.replace("_", " "), kinds.get(name, Kind.TEXT)) for name in CONTACT_COLUMNS)

    async def rows() -> AsyncIterator[Row]:
        async for row in contact_rows(database, pseudonymize):
            yield [value or None for value in row]

    return Table("contacts", columns, rows)


TABLES: dict[str, Callable[[Database, Pseudonymize], Awaitable[Table]]] = {
    "data-requests": data_requests,
    "data-request-messages": data_request_messages,
    "feedback": feedback,
    "deliveries": deliveries,
    "contacts": contacts,
    "indicator-ratings": indicator_ratings,
}


async def table_export(name: str, database: Database, pseudonymize: Pseudonymize) -> Table:
    """The table ``name`` (one of :data:`TABLES`) ready to be written."""
    return await TABLES[name](database, pseudonymize)
