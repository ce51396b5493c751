"""Storage of data requests (tickets, their messages, statistics) and of the outbox, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import cast

import pytest
from sqlalchemy import Table, func, select

from storage.database import Database
from storage.deliveries import BLOCKED, FAILED, PENDING, SENDING, SENT, UNKNOWN, Outcome
from storage.models import ContactRow, DataRequestMessageRow, IndicatorQueryRow, OutboxRow
from storage.records import Contact
from storage.repositories import Repositories
from storage.requests import (
    ANSWERED,
    CLOSED,
    IN_PROGRESS,
    OPEN,
    REQUEST,
    UNMATCHED,
    DataRequest,
    RequestError,
    normalised,
    percentile,
)

indicator_queries = cast(Table, IndicatorQueryRow.__table__)
request_messages = cast(Table, DataRequestMessageRow.__table__)
outbox = cast(Table, OutboxRow.__table__)
contacts = cast(Table, ContactRow.__table__)
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


async def contact(database: Database, user_key: str, *, channel: str = "telegram") -> Contact:
    async with database.transaction() as connection:
        return await Repositories(connection).contacts.touch(channel, user_key, user_key, "fr", T0)


async def ticket(
    database: Database,
    person: Contact | None,
    text: str,
    *,
    at: datetime = T0,
    source: str = REQUEST,
    group: str | None = None,
) -> DataRequest:
    async with database.transaction() as connection:
        return await Repositories(connection).requests.create(
            contact_id=person.id if person else None,
            channel="telegram",
            language="fr",
            user_group=group,
            source=source,
            text=text,
            now=at,
        )


async def test_a_ticket_keeps_its_text_intact_and_moves_open_in_progress_answered_closed(database: Database) -> None:
    person = await contact(database, "1")
    text = "Taux de chômage\npar district,   2020–2025 (trimestriel) — avec « intervalles »" + " x" * 3000
    created = await ticket(database, person, text, group="researcher")
    assert (created.status, created.source, created.user_group, created.text) == (OPEN, REQUEST, "researcher", text)
    async with database.transaction() as connection:
        requests = Repositories(connection).requests
        in_progress = await requests.mark_in_progress(created.id, T0 + timedelta(hours=1), staff="amina")
        assert (in_progress.status, in_progress.assigned_to) == (IN_PROGRESS, "amina")
        answered = await requests.answer(created.id, "Voir le tableau 4.", "amina", T0 + timedelta(hours=3))
        again = await requests.answer(created.id, "Correction : tableau 5.", "joao", T0 + timedelta(hours=4))
        closed = await requests.close(created.id, T0 + timedelta(hours=5))
        thread = await requests.thread(created.id)
    assert answered.status == ANSWERED and answered.answered_at == T0 + timedelta(hours=3)
    assert again.answered_at == T0 + timedelta(hours=3), "answered_at is the first answer"
    assert again.assigned_to == "amina"
    assert (closed.status, closed.closed_at) == (CLOSED, T0 + timedelta(hours=5))
    assert [(m.author, m.staff, m.text) for m in thread.messages] == [
        ("user", None, text),
        ("staff", "amina", "Voir le tableau 4."),
        ("staff", "joao", "Correction : tableau 5."),
    ]
    assert [m.text for m in thread.answers] == ["Voir le tableau 4.", "Correction : tableau 5."]


async def test_moves_that_are_not_allowed_raise_a_request_error_and_change_nothing(database: Database) -> None:
    created = await ticket(database, await contact(database, "1"), "GDP by region")
    async with database.transaction() as connection:
        requests = Repositories(connection).requests
        await requests.close(created.id, T0)
    for action in ("answer", "close", "progress", "assign"):
        async with database.transaction() as connection:
            requests = Repositories(connection).requests
            with pytest.raises(RequestError, match=f"data request #{created.id} is closed"):
                if action == "answer":
                    await requests.answer(created.id, "late", "amina", T0)
                elif action == "close":
                    await requests.close(created.id, T0)
                elif action == "progress":
                    await requests.mark_in_progress(created.id, T0)
                else:
                    await requests.assign(created.id, "amina", T0)
    async with database.transaction() as connection:
        requests = Repositories(connection).requests
        with pytest.raises(RequestError, match="there is no data request #999"):
            await requests.answer(999, "text", "amina", T0)
        with pytest.raises(RequestError, match="the answer is empty"):
            await requests.answer(created.id, "  ", "amina", T0)
        with pytest.raises(RequestError, match="needs a text"):
            await requests.create(
                contact_id=None, channel="web", language="en", user_group=None, source=REQUEST, text=" ", now=T0
            )
        thread = await requests.thread(created.id)
    assert thread.request.status == CLOSED and len(thread.messages) == 1


async def test_lists_are_newest_first_and_filter_by_status_source_and_contact(database: Database) -> None:
    first, second = await contact(database, "1"), await contact(database, "2")
    a = await ticket(database, first, "a", at=T0)
    b = await ticket(database, second, "b", at=T0 + timedelta(minutes=1), source=UNMATCHED)
    c = await ticket(database, first, "c", at=T0 + timedelta(minutes=2))
    async with database.transaction() as connection:
        requests = Repositories(connection).requests
        await requests.answer(a.id, "done", "amina", T0 + timedelta(hours=1))
        assert [r.id for r in await requests.find()] == [c.id, b.id, a.id]
        assert [r.id for r in await requests.find(statuses=(OPEN, IN_PROGRESS))] == [c.id, b.id]
        assert [r.id for r in await requests.find(sources=(UNMATCHED,))] == [b.id]
        assert [r.id for r in await requests.for_contact(first.id)] == [c.id, a.id]
        assert [r.id for r in await requests.find(limit=1)] == [c.id]


async def test_stats_group_missing_data_by_normalised_text_and_measure_answer_times(database: Database) -> None:
    person = await contact(database, "1")
    async with database.transaction() as connection:
        await connection.execute(
            indicator_queries.insert(),
            [
                {"contact_id": person.id, "language": "fr", "text": text, "matched": matched, "asked_at": T0}
                for text, matched in [
                    ("Chômage par district ?", 0),
                    ("chomage  par district", 0),
                    ("CHÔMAGE PAR DISTRICT!", 0),
                    ("inflation", 1),
                    ("rice prices 2025", 0),
                ]
            ],
        )
    hours = [1, 2, 3, 10, 50]
    for index, hour in enumerate(hours):
        created = await ticket(database, person, "chômage par district" if index == 0 else f"other need {index}")
        async with database.transaction() as connection:
            await Repositories(connection).requests.answer(created.id, "ok", "amina", T0 + timedelta(hours=hour))
    await ticket(database, None, "Rice prices, 2025", group="media")
    async with database.transaction() as connection:
        stats = await Repositories(connection).requests.stats()
    assert stats.by_status == {OPEN: 1, IN_PROGRESS: 0, ANSWERED: 5, CLOSED: 0}
    assert stats.by_user_group == {None: 5, "media": 1}
    assert sorted(stats.answer_seconds) == [h * 3600.0 for h in hours]
    assert percentile(stats.answer_seconds, 0.5) == 3 * 3600 and percentile(stats.answer_seconds, 0.9) == 50 * 3600
    top = stats.demand[:2]
    assert [(normalised(item.text), item.lookups, item.tickets) for item in top] == [
        ("chomage par district", 3, 1),
        ("rice prices 2025", 1, 1),
    ]
    assert "inflation" not in {normalised(item.text) for item in stats.demand}, "matched lookups are not missing data"
    async with database.transaction() as connection:
        recent = await Repositories(connection).requests.stats(since=T0 + timedelta(days=1))
    assert sum(recent.by_status.values()) == 0 and recent.demand == ()


def test_percentile_is_the_nearest_rank() -> None:
    assert percentile([], 0.5) is None
    assert percentile([5.0], 0.9) == 5.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 0.5) == 2.0
    assert percentile([float(v) for v in range(1, 11)], 0.9) == 9.0


async def test_erasing_a_contact_deletes_their_tickets_messages_and_outbox(database: Database) -> None:
    person, other = await contact(database, "1"), await contact(database, "2")
    mine = await ticket(database, person, "mine")
    theirs = await ticket(database, other, "theirs")
    async with database.transaction() as connection:
        repos = Repositories(connection)
        await repos.requests.answer(mine.id, "answer", "amina", T0)
        for who in (person, other):
            await repos.outbox.enqueue(
                contact_id=who.id, channel="telegram", chat_key=who.chat_key, kind="request_answer", body="{}", now=T0
            )
        erased = await repos.contacts.erase(person.id, "pseudonym")
    assert erased.requests == 1
    async with database.transaction() as connection:
        repos = Repositories(connection)
        assert await repos.requests.get(mine.id) is None
        assert (await repos.requests.require(theirs.id)).text == "theirs"
        assert await connection.scalar(select(func.count()).select_from(request_messages)) == 1
        assert [row.contact_id for row in (await connection.execute(select(outbox))).all()] == [other.id]


# --------------------------------------------------------------------------- the outbox


async def enqueue(database: Database, person: Contact, body: str = '{"text": "hi"}') -> int:
    async with database.transaction() as connection:
        return await Repositories(connection).outbox.enqueue(
            contact_id=person.id, channel=person.channel, chat_key=person.chat_key, kind="test", body=body, now=T0
        )


async def test_claims_take_one_row_per_chat_in_order_and_skip_busy_chats(database: Database) -> None:
    first, second, web = (
        await contact(database, "1"),
        await contact(database, "2"),
        await contact(database, "w", channel="web"),
    )
    a1, a2, b1 = await enqueue(database, first), await enqueue(database, first), await enqueue(database, second)
    await enqueue(database, web)
    async with database.transaction() as connection:
        repository = Repositories(connection).outbox
        assert await repository.has_pending(["telegram"])
        claimed = await repository.claim(["telegram"], 10, T0)
        assert [(m.id, m.status, m.attempts) for m in claimed] == [(a1, SENDING, 1), (b1, SENDING, 1)]
        assert await repository.claim(["telegram"], 10, T0, busy={"telegram:1"}) == []
        await repository.record([Outcome(a1, SENT, message_key="77"), Outcome(b1, FAILED, "refused")], T0)
        assert [m.id for m in await repository.claim(["telegram"], 10, T0)] == [a2]
        counts = await repository.counts()
    assert counts == {PENDING: 1, SENDING: 1, SENT: 1, FAILED: 1, UNKNOWN: 0}, "the web chat row waits"


async def test_rows_in_flight_at_start_become_unknown_and_are_never_claimed_again(database: Database) -> None:
    person = await contact(database, "1")
    row = await enqueue(database, person)
    async with database.transaction() as connection:
        assert [m.id for m in await Repositories(connection).outbox.claim(["telegram"], 5, T0)] == [row]
    # The process dies here. The next one starts:
    async with database.transaction() as connection:
        repository = Repositories(connection).outbox
        assert await repository.recover_in_flight() == 1
        assert await repository.claim(["telegram"], 5, T0) == []
        assert not await repository.has_pending(["telegram"])
        (message,) = await repository.for_contact(person.id)
    assert (message.status, message.error) == (UNKNOWN, "in flight when the sender stopped: delivery unknown")


async def test_a_send_that_finds_the_bot_blocked_marks_the_contact_once_at_the_first_moment(database: Database) -> None:
    person, other = await contact(database, "1"), await contact(database, "2")
    first, second, third = (
        await enqueue(database, person),
        await enqueue(database, other),
        await enqueue(database, person),
    )
    async with database.transaction() as connection:
        repository = Repositories(connection).outbox
        claimed = await repository.claim(["telegram"], 10, T0)
        assert [m.id for m in claimed] == [first, second]
        await repository.record(
            [
                Outcome(first, FAILED, BLOCKED, blocked_contact_id=person.id),
                Outcome(second, SENT, message_key="9"),
            ],
            T0,
        )
        assert [m.id for m in await repository.claim(["telegram"], 10, T0)] == [third]
        later = T0 + timedelta(hours=1)
        await repository.record([Outcome(third, FAILED, BLOCKED, blocked_contact_id=person.id)], later)
        blocked = dict((await connection.execute(select(contacts.c.id, contacts.c.blocked_at))).all())
    assert blocked[other.id] is None
    assert blocked[person.id] is not None
    assert blocked[person.id].replace(tzinfo=UTC) == T0, "the first moment the bot was found blocked stays"
