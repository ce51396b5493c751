"""handlers.request_desk.perform: the one staff action on a ticket that ``baraza requests`` and
the dashboard's inbox both call (both backends)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from handlers import request_desk
from handlers.request_desk import ANSWER, ANSWER_NOTICE, ASSIGN, CLOSE, CLOSED_NOTICE, PROGRESS, DeskAction, perform
from storage import audit
from storage.database import Database
from storage.feedback import CLOSED as MESSAGE_CLOSED
from storage.feedback import MESSAGE, NEW, FeedbackRepository, get_feedback
from storage.repositories import Repositories
from storage.requests import ANSWERED, CLOSED, IN_PROGRESS, OPEN, REQUEST, RequestError

NOW = datetime(2026, 5, 4, 10, 30, tzinfo=UTC)


async def _ticket(database: Database) -> tuple[int, int]:
    async with database.transaction() as connection:
        repos = Repositories(connection)
        contact = await repos.contacts.touch("telegram", "7", "7", "en", NOW)
        request = await repos.requests.create(
            contact_id=contact.id, channel="telegram", language="en", user_group=None,
            source=REQUEST, text="Rice prices by market", now=NOW,
        )  # fmt: skip
    return request.id, contact.id


async def _notices(database: Database, contact_id: int) -> list[str]:
    async with database.reading() as connection:
        return [row.kind for row in await Repositories(connection).outbox.for_contact(contact_id)]


async def _trail(database: Database) -> list[audit.AuditEvent]:
    async with database.reading() as connection:
        return list(reversed(await audit.events(connection)))


async def test_each_action_changes_the_ticket_and_tells_the_person_in_one_transaction(database: Database) -> None:
    number, contact_id = await _ticket(database)
    progress = await perform(database, DeskAction(PROGRESS, number, "amina"), now=NOW, actor="amina")
    assert (progress.request.status, progress.request.assigned_to, progress.notified) == (IN_PROGRESS, "amina", True)
    assigned = await perform(database, DeskAction(ASSIGN, number, "kofi"), now=NOW, actor="amina")
    assert (assigned.request.assigned_to, assigned.notified) == ("kofi", False)
    answered = await perform(database, DeskAction(ANSWER, number, "kofi", "See table 4."), now=NOW, actor="amina")
    assert (answered.request.status, answered.notified) == (ANSWERED, True)
    closed = await perform(database, DeskAction(CLOSE, number), now=NOW, actor="amina")
    assert (closed.request.status, closed.notified) == (CLOSED, False), "an answered ticket closes silently"
    assert await _notices(database, contact_id) == [request_desk.IN_PROGRESS_NOTICE, ANSWER_NOTICE]
    trail = await _trail(database)
    assert [(e.actor, e.action, e.target) for e in trail] == [
        ("amina", audit.REQUEST_IN_PROGRESS, f"request:{number}"),
        ("amina", audit.REQUEST_ASSIGNED, f"request:{number}"),
        ("amina", audit.REQUEST_ANSWERED, f"request:{number}"),
        ("amina", audit.REQUEST_CLOSED, f"request:{number}"),
    ]
    assert trail[1].details == {"assigned_to": "kofi", "person_told": "False", "status": IN_PROGRESS}
    assert trail[2].details["answer_characters"] == str(len("See table 4."))
    assert "See table 4." not in repr(trail), "the answer's text is not copied into the trail"


async def test_a_refused_action_changes_nothing_and_queues_nothing(database: Database) -> None:
    number, contact_id = await _ticket(database)
    too_long = "x" * (request_desk.MAX_ANSWER + 1)
    with pytest.raises(RequestError, match="at most"):
        await perform(database, DeskAction(ANSWER, number, "kofi", too_long), now=NOW, actor="amina")
    with pytest.raises(RequestError):
        await perform(database, DeskAction(ASSIGN, number, ""), now=NOW, actor="amina")
    with pytest.raises(RequestError):
        await perform(database, DeskAction(CLOSE, number + 1), now=NOW, actor="amina")
    with pytest.raises(ValueError, match="unknown action"):
        await perform(database, DeskAction("delete", number), now=NOW, actor="amina")
    async with database.reading() as connection:
        ticket = await Repositories(connection).requests.require(number)
    assert (ticket.status, ticket.assigned_to) == (OPEN, None)
    assert await _notices(database, contact_id) == []
    assert await _trail(database) == [], "a refused action is not in the audit trail"
    closed = await perform(database, DeskAction(CLOSE, number), now=NOW, actor="amina")
    assert closed.notified and await _notices(database, contact_id) == [CLOSED_NOTICE]


async def test_a_message_is_closed_from_any_status_or_only_while_new(database: Database) -> None:
    async with database.transaction() as connection:
        message_id = await FeedbackRepository(connection).add(
            contact_id=None, channel="web", kind=MESSAGE, text="The site is slow", now=NOW
        )
    assert await request_desk.close_message(database, message_id, actor="amina", now=NOW, only_new=True)
    assert not await request_desk.close_message(database, message_id, actor="amina", now=NOW, only_new=True), (
        "no longer new"
    )
    assert await request_desk.close_message(database, message_id, actor="cli:ops", now=NOW), (
        "the CLI closes whatever the status"
    )
    assert not await request_desk.close_message(database, message_id + 100, actor="cli:ops", now=NOW)
    async with database.reading() as connection:
        found = await get_feedback(connection, message_id)
    assert found is not None and found.status == MESSAGE_CLOSED != NEW
    trail = await _trail(database)
    assert [(e.actor, e.action, e.target) for e in trail] == [
        ("amina", audit.MESSAGE_CLOSED, f"message:{message_id}"),
        ("cli:ops", audit.MESSAGE_CLOSED, f"message:{message_id}"),
    ], "only the closings that happened"
