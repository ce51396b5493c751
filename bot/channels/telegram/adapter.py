"""The Telegram channel: python-telegram-bot at the edge of the channel-agnostic core.

Updates become :class:`~handlers.messages.Inbound` values; the core's
:class:`~handlers.messages.Outbound` replies become sendMessage / editMessageText / sendPhoto /
sendDocument calls within Telegram's limits. Long polling by default; in webhook mode the
aiohttp server of :mod:`bot.app` receives the updates and checks the secret token.

:class:`TelegramSender` sends broadcast messages for :mod:`bot.sending.sender` through the same bot,
and tells the dispatcher what Telegram's errors mean for the message (blocked, refused, certainly
not sent, or perhaps sent).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from datetime import UTC, timedelta
from functools import lru_cache
from typing import Any

import httpx
from aiohttp import web
from telegram import Bot, BotCommand, CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import Application, BaseRateLimiter, ContextTypes, ExtBot, TypeHandler
from telegram.ext._utils.types import RLARGS

from bot.channels.telegram.transport import AiohttpRequest, certainly_not_sent_cause
from bot.config import TelegramSettings
from bot.sending.channel_sender import MaybeSent, NotSent, RecipientBlocked, Rejected
from bot.sending.rate import LocalRateLimiter, RateLimiter
from handlers.messages import Button, Inbound, MessageProcessor, Outbound
from handlers.router import COMMAND_DESCRIPTIONS

log = logging.getLogger(__name__)

CHANNEL = "telegram"
MAX_TEXT = 4096
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name, not a secret)
# Calls that answer the user's own action or manage the bot are not throttled.
UNTHROTTLED = {
    "answerCallbackQuery",
    "getMe",
    "getUpdates",
    "setMyCommands",
    "deleteWebhook",
    "setWebhook",
    "close",
    "logOut",
}
#: ``rate_limit_args`` of broadcast sends: the dispatcher has already paced them.
BROADCAST = 1
#: Above Telegram's free rate of about 30 messages a second, broadcasts are paid broadcasts.
FREE_BROADCAST_RATE = 30.0
#: Seconds a reply may wait for a free connection to the Bot API before it counts as failed.
REPLY_POOL_WAIT = 60.0


class TelegramRateLimiter(BaseRateLimiter[int]):
    """Keeps sends under Telegram's limits and retries a 429 after its ``retry_after``.

    A 429 pauses every throttled call, not just the one that got it: flood control applies to
    the whole bot. Broadcast sends (``rate_limit_args=BROADCAST``) are paced by the dispatcher's
    own limiter and only go through the 429 handling here.
    """

    def __init__(self, limiter: RateLimiter, max_retries: int) -> None:
        self.limiter = limiter
        self.max_retries = max_retries
        self._resume_at = 0.0

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
        rate_limit_args: RLARGS | None,
    ) -> Any:
        chat = data.get("chat_id")
        loop = asyncio.get_running_loop()
        for attempt in range(self.max_retries + 1):
            if endpoint not in UNTHROTTLED:
                paused = self._resume_at - loop.time()
                if paused > 0:
                    await asyncio.sleep(paused)
                if rate_limit_args != BROADCAST:
                    await self.limiter.acquire(None if chat is None else str(chat))
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as error:
                if attempt == self.max_retries:
                    raise
                delay = error.retry_after
                seconds = delay.total_seconds() if isinstance(delay, timedelta) else float(delay)
                log.warning("Telegram asked to slow down (%s): retrying in %.1f s", endpoint, seconds)
                self._resume_at = max(self._resume_at, loop.time() + seconds + 0.1)
            except NetworkError as error:
                # A reply that certainly did not reach Telegram (5xx, no connection) is sent again;
                # one that may have arrived (timeout, connection lost mid-answer) is not: no duplicates.
                # Broadcasts decide for themselves (bot.sending.sender); long polls retry in PTB.
                # (PTB's BadRequest is a NetworkError too: Telegram refused the call for good.)
                retry = (
                    rate_limit_args != BROADCAST
                    and endpoint != "getUpdates"
                    and not isinstance(error, BadRequest)
                    and certainly_not_sent(error)
                )
                if not retry or attempt == self.max_retries:
                    raise
                log.warning("Telegram call failed (%s: %s): retrying", endpoint, type(error).__name__)
                await asyncio.sleep(0.2 * 2**attempt)
        raise AssertionError("unreachable")


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Cut a text into messages Telegram accepts, preferring line breaks."""
    if not text:
        return ["…"]
    parts: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        cut = cut if cut > limit // 2 else limit
        parts.append(text[:cut])
        text = text[cut:].lstrip("\n")
    parts.append(text)
    return parts


