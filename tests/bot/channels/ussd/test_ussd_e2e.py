"""End to end over USSD: the real bot, its Africa's Talking callback, the fake gateway posting
the cumulative ``text`` of each session, and a real database (SQLite, and PostgreSQL when
reachable)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.channels.ussd.adapter import UssdChannel
from bot.channels.ussd.rendering import SCREEN_LIMIT
from handlers import notify
from storage.outbox_messages import OutboxMessage, OutboxRepository
from storage.repositories import Repositories
from storage.ussd_sessions import UssdSessionRepository
from surveys.loader import load_survey_directory
from surveys.model import Survey
from testkit import paths
from testkit.databases import copy_migrated_sqlite
from testkit.exports import export_rows
from testkit.fakes.survey_respondent import OUTRO_START, Respondent
from testkit.fakes.telegram import FakeTelegramServer
from testkit.fakes.ussd import FakePhone, FakeUssdGateway, UssdScreen
from testkit.telegram_harness import bot_in_process
from testkit.ussd_harness import ussd_bot, ussd_settings
from testkit.ussd_respondent import UssdRespondent

USAT = ussd_settings(survey="usat2026")


def kenyan(index: int) -> str:
    """Numbers as gateways pass them: with and without the country code."""
    return f"+254712{index:06d}" if index % 2 else f"0712{index:06d}"


def screens_fit(*phones: FakePhone) -> None:
    longest = max(len(screen.text) for phone in phones for screen in phone.screens)
    assert longest <= SCREEN_LIMIT, longest


#: What differs between the same answers given over two channels: who, where, when.
CHANNEL_COLUMNS = ("response_id", "respondent", "channel", "started_at", "completed_at", "duration_seconds")


def same_but_for_channel(rows: list[dict[str, str]]) -> list[tuple[tuple[str, str], ...]]:
    return sorted(tuple(sorted((k, v) for k, v in row.items() if k not in CHANNEL_COLUMNS)) for row in rows)


async def test_twenty_users_with_wrong_inputs_give_the_export_telegram_gives(
    database_url: str, usat: Survey, server: FakeTelegramServer, tmp_path: Path
) -> None:
    async with ussd_bot(database_url, ussd=USAT) as (_, gateway):
        respondents = [UssdRespondent(gateway.phone(kenyan(i)), i, usat) for i in range(20)]

        async def answer(respondent: UssdRespondent) -> None:
            await respondent.dial()
            await respondent.answer_until()

        await asyncio.gather(*(answer(r) for r in respondents))
    assert all(r.finished for r in respondents)
    wrong_inputs = sum(sum(len(p.attempts) - 1 for p in r.plan.values()) for r in respondents)
    assert wrong_inputs > 40, "the plan mixes in wrong answers"
    screens_fit(*(r.phone for r in respondents))
    assert any("9 More" in s.text for r in respondents for s in r.phone.screens), "long menus were paginated"
    rows = await export_rows(database_url, usat)
    assert all(row["complete"] == "true" and row["channel"] == "ussd" for row in rows)
    pseudonyms = {row["respondent"] for row in rows}
    assert len(pseudonyms) == 20 and not any("712" in p for p in pseudonyms), "never a phone number"
    # The same twenty plans over Telegram (the real PTB Application, the fake Bot API).
    telegram_url = await copy_migrated_sqlite(tmp_path / "telegram.sqlite")
    async with bot_in_process(server, telegram_url):
        chats = [Respondent(server.user(5000 + i, first_name=f"U{i}"), i, usat) for i in range(20)]

        async def chat(respondent: Respondent) -> None:
            await respondent.open()
            await respondent.answer_until()

        await asyncio.gather(*(chat(r) for r in chats))
    assert same_but_for_channel(rows) == same_but_for_channel(await export_rows(telegram_url, usat))


async def test_a_session_dropped_mid_survey_resumes_at_the_same_question(tmp_path: Path, usat: Survey) -> None:
    url = await copy_migrated_sqlite(tmp_path / "db.sqlite")
    async with ussd_bot(url, ussd=USAT) as (_, gateway):
        respondent = UssdRespondent(gateway.phone("+254712000001"), 1, usat)
        await respondent.dial()
        await respondent.answer_until(questions_answered=4)
        before = (await respondent.read()).text
        assert "5/12 - Relevance" in before
        respondent.phone.hang_up()  # the person hangs up, or the gateway's time runs out
        screen = await respondent.dial()
        assert screen.text.startswith("Welcome back."), screen.text
        assert "5/12 - Relevance" in screen.text, "the same question, not the start"
        await respondent.answer_until()
        assert respondent.finished
    (row,) = await export_rows(url, usat)
    assert row["complete"] == "true"
    assert [row[q.name] for q in usat.data_questions] == [respondent.expected[q.name] for q in usat.data_questions]


async def test_pages_turn_both_ways_and_a_repeated_post_is_applied_once(tmp_path: Path, usat: Survey) -> None:
    url = await copy_migrated_sqlite(tmp_path / "db.sqlite")
    async with ussd_bot(url, ussd=USAT) as (bot, gateway):
        phone = gateway.phone("+254712000002")
        first = await phone.dial()
        assert first.text.startswith("User satisfaction survey 2026") and first.lines[-1] == "9 More"
        second = await phone.reply("9")
        assert second.lines[-2:] == ["9 More", "0 Back"]
        assert (await phone.reply("0")).text == first.text, "Back shows the page before"
        await phone.reply("9")
        menu = await phone.reply("9")
        assert "1/12 - Which best describes you?" in menu.text and "4. Media" in menu.lines
        more = await phone.reply("9")
        assert more.lines[0].startswith("1. ") and "0 Back" in more.lines, "the menu's second page"
        assert (await phone.reply("0")).text == menu.text
        chosen = await phone.reply("4")  # Media
        assert chosen.text.startswith("2/12 - How often")
        again = await phone.repost()  # the gateway missed the answer and posts the same text
        assert again.text == chosen.text
        async with bot.database.reading() as connection:
            stored = await UssdSessionRepository(connection).get("+254712000002")
        assert stored is not None and stored.inputs == len(phone.inputs)
    (row,) = await export_rows(url, usat)
    assert row["user_group"] == "media", "the number on the page, not in the whole list"


async def test_a_number_not_on_the_page_gets_the_reason_and_the_same_question(tmp_path: Path) -> None:
    url = await copy_migrated_sqlite(tmp_path / "db.sqlite")
    async with ussd_bot(url, ussd=USAT) as (_, gateway):
        phone = gateway.phone("+254712000003")
        await phone.dial()
        await phone.reply("9")
        menu = await phone.reply("9")
        refused = await phone.reply("7")  # page 3 shows items 1-4
        assert refused.kind == "CON"
        assert refused.lines[:2] == ["Please type the number of one of the choices shown.", menu.lines[0]]
        typed = await phone.reply("Citizen")  # a label typed in full is the core's to read
        assert typed.text.startswith("2/12 - How often")


async def test_the_end_of_the_survey_ends_the_session(tmp_path: Path, usat: Survey) -> None:
    url = await copy_migrated_sqlite(tmp_path / "db.sqlite")
    async with ussd_bot(url, ussd=USAT) as (_, gateway):
        respondent = UssdRespondent(gateway.phone("+254712000004"), 4, usat)
        await respondent.dial()
        await respondent.answer_until()
        last = respondent.phone.screen
        assert last.ended and last.text.startswith(OUTRO_START)
        again = await respondent.dial()
        assert again.ended and again.text.startswith("You have already answered")


async def test_the_callback_refuses_strangers_and_malformed_posts(tmp_path: Path) -> None:
    url = await copy_migrated_sqlite(tmp_path / "db.sqlite")
    async with ussd_bot(url, ussd=ussd_settings(survey="usat2026", allowed_ips=())) as (bot, gateway):
        port = bot.web_port
        form = {"sessionId": "ATUid_1", "serviceCode": "*384#", "phoneNumber": "+254712000005", "text": ""}
        async with aiohttp.ClientSession() as http:
            async with http.post(gateway.url, data=form) as answer:
                assert answer.status == 403, "127.0.0.1 is not in this allow-list"
            wrong = f"http://127.0.0.1:{port}/ussd/not-the-secret"
            async with http.post(wrong, data=form) as answer:
                assert answer.status == 404
    async with ussd_bot(url, ussd=USAT) as (_, gateway), aiohttp.ClientSession() as http:
        for broken in (
            {"serviceCode": "*384#", "phoneNumber": "+254712000005", "text": ""},
            {**form, "phoneNumber": "not a number"},
            {**form, "sessionId": "x" * 500},
            {**form, "text": "1*" * 2000},
        ):
            async with http.post(gateway.url, data=broken) as answer:
                assert answer.status == 400, broken
        async with http.post(gateway.url, data=b"\xff\xfe", headers={"Content-Type": "text/plain"}) as answer:
            assert answer.status == 400


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def late_session(url: str, *, sms: bool) -> tuple[UssdScreen, list[OutboxMessage]]:
    """A session that answers one question, then another 160 seconds into the session."""
    clock = Clock()
    async with ussd_bot(url, ussd=USAT) as (bot, _):
        channel = UssdChannel(
            ussd_settings(survey="usat2026", continue_by_sms=True), bot.engine, bot.database, bot.engine.surveys,
            sms_available=sms, clock=clock,
        )  # fmt: skip
        app = web.Application()
        channel.add_routes(app)
        async with TestServer(app, host="127.0.0.1") as server:
            callback = str(server.make_url(channel.settings.callback_path))
            async with FakeUssdGateway(callback) as gateway:
                respondent = UssdRespondent(gateway.phone("+254712000006"), 1, bot.engine.surveys["usat2026"])
                await respondent.dial()
                await respondent.answer_until(questions_answered=1)
                clock.now += timedelta(seconds=160)
                await respondent.step()  # the second question, answered after 160 seconds
                screen = respondent.phone.screen
        async with bot.database.reading() as connection:
            # Continued by SMS, the question is queued for the person's SMS contact, which the
            # SMS answer comes from (tests/bot/channels/ussd/test_ussd_continue_by_sms.py).
            contact = await Repositories(connection).contacts.find("sms" if sms else "ussd", "+254712000006")
            assert contact is not None
            queued = await OutboxRepository(connection).for_contact(contact)
    return screen, queued


async def test_a_session_running_out_of_time_continues_by_sms_when_allowed(tmp_path: Path) -> None:
    screen, queued = await late_session(await copy_migrated_sqlite(tmp_path / "db.sqlite"), sms=True)
    assert screen.ended and "next question by SMS" in screen.text
    (message,) = queued
    assert (message.channel, message.chat_key, message.kind) == ("sms", "+254712000006", "ussd_continue")
    sent = notify.decode(message.body)
    assert sent.text.startswith("3/12 - What do you use our statistics for?")
    assert [b.label for b in sent.flat_buttons][-1] == "Done"


async def test_without_the_sms_channel_the_person_is_asked_to_dial_again(tmp_path: Path) -> None:
    screen, queued = await late_session(await copy_migrated_sqlite(tmp_path / "db.sqlite"), sms=False)
    assert screen.ended and screen.text.startswith("Time is almost up. Dial again")
    assert queued == []


async def test_free_text_questions_are_skipped_unless_the_survey_takes_them(tmp_path: Path, usat: Survey) -> None:
    forms = tmp_path / "forms"
    forms.mkdir()
    shipped = (paths.FORMS / "usat2026.yaml").read_text(encoding="utf-8")
    assert "ussd: {text_questions: true}" in shipped
    (forms / "usat2026.yaml").write_text(shipped.replace("ussd: {text_questions: true}", ""), encoding="utf-8")
    (forms / "why.yaml").write_text(
        "id: why\ntitle: Why\nquestions:\n"
        "  - {type: integer, name: age, label: 'Your age?'}\n"
        "  - {type: text, name: reason, label: 'Why?'}\n",
        encoding="utf-8",
    )
    url = await copy_migrated_sqlite(tmp_path / "db.sqlite")
    async with ussd_bot(url, forms=forms, ussd=USAT) as (_, gateway):
        respondent = UssdRespondent(gateway.phone("+254712000007"), 1, usat)  # plans a comment
        await respondent.dial()
        await respondent.answer_until()
        assert "comments" not in respondent.attempts, "the optional text question was never shown"
    async with ussd_bot(url, forms=forms, ussd=ussd_settings(survey="why")) as (_, gateway):
        phone = gateway.phone("+254712000008")
        assert "Your age?" in (await phone.dial()).text
        screen = await phone.reply("30")
        assert screen.ended and screen.text.startswith("The next question needs a written answer")
    (row,) = await export_rows(url, load_survey_directory(forms)["usat2026"])
    assert row["complete"] == "true" and row["comments"] == ""


async def test_deleting_ones_data_forgets_the_last_ussd_screen(tmp_path: Path) -> None:
    url = await copy_migrated_sqlite(tmp_path / "db.sqlite")
    async with ussd_bot(url, ussd=USAT) as (bot, gateway):
        phone = gateway.phone("+254712000009")
        await phone.dial()
        async with bot.database.transaction() as connection:
            repos = Repositories(connection)
            contact = await repos.contacts.find("ussd", "+254712000009")
            assert contact is not None and await UssdSessionRepository(connection).get("+254712000009") is not None
            await repos.contacts.erase(contact, "")
            assert await UssdSessionRepository(connection).get("+254712000009") is None


async def test_screens_speak_the_contacts_language(tmp_path: Path) -> None:
    url = await copy_migrated_sqlite(tmp_path / "db.sqlite")
    async with ussd_bot(url, ussd=USAT) as (bot, gateway):
        phone = gateway.phone("+254712000010")
        await phone.dial()
        phone.hang_up()
        async with bot.database.transaction() as connection:
            repos = Repositories(connection)
            contact = await repos.contacts.find("ussd", "+254712000010")
            assert contact is not None
            await repos.contacts.set_language(contact, "fr")  # as onboarding or /language would
        screen = await phone.dial()
        assert screen.text.startswith("Bon retour.") and screen.lines[-1] == "9 Suite", screen.text
        assert "1/12 - Laquelle de ces catégories vous décrit le mieux ?" in screen.text
        more = await phone.reply("9")
        assert more.lines[-2:] == ["9 Suite", "0 Retour"] and "3. Médias" in more.lines
