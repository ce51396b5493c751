"""Storage on both backends: migrations, repositories, idempotent updates and the CSV export."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from storage.chat_order import serialise_chat
from storage.database import Database
from storage.errors import StorageError
from storage.exports.files import export_responses
from storage.pseudonyms import Pseudonymizer
from storage.records import Conversation
from storage.repositories import Repositories
from surveys.model import Survey
from testkit.conversations import new_response, stored_at_age
from testkit.exports import EVERY_RESPONSE_JOINED

NOW = datetime(2026, 5, 4, 10, 30, tzinfo=UTC)


async def test_migrations_create_every_table(database: Database) -> None:
    async with database.reading() as connection:
        if database.is_sqlite:
            rows = await connection.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))
        else:
            rows = await connection.execute(text("SELECT tablename FROM pg_tables WHERE schemaname='public'"))
        tables = {row[0] for row in rows}
    assert {"contacts", "conversations", "responses", "answers", "processed_updates", "alembic_version"} <= tables


async def test_migrating_twice_changes_nothing(database: Database) -> None:
    await database.migrate()
    await database.migrate()


async def test_an_update_is_claimed_once(database: Database) -> None:
    async with database.transaction() as connection:
        updates = Repositories(connection).updates
        assert await updates.claim("telegram", "1001", NOW)
        assert not await updates.claim("telegram", "1001", NOW)
        assert await updates.claim("web", "1001", NOW), "keys are per channel"
    async with database.transaction() as connection:
        assert not await Repositories(connection).updates.claim("telegram", "1001", NOW)
        assert await Repositories(connection).updates.forget_before(NOW + timedelta(seconds=1)) == 2


async def test_a_failed_transaction_leaves_nothing_behind(database: Database) -> None:
    try:
        async with database.transaction() as connection:
            await Repositories(connection).updates.claim("telegram", "7", NOW)
            raise RuntimeError("the handler failed")
    except RuntimeError:
        pass
    async with database.transaction() as connection:
        assert await Repositories(connection).updates.claim("telegram", "7", NOW)


async def test_contact_is_created_once_and_keeps_its_first_language(database: Database) -> None:
    async with database.transaction() as connection:
        first = await Repositories(connection).contacts.touch("telegram", "42", "42", "fr", NOW)
    async with database.transaction() as connection:
        again = await Repositories(connection).contacts.touch("telegram", "42", "42", "en", NOW + timedelta(hours=1))
    assert again.id == first.id
    assert again.language == "fr"


@pytest.mark.parametrize("quick", [False, True])
async def test_claim_and_touch_stores_what_claim_then_touch_store(database: Database, quick: bool) -> None:
    later = NOW + timedelta(hours=1)
    async with database.transaction(quick=quick) as connection:
        contacts = Repositories(connection).contacts
        first, contact = await contacts.claim_and_touch("telegram", "u1", NOW, "42", "42", "fr", NOW)
        again, same = await contacts.claim_and_touch("telegram", "u1", later, "42", "43", "en", later)
        other, _ = await contacts.claim_and_touch("telegram", "u2", later, "42", "42", "en", later)
    assert (first, again, other) == (True, False, True), "each update is claimed once"
    assert same.id == contact.id and same.language == "fr" and same.chat_key == "43"
    assert contact.first_seen_at == NOW
    async with database.transaction() as connection:
        repos = Repositories(connection)
        assert not await repos.updates.claim("telegram", "u1", later), "the claim was stored"
        assert not await repos.updates.superseded("telegram", "u2", "42"), "stored at the processing time given"
        assert await repos.updates.superseded("telegram", "u1", "42")
        stored = await repos.contacts.get(contact.id)
    assert stored is not None and stored.chat_key == "42"


async def test_answering_again_replaces_the_answer(database: Database, usat: Survey) -> None:
    async with database.transaction() as connection:
        repos = Repositories(connection)
        _, response_id = await new_response(repos, usat, NOW)
        await repos.responses.record_answer(response_id, "age", "30", NOW)
        await repos.responses.record_answer(response_id, "age", "31", NOW)
        await repos.responses.record_answer(response_id, "comments", None, NOW)
        assert await repos.responses.answers(response_id) == {"age": "31", "comments": None}


async def test_a_conversation_is_read_with_the_answers_of_its_response(database: Database, usat: Survey) -> None:
    async with database.transaction() as connection:
        repos = Repositories(connection)
        contact, response_id = await new_response(repos, usat, NOW)
        started = Conversation(contact.id, "survey", usat.id, response_id, "age", (), 1)
        await repos.conversations.save(started, NOW)
        fresh = await repos.conversations.get(contact.id)
        assert fresh == started and fresh is not None
        assert fresh.answers == {}, "a response without answers yet"
        await repos.responses.record_answer(response_id, "age", "31", NOW)
        await repos.responses.record_answer(response_id, "comments", None, NOW)
        await repos.conversations.save(replace(started, current_question="sector", selection=("a", "b")), NOW)
    async with database.transaction() as connection:
        again = await Repositories(connection).conversations.get(contact.id)
        assert again is not None
        assert (again.current_question, again.selection, again.prompt_serial) == ("sector", ("a", "b"), 1)
        assert again.answers == {"age": "31", "comments": None}
        assert again.answers == await Repositories(connection).responses.answers(response_id)
        await Repositories(connection).conversations.save(replace(again, flow="profile", response_id=None), NOW)
        outside = await Repositories(connection).conversations.get(contact.id)
        assert outside is not None and outside.answers is None, "no response, no answers"
        await Repositories(connection).conversations.end(contact.id)
        assert await Repositories(connection).conversations.get(contact.id) is None


async def test_an_update_gets_its_conversation_as_stored_whatever_it_wrote_before(
    database: Database, usat: Survey
) -> None:
    # On PostgreSQL the conversation is read along with the claim (one statement); a write in
    # between must never leave the update an older copy.
    at_age = await stored_at_age(database, usat, NOW)
    later = NOW + timedelta(minutes=1)
    async with database.transaction(quick=True) as connection:
        repos = Repositories(connection)
        await repos.contacts.claim_and_touch("telegram", "1", later, "42", "42", "en", later)
        read = await repos.conversations.get(at_age.contact_id)
        assert read is not None and read.answers == {"sector": "public"}
        assert replace(read, answers=None) == replace(at_age, answers=None)
        assert await repos.conversations.get(at_age.contact_id) == read, "read again, the same"
    async with database.transaction(quick=True) as connection:
        repos = Repositories(connection)
        await repos.contacts.claim_and_touch("telegram", "2", later, "42", "42", "en", later)
        assert at_age.response_id is not None
        await repos.responses.record_answer(at_age.response_id, "age", "31", later)
        read = await repos.conversations.get(at_age.contact_id)
        assert read is not None and read.answers == {"sector": "public", "age": "31"}
    async with database.transaction(quick=True) as connection:
        repos = Repositories(connection)
        await repos.contacts.claim_and_touch("telegram", "3", later, "42", "42", "en", later)
        await repos.conversations.save(replace(at_age, current_question="income", prompt_serial=2), later)
        read = await repos.conversations.get(at_age.contact_id)
        assert read is not None and (read.current_question, read.prompt_serial) == ("income", 2)
    async with database.transaction(quick=True) as connection:
        repos = Repositories(connection)
        await repos.contacts.claim_and_touch("telegram", "4", later, "42", "42", "en", later)
        await repos.conversations.end(at_age.contact_id)
        assert await repos.conversations.get(at_age.contact_id) is None
    async with database.transaction(quick=True) as connection:
        repos = Repositories(connection)
        _, stranger = await repos.contacts.claim_and_touch("telegram", "5", later, "77", "77", "en", later)
        assert await repos.conversations.get(stranger.id) is None


async def test_a_step_stores_its_answers_before_the_conversation(database: Database, usat: Survey) -> None:
    at_age = await stored_at_age(database, usat, NOW)
    async with database.transaction(quick=True) as connection:
        repos = Repositories(connection)
        at_income = replace(at_age, current_question="income", prompt_serial=2)
        await repos.conversations.save(at_income, NOW, (("age", "30"), ("age", "31"), ("sector", None)))
    async with database.transaction() as connection:
        read = await Repositories(connection).conversations.get(at_age.contact_id)
    assert read is not None and read.answers == {"age": "31", "sector": None}, "in their order: the last one stays"
    assert (read.current_question, read.prompt_serial) == ("income", 2)


async def test_on_postgresql_a_survey_step_takes_two_statements_after_the_chat_lock(
    database: Database, usat: Survey
) -> None:
    if database.is_sqlite:
        pytest.skip("the round trips to a database server")
    await stored_at_age(database, usat, NOW)
    later = NOW + timedelta(minutes=1)
    sent: list[str] = []
    async with database.transaction(quick=True) as connection:
        await serialise_chat(connection, "telegram", "42")
        driver = (await connection.get_raw_connection()).driver_connection

        def log(query: Any) -> None:
            sent.append(query.query)

        driver.add_query_logger(log)
        repos = Repositories(connection)
        # What the engine and the survey driver run for a typed answer: claim, read, store.
        _, contact = await repos.contacts.claim_and_touch("telegram", "1", later, "42", "42", "en", later)
        read = await repos.conversations.get(contact.id)
        assert read is not None
        await repos.conversations.save(replace(read, current_question="income"), later, (("age", "31"),))
        driver.remove_query_logger(log)
    assert len(sent) == 2, sent
    async with database.transaction() as connection:
        stored = await Repositories(connection).conversations.get(contact.id)
    assert stored is not None and stored.current_question == "income"
    assert stored.answers == {"sector": "public", "age": "31"}


@pytest.mark.parametrize("quick", [False, True], ids=["worker thread", "quick"])
@pytest.mark.parametrize("moment", [NOW, NOW.replace(microsecond=7)], ids=["whole second", "microseconds"])
async def test_statements_run_on_the_driver_store_values_as_sqlalchemy_does(
    database: Database, quick: bool, moment: datetime
) -> None:
    # The survey step's statements bypass SQLAlchemy's execution (storage/driver_sql.py, on SQLite
    # with their own datetime conversion) but store what it stores: a datetime written by them
    # equals, in SQL (on SQLite: the same text), the same one written by Core.
    async with database.transaction(quick=quick) as connection:
        repos = Repositories(connection)
        await connection.execute(text("SELECT 1"))  # the transaction is open on the driver too
        contact = await repos.contacts.touch("telegram", "42", "42", "fr", moment)
        await repos.contacts.give_consent(contact.id, moment)  # written by SQLAlchemy Core
        same = await connection.scalar(
            text("SELECT first_seen_at = consent_at FROM contacts WHERE id = :id"), {"id": contact.id}
        )
        assert same in (1, True)
        again = await repos.contacts.touch("telegram", "42", "42", "en", moment + timedelta(minutes=1))
        assert (again.first_seen_at, again.consent_at, again.language) == (moment, moment, "fr")
        assert again == await repos.contacts.get(contact.id)


async def test_a_statement_refused_by_the_driver_is_a_storage_error(database: Database) -> None:
    with pytest.raises(StorageError):
        async with database.transaction() as connection:
            repos = Repositories(connection)
            await repos.updates.claim("telegram", "1", NOW)
            await repos.responses.record_answer("no such response", "age", "31", NOW)  # foreign key
    async with database.transaction() as connection:
        assert await Repositories(connection).updates.claim("telegram", "1", NOW), "was rolled back"


async def test_the_first_statement_of_a_transaction_begins_it_and_rolls_back_with_it(database: Database) -> None:
    # asyncpg opens SQLAlchemy's transaction only with its first statement: a survey-step
    # statement coming first must still be inside the transaction.
    for quick in (False, True):
        with pytest.raises(RuntimeError):
            async with database.transaction(quick=quick) as connection:
                assert await Repositories(connection).updates.claim("telegram", f"first-{quick}", NOW)
                raise RuntimeError("the handler failed")
        async with database.transaction(quick=quick) as connection:
            assert await Repositories(connection).updates.claim("telegram", f"first-{quick}", NOW)


async def test_csv_export_has_metadata_then_questions_in_survey_order(database: Database, usat: Survey) -> None:
    pseudonym = Pseudonymizer("k" * 32)
    async with database.transaction() as connection:
        repos = Repositories(connection)
        for number, complete in ((1, True), (2, False)):
            contact = await repos.contacts.touch("telegram", str(number), str(number), "en", NOW)
            response_id = await repos.responses.create(
                survey_id=usat.id,
                survey_version=usat.version,
                contact=contact,
                respondent=pseudonym("telegram", str(number)),
                language="fr",
                now=NOW + timedelta(minutes=number),
            )
            await repos.responses.record_answer(response_id, "user_group", "media", NOW)
            await repos.responses.record_answer(response_id, "topics", "prices labour", NOW)
            await repos.responses.record_answer(response_id, "last_use", None, NOW)
            if complete:
                await repos.responses.complete(response_id, NOW + timedelta(minutes=5))
    out = io.StringIO()
    assert (await export_responses(database, usat, EVERY_RESPONSE_JOINED, "csv", out)).rows == 2
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    header = out.getvalue().splitlines()[0].split(",")
    assert header[:7] == ["response_id", "respondent", "channel", "language", "started_at", "completed_at", "complete"]
    assert header[7:-4] == [q.name for q in usat.data_questions]
    # After the questions, as KoBoToolbox does: the version, the duration and the profile (a
    # question already called user_group: the profile's column is profile_user_group).
    assert header[-4:] == ["survey_version", "duration_seconds", "profile_user_group", "region"]
    first, second = rows
    assert first["respondent"] == pseudonym("telegram", "1") and first["respondent"] != "1"
    assert first["started_at"] == "2026-05-04T10:31:00Z" and first["completed_at"] == "2026-05-04T10:35:00Z"
    assert (first["complete"], second["complete"]) == ("true", "false")
    assert second["completed_at"] == ""
    assert (first["survey_version"], first["duration_seconds"], second["duration_seconds"]) == (usat.version, "240", "")
    assert first["profile_user_group"] == "" and first["region"] == "", "no consent: no profile in the export"
    assert first["topics"] == "prices labour" and first["last_use"] == "" and first["releases_used"] == ""


async def test_export_of_a_survey_without_responses_is_just_the_header(database: Database, usat: Survey) -> None:
    out = io.StringIO()
    assert (await export_responses(database, usat, EVERY_RESPONSE_JOINED, "csv", out)).rows == 0
    assert out.getvalue().count("\n") == 1
