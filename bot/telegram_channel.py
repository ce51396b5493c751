"""The Telegram channel: python-telegram-bot at the edge of the channel-agnostic core.

Updates become :class:`~handlers.messages.Inbound` values; the core's
:class:`~handlers.messages.Outbound` replies become sendMessage / editMessageText / sendPhoto /
sendDocument calls within Telegram's limits. Long polling by default; in webhook mode the
aiohttp server of :mod:`bot.app` receives the updates and checks the secret token.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from dataclasses import replace
from datetime import UTC, timedelta
from typing import Any

from aiohttp import web
from telegram import Bot, BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest, RetryAfter, TelegramError
from telegram.ext import Application, BaseRateLimiter, ContextTypes, TypeHandler
from telegram.ext._utils.types import RLARGS

from bot.config import TelegramSettings
from bot.ratelimit import SendRateLimiter
from handlers.messages import Inbound, MessageProcessor, Outbound
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


class TelegramRateLimiter(BaseRateLimiter[int]):
    """Keeps sends under Telegram's limits and retries a 429 after its ``retry_after``."""

    def __init__(self, limiter: SendRateLimiter, max_retries: int) -> None:
        self.limiter = limiter
        self.max_retries = max_retries

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
        for attempt in range(self.max_retries + 1):
            if endpoint not in UNTHROTTLED:
                await self.limiter.acquire(None if chat is None else str(chat))
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as error:
                if attempt == self.max_retries:
                    raise
                delay = error.retry_after
                seconds = delay.total_seconds() if isinstance(delay, timedelta) else float(delay)
                log.warning("Telegram asked to slow down (%s): retrying in %.1f s", endpoint, seconds)
                await asyncio.sleep(seconds + 0.1)
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
    if not outbound.buttons:
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(button.label, callback_data=button.payload) for button in row]
            for row in outbound.buttons
        ]
    )


def to_inbound(update: Update) -> Inbound | None:
    """The core's view of an update; None for updates that are not from a user in a chat."""
    user = update.effective_user
    chat = update.effective_chat
    if user is None or chat is None or user.is_bot:
        return None
    base = Inbound(
        channel=CHANNEL,
        user_key=str(user.id),
        chat_key=str(chat.id),
        update_key=str(update.update_id),
        language_hint=user.language_code,
    )
    if update.callback_query is not None:
        return replace(base, payload=update.callback_query.data or "")
    message = update.message
    if message is None:
        return None
    received = message.date.astimezone(UTC) if message.date else None
    # Stickers, photos, voice notes...: an empty text gets "please type an answer".
    return replace(base, text=message.text or "", received_at=received)


class TelegramChannel:
    """Runs a python-telegram-bot ``Application`` that feeds the core."""

    def __init__(self, settings: TelegramSettings, processor: MessageProcessor) -> None:
        assert settings.token, "TelegramChannel needs a token"
        self.settings = settings
        self.processor = processor
        limiter = SendRateLimiter(settings.messages_per_second, settings.chat_messages_per_second, settings.chat_burst)
        builder = (
            Application.builder()
            .token(settings.token)
            .base_url(settings.base_url)
            .rate_limiter(TelegramRateLimiter(limiter, settings.max_retries))
            # Different chats are handled concurrently; the engine keeps each chat in order.
            .concurrent_updates(256)
            .connection_pool_size(64)
            .get_updates_read_timeout(settings.poll_timeout + 10)
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
        except (ValueError, TypeError, KeyError):
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
        if query is not None:
            # Stop the button's spinner at once; the answer follows.
            try:
                await query.answer()
            except TelegramError as error:
                log.info("could not answer a callback query: %s", type(error).__name__)
        replies = await self.processor.handle(inbound)
        chat = update.effective_chat
        assert chat is not None
        pressed = query.message if query is not None and isinstance(query.message, Message) else None
        for reply in replies:
            await self._send(chat.id, reply, pressed)

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
        await self.send(chat_id, reply)

    async def send(self, chat_id: int | str, reply: Outbound) -> None:
        """Send one outbound message to a chat (text split to Telegram's length limit)."""
        markup = keyboard(reply)
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
