"""``/results`` on Telegram (the real python-telegram-bot Application and the fake Bot API), the
web chat (real HTTP) and WhatsApp (the fake Cloud API): the same headline figures as text and the
chart as a picture, once the person has completed the survey and its results are published."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from handlers.results import publish_results
from storage.database import Database
from storage.models import ContactRow
from storage.repositories import Repositories
from testkit.fakes.telegram import FakeTelegramServer
from testkit.fakes.whatsapp import FakeGraphServer
from testkit.results import SURVEY_ID, store_respondents, synthetic_respondents, write_survey
from testkit.telegram_harness import bot_in_process
from testkit.webchat_harness import WebVisitor
from testkit.whatsapp_harness import whatsapp_bot

DATA_DATE = datetime(2027, 3, 31, 12, 0, tzinfo=UTC)
NOT_YET = "The results of the surveys you answered are not published yet. Send /results again later."


@pytest.fixture
async def forms(database: Database, tmp_path: Path) -> Path:
    """The results survey with 300 responses, published."""
    directory = tmp_path / "forms"
    survey = write_survey(directory)
    await store_respondents(database, survey, synthetic_respondents(300), DATA_DATE)
    await publish_results(database, survey, actor="editor1", now=DATA_DATE + timedelta(days=1))
    return directory


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraphServer]:
    async with FakeGraphServer() as fake:
        yield fake


async def complete_for_people_on(database: Database, channel: str) -> None:
    """Record the survey as completed by the people who wrote to the bot on ``channel`` (the
    survey itself is answered through the engine in tests/handlers/test_results_chat.py)."""
    async with database.transaction() as connection:
        rows = await connection.execute(
            select(ContactRow.id).where(ContactRow.channel == channel, ContactRow.user_key.not_like("results-%"))
        )
        for (contact_id,) in rows.all():
            await Repositories(connection).participations.record_completion(contact_id, SURVEY_ID, DATA_DATE)


def assert_headline(text: str) -> None:
    lines = text.split("\n")
    assert lines[0] == "📊 Results: Our statistics and you"
    assert lines[1] == "300 people responded. Data as of March 31, 2027."
    assert "• Not sure: not shown (too few answers)" in lines


async def test_results_on_telegram_and_the_web_chat(
    server: FakeTelegramServer, database: Database, database_url: str, forms: Path
) -> None:
    async with bot_in_process(server, database_url, forms=forms) as bot:
        person = server.user(7001, language_code="en")
        (reply,) = await person.send_text_and_wait("/results")
        assert reply.text == NOT_YET
        await complete_for_people_on(database, "telegram")
        await person.send_text("/results")
        text = await person.wait_for_message(timeout=30)
        chart = await person.wait_for_message(lambda m: m.media_type == "photo", timeout=30)
        assert text.text is not None
        assert_headline(text.text)
        assert chart.photo is not None and chart.photo.startswith(b"\x89PNG")
        assert chart.text == "How satisfied are you with our statistics?"

        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
            visitor = WebVisitor(client, f"http://127.0.0.1:{bot.web_port}")
            (reply,) = await visitor.post(text="/results")
            assert reply["text"] == NOT_YET
            await complete_for_people_on(database, "web")
            text_reply, chart_reply = await visitor.post(text="/results")
            assert_headline(text_reply["text"])
            attachment = chart_reply["attachment"]
            assert attachment["kind"] == "image" and attachment["data_url"].startswith("data:image/png;base64,")


async def test_results_on_whatsapp(graph: FakeGraphServer, database: Database, database_url: str, forms: Path) -> None:
    async with whatsapp_bot(graph, database_url, forms=forms):
        person = graph.user("254733000077")
        (reply,) = await person.send_text_and_wait("/results")
        assert reply.text == NOT_YET
        await complete_for_people_on(database, "whatsapp")
        replies = await person.send_text_and_wait("/results")
        assert_headline(replies[0].text)
        chart = replies[-1]
        assert chart.kind == "image" and chart.media is not None and chart.media.content.startswith(b"\x89PNG")
    assert all(call.status == 200 for call in graph.calls_to("messages"))
