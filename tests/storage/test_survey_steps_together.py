"""A group commit's survey steps are saved together (``survey_steps_together``): each
step's save is held back and written with the others in one statement, before the connection's
next statement of any other kind or at the end of the block; what every statement reads and what
the transaction stores are those of saving each step at once (storage/repositories.py,
storage/driver_sql.py ``HeldRows``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from storage.database import Database
from storage.records import Contact, Conversation
from storage.repositories import Repositories, survey_steps_together

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=1)


class RolledBack(Exception):
    pass


async def _three_in_a_survey(database: Database) -> list[tuple[Contact, str]]:
    """Three contacts, each with a response to survey ``s`` and a conversation at its ``q1``."""
    people = []
    async with database.transaction() as connection:
        repos = Repositories(connection)
        for user in ("1", "2", "3"):
            _, contact = await repos.contacts.claim_and_touch("telegram", f"u{user}", NOW, user, user, "en", NOW)
            response_id = await repos.responses.create(
                survey_id="s", survey_version="v1", contact=contact, respondent=f"r{user}", language="en", now=NOW
            )
            await repos.conversations.save(Conversation(contact.id, "survey", "s", response_id, "q1", (), 1), NOW)
            people.append((contact, response_id))
    return people


def _step(contact: Contact, response_id: str, question: str, serial: int) -> Conversation:
    return Conversation(contact.id, "survey", "s", response_id, question, ("a", "b"), serial)


async def _stored(database: Database) -> list[tuple[Any, ...]]:
    async with database.reading() as connection:
        conversations = await connection.execute(
            text(
                "SELECT contact_id, flow, survey_id, response_id, current_question, selection, prompt_serial,"
                " updated_at FROM conversations ORDER BY contact_id"
            )
        )
        answers = await connection.execute(
            text("SELECT response_id, question, value, answered_at FROM answers ORDER BY response_id, question")
        )
        return [tuple(row) for row in conversations] + [tuple(row) for row in answers]


async def _driver(connection: Any) -> Any:
    await connection.execute(text("SELECT 1"))  # the transaction is open on the driver
    return (await connection.get_raw_connection()).driver_connection


async def _logged(connection: Any) -> list[str]:
    """The statements run on the connection's driver from now on (SQLite: each row of an
    ``executemany`` as one; asyncpg logs a statement soon after it ran, not at once)."""
    statements: list[str] = []
    driver = await _driver(connection)
    if connection.dialect.name == "sqlite":
        await driver.set_trace_callback(statements.append)
    else:
        driver.add_query_logger(lambda record: statements.append(record.query))
    return statements


async def test_the_steps_of_several_people_are_stored_as_when_saved_one_by_one(database: Database) -> None:
    people = await _three_in_a_survey(database)
    steps = [(_step(contact, response, "q2", 2), (("q1", f"answer {contact.id}"),)) for contact, response in people]
    async with database.transaction(quick=True) as connection:
        for conversation, recorded in steps:
            await Repositories(connection).conversations.save(conversation, LATER, recorded)
    one_by_one = await _stored(database)
    async with database.transaction(quick=True) as connection:
        for conversation, _ in steps:  # back to where they were, their answers emptied
            await Repositories(connection).conversations.save(conversation, NOW, (("q1", None),))
    async with database.transaction(quick=True) as connection:
        statements = await _logged(connection)
        async with survey_steps_together(connection):
            for conversation, recorded in steps:
                await Repositories(connection).conversations.save(conversation, LATER, recorded)
            await asyncio.sleep(0)  # asyncpg calls its query loggers soon after, not at once
            assert statements == [], "held until the block ends"
        await asyncio.sleep(0)
        # PostgreSQL: one statement; SQLite: one executemany, a step per row.
        saves = [s for s in statements if "conversations" in s]
        assert len(saves) == (len(steps) if database.is_sqlite else 1), statements
    assert await _stored(database) == one_by_one


async def test_a_statement_after_a_held_step_reads_what_it_saved(database: Database) -> None:
    (first, first_response), (second, second_response), _ = await _three_in_a_survey(database)
    async with database.transaction(quick=True) as connection:
        await connection.execute(text("SELECT 1"))  # the engine's batch takes its chats' locks first
        async with survey_steps_together(connection):
            repos = Repositories(connection)
            await repos.conversations.save(_step(first, first_response, "q2", 2), LATER, (("q1", "41"),))
            # A statement run on the driver (another repository's read)...
            read = await Repositories(connection).conversations.get(first.id)
            answers = await Repositories(connection).responses.answers(first_response)
            await repos.conversations.save(_step(second, second_response, "q2", 2), LATER, (("q1", "42"),))
            # ...and a query through SQLAlchemy.
            core = await connection.scalar(
                text("SELECT value FROM answers WHERE response_id = :id"), {"id": second_response}
            )
    assert read is not None and read.current_question == "q2" and dict(read.answers or {}) == {"q1": "41"}
    assert dict(answers) == {"q1": "41"}
    assert core == "42"


@contextlib.asynccontextmanager
async def _held_steps(database: Database) -> AsyncIterator[Repositories]:
    """A quick transaction already begun on the driver (as the engine's batch, which takes its
    chats' locks first), its survey steps held."""
    async with database.transaction(quick=True) as connection:
        await connection.execute(text("SELECT 1"))
        async with survey_steps_together(connection):
            yield Repositories(connection)


async def test_one_person_saved_twice_in_a_block_keeps_the_later_step(database: Database) -> None:
    (contact, response), _, _ = await _three_in_a_survey(database)
    async with _held_steps(database) as repos:
        await repos.conversations.save(_step(contact, response, "q2", 2), LATER, (("q1", "first"),))
        await repos.conversations.save(_step(contact, response, "q3", 3), LATER, (("q1", "second"),))
        await repos.conversations.save(_step(contact, response, "q4", 4), LATER)
    async with database.transaction() as connection:
        stored = await Repositories(connection).conversations.get(contact.id)
    assert stored is not None and (stored.current_question, stored.prompt_serial) == ("q4", 4)
    assert dict(stored.answers or {}) == {"q1": "second"}


async def test_a_block_that_fails_leaves_nothing_held_for_the_next_transaction(database: Database) -> None:
    (contact, response), _, _ = await _three_in_a_survey(database)
    with pytest.raises(RolledBack):
        async with database.transaction(quick=True) as connection:
            await connection.execute(text("SELECT 1"))
            async with survey_steps_together(connection):
                await Repositories(connection).conversations.save(_step(contact, response, "q9", 9), LATER)
                raise RolledBack
    # The pooled connection is used again: no step of the failed block is written there.
    for _ in range(3):
        async with database.transaction(quick=True) as connection:
            await connection.execute(text("SELECT 1"))
    async with database.transaction() as connection:
        stored = await Repositories(connection).conversations.get(contact.id)
    assert stored is not None and stored.current_question == "q1"


async def test_a_step_saved_first_in_its_transaction_is_rolled_back_with_it(database: Database) -> None:
    # asyncpg begins the transaction with its first statement: a step saved before any other is
    # written then, inside the transaction, not held outside it.
    (contact, response), _, _ = await _three_in_a_survey(database)
    with pytest.raises(RolledBack):
        async with database.transaction(quick=True) as connection, survey_steps_together(connection):
            await Repositories(connection).conversations.save(_step(contact, response, "q5", 5), LATER)
            await connection.execute(text("SELECT 1"))
            raise RolledBack
    async with database.transaction() as connection:
        stored = await Repositories(connection).conversations.get(contact.id)
    assert stored is not None and stored.current_question == "q1"


async def _start(repos: Repositories, contact: Contact, survey: str = "t") -> str:
    """What a survey's start stores: the latest response read, a response created, the step saved."""
    await repos.responses.latest_and_completed(contact.id, survey)
    response_id = await repos.responses.create(
        survey_id=survey, survey_version="v1", contact=contact, respondent=f"r{contact.id}", language="en", now=LATER
    )
    await repos.conversations.save(Conversation(contact.id, "survey", survey, response_id, "q1", (), 1), LATER)
    return response_id


async def _responses(database: Database) -> list[tuple[Any, ...]]:
    async with database.reading() as connection:
        rows = await connection.execute(
            text(
                "SELECT survey_id, contact_id, respondent, started_at, completed_at FROM responses ORDER BY contact_id, survey_id"
            )
        )
        return [tuple(row) for row in rows]


async def test_the_starts_of_several_people_are_read_one_by_one_and_written_in_one_statement(
    database: Database,
) -> None:
    people = [contact for contact, _ in await _three_in_a_survey(database)]
    async with database.transaction(quick=True) as connection:
        statements = await _logged(connection)
        async with survey_steps_together(connection):
            started = [await _start(Repositories(connection), contact) for contact in people]
        await asyncio.sleep(0)
    # Each start's read ran before the held rows were written (it cannot see another person's),
    # then one statement wrote every response and step (SQLite: one executemany of each kind, a
    # row each). (asyncpg's own queries left out.)
    ours = ["write" if "INSERT INTO responses" in s else "read" for s in statements if "responses" in s]
    writes = ["write"] * (len(people) if database.is_sqlite else 1)
    assert ours == ["read", "read", "read", *writes], statements
    if not database.is_sqlite:
        assert "INSERT INTO conversations" in next(s for s in statements if "INSERT INTO responses" in s)
    assert [(row[0], row[1], row[4]) for row in await _responses(database) if row[0] == "t"] == [
        ("t", contact.id, None) for contact in people
    ]
    async with database.reading() as connection:
        for contact, response_id in zip(people, started, strict=True):
            stored = await Repositories(connection).conversations.get(contact.id)
            assert stored is not None and (stored.survey_id, stored.response_id) == ("t", response_id)


async def test_a_start_reads_a_response_created_for_its_own_contact_earlier_in_the_block(database: Database) -> None:
    (contact, _), _, _ = await _three_in_a_survey(database)
    async with _held_steps(database) as repos:
        created = await _start(repos, contact)
        latest, completed = await repos.responses.latest_and_completed(contact.id, "t")
    assert latest is not None and (latest.id, latest.complete, completed) == (created, False, 0)


async def test_a_finish_in_the_block_completes_a_response_created_there_and_leaves_others_held(
    database: Database,
) -> None:
    (first, _), (second, _), _ = await _three_in_a_survey(database)
    async with database.transaction(quick=True) as connection:
        statements = await _logged(connection)
        async with survey_steps_together(connection):
            repos = Repositories(connection)
            other = await _start(repos, first)
            await asyncio.sleep(0)
            held_before = len(statements)
            # Another person's finish: the first person's start stays held.
            second_response, _ = await repos.responses.latest_and_completed(second.id, "s")
            assert second_response is not None
            await repos.responses.finish(second_response.id, second.id, "s", LATER, recorded=(("q1", "9"),))
            await asyncio.sleep(0)
            assert not any("INSERT INTO responses" in s for s in statements[held_before:]), statements
            # The first person's own finish: their held start is written first.
            await repos.responses.finish(other, first.id, "t", LATER, recorded=(("q1", "7"),))
        await asyncio.sleep(0)
    assert len([s for s in statements if "INSERT INTO responses" in s]) == 1, statements
    stored = {(row[0], row[1]): row[4] for row in await _responses(database)}
    assert stored[("t", first.id)] is not None and stored[("s", second.id)] is not None  # completed
    async with database.reading() as connection:
        repos = Repositories(connection)
        assert await repos.conversations.get(first.id) is None and await repos.conversations.get(second.id) is None
        assert dict(await repos.responses.answers(other)) == {"q1": "7"}
        assert (await repos.responses.latest_and_completed(first.id, "t"))[1] == 1


async def test_an_anonymous_response_started_and_finished_in_one_block_is_stored_complete(database: Database) -> None:
    # A survey whose every question is skipped ends in the update that starts it; an anonymous
    # response belongs to no contact, so the finish must find it by its own key.
    (contact, _), _, _ = await _three_in_a_survey(database)
    async with _held_steps(database) as repos:
        anonymous = await repos.responses.create(
            survey_id="a",
            survey_version="v1",
            contact=None,
            channel="telegram",
            respondent="x",
            language="en",
            now=LATER,
        )
        await repos.responses.finish(anonymous, contact.id, "a", LATER)
    async with database.reading() as connection:
        completed = await connection.scalar(
            text("SELECT completed_at FROM responses WHERE id = :id"), {"id": anonymous}
        )
    assert completed is not None
