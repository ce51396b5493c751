"""The Telegram channel: python-telegram-bot at the edge of the channel-agnostic core.

Updates become :class:`~handlers.messages.Inbound` values (:func:`to_inbound`); the core's
:class:`~handlers.messages.Outbound` replies are sent as :mod:`bot.channels.telegram.rendering`
lays them out. Long polling by default; in webhook mode the aiohttp server of :mod:`bot.app`
receives the updates and :meth:`TelegramChannel.handle_webhook` checks the secret token.

The rest of the channel: :mod:`~bot.channels.telegram.transport` (PTB's HTTP layer on aiohttp),
:mod:`~bot.channels.telegram.rate_limiter` (Telegram's send limits and retries),
:mod:`~bot.channels.telegram.sender` (broadcasts and the outbox) and
:mod:`~bot.channels.telegram.ptb_compat` (the private PTB names Baraza uses).
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC

from aiohttp import web
from telegram import Bot, BotCommand, CallbackQuery, Message, Update
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application, ContextTypes, TypeHandler

from bot.channels.telegram.rate_limiter import TelegramRateLimiter
from bot.channels.telegram.rendering import caption, editable, keyboard, send_file, text_messages
from bot.channels.telegram.transport import AiohttpRequest
from bot.config import TelegramSettings
from bot.sending.rate import LocalRateLimiter, RateLimiter
from common.constant_time import same_secret
from handlers.messages import Inbound, MessageProcessor, Outbound
from handlers.router import COMMAND_DESCRIPTIONS

log = logging.getLogger(__name__)

CHANNEL = "telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name, not a secret)
#: Seconds a reply may wait for a free connection to the Bot API before it counts as failed.
REPLY_POOL_WAIT = 60.0


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
        if not same_secret(given, expected):
            return web.Response(status=401, text="wrong secret token")
        try:
            data = await request.json(loads=json.loads)
            update = Update.de_json(data, self.bot)
        # AttributeError: JSON that is not an object; RecursionError: JSON nested thousands deep.
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
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
        if reply.replaces_pressed and pressed is not None and editable(reply):
            try:
                await self.bot.edit_message_text(
                    chat_id=chat_id, message_id=pressed.message_id, text=reply.text, reply_markup=keyboard(reply)
                )
                return
            except BadRequest as error:
                if "not modified" in str(error).lower():
                    return
                log.info("could not edit a message, sending a new one: %s", error)
        await self.send(chat_id, reply)

    async def send(self, chat_id: int | str, reply: Outbound) -> None:
        """Send one outbound message to a chat as new messages (text split to Telegram's length limit)."""
        attachment = reply.attachment
        if attachment is not None:
            await send_file(
                self.bot,
                chat_id,
                attachment.kind,
                attachment.content,
                filename=attachment.filename,
                caption=caption(reply),
                markup=keyboard(reply),
            )
            return
        for text, markup in text_messages(reply):
            await self.bot.send_message(chat_id, text, reply_markup=markup)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        # Never log the update itself: it holds user ids and message texts.
        error = context.error
        log.error("error while handling a Telegram update: %s: %s", type(error).__name__, error, exc_info=error)