def keyboard(outbound: Outbound) -> InlineKeyboardMarkup | None:
    """The inline keyboard of ``outbound`` (None without buttons)."""
    if not outbound.buttons:
        return None
    try:
        return _shared_markup(outbound.buttons)
    except TypeError:  # rows given as lists (unhashable): built for this message alone
        return _markup(outbound.buttons)


@lru_cache(maxsize=1024)
def _shared_markup(rows: tuple[tuple[Button, ...], ...]) -> InlineKeyboardMarkup:
    # Every respondent gets the same few keyboards, and building one costs about 50 µs (PTB
    # objects validate and freeze themselves); being frozen, one markup serves any number of sends.
    return _markup(rows)


def _markup(rows: tuple[tuple[Button, ...], ...]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(button.label, url=button.url)
                if button.url is not None
                else InlineKeyboardButton(button.label, callback_data=button.payload)
                for button in row
            ]
            for row in rows
        ]
    )


def to_inbound(update: Update) -> Inbound | None:
    """The core's view of an update; None for updates that are not from a user in a chat."""
    user = update.effective_user
    chat = update.effective_chat
    if user is None or chat is None or user.is_bot:
        return None
    text = payload = None
    received = None
    query = update.callback_query
    if query is not None:
        payload = query.data or ""
    else:
        message = update.message
        if message is None:
            return None
        # Stickers, photos, voice notes...: an empty text gets "please type an answer".
        text = message.text or ""
        received = message.date.astimezone(UTC) if message.date else None
    return Inbound(
        channel=CHANNEL,
        user_key=str(user.id),
        chat_key=str(chat.id),
        update_key=str(update.update_id),
        text=text,
        payload=payload,
        language_hint=user.language_code,
        received_at=received,
    )


