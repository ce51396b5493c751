"""Wiring: settings → surveys → database → engine → channels → senders, and running them until stopped.

:func:`running_bot` reads top-down, one named step after another. The surveys are read before
the database is opened, so that an invalid survey stops the start before anything changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
import socket
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol, TypeVar

import sqlalchemy
from aiohttp import web
from sqlalchemy.engine import make_url

from bot import collector
from bot.admin.auth import cookie_key
from bot.admin.operations import add_operation_routes
from bot.admin.routes import add_admin_routes
from bot.channels.sms.adapter import SmsChannel
from bot.channels.sms.sender import SmsSender
from bot.channels.telegram.adapter import TelegramChannel
from bot.channels.telegram.sender import FREE_BROADCAST_RATE, TelegramSender
from bot.channels.ussd.adapter import UssdChannel
from bot.channels.webchat.adapter import add_webchat_routes
from bot.channels.webchat.push import WebPushSender, add_push_routes
from bot.channels.whatsapp.adapter import WhatsAppChannel
from bot.channels.whatsapp.sender import WhatsAppSender
from bot.config import Settings, StartupError
from bot.core.engine import Engine, load_pseudonymizer
from bot.core.flood import FloodGuard
from bot.core.sanitise import Sanitiser
from bot.health import ChannelState
from bot.indicator_refresh import IndicatorKeeper
from bot.keys import ENVIRONMENT, VAPID_KEY, KeySource, load_vapid_key
from bot.proxies import forwarded_middleware
from bot.sending.broadcast_rows import BroadcastSender, broadcast_sender
from bot.sending.channel_sender import Sender
from bot.sending.outbox_rows import OutboxSender, outbox_sender
from bot.sending.shared_rate import SendLimiters, send_limiters, sms_rate_limiter
from bot.survey_service import SurveysInService
from catalogue.calendar import ReleaseCalendar, load_calendar_file
from catalogue.concepts import Glossary, load_glossary_file
from common.clock import utc_now
from common.tasks import cancel_and_wait
from handlers.context import Community
from handlers.invitations import queue_due_reminders
from handlers.messages import MessageProcessor
from storage.chat_order import ChatHolds
from storage.database import Database
from storage.media import open_media_store
from storage.repositories import Repositories
from storage.workers import this_process, web_slot
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
    #: The surveys in service, following the surveys folder (new and changed files within seconds).
    surveys: SurveysInService | None = None
    sms: SmsChannel | None = None


@contextlib.asynccontextmanager
async def running_bot(
    settings: Settings, *, settle_heap: bool = False, warm_up: bool = False
) -> AsyncIterator[RunningBot]:
    """Start the bot (migrating the database first) and stop it cleanly when the block ends.

    The steps run top-down; each part started is stopped again, in the reverse order, however
    the block ends (a step that fails stops the parts started before it).
    ``settle_heap`` (``baraza run``): the heap built at start is collected and left out of later
    collections (:func:`bot.collector.settle`) just before the channels start taking updates;
    tests leave it off, as a frozen heap would outlive each bot they start. ``warm_up`` (``baraza
    run``): the database's statements are compiled and its connections opened before the channels
    start (:meth:`storage.database.Database.warm_up`), so that a burst of updates at a restart does
    not wait for them; tests leave it off, as each bot they start would pay for it.
    Raises :class:`surveys.errors.SurveyFileError` before anything starts if a survey is invalid.
    """
    surveys = SurveysInService(settings.surveys_directory, load_survey_directory(settings.surveys_directory))
    community = community_of(settings)
    async with contextlib.AsyncExitStack() as stack:
        # The port first: a busy one stops the start before the database is touched.
        listening = stack.enter_context(web_socket(settings))
        database = await migrated_database(stack, settings)
        if warm_up:
            # Before the web server: a webhook update must not reach the core while the channel
            # that sends its replies is not started yet.
            await database.warm_up()
        engine = await core_engine(settings, database, surveys, community)
        if engine.holds is not None:
            stack.push_async_callback(engine.holds.stop)
        core = guarded_core(settings, engine)
        # Lasts across restarts (the port is this process's): its rows and leases are known as its own.
        identity = this_process(web_slot(listening.getsockname()[1]))
        limiters = await send_limiters(settings, database, identity)
        stack.push_async_callback(limiters.close)
        telegram = telegram_channel(settings, core, limiters)
        whatsapp = whatsapp_channel(settings, core, database)
        sms = sms_channel(settings, core, database, limiters)
        vapid = await push_key(settings, database)
        app = web_app(settings, database, core, telegram, whatsapp, surveys, community, vapid=vapid, sms=sms)
        ussd = ussd_channel(settings, core, database, surveys)
        if ussd is not None:
            ussd.add_routes(app)
        runner, port = await serving(stack, settings, app, listening)
        log.info("web chat on http://%s:%d/ with %d survey(s)", settings.web.host, port, len(surveys))
        # From now on a new or changed survey file is served within seconds, without a restart.
        await started(stack, surveys)
        pruning = asyncio.create_task(_prune_processed_updates(database))
        stack.push_async_callback(cancel_and_wait, pruning)
        # In the background: the bot answers from the data in service while a new load is written.
        indicators = await started(stack, IndicatorKeeper(database, settings.indicators))
        # Build the catalogue's search index now, then follow new loads in the background:
        # lookups never read the catalogue inside an update's transaction.
        await started(stack, engine.catalogue)
        if settle_heap:
            # Before the channels, not after: the full collection holds the event loop for about
            # 0.1 s, which the first updates of a restart (taken at once) would wait out.
            collector.settle()
        for channel in (telegram, whatsapp, sms):
            if channel is not None:
                await started(stack, channel)
        dispatcher = outbox = None
        if telegram is not None or whatsapp is not None or vapid is not None or sms is not None:
            extra: list[Sender] = [WhatsAppSender(whatsapp.client, database)] if whatsapp is not None else []
            if sms is not None:
                extra.append(SmsSender(sms))
            if vapid is not None:
                extra.append(WebPushSender(database, vapid, subject=push_subject()))
            dispatcher = await started(stack, broadcast_dispatcher(settings, database, telegram, extra, limiters))
            # Same senders and rate limiter as broadcasts: together they stay within the rate.
            shared = dispatcher.shared_limiter
            outbox = await started(
                stack,
                outbox_sender(
                    database,
                    dispatcher.senders.values(),
                    dispatcher.limiter,
                    shared_limiter=shared,
                    worker=dispatcher.worker,
                    gone=dispatcher.gone,
                ),
            )
            if settings.fieldwork.reminders_every_minutes > 0:
                reminding = asyncio.create_task(_send_reminders(database, surveys, settings, dispatcher))
                stack.push_async_callback(cancel_and_wait, reminding)
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
            surveys=surveys,
            sms=sms,
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
    where = _database_setting(settings.database_url)
    try:
        database = Database(settings.database_url)
    except Exception as error:  # a malformed URL, a folder that cannot be made
        raise StartupError(f"cannot use the database {where} ({type(error).__name__}): {_DATABASE_FIX}") from None
    stack.push_async_callback(database.dispose)
    try:
        async with database.reading() as connection:
            await connection.execute(sqlalchemy.text("SELECT 1"))
    except Exception as error:  # refused, unknown host, wrong password, unreadable file...
        raise StartupError(
            f"the database {where} does not answer ({type(error).__name__}): start it, or {_DATABASE_FIX}"
        ) from None
    await database.migrate()
    return database


_DATABASE_FIX = "set database.url in the configuration or BARAZA_DATABASE_URL"


def _database_setting(url: str) -> str:
    """The database URL without its password (it goes to the terminal)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # a URL SQLAlchemy cannot parse: show none of it
        return "URL"


