"""End to end over WhatsApp: the real adapter on the bot's aiohttp server, the fake Cloud API
(Graph API + Meta's signed webhook calls) on 127.0.0.1, and a real database (SQLite file, and
PostgreSQL when reachable)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select

from handlers.messages import Attachment, Button, Outbound
from storage.database import Database
from storage.models import ContactRow
from surveys.model import Survey
from testkit.exports import comparable, export_rows
from testkit.fakes.survey_respondent import Respondent
from testkit.fakes.telegram import FakeTelegramServer
from testkit.fakes.whatsapp import FakeGraphServer
from testkit.telegram_harness import bot_in_process
from testkit.whatsapp_harness import VERIFY_TOKEN, whatsapp_bot


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraphServer]:
    async with FakeGraphServer() as fake:
        yield fake


def sqlite_url(tmp_path: Path, name: str = "db.sqlite") -> str:
    return f"sqlite+aiosqlite:///{tmp_path / name}"


async def contact_count(database_url: str) -> int:
    database = Database(database_url)
    try:
        async with database.transaction() as connection:
            return int(await connection.scalar(select(func.count()).select_from(ContactRow)) or 0)
    finally:
        await database.dispose()


async def test_the_survey_over_whatsapp_stores_the_same_answers_and_export_as_over_telegram(
    graph: FakeGraphServer, database_url: str, usat: Survey, tmp_path: Path
) -> None:
    count = 6
    whatsapp_people = [Respondent(graph.user(f"25470000{i:04d}"), i, usat) for i in range(count)]  # type: ignore[arg-type]
    async with whatsapp_bot(graph, database_url):

        async def answer(respondent: Respondent) -> None:
            await respondent.open()
            await respondent.answer_until()

        await asyncio.gather(*(answer(r) for r in whatsapp_people))
    assert all(r.finished for r in whatsapp_people)
    whatsapp_rows = await export_rows(database_url, usat)

    telegram_url = sqlite_url(tmp_path, "telegram.sqlite")
    async with FakeTelegramServer() as telegram, bot_in_process(telegram, telegram_url):
        telegram_people = [Respondent(telegram.user(5000 + i), i, usat) for i in range(count)]
        for respondent in telegram_people:
            await respondent.open()
            await respondent.answer_until()
    telegram_rows = await export_rows(telegram_url, usat)

    assert len(whatsapp_rows) == count
    assert {row["channel"] for row in whatsapp_rows} == {"whatsapp"}
    assert {row["channel"] for row in telegram_rows} == {"telegram"}
    assert comparable(whatsapp_rows) == comparable(telegram_rows)
    questions = [q.name for q in usat.data_questions]
    expected = sorted(tuple(r.expected[name] for name in questions) for r in whatsapp_people)
    assert sorted(tuple(row[name] for name in questions) for row in whatsapp_rows) == expected
    phones = {person.user.phone for person in whatsapp_people}  # type: ignore[attr-defined]
    assert not phones & {row["respondent"] for row in whatsapp_rows}, "exports never show phone numbers"
    # Everything the bot sent passed the fake's checks of WhatsApp's limits.
    assert all(call.status == 200 for call in graph.calls_to("messages"))


async def test_choices_are_rendered_within_whatsapp_limits(graph: FakeGraphServer, tmp_path: Path) -> None:
    async with whatsapp_bot(graph, sqlite_url(tmp_path)):
        person = graph.user("254711000001")
        await person.send_text_and_wait("/survey usat2026")
        question = person.last_message
        assert question is not None and question.text.startswith("1/12 · Which best describes you?")
        # Ten labels (a list holds ten rows), some longer than a list row's 24 characters: numbered text choices.
        assert question.kind == "list" and question.titles == [str(n) for n in range(1, 11)]
        assert "1. Policymaker or government official" in question.text
        replies = await person.press_label("Media")
        # WhatsApp cannot edit the question to close it: the answer comes as a new message.
        assert replies[0].text == "Which best describes you?\n→ Media"
        assert replies[-1].text.startswith("2/12 ")
        # Five short labels: a list with the labels themselves.
        assert replies[-1].kind == "list" and replies[-1].titles[:2] == ["Daily", "Weekly"]
        await person.press_label("Weekly")
        purposes = person.last_message
        assert purposes is not None and purposes.button_texts[-1].startswith("Done")
        await person.press_label("◻️ News reporting")
        ticked = person.last_message
        assert ticked is not None and ticked is not purposes and "✅ News reporting" in ticked.button_texts


async def test_webhook_verification_handshake(graph: FakeGraphServer, tmp_path: Path) -> None:
    async with whatsapp_bot(graph, sqlite_url(tmp_path)), aiohttp.ClientSession() as client:
        assert graph.webhook_url is not None
        query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
        async with client.get(graph.webhook_url, params=query) as response:
            assert (response.status, await response.text()) == (200, "1158201444")
        async with client.get(graph.webhook_url, params={**query, "hub.verify_token": "guess"}) as response:
            assert response.status == 403
        async with client.get(graph.webhook_url, params={**query, "hub.mode": "unsubscribe"}) as response:
            assert response.status == 403


async def test_a_wrong_or_missing_signature_gets_401_and_nothing_is_processed(
    graph: FakeGraphServer, tmp_path: Path
) -> None:
    url = sqlite_url(tmp_path)
    async with whatsapp_bot(graph, url):
        person = graph.user("254711000002")
        payload = person._message("text", {"text": {"body": "/help"}})
        assert await graph.post_webhook(payload, signature=None) == 401
        assert await graph.post_webhook(payload, signature="sha256=" + "0" * 64) == 401
        other_secret = graph.sign(json.dumps(payload).encode()).replace("sha256=", "sha256=f")[:71]
        assert await graph.post_webhook(payload, signature=other_secret) == 401
        assert graph.calls_to("messages") == []
        assert await contact_count(url) == 0
        assert await graph.post_webhook(payload) == 200, "the same call, signed, is processed"
        assert person.last_message is not None and person.last_message.text.startswith("What I can do")
    assert await contact_count(url) == 1


async def test_a_duplicate_webhook_delivery_is_processed_once(
    graph: FakeGraphServer, tmp_path: Path, usat: Survey
) -> None:
    url = sqlite_url(tmp_path)
    async with whatsapp_bot(graph, url):
        person = graph.user("254711000003")
        await person.send_text_and_wait("/survey usat2026")
        await person.send_text_and_wait("Citizen")
        wamid = await person.send_text("1")
        assert person.last_message is not None and person.last_message.text.startswith("3/12")
        assert await person.redeliver(wamid) == 200
        again = person.last_message
        assert again is not None and again.text.startswith("3/12"), "the redelivery shows the current question"
    (row,) = await export_rows(url, usat)
    assert (row["user_group"], row["frequency"], row["purposes"]) == ("citizen", "daily", "")


async def test_rate_limit_errors_130429_are_retried_and_the_reply_arrives_once(
    graph: FakeGraphServer, tmp_path: Path
) -> None:
    async with whatsapp_bot(graph, sqlite_url(tmp_path)):
        person = graph.user("254711000004")
        graph.fail_next("messages", code=130429, times=2)
        replies = await person.send_text_and_wait("/help")
        assert len(replies) == 1 and replies[0].text.startswith("What I can do")
        assert [(call.status, call.error_code) for call in graph.calls_to("messages")] == [
            (400, 130429),
            (400, 130429),
            (200, None),
        ]


async def test_a_reply_that_cannot_be_sent_gets_503_and_meta_redelivers(
    graph: FakeGraphServer, tmp_path: Path, usat: Survey
) -> None:
    url = sqlite_url(tmp_path)
    async with whatsapp_bot(graph, url):
        person = graph.user("254711000005")
        await person.send_text_and_wait("/survey usat2026")
        graph.fail_next("messages", code=131000, http_status=500, times=5)  # more than the retries
        await person.send_text("Citizen")
        statuses = [
            call.status
            for call in graph.webhook_calls
            if call.payload is person.sent_payloads[list(person.sent_payloads)[-1]]
        ]
        assert statuses == [503, 200], "the first delivery fails, Meta's redelivery succeeds"
        assert person.last_message is not None and person.last_message.text.startswith("2/12")
    (row,) = await export_rows(url, usat)
    assert row["user_group"] == "citizen", "stored once"


async def test_pictures_documents_and_long_lists_are_sent_within_limits(graph: FakeGraphServer, tmp_path: Path) -> None:
    async with whatsapp_bot(graph, sqlite_url(tmp_path)) as bot:
        assert bot.whatsapp is not None
        person = graph.user("254711000006")
        chart = Attachment("image", "cpi.png", b"\x89PNG fake chart", "image/png")
        table = Attachment("document", "cpi.csv", b"period,value\n2026-10,3.1\n", "text/csv")
        await bot.whatsapp.send(person.phone, Outbound(text="CPI, October 2026: 3.1 %", attachment=chart))
        await bot.whatsapp.send(
            person.phone,
            Outbound(text="The table", attachment=table, buttons=((Button("Rate it", "d:r:1"),),)),
        )
        choices = tuple((Button(f"Region {n}", f"t:{n}"),) for n in range(1, 24))
        await bot.whatsapp.send(person.phone, Outbound(text="Which region?", buttons=choices))
        await bot.whatsapp.send(
            person.phone,
            Outbound(
                text="Read more", buttons=((Button("Open the release", "", url="https://stats.example.org/cpi"),),)
            ),
        )
    image, document, rate, *lists, link = person.messages
    assert image.kind == "image" and image.text.startswith("CPI") and image.media is not None
    assert image.media.content == chart.content and image.media.mime_type == "image/png"
    assert document.kind == "document" and document.raw["document"]["filename"] == "cpi.csv"
    assert rate.kind == "button" and rate.text == "The table" and rate.titles == ["Rate it"]
    assert [len(page.choices) for page in lists] == [10, 10, 3], "23 choices in pages of 10"
    assert [c for page in lists for _, c in page.choices] == [f"t:{n}" for n in range(1, 24)]
    assert lists[0].text == "Which region?"
    assert link.kind == "text" and "Open the release: https://stats.example.org/cpi" in link.text
    assert link.raw["text"]["preview_url"] is True


async def test_a_reply_retried_after_a_server_error_still_comes_before_the_next_messages_reply(
    graph: FakeGraphServer, tmp_path: Path, usat: Survey
) -> None:
    url = sqlite_url(tmp_path)
    async with whatsapp_bot(graph, url):
        person = graph.user("254711000006")
        await person.send_text_and_wait("/survey usat2026")
        graph.fail_next("messages", code=131000, http_status=500, times=2)  # retried, then sent
        answering = asyncio.ensure_future(person.send_text("Citizen"))

        # The next message arrives while the reply to "Citizen" (question 2) waits for its
        # last retry (after two failures).
        def failed_twice() -> bool:
            return sum(call.status == 500 for call in graph.calls_to("messages")) == 2

        assert await graph.signal.wait_for(failed_twice, 10)
        await person.send_text("1")
        await answering
        questions = [m.text.split(" ", 1)[0] for m in person.bot_messages if m.text[:2] in ("2/", "3/")]
        assert questions == ["2/12", "3/12"], "question 3 is shown after question 2, never before it"
    (row,) = await export_rows(url, usat)
    assert (row["user_group"], row["frequency"]) == ("citizen", "daily")
