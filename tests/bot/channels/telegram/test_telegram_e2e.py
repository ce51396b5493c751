"""End to end over Telegram: the real python-telegram-bot Application, the fake Bot API server
on 127.0.0.1, and a real database (SQLite file, and PostgreSQL when reachable)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.channels.telegram.adapter import SECRET_HEADER, TelegramChannel
from bot.core.engine import Engine
from handlers.messages import Outbound
from storage.repositories import Repositories
from surveys.model import Survey
from testkit.databases import copy_migrated_sqlite
from testkit.exports import assert_export_matches, export_rows
from testkit.fakes.survey_respondent import Respondent
from testkit.fakes.telegram import FakeTelegramServer
from testkit.telegram_harness import bot_in_process, bot_settings, free_port


async def test_twenty_concurrent_users_with_wrong_inputs_give_the_expected_csv(
    server: FakeTelegramServer, database_url: str, usat: Survey
) -> None:
    respondents = [Respondent(server.user(5000 + i, first_name=f"U{i}"), i, usat) for i in range(20)]
    async with bot_in_process(server, database_url):

        async def answer(respondent: Respondent) -> None:
            await respondent.open()
            await respondent.answer_until()

        await asyncio.gather(*(answer(r) for r in respondents))
    assert all(r.finished for r in respondents)
    wrong_inputs = sum(sum(len(p.attempts) - 1 for p in r.plan.values()) for r in respondents)
    assert wrong_inputs > 40, "the plan mixes in wrong answers"
    assert_export_matches(await export_rows(database_url, usat), respondents, usat)


async def test_start_lists_surveys_and_a_button_opens_one(server: FakeTelegramServer, tmp_path: Path) -> None:
    async with bot_in_process(server, await copy_migrated_sqlite(tmp_path / "db.sqlite")):
        user = server.user(77, language_code="en")
        replies = await user.send_text_and_wait("/start")
        assert replies[0].text.startswith("Hello!")
        assert (
            replies[-1].button_texts == ["User satisfaction survey 2026"]
            or replies[-1].buttons[0][0][0] == "User satisfaction survey 2026"
        )
        replies = await user.press_and_wait("User satisfaction survey 2026")
        assert replies[-1].text.startswith("1/12 · Which best describes you?")
        replies = await user.press_and_wait("Media")
        closed = user.message(replies[0].message_id)
        assert closed.edited and closed.text.endswith("→ Media") and not closed.buttons
        assert replies[-1].text.startswith("2/12")
        commands = {c["command"] for c in server.commands()}
        assert {"start", "survey", "help", "cancel"} <= commands


async def test_stale_and_forged_buttons_change_nothing(
    server: FakeTelegramServer, tmp_path: Path, usat: Survey
) -> None:
    url = await copy_migrated_sqlite(tmp_path / "db.sqlite")
    async with bot_in_process(server, url):
        user = server.user(78)
        await user.send_text_and_wait("/survey usat2026")
        first = user.last_message
        assert first is not None
        await user.send_text_and_wait("Citizen")  # typed: the buttons of the first question stay
        replies = await user.press_and_wait("Media", first.message_id)
        assert "earlier question" in replies[0].text and replies[-1].text.startswith("2/12")
        await user.press_raw("q:1:c:999", first.message_id)
        await user.wait_until_quiet()
        await user.press_raw("x" * 64, first.message_id)
        replies = await user.wait_until_quiet()
        assert "earlier question" in replies[0].text
    (row,) = await export_rows(url, usat)
    assert row["user_group"] == "citizen" and row["frequency"] == ""


async def test_redelivered_update_is_applied_once(server: FakeTelegramServer, tmp_path: Path, usat: Survey) -> None:
    url = await copy_migrated_sqlite(tmp_path / "db.sqlite")
    async with bot_in_process(server, url):
        user = server.user(79)
        await user.send_text_and_wait("/survey usat2026")
        await user.send_text_and_wait("Citizen")
        update_id = await user.send_text("1")
        await user.wait_until_quiet()
        await server.redeliver(update_id)
        replies = await user.wait_until_quiet()
        assert replies[-1].text.startswith("3/12"), "the redelivery shows the current question again"
    (row,) = await export_rows(url, usat)
    assert (row["frequency"], row["purposes"]) == ("daily", "")


async def test_a_429_is_waited_out_and_the_message_arrives_once(server: FakeTelegramServer, tmp_path: Path) -> None:
    async with bot_in_process(server, await copy_migrated_sqlite(tmp_path / "db.sqlite")):
        user = server.user(80)
        server.fail_next("sendMessage", error_code=429, retry_after=1)
        replies = await user.send_text_and_wait("/help", timeout=15)
        assert len(replies) == 1 and replies[0].text.startswith("What I can do")
        statuses = [call.status for call in server.calls_to("sendMessage")]
        assert statuses[:2] == [429, 200]


async def test_sending_respects_the_per_chat_rate(server: FakeTelegramServer, tmp_path: Path) -> None:
    """Five messages to one chat at 2 a second with bursts of 1 are spread over at least 2 s."""
    async with bot_in_process(
        server, await copy_migrated_sqlite(tmp_path / "db.sqlite"), chat_messages_per_second=2.0, chat_burst=1
    ) as bot:
        assert bot.telegram is not None
        server.user(81)
        for number in range(5):
            await bot.telegram.send(81, Outbound(text=f"notice {number}"))
        times = [call.time for call in server.calls_to("sendMessage")]
        assert len(times) == 5
        # A lower bound on spacing, which a scheduler delay can only increase.
        assert times[-1] - times[0] >= 2 * 0.95


async def test_unsupported_messages_get_a_polite_answer(server: FakeTelegramServer, tmp_path: Path) -> None:
    async with bot_in_process(server, await copy_migrated_sqlite(tmp_path / "db.sqlite")):
        user = server.user(82)
        await user.send_text_and_wait("/survey usat2026")
        await server.enqueue_raw_update(
            {
                "message": {
                    "message_id": 900,
                    "date": 1_760_000_000,
                    "chat": user.api_chat,
                    "from": user.api_user,
                    "sticker": {
                        "file_id": "s",
                        "file_unique_id": "s",
                        "type": "regular",
                        "width": 1,
                        "height": 1,
                        "is_animated": False,
                        "is_video": False,
                    },
                }
            }
        )
        await user.wait_for_message(lambda m: m.text == "Please type an answer.")
        again = await user.wait_for_message()
        assert again.text.startswith("1/12"), "the same question is asked again"


async def test_webhook_mode_checks_the_secret_token(server: FakeTelegramServer, tmp_path: Path, usat: Survey) -> None:
    url = await copy_migrated_sqlite(tmp_path / "db.sqlite")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}/telegram/webhook"
    async with bot_in_process(server, url, port, mode="webhook", webhook_secret="s3cret-token", webhook_url=endpoint):
        assert (server.webhook_url, server.webhook_secret) == (endpoint, "s3cret-token")
        assert server.webhook_max_connections == 100, "Telegram may send 100 updates at once, not its default 40"
        user = server.user(83)
        replies = await user.send_text_and_wait("/survey usat2026")
        assert replies[-1].text.startswith("1/12")
        async with aiohttp.ClientSession() as client:
            forged = {
                "update_id": 10**9,
                "message": {
                    "message_id": 1,
                    "date": 1,
                    "chat": user.api_chat,
                    "from": user.api_user,
                    "text": "Citizen",
                },
            }
            async with client.post(endpoint, json=forged) as response:
                assert response.status == 401
            async with client.post(endpoint, json=forged, headers={SECRET_HEADER: "wrong"}) as response:
                assert response.status == 401
        replies = await user.send_text_and_wait("Media")
        assert replies[-1].text.startswith("2/12")
    (row,) = await export_rows(url, usat)
    assert row["user_group"] == "media", "the forged update was not processed"


async def test_a_webhook_update_before_the_channel_has_started_is_refused_for_redelivery(
    server: FakeTelegramServer, engine: Engine
) -> None:
    # The web server serves before the channel starts: an update taken then was stored, but its
    # replies failed (the Bot API connections were not open yet), and the person heard nothing.
    settings = bot_settings(server, "sqlite://", mode="webhook", webhook_secret="s3cret-token").telegram
    channel = TelegramChannel(settings, engine)
    user = server.user(84)
    update = {
        "update_id": 1,
        "message": {"message_id": 1, "date": 1, "chat": user.api_chat, "from": user.api_user, "text": "/start"},
    }
    app = web.Application()
    app.router.add_post("/telegram/webhook", channel.handle_webhook)
    async with TestClient(TestServer(app)) as client:
        response = await client.post("/telegram/webhook", json=update, headers={SECRET_HEADER: "s3cret-token"})
        assert response.status == 503
    assert server.calls_to("sendMessage") == []
    async with engine.database.reading() as connection:
        assert await Repositories(connection).contacts.find("telegram", str(user.id)) is None, "nothing was handled"
