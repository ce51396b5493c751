"""Wiring: settings → database → surveys → engine → channels, and running them until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web

from bot.admin import add_admin_routes
from bot.admin.operations import add_operation_routes
from bot.channels.telegram.adapter import FREE_BROADCAST_RATE, TelegramChannel, TelegramSender
from bot.channels.webchat.adapter import add_webchat_routes
from bot.channels.whatsapp.adapter import WhatsAppChannel
from bot.config import Settings
from bot.core.engine import Engine, load_pseudonymizer
from bot.core.flood import FloodGuard
from bot.core.sanitise import Sanitiser
from bot.indicator_refresh import IndicatorKeeper
from bot.sending.broadcasts import Dispatcher, Sender
from bot.sending.outbox import OutboxSender
from bot.sending.shared_rate import SendLimiters, send_limiters
from catalogue.calendar import ReleaseCalendar, load_calendar_file
from catalogue.concepts import Glossary, load_glossary_file
from common.clock import utc_now
from handlers.context import Community
from storage.database import Database
from storage.repositories import Repositories
from surveys.loader import load_survey_directory, load_survey_file

log = logging.getLogger(__name__)


@dataclass
class RunningBot:
    """Everything ``baraza run`` started; tests use it to reach the parts."""

    settings: Settings
    database: Database
    engine: Engine
    web_runner: web.AppRunner
    web_port: int
    telegram: TelegramChannel | None
    #: Sends broadcasts; None without a channel that can push messages (no Telegram token).
    dispatcher: Dispatcher | None = None
    #: Sends the outbox (answers to data requests); None without a channel that can push messages.
    outbox: OutboxSender | None = None
    #: Loads the indicator catalogue at start (when changed) and refreshes it on schedule.
    indicators: IndicatorKeeper | None = None
    whatsapp: WhatsAppChannel | None = None
    #: The send rates (shared by all workers on PostgreSQL / Redis).
    limiters: SendLimiters | None = None


# Channels redeliver an update for a day at most; a week of processed ids is plenty.
KEEP_PROCESSED_UPDATES = timedelta(days=7)
PRUNE_EVERY_SECONDS = 3600


def channel_states(telegram: TelegramChannel | None, whatsapp: WhatsAppChannel | None = None) -> dict[str, bool]:
    """For ``/healthz``: the web chat answers while the server does; Telegram when its application
    runs; WhatsApp (a webhook) while its Graph API client is open."""
    states = {"web": True}
    if telegram is not None:
        states["telegram"] = telegram.application.running
    if whatsapp is not None:
        states["whatsapp"] = whatsapp.running
    return states


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


@contextlib.asynccontextmanager
async def running_bot(settings: Settings) -> AsyncIterator[RunningBot]:
    """Start the bot (migrating the database first) and stop it cleanly when the block ends.

    Raises :class:`surveys.errors.SurveyFileError` before anything starts if a survey is invalid.
    """
    surveys = load_survey_directory(settings.surveys_directory)
    community = community_of(settings)
    database = Database(settings.database_url)
    try:
        await database.migrate()
        pseudonymizer = await load_pseudonymizer(database, settings.pseudonym_key)
        engine = Engine(
            database, surveys, pseudonymizer, default_language=settings.default_language, community=community
        )
        # Every channel reaches the engine through the per-user flood limit, with storable text.
        guarded = FloodGuard(Sanitiser(engine), settings.flood, default_language=settings.default_language)
        app = web.Application(client_max_size=64 * 1024)
        add_webchat_routes(app, guarded)
        limiters = await send_limiters(settings, database)
        telegram = TelegramChannel(settings.telegram, guarded, limiters.replies) if settings.telegram.enabled else None
        if telegram is not None and settings.telegram.mode == "webhook":
            app.router.add_post(settings.telegram.webhook_path, telegram.handle_webhook)
        whatsapp = WhatsAppChannel(settings.whatsapp, guarded, database) if settings.whatsapp.enabled else None
        if whatsapp is not None:
            whatsapp.add_routes(app)
        add_operation_routes(app, database, lambda: channel_states(telegram, whatsapp))
        add_admin_routes(app, database, surveys=surveys, community=community)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, settings.web.host, settings.web.port)
        await site.start()
        port = _bound_port(runner, settings.web.port)
        log.info("web chat on http://%s:%d/ with %d survey(s)", settings.web.host, port, len(surveys))
        pruning = asyncio.create_task(_prune_processed_updates(database))
        dispatcher: Dispatcher | None = None
        outbox: OutboxSender | None = None
        # In the background: the bot answers from the data in service while a new load is written.
        indicators = IndicatorKeeper(database, settings.indicators)
        await indicators.start()
        try:
            # Build the catalogue's search index now, then follow new loads in the background:
            # lookups never read the catalogue inside an update's transaction.
            await engine.catalogue.start()
            if telegram is not None:
                await telegram.start()
            if whatsapp is not None:
                await whatsapp.start()
            if telegram is not None or whatsapp is not None:
                extra = [whatsapp.sender()] if whatsapp is not None else []
                dispatcher = broadcast_dispatcher(settings, database, telegram, extra, limiters)
                await dispatcher.start()
                # Same senders and rate limiter as broadcasts: together they stay within the rate.
                outbox = OutboxSender(
                    database,
                    dispatcher.senders.values(),
                    dispatcher.limiter,
                    shared_limiter=dispatcher.shared_limiter,
                )
                await outbox.start()
            try:
                yield RunningBot(
                    settings,
                    database,
                    engine,
                    runner,
                    port,
                    telegram,
                    dispatcher,
                    outbox=outbox,
                    indicators=indicators,
                    whatsapp=whatsapp,
                    limiters=limiters,
                )
            finally:
                if outbox is not None:
                    await outbox.stop()
                if dispatcher is not None:
                    await dispatcher.stop()
                if telegram is not None:
                    await telegram.stop()
                if whatsapp is not None:
                    await whatsapp.stop()
        finally:
            await engine.catalogue.stop()
            await indicators.stop()
            pruning.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pruning
            await runner.cleanup()
            await limiters.close()
    finally:
        await database.dispose()


def broadcast_dispatcher(
    settings: Settings,
    database: Database,
    telegram: TelegramChannel | None,
    extra_senders: Sequence[Sender] = (),
    limiters: SendLimiters | None = None,
) -> Dispatcher:
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
    return Dispatcher(database, [*senders, *extra_senders], settings.broadcast, shared_limiter=shared)


def community_of(settings: Settings) -> Community:
    """The register settings, with the onboarding conversation loaded (and checked) if configured,
    and the glossary and release calendar (``DefinitionFileError`` names a broken file's lines)."""
    register = settings.register
    onboarding = load_survey_file(register.onboarding) if register.onboarding is not None else None
    glossary = Glossary()
    if settings.concepts_file is not None:
        glossary = load_glossary_file(settings.concepts_file, topics=register.topics)
    calendar = ReleaseCalendar()
    if settings.calendar_file is not None:
        calendar = load_calendar_file(settings.calendar_file, topics=register.topics)
    return Community(
        user_groups=register.user_groups,
        topics=register.topics,
        admins=settings.admins,
        onboarding=onboarding,
        glossary=glossary,
        calendar=calendar,
    )


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