@contextlib.contextmanager
def web_socket(settings: Settings) -> Iterator[socket.socket]:
    """The listening socket of the web server at ``settings.web`` (closed when the block ends).

    Raises :class:`StartupError` naming ``web.port`` / ``BARAZA_WEB_PORT`` (or ``web.host``)
    when the address cannot be taken, such as a port another program listens on.
    """
    host, port = settings.web.host, settings.web.port
    fix = f"set web.port in the configuration or BARAZA_WEB_PORT to a free port (or stop the program on {port})"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (OSError, UnicodeError) as error:
        raise StartupError(f"web.host {host!r} is not an address of this machine ({error}): set web.host") from None
    listening = socket.socket(family, kind, proto)
    try:
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind(address)
        listening.listen(128)
    except OSError as error:
        listening.close()
        if error.errno == errno.EADDRINUSE:
            raise StartupError(f"port {port} on {host} is already in use: {fix}") from None
        if error.errno == errno.EACCES:
            raise StartupError(f"port {port} on {host} is not allowed for this user: {fix}") from None
        raise StartupError(f"cannot listen on {host}:{port} ({error.strerror}): set web.host and web.port") from None
    listening.setblocking(False)
    with listening:
        yield listening


async def core_engine(
    settings: Settings, database: Database, surveys: Mapping[str, Survey], community: Community
) -> Engine:
    """The channel-agnostic core that runs one update, with the deployment's pseudonym key."""
    pseudonymizer = await load_pseudonymizer(database, settings.pseudonym_key, settings.key_file)
    return Engine(
        database,
        surveys,
        pseudonymizer,
        default_language=settings.default_language,
        community=community,
        media=open_media_store(settings.media),
        # Several workers may share the database: a chat is held until its replies are sent.
        holds=None if database.is_sqlite else ChatHolds(database),
    )


