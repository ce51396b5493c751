""" "You said, we did" in the chat and as a staff action, through the real engine and database:
the offer at the end of a survey, Yes/No stored per survey and contact (anonymous surveys
without the response), forged presses refused, and the broadcast's recipients."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import Table, select

from bot.core.engine import Engine, load_pseudonymizer
from handlers.notices import NoticeFileError
from handlers.survey_feedback import (
    load_summary_file,
    preview_feedback,
    send_feedback,
    sent_before,
    sent_lines,
    summary_notice,
)
from storage.database import Database
from storage.models import AuditEventRow, ContactRow, DeliveryRow, ResultsOptInRow
from surveys.loader import load_survey_directory
from testkit.fakes.engine_user import EngineUser

NOW = datetime(2026, 6, 15, 9, 0, tzinfo=UTC)
optins = cast(Table, ResultsOptInRow.__table__)
contacts = cast(Table, ContactRow.__table__)
deliveries = cast(Table, DeliveryRow.__table__)
audit_events = cast(Table, AuditEventRow.__table__)

SURVEYS = {
    "asks.yaml": "id: asks\ntitle: Asks\noffer_feedback: true\nmax_responses_per_user: 3\n"
    "questions:\n  - {type: text, name: a, label: A}\n",
    "anon.yaml": "id: anon\ntitle: Anon\noffer_feedback: true\nanonymous: true\nquestions:\n  - {type: text, name: a, label: A}\n",
    "quiet.yaml": "id: quiet\ntitle: Quiet\nquestions:\n  - {type: text, name: a, label: A}\n",
}


@pytest.fixture
async def feedback_engine(database: Database, tmp_path: Path) -> AsyncIterator[Engine]:
    forms = tmp_path / "forms"
    forms.mkdir()
    for name, body in SURVEYS.items():
        (forms / name).write_text(body)
    yield Engine(
        database, load_survey_directory(forms), await load_pseudonymizer(database, "k" * 20), clock=lambda: NOW
    )


async def stored(database: Database) -> dict[tuple[str, str], tuple[bool, str | None]]:
    async with database.reading() as connection:
        rows = await connection.execute(
            select(optins.c.survey_id, contacts.c.user_key, optins.c.wants, optins.c.response_id).join(
                contacts, contacts.c.id == optins.c.contact_id
            )
        )
        return {(survey, user): (bool(wants), response) for survey, user, wants, response in rows}


async def test_the_end_of_a_survey_asks_and_yes_or_no_is_stored_per_survey(feedback_engine: Engine) -> None:
    user = EngineUser(feedback_engine, "f1")
    await user.say("/survey asks")
    replies = await user.say("fine")
    assert replies[-1].text.startswith("Would you like to hear what we do with the results")
    assert [b.label for b in replies[-1].flat_buttons] == ["Yes, tell me", "No, thanks"]
    replies = await user.press("Yes, tell me")
    assert replies[-1].text == "Thank you: we will tell you what we do with the results."
    found = await stored(feedback_engine.database)
    assert found[("asks", "f1")][0] is True and found[("asks", "f1")][1] is not None, "linked to the response"
    # A second response, and No this time: the latest answer counts.
    await user.say("/survey asks")
    await user.say("again")
    replies = await user.press("No, thanks")
    assert replies[-1].text.startswith("All right")
    assert (await stored(feedback_engine.database))[("asks", "f1")][0] is False


async def test_an_anonymous_survey_stores_the_answer_without_the_response(feedback_engine: Engine) -> None:
    user = EngineUser(feedback_engine, "f2")
    await user.say("/survey anon")
    await user.say("secret")
    await user.press("Yes, tell me")
    assert (await stored(feedback_engine.database))[("anon", "f2")] == (True, None)


async def test_deleting_ones_data_deletes_the_answer(feedback_engine: Engine) -> None:
    user = EngineUser(feedback_engine, "f5")
    await user.say("/survey asks")
    await user.say("fine")
    await user.press("Yes, tell me")
    assert ("asks", "f5") in await stored(feedback_engine.database)
    await user.say("/delete_my_data")
    await user.press("Yes, delete my data")
    assert await stored(feedback_engine.database) == {}


async def test_a_survey_without_offer_feedback_does_not_ask(feedback_engine: Engine) -> None:
    user = EngineUser(feedback_engine, "f3")
    await user.say("/survey quiet")
    replies = await user.say("done")
    assert not any(reply.flat_buttons for reply in replies)


async def test_a_forged_press_for_a_survey_not_completed_changes_nothing(feedback_engine: Engine) -> None:
    user = EngineUser(feedback_engine, "f4")
    await user.say("/survey asks")  # started, not finished
    for payload in ("yf:y:asks", "yf:y:quiet", "yf:x:asks", "yf:y:", "yf:"):
        replies = await user.press_payload(payload)
        assert "button" in replies[-1].text.lower(), replies[-1].text
    assert await stored(feedback_engine.database) == {}


async def test_the_summary_goes_to_exactly_the_opted_in_who_can_receive_it_and_is_audited(
    feedback_engine: Engine,
) -> None:
    database = feedback_engine.database
    for key, button in (("g1", "Yes, tell me"), ("g2", "Yes, tell me"), ("g3", "No, thanks"), ("g4", None)):
        user = EngineUser(feedback_engine, key, channel="telegram")
        await user.say("/survey asks")
        await user.say("x")
        if button is not None:
            await user.press(button)
    stopped = EngineUser(feedback_engine, "g2", channel="telegram")
    await stopped.say("/stop")
    async with database.reading() as connection:
        reach = await preview_feedback(connection, "asks")
    assert (reach.opted_in, reach.declined, reach.reached, reach.left_out) == (2, 1, 1, {"opted out": 1})
    notice = summary_notice("What we did", {"en": "You said; we did.", "fr": "Vous avez dit."}, "en")
    async with database.transaction() as connection:
        broadcast_id, recipients = await send_feedback(connection, "asks", notice, actor="staff:amina", now=NOW)
    async with database.reading() as connection:
        rows = (
            await connection.execute(
                select(contacts.c.user_key, deliveries.c.status).join(
                    contacts, contacts.c.id == deliveries.c.contact_id
                )
            )
        ).all()
        audited = (await connection.execute(select(audit_events.c.actor, audit_events.c.target))).all()
    assert recipients == 1 and [(user, status) for user, status in rows] == [("g1", "pending")]
    assert ("staff:amina", f"broadcast:{broadcast_id}") in audited
    async with database.transaction() as connection:
        await send_feedback(connection, "anon", notice, actor="staff:amina", now=NOW)  # another survey's
        sent = await sent_before(connection, "asks")
    assert [(item.broadcast_id, item.title, item.recipients) for item in sent] == [(broadcast_id, "What we did", 1)]
    assert sent_lines(sent) == [f"broadcast {broadcast_id} 'What we did' of 2026-06-15: 1 recipient(s), scheduled"]


def test_a_summary_file_may_not_name_an_audience(tmp_path: Path) -> None:
    path = tmp_path / "summary.yaml"
    path.write_text("title: T\ntext: {en: Done}\naudience:\n  topics: [prices]\n")
    with pytest.raises(NoticeFileError) as raised:
        load_summary_file(path, {"asks"})
    assert [str(p) for p in raised.value.problems] == [
        f"{path}:3: this file goes to the survey's respondents who asked for it: remove 'audience'"
    ]
    path.write_text("title: T\ndefault_language: fr\ntext: {fr: Fait, en: Done}\n")
    assert load_summary_file(path, {"asks"}).texts == {"fr": "Fait", "en": "Done"}


def test_the_buttons_fit_whatsapp_reply_buttons_in_every_language() -> None:
    from bot.channels.whatsapp.rendering import MAX_BUTTON_TITLE
    from handlers.texts import MESSAGES, SUPPORTED_LANGUAGES

    for language in SUPPORTED_LANGUAGES:
        for key in ("button_feedback_yes", "button_feedback_no", "feedback_offer", "feedback_will_tell"):
            assert MESSAGES[language].get(key), (language, key)
        for key in ("button_feedback_yes", "button_feedback_no"):
            assert len(MESSAGES[language][key]) <= MAX_BUTTON_TITLE, (language, key)
