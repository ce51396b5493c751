"""Wiring: settings → surveys → database → engine → channels → senders, and running them until stopped.

:func:`running_bot` reads top-down, one named step after another. The surveys are read before
the database is opened, so that an invalid survey stops the start before anything changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol, TypeVar

from aiohttp import web

from bot.admin.auth import cookie_key
from bot.admin.operations import add_operation_routes
from bot.admin.routes import add_admin_routes
from bot.channels.telegram.adapter import TelegramChannel
from bot.channels.telegram.sender import FREE_BROADCAST_RATE, TelegramSender
from bot.channels.webchat.adapter import add_webchat_routes
from bot.channels.whatsapp.adapter import WhatsAppChannel
from bot.channels.whatsapp.sender import WhatsAppSender
from bot.config import Settings
from bot.core.engine import Engine, load_pseudonymizer
from bot.core.flood import FloodGuard
from bot.core.sanitise import Sanitiser
from bot.indicator_refresh import IndicatorKeeper
from bot.proxies import forwarded_middleware
from bot.sending.broadcast_rows import BroadcastSender, broadcast_sender
from bot.sending.channel_sender import Sender
from bot.sending.outbox_rows import OutboxSender, outbox_sender
from bot.sending.shared_rate import SendLimiters, send_limiters
from catalogue.calendar import ReleaseCalendar, load_calendar_file
from catalogue.concepts import Glossary, load_glossary_file
from common.clock import utc_now
from handlers.context import Community
from handlers.messages import MessageProcessor
from storage.database import Database
from storage.repositories import Repositories
from surveys.loader import load_survey_directory, load_survey_file
from surveys.model import Survey

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunningBot:
    """Everything ``baraza run`` started; tests use it to reach the parts."""

    settings: Settings
    database: Database
    engine: Engine
    #: The send rates (shared by all workers on PostgreSQL / Redis).
    limiters: SendLimiters
    web_runner: web.AppRunner
    web_port: int
    #: Loads the indicator catalogue at start (when changed) and refreshes it on schedule.
    indicators: IndicatorKeeper
    telegram: TelegramChannel | None
    whatsapp: WhatsAppChannel | None
    #: Sends broadcasts; None without a channel that can push messages (Telegram or WhatsApp).
    dispatcher: BroadcastSender | None
    #: Sends the outbox (answers to data requests); None without a channel that can push messages.
    outbox: OutboxSender | None


@contextlib.asynccontextmanager
async def running_bot(settings: Settings) -> AsyncIterator[RunningBot]:
    """Start the bot (migrating the database first) and stop it cleanly when the block ends.

    The steps run top-down; each part started is stopped again, in the reverse order, however
    the block ends (a step that fails stops the parts started before it).
    Raises :class:`surveys.errors.SurveyFileError` before anything starts if a survey is invalid.
    """
    surveys = load_survey_directory(settings.surveys_directory)
    community = community_of(settings)
    async with contextlib.AsyncExitStack() as stack:
        database = await migrated_database(stack, settings)
        engine = await core_engine(settings, database, surveys, community)
        core = guarded_core(settings, engine)
        limiters = await send_limiters(settings, database)
        stack.push_async_callback(limiters.close)
        telegram = telegram_channel(settings, core, limiters)
        whatsapp = whatsapp_channel(settings, core, database)
        app = web_app(settings, database, core, telegram, whatsapp, surveys, community)
        runner, port = await serving(stack, settings, app)
        log.info("web chat on http://%s:%d/ with %d survey(s)", settings.web.host, port, len(surveys))
        pruning = asyncio.create_task(_prune_processed_updates(database))
        stack.push_async_callback(_cancel, pruning)
        # In the background: the bot answers from the data in service while a new load is written.
        indicators = await started(stack, IndicatorKeeper(database, settings.indicators))
        # Build the catalogue's search index now, then follow new loads in the background:
        # lookups never read the catalogue inside an update's transaction.
        await started(stack, engine.catalogue)
        for channel in (telegram, whatsapp):
            if channel is not None:
                await started(stack, channel)
        dispatcher = outbox = None
        if telegram is not None or whatsapp is not None:
            extra = [WhatsAppSender(whatsapp.client, database)] if whatsapp is not None else []
            dispatcher = await started(stack, broadcast_dispatcher(settings, database, telegram, extra, limiters))
            # Same senders and rate limiter as broadcasts: together they stay within the rate.
            shared = dispatcher.shared_limiter
            outbox = await started(
                stack, outbox_sender(database, dispatcher.senders.values(), dispatcher.limiter, shared_limiter=shared)
            )
        yield RunningBot(
            settings=settings,
            database=database,
            engine=engine,
            limiters=limiters,
            web_runner=runner,
            web_port=port,
            indicators=indicators,
            telegram=telegram,
            whatsapp=whatsapp,
            dispatcher=dispatcher,
            outbox=outbox,
        )


def community_of(settings: Settings) -> Community:
    """The register settings, with the onboarding conversation loaded (and checked) if configured,
    and the glossary and release calendar (``DefinitionFileError`` names a broken file's lines)."""
    register = settings.register
    concepts, calendar = settings.concepts_file, settings.calendar_file
    return Community(
        user_groups=register.user_groups,
        topics=register.topics,
        admins=settings.admins,
        onboarding=load_survey_file(register.onboarding) if register.onboarding is not None else None,
        glossary=load_glossary_file(concepts, topics=register.topics) if concepts is not None else Glossary(),
        calendar=load_calendar_file(calendar, topics=register.topics) if calendar is not None else ReleaseCalendar(),
    )


async def migrated_database(stack: contextlib.AsyncExitStack, settings: Settings) -> Database:
    """The database at ``settings.database_url``, migrated to the latest schema; disposed of by ``stack``."""
    database = Database(settings.database_url)
    stack.push_async_callback(database.dispose)
    await database.migrate()
    return database


async def core_engine(
    settings: Settings, database: Database, surveys: Mapping[str, Survey], community: Community
) -> Engine:
    """The channel-agnostic core that runs one update, with the deployment's pseudonym key."""
    pseudonymizer = await load_pseudonymizer(database, settings.pseudonym_key)
    return Engine(database, surveys, pseudonymizer, default_language=settings.default_language, community=community)


def guarded_core(settings: Settings, engine: Engine) -> MessageProcessor:
    """What every channel reaches the engine through: the per-user flood limit, then storable text."""
    return FloodGuard(Sanitiser(engine), settings.flood, default_language=settings.default_language)


def telegram_channel(settings: Settings, core: MessageProcessor, limiters: SendLimiters) -> TelegramChannel | None:
    """The Telegram channel (not started), or None without a token."""
    if not settings.telegram.enabled:
        return None
    return TelegramChannel(settings.telegram, core, limiters.replies)


def whatsapp_channel(settings: Settings, core: MessageProcessor, database: Database) -> WhatsAppChannel | None:
    """The WhatsApp channel (not started), or None unless configured."""
    return WhatsAppChannel(settings.whatsapp, core, database) if settings.whatsapp.enabled else None


def web_app(
    settings: Settings,
    database: Database,
    core: MessageProcessor,
    telegram: TelegramChannel | None,
    whatsapp: WhatsAppChannel | None,
    surveys: Mapping[str, Survey],
    community: Community,
) -> web.Application:
    """The one web server's routes: the web chat, the channels' webhooks, health and metrics,
    and the staff dashboard."""
    # The forwarded headers of web.trusted_proxies count before any handler runs.
    app = web.Application(client_max_size=64 * 1024, middlewares=[forwarded_middleware(settings.web.trusted_proxies)])
    add_webchat_routes(app, core, session_key=lambda: cookie_key(database), limits=settings.web.limits)
    if telegram is not None and settings.telegram.mode == "webhook":
        app.router.add_post(settings.telegram.webhook_path, telegram.handle_webhook)
    if whatsapp is not None:
        whatsapp.add_routes(app)
    add_operation_routes(app, database, lambda: channel_states(telegram, whatsapp))
    add_admin_routes(app, database, surveys=surveys, community=community, limits=settings.web.limits)
    return app


def channel_states(telegram: TelegramChannel | None, whatsapp: WhatsAppChannel | None = None) -> dict[str, bool]:
    """For ``/healthz``: the web chat answers while the server does; Telegram when its application
    runs; WhatsApp (a webhook) while its Graph API client is open."""
    states = {"web": True}
    if telegram is not None:
        states["telegram"] = telegram.application.running
    if whatsapp is not None:
        states["whatsapp"] = whatsapp.running
    return states


async def serving(
    stack: contextlib.AsyncExitStack, settings: Settings, app: web.Application
) -> tuple[web.AppRunner, int]:
    """Serve ``app`` on ``settings.web`` until ``stack`` closes; the runner and the port bound
    (the one asked for, or the one the system chose for port 0)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    site = web.TCPSite(runner, settings.web.host, settings.web.port)
    await site.start()
    return runner, _bound_port(runner, settings.web.port)


# Channels redeliver an update for a day at most; a week of processed ids is plenty.
KEEP_PROCESSED_UPDATES = timedelta(days=7)
PRUNE_EVERY_SECONDS = 3600


async def _prune_processed_updates(database: Database) -> None:
    """Forget old delivery ids now and then, so the de-duplication table stays small."""
    while True:
        try:
            async with database.transaction() as connection:
                removed = await Repositories(connection).updates.forget_before(utc_now() - KEEP_PROCESSED_UPDATES)
            if removed:
                log.info("forgot %d processed update ids older than %s", removed, KEEP_PROCESSED_UPDATES)
        except Exception as error:  # keep pruning later; the bot itself is unaffected
            log.warning("could not prune processed update ids: %s", type(error).__name__)
        await asyncio.sleep(PRUNE_EVERY_SECONDS)


class Service(Protocol):
    """A part that runs in the background between ``start`` and ``stop``."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


S = TypeVar("S", bound=Service)


async def started(stack: contextlib.AsyncExitStack, service: S) -> S:
    """``service``, started; ``stack`` stops it."""
    await service.start()
    stack.push_async_callback(service.stop)
    return service


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def broadcast_dispatcher(
    settings: Settings,
    database: Database,
    telegram: TelegramChannel | None,
    extra_senders: Sequence[Sender] = (),
    limiters: SendLimiters | None = None,
) -> BroadcastSender:
    """The dispatcher of broadcasts, sending through the Telegram bot (and ``extra_senders``, such
    as WhatsApp's) at ``settings.broadcast``'s rate, shared by all workers when ``limiters`` are.

    Broadcasts only reach people who consented, which needs the register's onboarding
    (``register.onboarding``): without it nobody has consented and broadcasts reach nobody.
    """
    if settings.register.onboarding is None:
        log.warning("register.onboarding is not set: nobody can give consent, so broadcasts reach nobody")
    paid = settings.broadcast.messages_per_second > FREE_BROADCAST_RATE
    senders: list[Sender] = [TelegramSender(telegram.bot, paid_broadcast=paid)] if telegram is not None else []
    shared = limiters.broadcasts if limiters is not None else None
    return broadcast_sender(database, [*senders, *extra_senders], settings.broadcast, shared_limiter=shared)


def _bound_port(runner: web.AppRunner, configured: int) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return configured


async def run_forever(settings: Settings) -> None:
    """``baraza run``: serve until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with running_bot(settings) as bot:
        channels = "web chat" + (f" and Telegram ({settings.telegram.mode})" if bot.telegram else "")
        channels += " and WhatsApp" if bot.whatsapp else ""
        print(
            f"Baraza is running: {channels}. Web chat: http://{settings.web.host}:{bot.web_port}/  "
            f"Staff dashboard: http://{settings.web.host}:{bot.web_port}/admin/  (Ctrl+C stops)",
            flush=True,
        )
        await stop.wait()
    log.info("stopped")
