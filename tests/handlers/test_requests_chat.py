"""Data requests in the chat, through the real engine and database (both backends): /request, the
offer after a question that matched nothing, /my_requests, the admins' /requests and /reply, the
messages queued for the person, and /delete_my_data."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import cast

import pytest
from sqlalchemy import Table, select

from bot.core.engine import Engine, load_pseudonymizer
from handlers.context import Community
from handlers.request_desk import ANSWER_NOTICE, answer, close, mark_in_progress
from handlers.texts import RLM, Texts, rtl
from storage import audit
from storage.database import Database
from storage.feedback import CONVERTED, MESSAGE, NEW
from storage.models import FeedbackRow, OutboxRow
from storage.outbox_messages import OutboxMessage
from storage.repositories import Repositories
from storage.requests import ANSWERED, CLOSED, IN_PROGRESS, OPEN, REQUEST, UNMATCHED, DataRequest
from surveys.model import Survey
from testkit.fakes.engine_user import EngineUser

EN, FR, AR = Texts("en"), Texts("fr"), Texts("ar")
feedback = cast(Table, FeedbackRow.__table__)
outbox = cast(Table, OutboxRow.__table__)
ADMIN = "900"
QUESTION = "Unemployment rate by district for 2025, quarterly"


@pytest.fixture
async def engine(database: Database, shipped_surveys: dict[str, Survey]) -> Engine:
    community = Community(admins=frozenset({("telegram", ADMIN)}))
    pseudonymizer = await load_pseudonymizer(database, "test-pseudonym-key-0123456789")
    return Engine(database, shipped_surveys, pseudonymizer, community=community)


def person(engine: Engine, user_key: str, language: str = "en") -> EngineUser:
    return EngineUser(engine, user_key, channel="telegram", language=language)


async def tickets(engine: Engine) -> list[DataRequest]:
    async with engine.database.reading() as connection:
        return list(reversed(await Repositories(connection).requests.find(limit=100)))


async def queued(engine: Engine) -> list[OutboxMessage]:
    async with engine.database.reading() as connection:
        rows = (await connection.execute(select(outbox).order_by(outbox.c.id))).all()
    return [
        OutboxMessage(
            r.id, r.contact_id, r.channel, r.chat_key, r.kind, r.body, r.status, r.attempts, r.error, r.created_at, None
        )
        for r in rows
    ]


def number_in(text: str) -> int:
    return int(text.split("#", 1)[1].split(".", 1)[0].split()[0])


# --------------------------------------------------------------------------- /request


async def test_request_with_text_stores_a_ticket_and_gives_its_number(engine: Engine) -> None:
    user = person(engine, "1")
    replies = await user.say(f"/request {QUESTION}")
    (stored,) = await tickets(engine)
    assert [r.text for r in replies] == [EN("request_created", number=str(stored.id))]
    assert (stored.text, stored.source, stored.status, stored.channel, stored.language) == (
        QUESTION,
        REQUEST,
        OPEN,
        "telegram",
        "en",
    )
    assert stored.user_group is None, "no consent, no user group"


async def test_request_alone_asks_for_the_need_then_stores_the_next_message_as_it_was_written(engine: Engine) -> None:
    user = person(engine, "2", "fr")
    assert [r.text for r in await user.say("/request")] == [FR("request_ask")]
    # A redelivered update repeats the question and stores nothing.
    await user.say("/request", update_key=user.last_update_key)
    assert user.last_text == FR("request_ask")
    need = "Prix du riz par marché,\n  mensuels depuis 2020 !"
    replies = await user.say(need)
    (stored,) = await tickets(engine)
    assert replies[0].text == FR("request_created", number=str(stored.id))
    assert stored.text == need and stored.language == "fr"
    # The flow is over: the next free text is not another ticket.
    await user.say("merci")
    assert len(await tickets(engine)) == 1


async def test_request_with_text_while_asked_for_one_ends_the_flow(engine: Engine) -> None:
    user = person(engine, "2b")
    await user.say("/request")
    await user.say("/request Exports by product")
    assert [r.text for r in await user.say("hello there, how are you")] == [EN("request_offer")]
    assert [t.text for t in await tickets(engine)] == ["Exports by product"]


async def test_cancel_leaves_the_request_flow_without_a_ticket(engine: Engine) -> None:
    user = person(engine, "3")
    await user.say("/request")
    assert [r.text for r in await user.say("/cancel")] == [EN("request_cancelled")]
    assert await tickets(engine) == []
    assert [r.text for r in await user.say("/cancel")] == [EN("nothing_to_cancel")]


async def test_request_alone_during_a_survey_does_not_drop_the_survey(engine: Engine) -> None:
    user = person(engine, "4")
    await user.say("/survey usat2026")
    assert [r.text for r in await user.say("/request")] == [EN("request_finish_first")]
    await user.say("/request Population by age")  # with a text it works anywhere
    (stored,) = await tickets(engine)
    assert stored.text == "Population by age" and stored.contact_id is not None
    async with engine.database.reading() as connection:
        conversation = await Repositories(connection).conversations.get(stored.contact_id)
    assert conversation is not None and conversation.flow == "survey"


async def test_the_user_group_is_kept_only_with_consent(engine: Engine) -> None:
    user = person(engine, "5")
    await user.say("/help")
    async with engine.database.transaction() as connection:
        repos = Repositories(connection)
        contact = await repos.contacts.touch("telegram", "5", "5", "en", datetime.now(UTC))
        await repos.contacts.set_field(contact.id, "user_group", "researcher")
    await user.say("/request Without consent")
    async with engine.database.transaction() as connection:
        await Repositories(connection).contacts.give_consent(contact.id, datetime.now(UTC))
    await user.say("/request With consent")
    assert [(t.text, t.user_group) for t in await tickets(engine)] == [
        ("Without consent", None),
        ("With consent", "researcher"),
    ]


# --------------------------------------------------------------------------- the offer after a miss


async def test_an_unmatched_question_is_offered_as_a_request_and_one_press_makes_one_ticket(engine: Engine) -> None:
    user = person(engine, "6")
    (offer,) = await user.say(QUESTION)
    assert offer.text == EN("request_offer")
    assert [b.label for b in offer.flat_buttons] == [EN("button_request_send"), EN("button_request_no")]
    assert all(len(b.payload.encode()) <= 64 and b.payload.startswith("r:") for b in offer.flat_buttons)
    async with engine.database.reading() as connection:
        (kept,) = (await connection.execute(select(feedback))).all()
    assert (kept.kind, kept.status, kept.text) == (MESSAGE, NEW, QUESTION), "the text is in the team's inbox"

    (created,) = await user.press(EN("button_request_send"))
    (stored,) = await tickets(engine)
    assert created.text == EN("request_created", number=str(stored.id)) and created.replaces_pressed
    assert (stored.text, stored.source) == (QUESTION, UNMATCHED)
    # A second press (or a redelivery of the first) creates nothing more.
    (again,) = await user.press_payload(offer.flat_buttons[0].payload)
    assert again.text == EN("request_already_sent")
    assert len(await tickets(engine)) == 1
    async with engine.database.reading() as connection:
        assert (await connection.execute(select(feedback.c.status))).scalar_one() == CONVERTED


async def test_no_thanks_keeps_the_message_for_the_team_and_makes_no_ticket(engine: Engine) -> None:
    user = person(engine, "7", "ar")
    (offer,) = await user.say("أسعار الأرز في الأسواق الريفية")
    assert offer.text.startswith(RLM), "Arabic is laid out right to left"
    (declined,) = await user.press(AR("button_request_no"))
    assert declined.text == rtl(AR("request_offer_declined"))
    assert await tickets(engine) == []
    async with engine.database.reading() as connection:
        assert (await connection.execute(select(feedback.c.status))).scalar_one() == NEW


async def test_short_greetings_are_not_offered_as_requests(engine: Engine) -> None:
    user = person(engine, "8")
    assert [r.text for r in await user.say("hello")] == [EN("not_understood")]
    assert [r.text for r in await user.say("thanks!")] == [EN("not_understood")]


async def test_a_press_on_someone_elses_offer_or_a_forged_payload_changes_nothing(engine: Engine) -> None:
    asker, intruder = person(engine, "10"), person(engine, "11")
    (offer,) = await asker.say(QUESTION)
    payload = offer.flat_buttons[0].payload
    for forged in (payload, "r:s:999", "r:s:abc", "r:x:1", "r:s:1:2", "r:"):
        assert [r.text for r in await intruder.press_payload(forged)] == [EN("stale_button")], forged
    assert await tickets(engine) == []


# --------------------------------------------------------------------------- /my_requests


async def test_my_requests_lists_ones_own_tickets_with_status_and_answer(engine: Engine) -> None:
    user, other = person(engine, "20"), person(engine, "21")
    assert [r.text for r in await user.say("/my_requests")] == [EN("my_requests_none")]
    await user.say("/request CPI weights")
    await user.say("/request Births by province")
    await other.say("/request Not yours")
    first, second, theirs = await tickets(engine)
    async with engine.database.transaction() as connection:
        await answer(Repositories(connection), first.id, "See table 2.", staff="amina", now=datetime.now(UTC))
    (listing,) = await user.say("/my_requests")
    text = listing.text
    assert text.startswith(EN("my_requests_header"))
    assert text.index(f"#{second.id}") < text.index(f"#{first.id}"), "newest first"
    assert "CPI weights" in text and "Births by province" in text and "Not yours" not in text
    assert EN("my_requests_answer", answer="See table 2.") in text
    assert EN("request_status_answered") in text and EN("request_status_open") in text
    (full,) = await user.say(f"/my_requests {first.id}")
    assert "CPI weights" in full.text and "See table 2." in full.text
    (refused,) = await user.say(f"/my_requests {theirs.id}")
    assert refused.text == EN("my_request_unknown", number=str(theirs.id))


# --------------------------------------------------------------------------- admins


async def test_only_admins_list_and_answer_requests_and_the_answer_is_queued_in_the_users_language(
    engine: Engine,
) -> None:
    user, admin, someone = person(engine, "30", "fr"), person(engine, "900"), person(engine, "31")
    await user.say("/request Prix du riz par marché")
    (stored,) = await tickets(engine)
    for command in ("/requests", f"/reply {stored.id} hello"):
        name = command.split()[0]
        assert [r.text for r in await someone.say(command)] == [EN("unknown_command", command=name)]
    assert await queued(engine) == []

    (listing,) = await admin.say("/requests")
    assert listing.text.startswith(EN("requests_admin_header", count="1"))
    assert f"#{stored.id}" in listing.text and "Prix du riz par marché" in listing.text
    assert [r.text for r in await admin.say("/reply")] == [EN("reply_usage")]
    assert [r.text for r in await admin.say(f"/reply {stored.id}")] == [EN("reply_usage")]
    assert [r.text for r in await admin.say("/reply 999 text")] == [EN("request_not_found", number="999")]

    (too_long,) = await admin.say(f"/reply {stored.id} " + "x" * 3801)
    assert too_long.text == EN("reply_too_long", length="3801", limit="3800")
    assert await queued(engine) == []
    answer_text = "Les prix par marché sont dans le tableau 7 :\nhttps://stats.example.org/riz"
    (done,) = await admin.say(f"/reply #{stored.id} {answer_text}")
    assert done.text == EN("reply_sent", number=str(stored.id))
    (ticket_after,) = await tickets(engine)
    assert ticket_after.status == ANSWERED and ticket_after.assigned_to == f"telegram:{ADMIN}"
    (message,) = await queued(engine)
    assert (message.kind, message.status, message.chat_key) == (ANSWER_NOTICE, "pending", "30")
    body = json.loads(message.body)
    assert body["text"] == FR("request_answer_notice", number=str(stored.id), answer=answer_text)
    assert body["ref"] == f"request:{stored.id}"
    (empty,) = await admin.say("/requests")
    assert empty.text == EN("requests_admin_none")
    async with engine.database.reading() as connection:
        (event,) = await audit.events(connection)
    assert (event.actor, event.action, event.target) == (
        f"telegram:{ADMIN}",
        audit.REQUEST_ANSWERED,
        f"request:{stored.id}",
    )
    assert event.details["via"] == "chat" and answer_text not in repr(event), "the answer's text is not in the trail"


async def test_status_changes_are_told_once_and_a_closed_ticket_cannot_be_answered(engine: Engine) -> None:
    user, admin = person(engine, "40"), person(engine, ADMIN)
    await user.say("/request A")
    await user.say("/request B")
    a, b = await tickets(engine)
    now = datetime.now(UTC)
    async with engine.database.transaction() as connection:
        repos = Repositories(connection)
        assert (await mark_in_progress(repos, a.id, now=now, staff="amina")).notified
        assert (await answer(repos, a.id, "Answer A", staff="amina", now=now, close=True)).request.status == CLOSED
        closed_b = await close(repos, b.id, now=now)
    assert closed_b.notified and closed_b.request.status == CLOSED
    assert [m.kind for m in await queued(engine)] == ["request_in_progress", "request_answer", "request_closed"]
    assert json.loads((await queued(engine))[0].body)["text"] == EN("request_in_progress_notice", number=str(a.id))
    assert [r.text for r in await admin.say(f"/reply {a.id} more")] == [EN("request_is_closed", number=str(a.id))]
    assert len(await queued(engine)) == 3


async def test_web_chat_users_are_not_queued_messages_and_read_the_answer_with_my_requests(engine: Engine) -> None:
    user, admin = EngineUser(engine, "w1", channel="web"), person(engine, ADMIN)
    (created,) = await user.say("/request Trade balance by partner")
    (stored,) = await tickets(engine)
    assert created.text == EN("request_created_no_push", number=str(stored.id))
    assert [r.text for r in await admin.say(f"/reply {stored.id} See the trade yearbook.")] == [
        EN("reply_stored", number=str(stored.id))
    ]
    assert await queued(engine) == []
    assert "See the trade yearbook." in (await user.say("/my_requests"))[0].text


# --------------------------------------------------------------------------- privacy


async def test_delete_my_data_deletes_tickets_and_queued_messages(engine: Engine) -> None:
    user, other = person(engine, "50"), person(engine, "51")
    await user.say("/request Mine")
    await other.say("/request Theirs")
    mine, theirs = await tickets(engine)
    async with engine.database.transaction() as connection:
        repos = Repositories(connection)
        for stored in (mine, theirs):
            await mark_in_progress(repos, stored.id, now=datetime.now(UTC))
    await user.say("/delete_my_data")
    (deleted,) = await user.press("Yes, delete my data")
    assert deleted.text == EN("data_deleted", subscriptions="0", messages="1", responses="0")
    assert [t.text for t in await tickets(engine)] == ["Theirs"]
    assert [m.chat_key for m in await queued(engine)] == ["51"]
    assert theirs.status == OPEN and (await tickets(engine))[0].status == IN_PROGRESS
