"""The fake Telegram Bot API works with the real python-telegram-bot (no mocks)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MaybeInaccessibleMessage,
    Update,
)
from telegram.error import BadRequest, Conflict, EndPointNotFound, Forbidden, NetworkError, RetryAfter
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import HTTPXRequest

from testkit.fakes.telegram import FakeTelegramServer, FakeUser

TOKEN = "123:ABC"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest_asyncio.fixture
async def bot(server: FakeTelegramServer) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=server.base_url, base_file_url=server.base_file_url) as real:
        yield real


def build_app(server: FakeTelegramServer) -> Application:  # type: ignore[type-arg]
    return Application.builder().token(TOKEN).base_url(server.base_url).base_file_url(server.base_file_url).build()


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("Yes", callback_data="answer:yes"),
                InlineKeyboardButton("No", callback_data="answer:no"),
            ]
        ]
    )
    await update.effective_message.reply_text("Welcome! Continue?", reply_markup=keyboard)


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(f"You said: {update.effective_message.text}")


async def choose(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    await query.answer("Got it")
    await query.edit_message_text(f"You chose {query.data.split(':')[1]}")


async def files(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_chat is not None
    chat_id = update.effective_chat.id
    await context.bot.send_chat_action(chat_id, "upload_document")
    await context.bot.send_photo(chat_id, PNG, caption="chart")
    await context.bot.send_document(chat_id, b"region,value\nNairobi,42\n", filename="report.csv")


def echo_bot(server: FakeTelegramServer) -> Application:  # type: ignore[type-arg]
    app = build_app(server)
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CommandHandler("files", files))
    app.add_handler(CallbackQueryHandler(choose, pattern="^answer:"))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    return app


async def choose_after_work(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """As Baraza does: the press is answered at once, its edit comes after the work."""
    query = update.callback_query
    assert query is not None and query.data is not None
    await query.answer()
    await asyncio.sleep(0.6)  # longer than the quiet period of press_and_wait
    await query.edit_message_text(f"You chose {query.data.split(':')[1]}")


@asynccontextmanager
async def running_bot(
    server: FakeTelegramServer,
    app: Application | None = None,  # type: ignore[type-arg]
) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    """The echo bot (or ``app``), run the manual way with long polling against the fake."""
    app = app or echo_bot(server)
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            yield app
        finally:
            await app.updater.stop()
            await app.stop()


@pytest.mark.asyncio
async def test_polling_conversation_with_buttons_is_recorded(server: FakeTelegramServer) -> None:
    async with running_bot(server):
        alice = server.user(1001, first_name="Alice")

        replies = await alice.send_text_and_wait("/start")
        assert [m.text for m in replies] == ["Welcome! Continue?"]
        welcome = replies[0]
        assert welcome.buttons == [[("Yes", "answer:yes"), ("No", "answer:no")]]

        edited = await alice.press_and_wait("Yes")
        assert edited == [welcome]
        assert welcome.text == "You chose yes" and welcome.edited and welcome.buttons == []
        assert [a.text for a in alice.callback_answers] == ["Got it"]

        assert [m.text for m in await alice.send_text_and_wait("hello")] == ["You said: hello"]

    assert [(m.from_bot, m.text) for m in alice.messages] == [
        (False, "/start"),
        (True, "You chose yes"),
        (False, "hello"),
        (True, "You said: hello"),
    ]
    assert [m.message_id for m in alice.messages] == [1, 2, 3, 4]
    methods = [c.method for c in server.calls if c.method != "getUpdates"]
    assert methods == [
        "getMe",
        "deleteWebhook",
        "sendMessage",
        "answerCallbackQuery",
        "editMessageText",
        "sendMessage",
    ]
    first_send = server.calls_to("sendMessage")[0]
    assert first_send.params["chat_id"] == 1001
    assert first_send.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "answer:yes"
    assert server.token == TOKEN and server.bot_id == 123
    assert server.pending_updates == []


@pytest.mark.asyncio
async def test_a_press_waits_for_the_edit_that_follows_the_answer_to_its_callback_query(
    server: FakeTelegramServer,
) -> None:
    app = build_app(server)
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(choose_after_work, pattern="^answer:"))
    async with running_bot(server, app):
        carol = server.user(1002, first_name="Carol")
        (welcome,) = await carol.send_text_and_wait("/start")
        edited = await carol.press_and_wait("No")
        assert len(carol.callback_answers) == 1
        assert edited == [welcome] and welcome.text == "You chose no"


@pytest.mark.asyncio
async def test_wait_for_message_returns_bot_messages_in_order(server: FakeTelegramServer) -> None:
    async with running_bot(server):
        bob = server.user(1002)
        await bob.send_text("/start")
        first = await bob.wait_for_message()
        assert first.text == "Welcome! Continue?"
        await bob.press("answer:no")  # callback_data works as well as the label
        edited = await bob.wait_for_message(lambda m: m.edited)
        assert edited.message_id == first.message_id and edited.text == "You chose no"
        with pytest.raises(TimeoutError, match="no matching bot message"):
            await bob.wait_for_message(timeout=0.2)


@pytest.mark.asyncio
async def test_photo_and_document_bytes_arrive_via_multipart(server: FakeTelegramServer) -> None:
    async with running_bot(server) as app:
        carol = server.user(1003)
        replies = await carol.send_text_and_wait("/files")
        photo, document = replies
        assert photo.media_type == "photo" and photo.photo == PNG and photo.text == "chart"
        assert document.document == b"region,value\nNairobi,42\n"
        assert document.filename == "report.csv"

        call = server.last_call("sendDocument")
        assert call.content_type == "multipart/form-data"
        assert call.files["document"].filename == "report.csv"
        assert call.params["chat_id"] == 1003
        assert server.last_call("sendChatAction").params["action"] == "upload_document"

        # the file can be downloaded back through base_file_url like from Telegram
        assert document.file_id is not None
        tg_file = await app.bot.get_file(document.file_id)
        assert bytes(await tg_file.download_as_bytearray()) == b"region,value\nNairobi,42\n"


@pytest.mark.asyncio
async def test_ptb_sends_form_encoding_with_strings_unquoted(server: FakeTelegramServer, bot: Bot) -> None:
    server.user(7)
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("1", callback_data="1")]])
    await bot.send_message(7, "123", reply_markup=markup, disable_notification=True)
    call = server.last_call("sendMessage")
    assert call.content_type == "application/x-www-form-urlencoded"
    # strings are sent raw, everything else JSON-encoded: "123" must stay a str
    assert call.params["text"] == "123"
    assert call.params["chat_id"] == 7
    assert call.params["disable_notification"] is True
    assert call.params["reply_markup"] == {"inline_keyboard": [[{"text": "1", "callback_data": "1"}]]}


@pytest.mark.asyncio
async def test_json_body_requests_are_understood(server: FakeTelegramServer) -> None:
    server.user(8)
    async with aiohttp.ClientSession() as session:
        url = f"{server.base_url}{TOKEN}/sendMessage"
        body = {"chat_id": 8, "text": "hi", "reply_markup": json.dumps({"inline_keyboard": []})}
        async with session.post(url, json=body) as response:
            answer = await response.json()
        async with session.post(f"{server.base_url}{TOKEN}/fooBar") as response:
            assert response.status == 404
            assert await response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    assert answer["ok"] is True
    result = answer["result"]
    assert result["text"] == "hi" and result["chat"] == {"id": 8, "type": "private", "first_name": "Test"}
    assert result["from"]["is_bot"] is True and result["from"]["username"] == "baraza_test_bot"


@pytest.mark.asyncio
async def test_unknown_method_is_endpoint_not_found(bot: Bot) -> None:
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("definitelyNotAMethod")


@pytest.mark.asyncio
async def test_get_updates_offset_confirms_and_drops_older_updates(server: FakeTelegramServer, bot: Bot) -> None:
    dave = server.user(1004)
    ids = [await dave.send_text(f"m{i}") for i in range(3)]
    assert ids == sorted(ids) and len(set(ids)) == 3

    assert [u.update_id for u in await bot.get_updates()] == ids
    # not confirmed yet: delivered again
    assert [u.update_id for u in await bot.get_updates(limit=2)] == ids[:2]
    assert [u.update_id for u in await bot.get_updates(offset=ids[1])] == ids[1:]
    assert await bot.get_updates(offset=ids[2] + 1) == ()
    assert server.pending_updates == []
    assert server.delivery_count(ids[0]) == 2 and server.delivery_count(ids[2]) == 2


@pytest.mark.asyncio
async def test_long_poll_waits_for_new_update_and_times_out_empty(server: FakeTelegramServer, bot: Bot) -> None:
    began = time.monotonic()
    assert await bot.get_updates(timeout=1) == ()
    assert 0.9 <= time.monotonic() - began < 2

    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.1)
    began = time.monotonic()
    update_id = await server.user(1005).send_text("wake up")
    updates = await poll
    assert time.monotonic() - began < 0.5
    assert [u.update_id for u in updates] == [update_id]
    assert updates[0].message is not None and updates[0].message.text == "wake up"


@pytest.mark.asyncio
async def test_injected_429_makes_ptb_raise_retry_after(server: FakeTelegramServer, bot: Bot) -> None:
    server.user(9)
    server.fail_next("sendMessage", error_code=429, retry_after=3)
    with pytest.raises(RetryAfter, match="Retry in 3"):
        await bot.send_message(9, "first try")
    await bot.send_message(9, "second try")
    assert [m.text for m in server.user(9).messages] == ["second try"]
    assert [c.status for c in server.calls_to("sendMessage")] == [429, 200]
    assert server.calls_to("sendMessage")[0].response == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 3",
        "parameters": {"retry_after": 3},
    }


@pytest.mark.asyncio
async def test_injected_502_and_dropped_connections_are_network_errors(server: FakeTelegramServer, bot: Bot) -> None:
    erin = server.user(10)
    server.fail_next("sendMessage", count=2, error_code=502)
    for _ in range(2):
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.send_message(10, "x")

    server.drop_next("sendMessage")
    with pytest.raises(NetworkError):
        await bot.send_message(10, "lost before processing")
    server.drop_next("sendMessage", after_processing=True)
    with pytest.raises(NetworkError):
        await bot.send_message(10, "sent but the answer got lost")
    assert [m.text for m in erin.messages] == ["sent but the answer got lost"]
    assert [c.status for c in server.calls_to("sendMessage")] == [502, 502, 0, 0]


@pytest.mark.asyncio
async def test_telegram_validation_errors(server: FakeTelegramServer, bot: Bot) -> None:
    server.user(11)
    ok = await bot.send_message(11, "x" * 4096)
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(11, "x" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(11, "   ")
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        too_long = InlineKeyboardButton("b", callback_data="é" * 33)  # 66 bytes
        await bot.send_message(11, "t", reply_markup=InlineKeyboardMarkup([[too_long]]))
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("new", chat_id=11, message_id=999)
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("x" * 4096, chat_id=11, message_id=ok.message_id)
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(424242, "nobody")
    server.user(11).block()
    with pytest.raises(Forbidden, match=r"(?i)blocked"):
        await bot.send_message(11, "hello?")


@pytest.mark.asyncio
async def test_edit_reply_markup_and_html_visible_text(server: FakeTelegramServer, bot: Bot) -> None:
    frank = server.user(12)
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data="a")]])
    sent = await bot.send_message(12, "<b>Total</b> &amp; more", parse_mode="HTML")
    assert frank.last_message is not None and frank.last_message.text == "Total & more"
    await bot.edit_message_reply_markup(chat_id=12, message_id=sent.message_id, reply_markup=markup)
    assert frank.last_message.buttons == [[("A", "a")]] and frank.last_message.edit_count == 1
    with pytest.raises(BadRequest, match=r"(?i)not modified"):
        await bot.edit_message_reply_markup(chat_id=12, message_id=sent.message_id, reply_markup=markup)


@pytest.mark.asyncio
async def test_a_caption_is_edited_only_on_media_and_a_text_only_on_text_messages(
    server: FakeTelegramServer, bot: Bot
) -> None:
    grace = server.user(13)
    photo = await bot.send_photo(13, PNG, caption="chart")
    text = await bot.send_message(13, "figure")
    await bot.edit_message_caption(
        chat_id=13, message_id=photo.message_id, caption="<i>new</i> chart", parse_mode="HTML"
    )
    edited = grace.bot_messages[-2]
    assert (edited.text, edited.edit_count) == ("new chart", 1)
    with pytest.raises(BadRequest, match=r"(?i)not modified"):
        await bot.edit_message_caption(
            chat_id=13, message_id=photo.message_id, caption="<i>new</i> chart", parse_mode="HTML"
        )
    with pytest.raises(BadRequest, match=r"(?i)there is no caption in the message to edit"):
        await bot.edit_message_caption(chat_id=13, message_id=text.message_id, caption="x")
    with pytest.raises(BadRequest, match=r"(?i)there is no text in the message to edit"):
        await bot.edit_message_text("x", chat_id=13, message_id=photo.message_id)


@pytest.mark.asyncio
async def test_press_errors_are_clear_and_stale_presses_can_be_forged(server: FakeTelegramServer, bot: Bot) -> None:
    gina = server.user(13)
    with pytest.raises(LookupError, match="no button 'Yes'"):
        await gina.press("Yes")
    update_id = await gina.press_raw("answer:yes", message_id=77)
    (update,) = await bot.get_updates()
    assert update.update_id == update_id
    query = update.callback_query
    assert query is not None and query.data == "answer:yes"
    assert isinstance(query.message, MaybeInaccessibleMessage)
    assert not query.message.is_accessible
    assert await query.answer("stale") is True
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await query.answer("twice")


@pytest.mark.asyncio
async def test_raw_and_redelivered_updates_reach_handlers_again(
    server: FakeTelegramServer,
) -> None:
    seen: list[int] = []
    seen_twice = asyncio.Event()

    async def record(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.append(update.update_id)
        if len(seen) == 2:
            seen_twice.set()

    app = build_app(server)
    app.add_handler(TypeHandler(Update, record))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        odd = await server.enqueue_raw_update(
            {"edited_message": {"message_id": 5, "date": 0, "chat": {"id": 1, "type": "private"}}}
        )
        await server.wait_for_delivery(odd)
        await server.redeliver(odd)
        await asyncio.wait_for(seen_twice.wait(), 5)
        await app.updater.stop()
        await app.stop()
    assert seen == [odd, odd]
    assert server.delivery_count(odd) == 2


@pytest.mark.asyncio
async def test_webhook_posts_updates_with_secret_and_retries_until_accepted(
    server: FakeTelegramServer, bot: Bot
) -> None:
    received: list[tuple[str | None, dict[str, object]]] = []
    statuses = [500, 200]

    async def hook(request: web.Request) -> web.Response:
        received.append((request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json()))
        return web.Response(status=statuses.pop(0) if statuses else 200)

    server.webhook_retry_delay = 0.05
    async with local_webhook(hook) as url:
        assert await bot.set_webhook(url, secret_token="s3cret")
        assert server.webhook_url == url and server.webhook_secret == "s3cret"
        with pytest.raises(Conflict, match="webhook is active"):
            await bot.get_updates()

        update_id = await server.user(1006).send_text("via webhook")
        await server.wait_for_delivery(update_id, timeout=5)
        assert [secret for secret, _ in received] == ["s3cret", "s3cret"]
        assert received[-1][1]["update_id"] == update_id
        assert [d.status for d in server.webhook_deliveries] == [500, 200]
        assert server.delivery_count(update_id) == 2
        info = await bot.get_webhook_info()
        assert info.url == url and info.pending_update_count == 0
        assert info.last_error_message is not None and "500" in info.last_error_message

        assert await bot.delete_webhook(drop_pending_updates=True)
        assert server.webhook_url is None
        assert await bot.get_updates() == ()


@asynccontextmanager
async def local_webhook(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> AsyncIterator[str]:
    """An aiohttp endpoint on 127.0.0.1 for the fake to POST updates to; yields its URL."""
    receiver = web.Application()
    receiver.router.add_post("/hook", handler)
    runner = web.AppRunner(receiver)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    finally:
        await runner.cleanup()


@pytest.mark.asyncio
async def test_webhook_mode_conversation_with_real_application(server: FakeTelegramServer) -> None:
    app = echo_bot(server)

    async def receive(request: web.Request) -> web.Response:
        if request.headers.get("X-Telegram-Bot-Api-Secret-Token") != "s3cret":
            return web.Response(status=403)
        await app.update_queue.put(Update.de_json(await request.json(), app.bot))
        return web.Response()

    async with local_webhook(receive) as url, app:
        await app.start()
        await app.bot.set_webhook(url, secret_token="s3cret")
        henry = server.user(1007)
        assert [m.text for m in await henry.send_text_and_wait("/start")] == ["Welcome! Continue?"]
        assert [m.text for m in await henry.press_and_wait("No")] == ["You chose no"]
        await app.stop()
    assert not server.calls_to("getUpdates")
    assert [d.status for d in server.webhook_deliveries] == [200, 200]


@pytest.mark.asyncio
async def test_my_commands_are_stored_per_scope_and_language(server: FakeTelegramServer, bot: Bot) -> None:
    await bot.set_my_commands([("start", "Begin"), ("help", "Help")])
    await bot.set_my_commands([("start", "Anza")], language_code="sw")
    assert [c.command for c in await bot.get_my_commands()] == ["start", "help"]
    assert server.commands(language_code="sw") == [{"command": "start", "description": "Anza"}]
    await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([("Bad Command", "x")])


class _CountedScans(list):  # type: ignore[type-arg]
    """A chat's event list that counts how often a waiter scans it."""

    scans = 0

    def __iter__(self):  # type: ignore[no-untyped-def]
        self.scans += 1
        return super().__iter__()


