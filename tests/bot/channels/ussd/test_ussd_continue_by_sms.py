"""A USSD session about to run out continues by SMS: the question queued for the person's SMS
contact, and their SMS answer goes on with the same response (the real engine and database,
the USSD callback over HTTP; the SMS side as the engine sees it once the channel read the reply)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text

from bot.channels.ussd.adapter import CONTINUE_KIND, UssdChannel
from bot.core.engine import Engine, load_pseudonymizer
from handlers import notify
from handlers.context import Community
from storage.database import Database
from surveys.loader import load_survey_directory
from testkit.fakes.engine_user import EngineUser
from testkit.panel_waves import write_waves
from testkit.ussd_harness import ussd_settings

PHONE = "+254712345678"


async def test_the_question_continued_by_sms_is_answered_by_sms_in_the_same_response(
    database: Database, tmp_path: Path
) -> None:
    write_waves(tmp_path / "forms")
    surveys = load_survey_directory(tmp_path / "forms")
    engine = Engine(database, surveys, await load_pseudonymizer(database, "k" * 40), community=Community())
    # Every screen that waits for an answer is past the limit: the first question goes on by SMS.
    settings = ussd_settings(survey="lfs2026w1", continue_by_sms=True, sms_after_seconds=-1.0)
    channel = UssdChannel(settings, engine, database, surveys, sms_available=True)
    app = web.Application()
    channel.add_routes(app)
    async with TestClient(TestServer(app)) as client:
        dial = await client.post(
            settings.callback_path, data={"sessionId": "s1", "phoneNumber": PHONE, "serviceCode": "*384#", "text": ""}
        )
        assert dial.status == 200 and (await dial.text()).startswith("END ")

    async with database.reading() as connection:
        (channel_name, kind, body) = (
            await connection.execute(
                text("SELECT c.channel, o.kind, o.body FROM outbox o JOIN contacts c ON c.id = o.contact_id")
            )
        ).one()
    assert (channel_name, kind) == ("sms", CONTINUE_KIND), "queued for the person's SMS contact"
    question = notify.decode(body)
    assert "Did you work for pay last week?" in question.text
    by_sms = EngineUser(engine, PHONE, channel="sms")
    yes = next(button for button in question.flat_buttons if button.label == "Yes")
    replies = await by_sms.press_payload(yes.payload)
    assert "What was your income last month?" in replies[-1].text, [reply.text for reply in replies]
    await by_sms.say("5000")
    await by_sms.press("Trade")
    async with database.reading() as connection:
        rows = (await connection.execute(text("SELECT completed_at, channel FROM responses"))).all()
        answers = dict((await connection.execute(text("SELECT question, value FROM answers"))).all())
    assert len(rows) == 1 and rows[0][0] is not None, "one response, finished by SMS"
    assert answers == {"employed": "yes", "income": "5000", "sector": "trade"}
