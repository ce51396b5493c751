"""The Telegram channel: python-telegram-bot at the edge of the channel-agnostic core.

Updates are read from the Bot API's JSON into :class:`~handlers.messages.Inbound` values
(:mod:`bot.channels.telegram.updates`, fetched by :mod:`bot.channels.telegram.polling` or
posted to the webhook); the core's
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
import functools
import json
import logging
from dataclasses import replace
from typing import Any

from aiohttp import web
from telegram import Bot, BotCommand
from telegram.error import BadRequest, InvalidToken, NetworkError, TelegramError, TimedOut
from telegram.ext import Application

from bot.channels.arrival import ArrivalOrder
from bot.channels.telegram.polling import LongPolling
from bot.channels.telegram.rate_limiter import TelegramRateLimiter
from bot.channels.telegram.rendering import (
    HTML,
    caption,
    editable,
    formatted,
    keyboard,
    parse_mode,
    send_file,
    text_messages,
)
from bot.channels.telegram.transport import AiohttpRequest, send_text
from bot.channels.telegram.updates import CHANNEL, NotAnUpdate, SentFile, TelegramUpdate, read_update
from bot.config import TelegramSettings
from bot.health import ChannelHealth, connect_or_keep_trying, keep_trying
from bot.sending.rate import LocalRateLimiter, RateLimiter
from common.constant_time import same_secret
from common.tasks import cancel_and_wait
from handlers.messages import Inbound, MessageProcessor, Outbound, Upload
from handlers.router import command_menu
from handlers.texts import SUPPORTED_LANGUAGES
from storage.media import DEFAULT_MAX_BYTES

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name, not a secret)
#: Seconds a reply may wait for a free connection to the Bot API before it counts as failed.
REPLY_POOL_WAIT = 60.0
#: The updates Baraza asks for (polling and webhook).
ALLOWED_UPDATES = ["message", "callback_query"]
#: Updates handled at once; the engine keeps each chat in order.
CONCURRENT_UPDATES = 256


async def fetch_file(bot: Bot, sent: SentFile, max_bytes: int) -> Upload:
    """The file fetched through the Bot API (``getFile``, then the download), or, when it is over
    ``max_bytes`` or cannot be fetched, an :class:`Upload` without content that says so (its
    ``size`` set when it is too big), for the core to answer with the reason."""
    empty = Upload(sent.kind, b"", sent.mime_type, filename=sent.filename)
    if sent.size is not None and sent.size > max_bytes:
        return replace(empty, size=sent.size)
    try:
        file = await bot.get_file(sent.file_id)
        if file.file_size is not None and file.file_size > max_bytes:
            return replace(empty, size=file.file_size)
        content = bytes(await file.download_as_bytearray())
    except TelegramError as error:
        # "file is too big" (over the Bot API's 20 MB), a lost connection...: the core says
        # the file could not be read, and the person sends it again.
        log.warning("could not fetch a file from Telegram: %s", type(error).__name__)
        return empty
    if len(content) > max_bytes:
        return replace(empty, size=len(content))
    return replace(empty, content=content)


def why_unreachable(error: BaseException) -> str:
    """What ``/healthz`` and the log say when Telegram cannot be used (never the token)."""
    if isinstance(error, InvalidToken):
        return "the bot token was refused (check BARAZA_TELEGRAM_TOKEN)"
    if isinstance(error, TimedOut):
        return "the Bot API did not answer in time"
    if isinstance(error, NetworkError):
        return "cannot connect to the Bot API"
    if isinstance(error, TelegramError):
        return f"the Bot API refused: {type(error).__name__}"
    return f"cannot start: {type(error).__name__}"


class TelegramChannel:
    """Runs a python-telegram-bot ``Application`` that feeds the core."""

    def __init__(
        self,
        settings: TelegramSettings,
        processor: MessageProcessor,
        limiter: RateLimiter | None = None,
        *,
        max_file_bytes: int = DEFAULT_MAX_BYTES,
        default_language: str = "en",
    ) -> None:
        """``limiter`` paces replies (default: this process's own buckets at ``settings``' rates);
        files people send are fetched up to ``max_file_bytes``; the command menu is in
        ``default_language`` for people whose language the bot does not speak."""
        assert settings.token, "TelegramChannel needs a token"
        self.settings = settings
        self.processor = processor
        self.max_file_bytes = max_file_bytes
        self._arrivals = ArrivalOrder()
        self.default_language = default_language
        #: Starting, connected or degraded (Telegram unreachable, token refused): ``/healthz`` shows it.
        self.health = ChannelHealth(CHANNEL)
        self._connecting: asyncio.Task[None] | None = None
        if limiter is None:
            limiter = LocalRateLimiter(
                settings.messages_per_second, settings.chat_messages_per_second, settings.chat_burst
            )
        # The Application gives the bot (its rate limiter and HTTP connections) and their start and
        # stop; updates do not go through it: they are read from their JSON (see :mod:`.updates`),
        # fetched by :class:`LongPolling` or posted to :meth:`handle_webhook`.
        builder = (
            Application.builder()
            .token(settings.token)
            .base_url(settings.base_url)
            .rate_limiter(TelegramRateLimiter(limiter, settings.max_retries))
            # aiohttp rather than PTB's default httpx: about a seventh of the CPU per Bot API call.
            # Under a burst a reply waits its turn for one of the 64 connections (PTB's default
            # of failing after 1 s would turn a busy minute into lost replies).
            .request(AiohttpRequest(connection_pool_size=64, pool_timeout=REPLY_POOL_WAIT))
            .get_updates_request(AiohttpRequest(connection_pool_size=1, read_timeout=settings.poll_timeout + 10))
            .updater(None)
        )
        if settings.base_file_url:
            builder = builder.base_file_url(settings.base_file_url)
        self.application = builder.build()
        self.polling = LongPolling(
            self.application.bot,
            self.handle_update,
            timeout=settings.poll_timeout,
            allowed_updates=ALLOWED_UPDATES,
            on_error=self._on_polling_error,
            concurrency=CONCURRENT_UPDATES,
        )
        self._webhook_slots = asyncio.Semaphore(CONCURRENT_UPDATES)

    @property
    def bot(self) -> Bot:
        return self.application.bot

    async def start(self) -> None:
        """Connect to Telegram and start receiving updates.

        Never fails: while Telegram cannot be reached (or refuses the token) the channel is
        degraded and tried again with a growing pause; the web chat and the dashboard keep serving.
        """
        self._connecting = await connect_or_keep_trying(self.health, self._connect, why_unreachable)

    async def _connect(self) -> None:
        """One attempt at what starting needs; the steps already done are not repeated."""
        await self.application.initialize()
        await self.set_command_menus()
        if not self.application.running:
            await self.application.start()
        if self.settings.mode == "webhook":
            await self.bot.set_webhook(
                url=f"{self.settings.webhook_url}",
                secret_token=self.settings.webhook_secret,
                allowed_updates=ALLOWED_UPDATES,
                max_connections=self.settings.webhook_max_connections,
            )
            log.info("Telegram webhook registered")
        elif not self.polling.running:
            await self.bot.delete_webhook()
            self.polling.start()
            log.info("Telegram long polling started")

    async def set_command_menus(self) -> None:
        """The command menu in each language the bot speaks (``setMyCommands`` with its
        ``language_code``), and in the default language for everyone else."""
        menus: list[tuple[str, str | None]] = [(self.default_language, None)]
        menus += [(language, language) for language in SUPPORTED_LANGUAGES]
        for language, code in menus:
            commands = [BotCommand(name, description) for name, description in command_menu(language)]
            try:
                await self.bot.set_my_commands(commands, language_code=code)
            except (NetworkError, InvalidToken):
                raise  # Telegram is away: the whole start is tried again
            except TelegramError as error:
                log.warning("could not set the %s command menu: %s", code or "default", error)

    def _on_polling_error(self, error: TelegramError) -> None:
        # Long polling lost Telegram (it polls again by itself): degraded until the Bot API answers again.
        self.health.degraded(why_unreachable(error))
        if self._connecting is None or self._connecting.done():
            self._connecting = asyncio.create_task(keep_trying(self.health, self._probe, why_unreachable))

    async def _probe(self) -> None:
        await self.bot.get_me()

    async def stop(self) -> None:
        await cancel_and_wait(self._connecting)
        await self.polling.stop()
        if self.application.running:
            await self.application.stop()
        # A start that never connected leaves the Bot API connections open without the application.
        await self.application.shutdown()
        await self.bot.shutdown()

    async def handle_webhook(self, request: web.Request) -> web.Response:
        """The webhook endpoint: checks the secret token, then handles the update.

        Telegram gets its 200 only after the update is committed and answered, so an update
        lost to a crash is delivered again (and a repeated one is recognised by the engine).
        """
        given = request.headers.get(SECRET_HEADER, "")
        expected = self.settings.webhook_secret or ""
        if not same_secret(given, expected):
            return web.Response(status=401, text="wrong secret token")
        if not self.application.running:
            # The web server serves before the channel has started (or while Telegram is away):
            # an update handled now would be stored but its replies could not be sent. Telegram
            # delivers it again after anything but a 2xx.
            return web.Response(status=503, text="not started yet")
        try:
            data = await request.json(loads=json.loads)
            update = read_update(data)
        # RecursionError: JSON nested thousands deep.
        except (NotAnUpdate, ValueError, RecursionError):
            return web.Response(status=400, text="not an update")
        if update is not None:
            async with self._webhook_slots:
                try:
                    await self._on_update(update)
                except Exception:
                    # Never the update itself in the log: it holds user ids and message texts.
                    log.exception("error while handling a Telegram update")
        return web.Response(text="ok")

    async def handle_update(self, data: Any) -> None:
        """Handle one update fetched by long polling (its decoded JSON)."""
        try:
            update = read_update(data)
        except NotAnUpdate:
            log.warning("Telegram sent something that is not an update: ignored")
            return
        if update is not None:
            await self._on_update(update)

    async def _on_update(self, update: TelegramUpdate) -> None:
        inbound, sent, chat_id = update.inbound, update.sent, update.chat_id
        # Stop the button's spinner at once (alongside the handling: a slow answer delays nothing).
        spinner = asyncio.ensure_future(self._answer_query(update.query_id)) if update.query_id else None
        pressed = update.pressed_message_id

        async def send_in_order(replies: list[Outbound]) -> None:
            for reply in replies:
                try:
                    await self._send(chat_id, reply, pressed)
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
            # A file is fetched before the core's transaction (a slow download holds up nobody),
            # the chat's later updates waiting for it in line.
            prepare = functools.partial(self._fetched, sent) if sent is not None else None
            await self._arrivals.serve(self.processor, inbound.chat_key, inbound, send_in_order, prepare)
        finally:
            if spinner is not None:
                await spinner

    async def _fetched(self, sent: SentFile, inbound: Inbound) -> Inbound:
        return replace(inbound, upload=await fetch_file(self.bot, sent, self.max_file_bytes))

    async def _answer_query(self, query_id: str) -> None:
        try:
            await self.bot.answer_callback_query(query_id)
        except TelegramError as error:
            log.info("could not answer a callback query: %s", type(error).__name__)

    async def _send(self, chat_id: int, reply: Outbound, pressed: int | None) -> None:
        if reply.replaces_pressed and pressed is not None and editable(reply):
            try:
                text, mode = formatted(reply)
                await self.bot.edit_message_text(
                    chat_id=chat_id,
                    message_id=pressed,
                    text=text,
                    reply_markup=keyboard(reply),
                    parse_mode=mode,
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
        if parse_mode(reply) is not None:
            try:
                for text, markup in text_messages(reply):
                    await send_text(self.bot, chat_id, text, reply_markup=markup, parse_mode=HTML)
                return
            except BadRequest as error:
                # Telegram refused the formatting (an address it does not take): the clean text then.
                log.info("Telegram refused a formatted message, sending its clean text: %s", error)
                reply = replace(reply, rich=())
        for text, markup in text_messages(reply):
            await send_text(self.bot, chat_id, text, reply_markup=markup)