async def test_a_waiting_user_is_not_woken_by_another_chats_messages(server: FakeTelegramServer, bot: Bot) -> None:
    # With thousands of simulated users waiting at once (bench/load.py), waking every waiter on
    # every message would make the fake's CPU grow with the square of the users.
    alice, bob = server.user(2001), server.user(2002)
    await alice.send_text("hello")
    events = _CountedScans(alice._events)
    alice._events = events
    waiting = asyncio.create_task(alice.wait_for_message(timeout=10))
    await asyncio.sleep(0.05)
    scans_before = events.scans
    for index in range(20):
        await bot.send_message(bob.id, f"to bob {index}")
    await asyncio.sleep(0.05)
    assert events.scans == scans_before, "bob's messages do not wake alice's waiter"
    await bot.send_message(alice.id, "to alice")
    assert (await waiting).text == "to alice"


@pytest.mark.asyncio
async def test_a_held_call_is_not_overtaken_by_a_later_call_for_the_same_chat(server: FakeTelegramServer) -> None:
    """Telegram applies the calls of one chat in the order it received them: a send it is slow to
    answer (the bot gives up waiting) still comes before a send made after the bot gave up."""
    frank, grace = server.user(12), server.user(13)
    pool = HTTPXRequest(connection_pool_size=4)  # calls side by side (PTB's default pool has one)
    async with Bot(TOKEN, base_url=server.base_url, request=pool) as bot:
        await _held_call_and_later_ones(server, bot, frank, grace)


async def _held_call_and_later_ones(server: FakeTelegramServer, bot: Bot, frank: FakeUser, grace: FakeUser) -> None:
    server.delay_next("sendMessage", 1.0)
    held = asyncio.create_task(bot.send_message(12, "first, answered slowly"))
    await server.wait_for_call("sendMessage")
    await bot.send_message(13, "another chat is not held up")
    assert [m.text for m in grace.messages] == ["another chat is not held up"]
    assert frank.messages == [], "the first call is still held"
    await bot.send_message(12, "second")
    await held
    assert [m.text for m in frank.messages] == ["first, answered slowly", "second"]
