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
import contextlib
import functools
import json
import logging
from dataclasses import dataclass, replace
from datetime import UTC

from aiohttp import web
from telegram import Bot, BotCommand, CallbackQuery, Message, Update
from telegram import Location as TelegramLocation
from telegram.error import BadRequest, InvalidToken, NetworkError, TelegramError, TimedOut
from telegram.ext import Application, ContextTypes, TypeHandler

from bot.channels.arrival import ArrivalOrder
from bot.channels.telegram.ptb_compat import send_text
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
from bot.channels.telegram.transport import AiohttpRequest
from bot.config import TelegramSettings
from bot.health import ChannelHealth, connect_or_keep_trying, keep_trying
from bot.sending.rate import LocalRateLimiter, RateLimiter
from common.constant_time import same_secret
from handlers.messages import Inbound, Location, MessageProcessor, Outbound, Upload
from handlers.router import command_menu
from handlers.texts import SUPPORTED_LANGUAGES
from storage.media import DEFAULT_MAX_BYTES

log = logging.getLogger(__name__)

CHANNEL = "telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name, not a secret)
#: Seconds a reply may wait for a free connection to the Bot API before it counts as failed.
REPLY_POOL_WAIT = 60.0


@dataclass(frozen=True)
class SentFile:
    """A file in a message, before it is fetched: the Bot API file id, what it is, its announced size."""

    file_id: str
    kind: str
    mime_type: str
    filename: str | None
    size: int | None


def sent_file(message: Message) -> SentFile | None:
    """The photo (its largest size), voice note, audio, video, video note or document of ``message``."""
    if message.photo:
        largest = max(message.photo, key=lambda size: size.width * size.height)
        return SentFile(largest.file_id, "image", "image/jpeg", None, largest.file_size)
    if message.voice is not None:
        voice = message.voice
        return SentFile(voice.file_id, "audio", voice.mime_type or "audio/ogg", None, voice.file_size)
    if message.audio is not None:
        audio = message.audio
        return SentFile(audio.file_id, "audio", audio.mime_type or "audio/mpeg", audio.file_name, audio.file_size)
    if message.video is not None:
        video = message.video
        return SentFile(video.file_id, "video", video.mime_type or "video/mp4", video.file_name, video.file_size)
    if message.video_note is not None:
        note = message.video_note
        return SentFile(note.file_id, "video", "video/mp4", None, note.file_size)
    if message.document is not None:
        document = message.document
        mime_type = document.mime_type or "application/octet-stream"
        return SentFile(document.file_id, "file", mime_type, document.file_name, document.file_size)
    return None


def location_of(location: TelegramLocation) -> Location:
    """A shared location (Telegram gives no altitude; ``horizontal_accuracy`` is the accuracy)."""
    return Location(location.latitude, location.longitude, accuracy=location.horizontal_accuracy)


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


def to_inbound(update: Update) -> Inbound | None:
    """The core's view of an update; None for updates that are not from a user in a chat."""
    user = update.effective_user
    chat = update.effective_chat
    if user is None or chat is None or user.is_bot:
        return None
    text = payload = None
    received = None
    location = None
    query = update.callback_query
    if query is not None:
        payload = query.data or ""
    else:
        message = update.message
        if message is None:
            return None
        # Stickers and the like: an empty text gets "please type an answer". A location is read
        # here; files are fetched by the channel (:func:`fetch_file`) before the core sees them.
        text = None if message.location is not None or sent_file(message) is not None else message.text or ""
        location = location_of(message.location) if message.location is not None else None
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
        location=location,
    )


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
                allowed_updates=["message", "callback_query"],
                max_connections=self.settings.webhook_max_connections,
            )
            log.info("Telegram webhook registered")
        else:
            assert self.application.updater is not None
            if self.application.updater.running:
                return
            await self.bot.delete_webhook()
            await self.application.updater.start_polling(
                poll_interval=0,
                timeout=self.settings.poll_timeout,
                allowed_updates=["message", "callback_query"],
                error_callback=self._on_polling_error,
            )
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
        # Long polling lost Telegram (PTB retries it by itself): degraded until the Bot API answers again.
        self.health.degraded(why_unreachable(error))
        if self._connecting is None or self._connecting.done():
            self._connecting = asyncio.create_task(keep_trying(self.health, self._probe, why_unreachable))

    async def _probe(self) -> None:
        await self.bot.get_me()

    async def stop(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connecting
        if self.application.updater is not None and self.application.updater.running:
            await self.application.updater.stop()
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
        sent = sent_file(update.message) if update.message is not None and update.callback_query is None else None
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
            # A file is fetched before the core's transaction (a slow download holds up nobody),
            # the chat's later updates waiting for it in line.
            prepare = functools.partial(self._fetched, sent) if sent is not None else None
            await self._arrivals.serve(self.processor, inbound.chat_key, inbound, send_in_order, prepare)
        finally:
            if spinner is not None:
                await spinner

    async def _fetched(self, sent: SentFile, inbound: Inbound) -> Inbound:
        return replace(inbound, upload=await fetch_file(self.bot, sent, self.max_file_bytes))

    @staticmethod
    async def _answer_query(query: CallbackQuery) -> None:
        try:
            await query.answer()
        except TelegramError as error:
            log.info("could not answer a callback query: %s", type(error).__name__)

    async def _send(self, chat_id: int, reply: Outbound, pressed: Message | None) -> None:
        if reply.replaces_pressed and pressed is not None and editable(reply):
            try:
                text, mode = formatted(reply)
                await self.bot.edit_message_text(
                    chat_id=chat_id,
                    message_id=pressed.message_id,
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

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        # Never log the update itself: it holds user ids and message texts.
        error = context.error
        log.error("error while handling a Telegram update: %s: %s", type(error).__name__, error, exc_info=error)
