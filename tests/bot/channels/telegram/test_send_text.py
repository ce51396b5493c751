"""Replies and broadcasts as one JSON body: :func:`bot.channels.telegram.transport.send_text`.

``send_text`` skips python-telegram-bot's per-parameter encoding, so each test holds it to what
``bot.send_message`` does on the same transport: the parameters Telegram receives, the PTB
errors its answers become, the rate limiter's view of the call and its retries. The fake Bot
API (testkit/fakes/telegram) reads JSON bodies as Telegram does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter
from telegram.ext import BaseRateLimiter, ExtBot

from bot.channels.telegram.rate_limiter import BROADCAST, TelegramRateLimiter, retry_seconds
from bot.channels.telegram.transport import AiohttpRequest, certainly_not_sent, send_text
from bot.sending.rate import LocalRateLimiter
from testkit.fakes.telegram import FakeTelegramServer

TOKEN = "123:ABC"
MARKUP = InlineKeyboardMarkup(
    [[InlineKeyboardButton("Yes", callback_data="y"), InlineKeyboardButton("No", callback_data="n")]]
)


class RecordingLimiter(BaseRateLimiter[int]):
    """Lets every call through at once, noting what PTB's contract hands a rate limiter."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any], int | None]] = []

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def process_request(
        self,
        callback: Any,
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Any:
        self.seen.append((endpoint, dict(data), rate_limit_args))
        return await callback(*args, **kwargs)


@pytest.fixture
async def bot(server: FakeTelegramServer) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=server.base_url, request=AiohttpRequest(connection_pool_size=4)) as real:
        yield real


async def test_a_reply_goes_as_one_json_body_with_what_send_message_sends(server: FakeTelegramServer, bot: Bot) -> None:
    user = server.user(601)
    text = '2/10 · Question 2: <b>a number</b> & "quotes"'
    await bot.send_message(user.id, text, reply_markup=MARKUP, parse_mode=ParseMode.HTML)
    result = await send_text(bot, user.id, text, reply_markup=MARKUP, parse_mode=ParseMode.HTML)
    form, body = server.calls_to("sendMessage")
    assert (form.content_type, body.content_type) == ("application/x-www-form-urlencoded", "application/json")
    assert body.params == form.params
    assert body.params["reply_markup"] == MARKUP.to_dict()
    assert isinstance(result, dict) and result["chat"]["id"] == user.id
    assert [m.text for m in user.bot_messages] == ['2/10 · Question 2: a number & "quotes"'] * 2


async def test_each_keyboard_arrives_as_its_own_even_when_sent_again(server: FakeTelegramServer, bot: Bot) -> None:
    # The dict of a markup is kept between sends: a second markup must not come out as the first.
    user = server.user(602)
    other = InlineKeyboardMarkup([[InlineKeyboardButton("Open", url="https://stats.example.org")]])
    for markup in (MARKUP, other, MARKUP, other):
        await send_text(bot, user.id, "choose", reply_markup=markup)
    sent = [call.params["reply_markup"] for call in server.calls_to("sendMessage")]
    assert sent == [MARKUP.to_dict(), other.to_dict()] * 2


async def test_api_kwargs_are_sent_and_none_values_left_out(server: FakeTelegramServer, bot: Bot) -> None:
    user = server.user(603)
    await send_text(bot, user.id, "notice", api_kwargs={"allow_paid_broadcast": True, "protect_content": None})
    params = server.last_call("sendMessage").params
    assert params == {"chat_id": user.id, "text": "notice", "allow_paid_broadcast": True}


async def test_telegrams_refusals_are_the_ptb_errors_send_message_raises(server: FakeTelegramServer, bot: Bot) -> None:
    user = server.user(604)
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await send_text(bot, 999_999, "nobody")
    with pytest.raises(BadRequest, match=r"(?i)text is empty"):
        await send_text(bot, user.id, "")
    server.fail_next("sendMessage", error_code=403, description="Forbidden: bot was blocked by the user")
    with pytest.raises(Forbidden, match="blocked"):
        await send_text(bot, user.id, "hello")
    server.fail_next("sendMessage", error_code=429, retry_after=3)
    with pytest.raises(RetryAfter) as limited:
        await send_text(bot, user.id, "hello")
    assert retry_seconds(limited.value) == 3
    server.fail_next("sendMessage", error_code=502)
    with pytest.raises(NetworkError) as failed:
        await send_text(bot, user.id, "hello")
    assert certainly_not_sent(failed.value), "Telegram answered 5xx: nothing was sent"