def guarded_core(settings: Settings, engine: Engine) -> MessageProcessor:
    """What every channel reaches the engine through: the per-user flood limit, then storable text."""
    return FloodGuard(Sanitiser(engine), settings.flood, default_language=settings.default_language)


def telegram_channel(settings: Settings, core: MessageProcessor, limiters: SendLimiters) -> TelegramChannel | None:
    """The Telegram channel (not started), or None without a token."""
    if not settings.telegram.enabled:
        return None
    return TelegramChannel(
        settings.telegram,
        core,
        limiters.replies,
        max_file_bytes=settings.media.max_bytes,
        default_language=settings.default_language,
    )


def whatsapp_channel(settings: Settings, core: MessageProcessor, database: Database) -> WhatsAppChannel | None:
    """The WhatsApp channel (not started), or None unless configured."""
    if not settings.whatsapp.enabled:
        return None
    return WhatsAppChannel(settings.whatsapp, core, database, max_file_bytes=settings.media.max_bytes)


def sms_channel(
    settings: Settings, core: MessageProcessor, database: Database, limiters: SendLimiters | None = None
) -> SmsChannel | None:
    """The SMS channel (not started), or None unless ``sms.provider`` and its credentials are set.
    With Redis the gateway's rate is shared by every worker (``baraza:rate:sms``)."""
    if not settings.sms.enabled:
        return None
    shared = sms_rate_limiter(settings, limiters) if limiters is not None else None
    return SmsChannel(settings.sms, core, database, limiter=shared)


def ussd_channel(
    settings: Settings, core: MessageProcessor, database: Database, surveys: Mapping[str, Survey]
) -> UssdChannel | None:
    """The USSD channel (Africa's Talking), or None without its secret."""
    if not settings.ussd.enabled:
        return None
    return UssdChannel(
        settings.ussd,
        core,
        database,
        surveys,
        sms_available=settings.sms.enabled,
        default_language=settings.default_language,
    )


def web_app(
    settings: Settings,
    database: Database,
    core: MessageProcessor,
    telegram: TelegramChannel | None,
    whatsapp: WhatsAppChannel | None,
    surveys: Mapping[str, Survey],
    community: Community,
    *,
    vapid: str | None = None,
    sms: SmsChannel | None = None,
) -> web.Application:
    """The one web server's routes: the web chat (with its browser notifications when there is
    a VAPID key), the channels' webhooks, health and metrics, and the staff dashboard."""
    # Settings read by load_settings always name a key file; settings made in code (tests) may
    # give neither it nor a cookie key: their cookies are signed with a key of this process.
    keys = KeySource.of(settings) if settings.key_file is not None or settings.cookie_key else None
    # The forwarded headers of web.trusted_proxies count before any handler runs.
    app = web.Application(client_max_size=64 * 1024, middlewares=[forwarded_middleware(settings.web.trusted_proxies)])
    add_webchat_routes(
        app,
        core,
        max_upload_bytes=settings.media.max_bytes,
        session_key=lambda: cookie_key(database, keys),
        limits=settings.web.limits,
        embed=settings.web.embed,
    )
    if vapid is not None:
        add_push_routes(
            app,
            database,
            vapid,
            session_key=lambda: cookie_key(database, keys),
            insecure_loopback=os.environ.get(PUSH_LOOPBACK_ENV) == "1",
        )
    if telegram is not None and settings.telegram.mode == "webhook":
        app.router.add_post(settings.telegram.webhook_path, telegram.handle_webhook)
    if whatsapp is not None:
        whatsapp.add_routes(app)
    if sms is not None:
        sms.add_routes(app)
    states = lambda: channel_states(telegram, whatsapp, sms)  # noqa: E731
    add_operation_routes(app, database, states)
    media = open_media_store(settings.media)
    add_admin_routes(
        app,
        database,
        surveys=surveys,
        community=community,
        media=media,
        channels=states,
        keys=keys,
        limits=settings.web.limits,
        fieldwork_settings=settings.fieldwork,
        engagement=settings.engagement,
    )
    return app


