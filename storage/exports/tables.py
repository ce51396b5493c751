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
#: One exported column and the SQL expression it is read from.
Field = tuple[str, str, Kind, Any]


def _person_table(
    name: str,
    database: Database,
    pseudonymize: Pseudonymize,
    contact_id: Any,
    fields: Sequence[Field],
    *,
    order_by: Sequence[Any],
    joins: Sequence[tuple[Any, Any]] = (),
) -> Table:
    """The table ``name``: the pseudonym of the person (the contact ``contact_id`` points to; empty
    when they deleted their data), then ``fields``, in ``order_by`` order."""
    statement = select(ContactRow.channel, ContactRow.user_key, *(field[3] for field in fields))
    for target, on in joins:
        statement = statement.join(target, on)
    statement = statement.outerjoin(ContactRow, ContactRow.id == contact_id).order_by(*order_by)
    columns = _columns(PERSON, *(field[:3] for field in fields))
    return Table(name, columns, _streamed(database, statement, lambda record: _simple(record, pseudonymize)))


async def data_requests(database: Database, pseudonymize: Pseudonymize) -> Table:
    r = DataRequestRow
    fields: tuple[Field, ...] = (
        ("request_id", "Ticket number", Kind.INTEGER, r.id),
        ("channel", "Channel", Kind.TEXT, r.channel),
        ("language", "Language", Kind.TEXT, r.language),
        ("user_group", "User group when asked", Kind.TEXT, r.user_group),
        ("source", "Where the request came from", Kind.TEXT, r.source),
        ("text", "The request", Kind.TEXT, r.text),
        ("status", "Status", Kind.TEXT, r.status),
        ("assigned_to", "Assigned to", Kind.TEXT, r.assigned_to),
        ("created_at", "Created (UTC)", Kind.DATETIME, r.created_at),
        ("updated_at", "Updated (UTC)", Kind.DATETIME, r.updated_at),
        ("answered_at", "Answered (UTC)", Kind.DATETIME, r.answered_at),
        ("closed_at", "Closed (UTC)", Kind.DATETIME, r.closed_at),
    )
    return _person_table("data_requests", database, pseudonymize, r.contact_id, fields, order_by=(r.id,))


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
    f = FeedbackRow
    fields: tuple[Field, ...] = (
        ("feedback_id", "Feedback number", Kind.INTEGER, f.id),
        ("channel", "Channel", Kind.TEXT, f.channel),
        ("kind", "Kind of message", Kind.TEXT, f.kind),
        ("broadcast_id", "Broadcast replied to", Kind.INTEGER, f.broadcast_id),
        ("text", "Message", Kind.TEXT, f.text),
        ("received_at", "Received (UTC)", Kind.DATETIME, f.received_at),
        ("status", "Status", Kind.TEXT, f.status),
    )
    return _person_table("feedback", database, pseudonymize, f.contact_id, fields, order_by=(f.id,))


async def deliveries(database: Database, pseudonymize: Pseudonymize) -> Table:
    d = DeliveryRow
    fields: tuple[Field, ...] = (
        ("broadcast_id", "Broadcast", Kind.INTEGER, d.broadcast_id),
        ("broadcast_title", "Broadcast title", Kind.TEXT, BroadcastRow.title),
        ("channel", "Channel", Kind.TEXT, d.channel),
        ("language", "Language sent", Kind.TEXT, d.language),
        ("status", "Delivery status", Kind.TEXT, d.status),
        ("attempts", "Attempts", Kind.INTEGER, d.attempts),
        ("error", "Last error", Kind.TEXT, d.error),
        ("sent_at", "Sent (UTC)", Kind.DATETIME, d.sent_at),
    )
    return _person_table(
        "deliveries",
        database,
        pseudonymize,
        d.contact_id,
        fields,
        order_by=(d.broadcast_id, d.id),
        joins=((BroadcastRow, BroadcastRow.id == d.broadcast_id),),
    )


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