async def test_a_text_utf8_cannot_hold_fails_as_it_does_through_ptb(server: FakeTelegramServer, bot: Bot) -> None:
    user = server.user(605)
    with pytest.raises(NetworkError) as through_ptb:
        await bot.send_message(user.id, "lone \ud800 surrogate")
    with pytest.raises(NetworkError) as direct:
        await send_text(bot, user.id, "lone \ud800 surrogate")
    assert type(direct.value) is type(through_ptb.value)
    assert not certainly_not_sent(direct.value) and not certainly_not_sent(through_ptb.value)
    assert server.calls_to("sendMessage") == []


async def test_the_rate_limiter_sees_the_call_as_ptb_hands_it_over(server: FakeTelegramServer) -> None:
    user = server.user(606)
    limiter = RecordingLimiter()
    request = AiohttpRequest(connection_pool_size=4)
    async with ExtBot(TOKEN, base_url=server.base_url, request=request, rate_limiter=limiter) as bot:
        await bot.send_message(user.id, "one", rate_limit_args=BROADCAST)
        await send_text(bot, user.id, "one", rate_limit_args=BROADCAST)
        await bot.send_message(user.id, "two")
        await send_text(bot, user.id, "two")
    sends = [
        (data["chat_id"], data["text"], args) for endpoint, data, args in limiter.seen if endpoint == "sendMessage"
    ]
    assert sends == [(user.id, "one", BROADCAST)] * 2 + [(user.id, "two", None)] * 2


async def test_rate_limit_args_without_a_rate_limiter_are_refused_as_ptb_refuses_them(
    server: FakeTelegramServer,
) -> None:
    user = server.user(607)
    async with ExtBot(TOKEN, base_url=server.base_url, request=AiohttpRequest(connection_pool_size=4)) as bot:
        with pytest.raises(ValueError, match="rate_limiter"):
            await bot.send_message(user.id, "x", rate_limit_args=BROADCAST)  # type: ignore[arg-type]  # refused: the point
        with pytest.raises(ValueError, match="rate_limiter"):
            await send_text(bot, user.id, "x", rate_limit_args=BROADCAST)
    assert server.calls_to("sendMessage") == []


async def test_a_429_pauses_the_shared_limiter_and_the_reply_is_sent_again(server: FakeTelegramServer) -> None:
    user = server.user(608)
    limiter = LocalRateLimiter(1000.0, 1000.0, 100)
    request = AiohttpRequest(connection_pool_size=4)
    rate_limiter = TelegramRateLimiter(limiter, max_retries=2)
    async with ExtBot(TOKEN, base_url=server.base_url, request=request, rate_limiter=rate_limiter) as bot:
        server.fail_next("sendMessage", error_code=429, retry_after=1)
        server.fail_next("sendMessage", error_code=503)
        result = await send_text(bot, user.id, "after the pause")
    assert [call.status for call in server.calls_to("sendMessage")] == [429, 503, 200]
    assert result["text"] == "after the pause"
    assert [m.text for m in user.bot_messages] == ["after the pause"]


async def test_on_ptbs_own_transport_the_reply_goes_through_ptb(server: FakeTelegramServer) -> None:
    user = server.user(609)
    async with Bot(TOKEN, base_url=server.base_url) as bot:  # PTB's HTTPXRequest
        result = await send_text(bot, user.id, "via httpx", reply_markup=MARKUP)
    call = server.last_call("sendMessage")
    assert call.content_type == "application/x-www-form-urlencoded"
    assert call.params["reply_markup"] == MARKUP.to_dict()
    assert isinstance(result, dict) and result["text"] == "via httpx"