def channel_states(
    telegram: TelegramChannel | None, whatsapp: WhatsAppChannel | None = None, sms: SmsChannel | None = None
) -> dict[str, bool | ChannelState]:
    """For ``/healthz`` and the dashboard: the web chat answers while the server does; Telegram
    and WhatsApp say whether they reach their platform (degraded, with the reason, while not)."""
    states: dict[str, bool | ChannelState] = {"web": True}
    if telegram is not None:
        states["telegram"] = telegram.health.state
    if whatsapp is not None:
        states["whatsapp"] = whatsapp.health.state
    if sms is not None:
        states["sms"] = sms.health.state
    return states


async def serving(
    stack: contextlib.AsyncExitStack, settings: Settings, app: web.Application, listening: socket.socket
) -> tuple[web.AppRunner, int]:
    """Serve ``app`` on the ``listening`` socket (see :func:`web_socket`) until ``stack`` closes;
    the runner and the port bound (the one asked for, or the one the system chose for port 0)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    site = web.SockSite(runner, listening)
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


async def _send_reminders(
    database: Database, surveys: SurveysInService, settings: Settings, dispatcher: BroadcastSender
) -> None:
    """Queue the survey reminders that fell due, every ``fieldwork.reminders_every_minutes``
    (outside quiet hours); the dispatcher sends them. Queuing twice is harmless: a reminder is
    queued once per invitation (:mod:`storage.invitations`)."""
    while True:
        for survey in [s for s in surveys.current.values() if s.reminders]:
            try:
                async with database.transaction() as connection:
                    rounds = await queue_due_reminders(
                        connection,
                        survey,
                        now=dispatcher.clock(),
                        quiet=settings.fieldwork.quiet,
                        template=settings.fieldwork.whatsapp_template,
                    )
                for found in rounds:
                    log.info("survey %s: reminder %d queued for %d", survey.id, found.number, found.reminded)
                if rounds:
                    dispatcher.wake()
            except Exception as error:  # try again next time; the bot itself is unaffected
                log.warning("could not queue the reminders of survey %s: %s", survey.id, type(error).__name__)
        await asyncio.sleep(settings.fieldwork.reminders_every_minutes * 60)


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
    if limiters is None:
        return broadcast_sender(database, [*senders, *extra_senders], settings.broadcast)
    return broadcast_sender(
        database,
        [*senders, *extra_senders],
        settings.broadcast,
        shared_limiter=limiters.broadcasts,
        worker=limiters.identity.name,
        gone=limiters.gone,
    )


#: Tests only: accept push endpoints on http://127.0.0.1 (a push service faked on this machine).
PUSH_LOOPBACK_ENV = "BARAZA_PUSH_HTTP_LOOPBACK"
#: Who the push services may write to about this installation's notifications (VAPID ``sub``).
PUSH_SUBJECT_ENV, DEFAULT_PUSH_SUBJECT = "BARAZA_VAPID_SUBJECT", "mailto:webmaster@localhost"


def push_subject() -> str:
    return os.environ.get(PUSH_SUBJECT_ENV) or DEFAULT_PUSH_SUBJECT


async def push_key(settings: Settings, database: Database) -> str | None:
    """The VAPID key of browser notifications (``BARAZA_VAPID_PRIVATE_KEY`` or the key file,
    generated there once); None (notifications off, said in the log) without either."""
    if settings.key_file is None and not os.environ.get(ENVIRONMENT[VAPID_KEY]):
        log.info("browser notifications are off: no key file to keep their VAPID key in")
        return None
    return await load_vapid_key(database, KeySource.of(settings))


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
    async with running_bot(settings, settle_heap=True, warm_up=True) as bot:
        channels = "web chat" + (f" and Telegram ({settings.telegram.mode})" if bot.telegram else "")
        channels += " and WhatsApp" if bot.whatsapp else ""
        channels += " and SMS" if bot.sms else ""
        print(
            f"Baraza is running: {channels}. Web chat: http://{settings.web.host}:{bot.web_port}/  "
            f"Staff dashboard: http://{settings.web.host}:{bot.web_port}/admin/  (Ctrl+C stops)",
            flush=True,
        )
        await stop.wait()
    log.info("stopped")