class TelegramChannel:
    """Runs a python-telegram-bot ``Application`` that feeds the core."""

    def __init__(
        self, settings: TelegramSettings, processor: MessageProcessor, limiter: RateLimiter | None = None
    ) -> None:
        """``limiter`` paces replies (default: this process's own buckets at ``settings``' rates)."""
        assert settings.token, "TelegramChannel needs a token"
        self.settings = settings
        self.processor = processor
        if limiter is None:
            limiter = LocalRateLimiter(
                settings.messages_per_second, settings.chat_messages_per_second, settings.chat_burst
            )
        builder = (
            Application.builder()
            .token(settings.token)
            .base_url(settings.base_url)
            .rate_limiter(TelegramRateLimiter(limiter, settings.max_retries))
            # Different chats are handled concurrently; the engine keeps each chat in order.
            .concurrent_updates(256)
            # aiohttp rather than PTB's default httpx: about a seventh of the CPU per Bot API call.
            # Under a burst a reply waits its turn for one of the 64 connections (PTB's default
            # of failing after 1 s would turn a busy minute into lost replies).
            .request(AiohttpRequest(connection_pool_size=64, pool_timeout=REPLY_POOL_WAIT))
            .get_updates_request(AiohttpRequest(connection_pool_size=1, read_timeout=settings.poll_timeout + 10))
        )
        if settings.base_file_url:
            builder = builder.base_file_url(settings.base_file_url)
        if settings.mode == "webhook":
            builder = builder.updater(None)
        self.application = builder.build()
        self.application.add_handler(TypeHandler(Update, self._on_update))
        self.application.add_error_handler(self._on_error)

    @property
    def bot(self) -> Bot:
        return self.application.bot

    async def start(self) -> None:
        """Connect to Telegram and start receiving updates."""
        await self.application.initialize()
        commands = [BotCommand(name, description) for name, description in COMMAND_DESCRIPTIONS.items()]
        try:
            await self.bot.set_my_commands(commands)
        except TelegramError as error:
            log.warning("could not set the command menu: %s", error)
        await self.application.start()
        if self.settings.mode == "webhook":
            await self.bot.set_webhook(
                url=f"{self.settings.webhook_url}",
                secret_token=self.settings.webhook_secret,
                allowed_updates=["message", "callback_query"],
                max_connections=self.settings.webhook_max_connections,
            )
            log.info("Telegram webhook registered")
        else:
            assert self.application.updater is not None
            await self.bot.delete_webhook()
            await self.application.updater.start_polling(
                poll_interval=0,
                timeout=self.settings.poll_timeout,
                allowed_updates=["message", "callback_query"],
            )
            log.info("Telegram long polling started")

    async def stop(self) -> None:
        if self.application.updater is not None and self.application.updater.running:
            await self.application.updater.stop()
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()

    async def handle_webhook(self, request: web.Request) -> web.Response:
        """The webhook endpoint: checks the secret token, then handles the update.

        Telegram gets its 200 only after the update is committed and answered, so an update
        lost to a crash is delivered again (and a repeated one is recognised by the engine).
        """
        given = request.headers.get(SECRET_HEADER, "")
        expected = self.settings.webhook_secret or ""
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            return web.Response(status=401, text="wrong secret token")
        try:
            data = await request.json(loads=json.loads)
            update = Update.de_json(data, self.bot)
        except (ValueError, TypeError, KeyError, AttributeError):  # AttributeError: JSON that is not an object
            return web.Response(status=400, text="not an update")
        if update is None:
            return web.Response(status=400, text="not an update")
        await self.application.process_update(update)
        return web.Response(text="ok")

    async def _on_update(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        inbound = to_inbound(update)
        if inbound is None:
            return
        query = update.callback_query
        # Stop the button's spinner at once (alongside the handling: a slow answer delays nothing).
        spinner = asyncio.ensure_future(self._answer_query(query)) if query is not None else None
        chat = update.effective_chat
        assert chat is not None
        pressed = query.message if query is not None and isinstance(query.message, Message) else None

        async def send_in_order(replies: list[Outbound]) -> None:
            for reply in replies:
                try:
                    await self._send(chat.id, reply, pressed)
                except TelegramError as error:
                    # The answer is stored; one reply that did not go (after the limiter's
                    # retries) must not hold back the rest, often the next question.
                    log.warning("a reply could not be sent (%s); sending the rest", type(error).__name__)

        try:
            # The replies are sent before the chat's next update is handled (the core keeps one
            # line per chat, entered here before anything is awaited). Otherwise a reply could
            # overtake an earlier one (a retried 5xx, a slow call) and leave an older question as
            # the newest message, which the person then answers; or a text sent after a press
            # could reach the core first.
            await self.processor.serve(inbound, send_in_order)
        finally:
            if spinner is not None:
                await spinner

    @staticmethod
    async def _answer_query(query: CallbackQuery) -> None:
        try:
            await query.answer()
        except TelegramError as error:
            log.info("could not answer a callback query: %s", type(error).__name__)

    async def _send(self, chat_id: int, reply: Outbound, pressed: Message | None) -> None:
        markup = keyboard(reply)
        if reply.replaces_pressed and pressed is not None and reply.attachment is None and len(reply.text) <= MAX_TEXT:
            try:
                await self.bot.edit_message_text(
                    chat_id=chat_id, message_id=pressed.message_id, text=reply.text, reply_markup=markup
                )
                return
            except BadRequest as error:
                if "not modified" in str(error).lower():
                    return
                log.info("could not edit a message, sending a new one: %s", error)
        await self._send_new(chat_id, reply, markup)

    async def send(self, chat_id: int | str, reply: Outbound) -> None:
        """Send one outbound message to a chat (text split to Telegram's length limit)."""
        await self._send_new(chat_id, reply, keyboard(reply))

    async def _send_new(self, chat_id: int | str, reply: Outbound, markup: InlineKeyboardMarkup | None) -> None:
        if reply.attachment is not None:
            attachment = reply.attachment
            caption = reply.text[:1024] or None
            if attachment.kind == "image":
                await self.bot.send_photo(chat_id, attachment.content, caption=caption, reply_markup=markup)
            else:
                await self.bot.send_document(
                    chat_id, attachment.content, filename=attachment.filename, caption=caption, reply_markup=markup
                )
            return
        parts = split_text(reply.text)
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            await self.bot.send_message(chat_id, part, reply_markup=markup if last else None)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        # Never log the update itself: it holds user ids and message texts.
        error = context.error
        log.error("error while handling a Telegram update: %s: %s", type(error).__name__, error, exc_info=error)


# Connection failures after which the request certainly did not reach Telegram, for PTB's own
# HTTPXRequest (aiohttp's are in bot.channels.telegram.transport.NOT_SENT_ERRORS).
_NOT_SENT_CAUSES = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.WriteError, httpx.WriteTimeout)


