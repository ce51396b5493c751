"""PostgreSQL claims, touches and reads the conversations of a batch's updates in one statement
(``ContactRepository.claim_and_touch_many``, used by the engine's group commit): the same result,
update by update, as claiming them one at a time (storage/repositories.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from storage.database import Database
from storage.records import Conversation
from storage.repositories import Arrival, Repositories

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)

ARRIVALS = [
    Arrival("telegram", "10", LATER, "1", "1", "en", LATER),  # known, in a survey with an answer
    Arrival("telegram", "11", LATER, "2", "chat-2", None, LATER),  # known, blocked, a new chat
    Arrival("telegram", "12", LATER, "3", "3", "pt", LATER),  # new
    Arrival("telegram", "0", LATER, "4", "4", "en", LATER),  # an update id seen before: a redelivery
]


def _without_new_ids(seen: list[Any]) -> list[Any]:
    """The new contacts' ids left out: a rolled-back transaction does not give its sequence values back."""
    return [
        (first, replace(contact, id=0) if contact.user_key in {"3", "4"} else contact, c) for first, contact, c in seen
    ]


class RolledBack(Exception):
    pass


async def _prepare(database: Database) -> None:
    async with database.transaction() as connection:
        repos = Repositories(connection)
        _, talking = await repos.contacts.claim_and_touch("telegram", "0", NOW, "1", "1", "fr", NOW)
        await repos.contacts.give_consent(talking.id, NOW)
        response_id = await repos.responses.create(
            survey_id="s", survey_version="v1", contact=talking, respondent="r", language="fr", now=NOW
        )
        await repos.conversations.save(
            Conversation(talking.id, "survey", "s", response_id, "q3", (), 3), NOW, (("q1", "41"), ("q2", None))
        )
        _, blocked = await repos.contacts.claim_and_touch("telegram", "00", NOW, "2", "2", None, NOW)
        started = await repos.responses.create(
            survey_id="s", survey_version="v1", contact=blocked, respondent="b", language="en", now=NOW
        )  # a response with no answer yet
        await repos.conversations.save(Conversation(blocked.id, "survey", "s", started, "q1", (), 1), NOW)
        await connection.execute(
            text("UPDATE contacts SET blocked_at = :now WHERE id = :id"), {"now": NOW, "id": blocked.id}
        )


_CLAIMED_ROWS = text(
    "SELECT channel, update_key, CAST(processed_at AS TEXT), chat_key FROM processed_updates ORDER BY update_key"
)


async def _one_at_a_time(database: Database) -> tuple[list[Any], list[Any]]:
    """What claiming ARRIVALS one by one reads, and the claims as stored (times as the database
    writes them), rolled back."""
    seen = []
    try:
        async with database.transaction(quick=True) as connection:
            for arrival in ARRIVALS:
                repos = Repositories(connection)
                first, contact = await repos.contacts.claim_arrival(arrival)
                seen.append((first, contact, await repos.conversations.get(contact.id)))
            stored = [tuple(row) for row in await connection.execute(_CLAIMED_ROWS)]
            raise RolledBack
    except RolledBack:
        pass
    return seen, stored


async def test_a_batch_claims_touches_and_reads_as_one_update_at_a_time(database: Database) -> None:
    await _prepare(database)
    expected, expected_claims = await _one_at_a_time(database)
    statements: list[str] = []
    async with database.transaction(quick=True) as connection:
        await connection.execute(text("SELECT 1"))  # the transaction is open on the driver
        driver: Any = (await connection.get_raw_connection()).driver_connection

        def log(record: Any) -> None:
            statements.append(record.query)

        if database.is_sqlite:
            await driver.set_trace_callback(statements.append)
        else:
            driver.add_query_logger(log)
        claimed = await Repositories(connection).contacts.claim_and_touch_many(ARRIVALS)
        if database.is_sqlite:
            await driver.set_trace_callback(None)
        else:
            driver.remove_query_logger(log)
        got = []
        for claim in claimed:
            repos = Repositories(connection)
            first, contact = await repos.contacts.take_claimed(claim)
            got.append((first, contact, await repos.conversations.get(contact.id)))
        assert [tuple(row) for row in await connection.execute(_CLAIMED_ROWS)] == expected_claims
    # asyncpg reads the array types from the catalogue the first time a connection prepares it.
    ours = [
        query for query in statements if any(table in query for table in ("processed_updates", "contacts", "answers"))
    ]
    # PostgreSQL: one statement; SQLite (no INSERT inside WITH): the claims, the touches, the reads.
    assert len(ours) == (3 if database.is_sqlite else 1), ours
    assert [first for first, _, _ in got] == [True, True, True, False]
    assert _without_new_ids(got) == _without_new_ids(expected)
    in_survey = got[0][2]
    assert (
        in_survey is not None
        and in_survey.current_question == "q3"
        and dict(in_survey.answers or {}) == {"q1": "41", "q2": None}  # a skipped question: None
    )
    assert got[1][1].blocked_at is None, "a person who writes is reachable again"
    just_started = got[1][2]
    assert just_started is not None and just_started.answers is not None and dict(just_started.answers) == {}
    assert got[2][2] is None and got[2][1].language == "pt"
