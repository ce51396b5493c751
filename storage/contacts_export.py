"""Export of the contacts register, streamed from the database.

Only contacts who gave their consent are exported, and never with their platform id: the
``pseudonym`` column is the same keyed hash as the ``respondent`` column of survey exports,
so the two can be joined without knowing who anyone is. Rows are read in batches from a
server-side cursor, so memory does not grow with the number of contacts.
"""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TextIO

from sqlalchemy import select

from common.csv_cells import neutralised_row
from storage.database import Database
from storage.exports.responses import iso_utc
from storage.models import ContactRow, SubscriptionRow

CONTACT_COLUMNS = (
    "pseudonym",
    "channel",
    "language",
    "user_group",
    "region",
    "organisation",
    "consent_at",
    "first_seen_at",
    "last_seen_at",
    "topics",
    "opted_out",
    "blocked",
)
BATCH_SIZE = 2000


async def contact_rows(database: Database, pseudonymize: Callable[[str, str], str]) -> AsyncIterator[Sequence[str]]:
    """Yield one row of strings per consenting contact, in the order they were registered."""
    statement = (
        select(
            ContactRow.id,
            ContactRow.channel,
            ContactRow.user_key,
            ContactRow.language,
            ContactRow.user_group,
            ContactRow.region,
            ContactRow.organisation,
            ContactRow.consent_at,
            ContactRow.first_seen_at,
            ContactRow.last_seen_at,
            ContactRow.opted_out_at,
            ContactRow.blocked_at,
            SubscriptionRow.topic,
        )
        .outerjoin(SubscriptionRow, SubscriptionRow.contact_id == ContactRow.id)
        .where(ContactRow.consent_at.is_not(None))
        .order_by(ContactRow.id, SubscriptionRow.topic)
        .execution_options(yield_per=BATCH_SIZE)
    )
    async with database.reading() as connection:
        result = await connection.stream(statement)
        current: list[str] | None = None
        current_id: int | None = None
        topics: list[str] = []
        async for row in result:
            if row.id != current_id:
                if current is not None:
                    yield _finished(current, topics)
                current_id = row.id
                topics = []
                current = [
                    pseudonymize(row.channel, row.user_key),
                    row.channel,
                    row.language or "",
                    row.user_group or "",
                    row.region or "",
                    row.organisation or "",
                    iso_utc(row.consent_at) or "",
                    iso_utc(row.first_seen_at) or "",
                    iso_utc(row.last_seen_at) or "",
                    "",  # topics, filled when the contact's last row is read
                    "true" if row.opted_out_at is not None else "false",
                    "true" if row.blocked_at is not None else "false",
                ]
            if row.topic is not None:
                topics.append(row.topic)
        if current is not None:
            yield _finished(current, topics)


def _finished(row: list[str], topics: list[str]) -> list[str]:
    row[CONTACT_COLUMNS.index("topics")] = " ".join(topics)
    return row


async def export_contacts_csv(
    database: Database, pseudonymize: Callable[[str, str], str], out: TextIO, *, raw: bool = False
) -> int:
    """Write the consenting contacts as CSV to ``out``; returns the number of rows written.
    Cells a spreadsheet would run as a formula get a ``'`` in front unless ``raw``."""
    # CRLF as RFC 4180 says: with a bare LF a value holding a carriage return is written unquoted.
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CONTACT_COLUMNS)
    count = 0
    async for row in contact_rows(database, pseudonymize):
        writer.writerow(row if raw else neutralised_row(row))
        count += 1
    return count
