"""Finishing a response and reading a survey's start: one statement each on PostgreSQL
(writable CTE, one SELECT), the same rows stored as by SQLite's separate statements."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from storage.chat_order import serialise_chat
from storage.database import Database
from storage.records import Conversation
from storage.repositories import Repositories
from surveys.model import Survey
from testkit.conversations import stored_at_age

NOW = datetime(2026, 5, 4, 10, 30, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)


async def _stored(database: Database, conversation: Conversation) -> dict[str, Any]:
    async with database.transaction() as connection:
        repos = Repositories(connection)
        response = (
            await connection.execute(
                text("SELECT completed_at, score FROM responses WHERE id = :id"), {"id": conversation.response_id}
            )
        ).one()
        assert conversation.response_id is not None and conversation.survey_id is not None
        return {
            "completed_at": response[0],
            "score": response[1],
            "answers": dict(await repos.responses.answers(conversation.response_id)),
            "completed": await repos.participations.completed(conversation.contact_id, conversation.survey_id),
            "conversation": await repos.conversations.get(conversation.contact_id),
        }


@pytest.mark.parametrize(
    "recorded",
    [(("age", "31"),), (("age", "30"), ("age", "31"), ("income", None)), ()],
    ids=["one answer", "several answers", "a submitted summary"],
)
async def test_finishing_stores_the_answers_completes_counts_and_ends_the_conversation(
    database: Database, usat: Survey, recorded: tuple[tuple[str, str | None], ...]
) -> None:
    at_age = await stored_at_age(database, usat, NOW)
    assert at_age.response_id is not None
    async with database.transaction(quick=True) as connection:
        repos = Repositories(connection)
        await repos.responses.finish(at_age.response_id, at_age.contact_id, usat.id, LATER, score=7, recorded=recorded)
    stored = await _stored(database, at_age)
    completed_at = stored["completed_at"]
    if isinstance(completed_at, str):  # SQLite keeps datetimes as text
        completed_at = datetime.fromisoformat(completed_at)
    assert completed_at.replace(tzinfo=UTC) == LATER
    assert stored["score"] == 7
    assert stored["answers"] == {"sector": "public", **dict(recorded)}, "in their order: the last one stays"
    assert stored["completed"] == 1
    assert stored["conversation"] is None


async def test_a_second_finished_response_counts_twice(database: Database, usat: Survey) -> None:
    for moment in (NOW, LATER):
        at_age = await stored_at_age(database, usat, moment)
        assert at_age.response_id is not None
        async with database.transaction(quick=True) as connection:
            await Repositories(connection).responses.finish(
                at_age.response_id, at_age.contact_id, usat.id, moment, recorded=(("age", "31"),)
            )
    stored = await _stored(database, at_age)
    assert (stored["completed"], stored["score"]) == (2, None)


async def test_a_conversation_read_ahead_is_gone_once_the_response_is_finished(
    database: Database, usat: Survey
) -> None:
    at_age = await stored_at_age(database, usat, NOW)
    assert at_age.response_id is not None
    async with database.transaction(quick=True) as connection:
        repos = Repositories(connection)
        # On PostgreSQL the claim reads the conversation ahead; the finish must forget it.
        await repos.contacts.claim_and_touch("telegram", "1", LATER, "42", "42", "en", LATER)
        await repos.responses.finish(at_age.response_id, at_age.contact_id, usat.id, LATER, recorded=(("age", "31"),))
        assert await repos.conversations.get(at_age.contact_id) is None


async def test_on_postgresql_a_finishing_step_takes_two_statements_after_the_chat_lock(
    database: Database, usat: Survey
) -> None:
    if database.is_sqlite:
        pytest.skip("the round trips to a database server")
    at_age = await stored_at_age(database, usat, NOW)
    assert at_age.response_id is not None
    sent: list[str] = []
    async with database.transaction(quick=True) as connection:
        await serialise_chat(connection, "telegram", "42")
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None

        def log(query: Any) -> None:
            sent.append(query.query)

        driver.add_query_logger(log)
        repos = Repositories(connection)
        # What the engine and the survey driver run for the last typed answer: claim and read, finish.
        _, contact = await repos.contacts.claim_and_touch("telegram", "1", LATER, "42", "42", "en", LATER)
        assert await repos.conversations.get(contact.id) is not None
        await repos.responses.finish(at_age.response_id, contact.id, usat.id, LATER, score=3, recorded=(("age", "31"),))
        driver.remove_query_logger(log)
    assert len(sent) == 2, sent
    stored = await _stored(database, at_age)
    assert (stored["score"], stored["completed"], stored["conversation"]) == (3, 1, None)
    assert stored["answers"] == {"sector": "public", "age": "31"}


async def test_the_latest_response_and_the_completions_are_read_together(database: Database, usat: Survey) -> None:
    async with database.transaction() as connection:
        repos = Repositories(connection)
        contact = await repos.contacts.touch("telegram", "42", "42", "en", NOW)
        assert await repos.responses.latest_and_completed(contact.id, usat.id) == (None, 0)
    first = await stored_at_age(database, usat, NOW)
    assert first.response_id is not None
    async with database.transaction() as connection:
        repos = Repositories(connection)
        await repos.responses.finish(first.response_id, contact.id, usat.id, NOW, recorded=(("age", "31"),))
        second = await repos.responses.create(
            survey_id=usat.id, survey_version=usat.version, contact=contact, respondent="p", language="en", now=LATER
        )
    async with database.transaction() as connection:
        repos = Repositories(connection)
        latest, completed = await repos.responses.latest_and_completed(contact.id, usat.id)
        assert latest == await repos.responses.latest_for(contact.id, usat.id)
        assert completed == await repos.participations.completed(contact.id, usat.id) == 1
    assert latest is not None and (latest.id, latest.complete, latest.started_at) == (second, False, LATER)


async def test_the_completions_read_with_the_latest_response_are_the_linked_contacts(database: Database) -> None:
    async with database.transaction() as connection:
        repos = Repositories(connection)
        whatsapp = await repos.contacts.touch("whatsapp", "254712345678", "254712345678", "en", NOW)
        await repos.participations.record_completion(whatsapp.id, "hcs", NOW)
        sms = await repos.contacts.touch("sms", "+254712345678", "+254712345678", None, NOW)
        stranger = await repos.contacts.touch("sms", "+254799999999", "+254799999999", None, NOW)
        assert await repos.responses.latest_and_completed(sms.id, "hcs") == (None, 1)
        assert await repos.responses.latest_and_completed(stranger.id, "hcs") == (None, 0)