def certainly_not_sent(error: NetworkError) -> bool:
    """Whether a failed call surely had no effect: no connection, or Telegram answered 5xx.

    Understands both transports: :class:`~bot.channels.telegram.transport.AiohttpRequest` (refused or
    unreachable, no free pooled connection in time: not sent; connection lost mid-request or a
    read timeout: perhaps sent) and PTB's ``HTTPXRequest``.
    """
    cause = error.__cause__
    return (
        isinstance(cause, _NOT_SENT_CAUSES)
        or certainly_not_sent_cause(cause)
        or (cause is None and not isinstance(error, TimedOut))
    )


class TelegramSender:
    """The dispatcher's :class:`~bot.sending.channel_sender.Sender` for Telegram: one message per recipient.

    Notices are plain text (no parse mode), so no text can break Telegram's formatting. A picture
    or document is uploaded once per broadcast and then sent by its Telegram file id.
    """

    channel = CHANNEL

    def __init__(self, bot: Bot, *, paid_broadcast: bool = False, read_timeout: float = 20.0) -> None:
        self.bot = bot
        self.paid_broadcast = paid_broadcast
        self.read_timeout = read_timeout
        self._file_ids: dict[tuple[str, str], str] = {}
        self._uploads: dict[tuple[str, str], asyncio.Lock] = {}

    async def send(self, chat_key: str, message: Outbound, *, cache_key: str) -> str:
        try:
            sent = await self._send(int(chat_key), message, cache_key)
        except Forbidden as error:  # "bot was blocked by the user", "user is deactivated"
            raise RecipientBlocked(str(error)) from error
        except RetryAfter as error:  # still rate limited after the rate limiter's retries
            delay = error.retry_after
            raise NotSent(
                str(error), delay.total_seconds() if isinstance(delay, timedelta) else float(delay)
            ) from error
        except BadRequest as error:  # "chat not found"... (PTB makes it a NetworkError: catch it first)
            raise Rejected(str(error)) from error
        except NetworkError as error:  # TimedOut included
            if certainly_not_sent(error):
                # No connection, or Telegram answered with a server error (5xx): nothing was sent.
                raise NotSent(str(error)) from error
            raise MaybeSent(str(error)) from error
        except TelegramError as error:  # ChatMigrated, InvalidToken...
            raise Rejected(str(error)) from error
        return str(sent.message_id)

    def _extra(self) -> dict[str, Any]:
        extra: dict[str, Any] = {"read_timeout": self.read_timeout}
        if self.paid_broadcast:
            extra["allow_paid_broadcast"] = True
        if isinstance(self.bot, ExtBot):
            extra["rate_limit_args"] = BROADCAST
        return extra

    async def _send(self, chat_id: int, message: Outbound, cache_key: str) -> Message:
        markup = keyboard(message)
        attachment = message.attachment
        if attachment is None:
            return await self.bot.send_message(chat_id, message.text[:MAX_TEXT], reply_markup=markup, **self._extra())
        caption = message.text[:1024] or None
        key = (cache_key, attachment.filename)
        file_id = self._file_ids.get(key)
        if file_id is None:
            async with self._uploads.setdefault(key, asyncio.Lock()):
                file_id = self._file_ids.get(key)
                if file_id is None:
                    sent = await self._send_file(
                        chat_id, attachment.kind, attachment.content, attachment.filename, caption, markup
                    )
                    found = sent.photo[-1].file_id if sent.photo else sent.document.file_id if sent.document else None
                    if found is not None:
                        self._file_ids[key] = found
                    return sent
        return await self._send_file(chat_id, attachment.kind, file_id, None, caption, markup)

    async def _send_file(
        self,
        chat_id: int,
        kind: str,
        content: bytes | str,
        filename: str | None,
        caption: str | None,
        markup: InlineKeyboardMarkup | None,
    ) -> Message:
        if kind == "image":
            return await self.bot.send_photo(
                chat_id, content, caption=caption, reply_markup=markup, filename=filename, **self._extra()
            )
        return await self.bot.send_document(
            chat_id, content, caption=caption, reply_markup=markup, filename=filename, **self._extra()
        )
