"""The SMS channel: Africa's Talking or Twilio at the edge of the channel-agnostic core.

The gateway calls our webhooks (on the aiohttp server of :mod:`bot.app`), form-encoded:

- **Twilio**: ``POST {sms.webhook_path}/twilio`` (a message came in) and ``.../twilio/status``
  (delivery reports). Every call must carry a valid ``X-Twilio-Signature`` over the URL Twilio
  called (``sms.public_url`` + the path, or the request's own address) and the form: a forged
  or unsigned call gets 403 and nothing is processed.
- **Africa's Talking** signs nothing, so its callbacks live under a secret path segment,
  ``{sms.webhook_path}/africastalking/<BARAZA_SMS_WEBHOOK_SECRET>/incoming`` and ``.../delivery``
  (a wrong secret gets 404, compared in constant time), and are accepted only from
  ``sms.allowed_ips`` (the client address as :mod:`bot.proxies` sees it behind trusted proxies;
  others get 403).

A message becomes an :class:`~handlers.messages.Inbound` whose update key is the gateway's
message id, so a message delivered twice is applied once. The person's number, normalised to
E.164 (:mod:`common.phones`), is both the user and the chat key. Before the core sees a text:

- ``STOP``, ``STOPALL``, ``UNSUBSCRIBE``, ``ARRET`` / ``ARRÊT`` (any case) become ``/stop`` (no more
  notices or invitations by SMS, as carriers require), ``START`` / ``UNSTOP`` ``/start``;
  ``HELP`` / ``AIDE`` are answered with ``sms.help_text`` (or become ``/help`` without one);
- a reply that is a number (or a word such as *Skip*) of the menu last sent to the chat becomes
  that button's payload (:mod:`storage.sms_menus`).

Replies are rendered by :mod:`bot.channels.sms.rendering` and sent through the gateway at its
rate (:class:`SmsPacer`, counting segments when the gateway does). The gateway gets its 200
after the replies are sent; when one could not be sent it gets 503 (a redelivery repeats the
current question). Phone numbers are never logged.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
from collections.abc import Sequence

from aiohttp import web

from bot.channels.arrival import ArrivalOrder
from bot.channels.sms.gateways import (
    CHANNEL,
    GatewayError,
    GatewayUnreachable,
    IncomingSms,
    SmsGateway,
    make_gateway,
    twilio_signature,
)
from bot.channels.sms.rendering import SmsMessage, menu_key, render, without_echoes
from bot.config import SmsSettings
from bot.health import ChannelHealth
from bot.sending.rate import LocalRateLimiter, RateLimiter, TokenBucket
from common.clock import utc_now
from common.constant_time import same_secret
from common.errors import BarazaError
from common.phones import PhoneNumberError, to_e164
from common.sms_segments import segments_of
from handlers.messages import Inbound, MessageProcessor, Outbound
from storage.database import Database
from storage.delivery_receipts import Receipt, ReceiptRepository
from storage.sms_menus import SmsMenuRepository

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Signature"
STOP_WORDS = frozenset({"stop", "stopall", "unsubscribe", "arret"})
START_WORDS = frozenset({"start", "unstop"})
HELP_WORDS = frozenset({"help", "aide"})
#: When a report matches no delivery yet (the sender has not committed its id), look again after these waits.
RECEIPT_RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0)
FORM = "application/x-www-form-urlencoded"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


class PartlySent(BarazaError):
    """The first messages of a long reply went out, a later one did not."""


class SmsPacer:
    """The gateway's send rate, shared by replies and the durable sender of this process.

    A gateway that limits segments (Twilio counts segments per second; ``sms.rate_counts:
    segments``) is paced one token per segment, so a 3-segment message takes three; one that
    limits requests (``messages``) one token per message. A message's tokens are taken together
    (one message at a time), and it leaves when its last token comes: so that no one-second
    window holds more than the rate, the bucket holds one token and refills at the rate less the
    largest message (whose first tokens were taken up to that many tokens earlier), 5 % kept for
    network jitter. ``limiter`` is the deployment's shared limiter when several workers send
    (Redis); else the bucket is this process's.
    """

    def __init__(self, settings: SmsSettings, limiter: RateLimiter | None = None) -> None:
        self.per_segment = settings.rate_counts == "segments"
        rate = settings.messages_per_second
        largest = settings.max_segments if self.per_segment else 1
        refill = max(rate - largest, rate / 2) * 0.95
        if limiter is None:
            local = LocalRateLimiter(rate, rate, 1)
            local.overall = TokenBucket(refill, 1.0)
            limiter = local
        self.limiter = limiter
        self._turn = asyncio.Lock()

    async def pace(self, text: str) -> None:
        """Return when ``text`` may leave."""
        async with self._turn:
            for _ in range(segments_of(text) if self.per_segment else 1):
                await self.limiter.acquire(None)


def keyword(text: str) -> str | None:
    """The command a carrier keyword stands for (``/stop``, ``/start``, ``/help``); None otherwise."""
    word = menu_key(text)
    if word in STOP_WORDS:
        return "/stop"
    if word in START_WORDS:
        return "/start"
    if word in HELP_WORDS:
        return "/help"
    return None


class SmsChannel:
    """Receives the gateway's webhooks and answers through its API."""

    def __init__(
        self,
        settings: SmsSettings,
        processor: MessageProcessor,
        database: Database,
        *,
        public_url: str | None = None,
        limiter: RateLimiter | None = None,
        gateway: SmsGateway | None = None,
    ) -> None:
        """``public_url`` (else ``sms.public_url``): where the gateway reaches this server, for
        Twilio's status callbacks; ``limiter``: the deployment's shared limiter of the SMS rate."""
        self.settings = settings
        self.processor = processor
        self.database = database
        self.public_url = public_url or settings.public_url
        callback = f"{self.public_url}{self.twilio_path}/status" if self.public_url else None
        self.gateway = gateway or make_gateway(settings, status_callback=callback)
        self.pacer = SmsPacer(settings, limiter)
        self.health = ChannelHealth(CHANNEL)
        self._arrivals = ArrivalOrder()
        self._retrying: set[asyncio.Task[None]] = set()
        self._started = False

    @property
    def twilio_path(self) -> str:
        return f"{self.settings.webhook_path}/twilio"

    @property
    def africastalking_path(self) -> str:
        return f"{self.settings.webhook_path}/africastalking/{{secret}}"

    def add_routes(self, app: web.Application) -> None:
        if self.settings.provider == "twilio":
            app.router.add_post(self.twilio_path, self.handle_twilio_incoming)
            app.router.add_post(f"{self.twilio_path}/status", self.handle_twilio_status)
        else:
            app.router.add_post(f"{self.africastalking_path}/incoming", self.handle_at_incoming)
            app.router.add_post(f"{self.africastalking_path}/delivery", self.handle_at_delivery)

    async def start(self) -> None:
        await self.gateway.start()
        self._started = True
        self.health.connected()
        if self.settings.provider == "africastalking" and not self.settings.allowed_ips:
            log.warning("sms.allowed_ips is empty: Africa's Talking callbacks are trusted by their secret path alone")
        log.info("SMS through %s", self.gateway.name)

    async def stop(self) -> None:
        for task in list(self._retrying):
            task.cancel()
        await asyncio.gather(*self._retrying, return_exceptions=True)
        await self.gateway.close()
        self._started = False

    @property
    def running(self) -> bool:
        return self._started

    # ------------------------------------------------------------------ webhooks

    async def _twilio_form(self, request: web.Request) -> dict[str, str] | None:
        """The form of a call Twilio signed; None for a forged or unsigned one."""
        items = await read_form(request)
        base = self.public_url or f"{request.scheme}://{request.host}"
        expected = twilio_signature(base + request.raw_path, items, str(self.settings.secret))
        if not same_secret(request.headers.get(SIGNATURE_HEADER), expected):
            return None
        return dict(items)

    async def handle_twilio_incoming(self, request: web.Request) -> web.Response:
        form = await self._twilio_form(request)
        if form is None:
            log.warning("SMS webhook call with a wrong or missing X-Twilio-Signature refused")
            return web.Response(status=403, text="wrong signature")
        incoming = self.gateway.incoming(form)
        complete = incoming is None or await self._serve(incoming)
        if not complete:
            return web.Response(status=503, text="reply not sent")
        return web.Response(text=EMPTY_TWIML, content_type="text/xml")

    async def handle_twilio_status(self, request: web.Request) -> web.Response:
        form = await self._twilio_form(request)
        if form is None:
            return web.Response(status=403, text="wrong signature")
        await self._record(self.gateway.report(form))
        return web.Response(text=EMPTY_TWIML, content_type="text/xml")

    async def _at_form(self, request: web.Request) -> dict[str, str]:
        """The form of an Africa's Talking callback; raises an HTTP error for anyone else."""
        if not same_secret(request.match_info.get("secret"), self.settings.webhook_secret):
            raise web.HTTPNotFound()
        if self.settings.allowed_ips and not _allowed(request.remote, self.settings.allowed_ips):
            log.warning("an Africa's Talking callback from an address not in sms.allowed_ips refused")
            raise web.HTTPForbidden(text="address not allowed")
        return dict(await read_form(request))

    async def handle_at_incoming(self, request: web.Request) -> web.Response:
        incoming = self.gateway.incoming(await self._at_form(request))
        if incoming is None:
            return web.Response(status=400, text="no message")
        if not await self._serve(incoming):
            return web.Response(status=503, text="reply not sent")
        return web.Response(text="ok")

    async def handle_at_delivery(self, request: web.Request) -> web.Response:
        await self._record(self.gateway.report(await self._at_form(request)))
        return web.Response(text="ok")

    # ------------------------------------------------------------------ messages

    async def _serve(self, incoming: IncomingSms) -> bool:
        """Hand one message to the core and send the replies; False if one could not be sent."""
        try:
            number = to_e164(incoming.sender, self.settings.default_region)
        except PhoneNumberError:
            log.warning("an SMS from something that is not a phone number was ignored")
            return True
        text = incoming.text.strip()
        command = keyword(text)
        if command == "/help" and self.settings.help_text:
            try:
                await self.send(number, Outbound(text=self.settings.help_text))
            except (GatewayError, GatewayUnreachable, PartlySent) as error:
                log.error("SMS help text not sent: %s", error)
            return True
        inbound = Inbound(
            channel=CHANNEL,
            user_key=number,
            chat_key=number,
            update_key=incoming.message_id,
            text=command or text,
            received_at=incoming.received_at,
        )
        prepare = None if command else self._pressed
        answer = functools.partial(self._answer, number)
        return await self._arrivals.serve(self.processor, number, inbound, answer, prepare)

    async def _pressed(self, inbound: Inbound) -> Inbound:
        """The inbound as the press of a button when its text is a number (or word) of the chat's menu."""
        key = menu_key(inbound.text or "")
        if not key or len(key) > 40:
            return inbound
        async with self.database.transaction() as connection:
            payload = await SmsMenuRepository(connection).payload_for(CHANNEL, inbound.chat_key, key)
        if payload is None:
            return inbound
        return Inbound(
            channel=inbound.channel,
            user_key=inbound.user_key,
            chat_key=inbound.chat_key,
            update_key=inbound.update_key,
            payload=payload,
            received_at=inbound.received_at,
        )

    async def _answer(self, chat_key: str, replies: list[Outbound]) -> bool:
        chosen = without_echoes(replies)
        rendered = [message for message in (render(r, self.settings.max_segments) for r in chosen) if message]
        # The menu is the newest one the person sees: that of the last message offering choices.
        menus = [message.menu for message in rendered if message.menu]
        await self.remember(chat_key, menus[-1] if menus else ())
        for message in rendered:
            try:
                await self.send_rendered(chat_key, message)
            except GatewayError as error:
                log.error("the SMS gateway refused a reply: %s", error)
                if error.retriable:
                    return False
            except (GatewayUnreachable, PartlySent) as error:
                log.error("SMS reply not sent: %s", error)
                return False
        return True

    async def remember(self, chat_key: str, menu: Sequence[tuple[str, str]]) -> None:
        async with self.database.transaction() as connection:
            await SmsMenuRepository(connection).remember(CHANNEL, chat_key, menu, utc_now())

    async def send(self, chat_key: str, outbound: Outbound) -> str | None:
        """Send one outbound message (not remembering its menu); the id of its first SMS, None if
        nothing of it can go by SMS."""
        message = render(outbound, self.settings.max_segments)
        return await self.send_rendered(chat_key, message) if message is not None else None

    async def send_rendered(self, chat_key: str, message: SmsMessage) -> str:
        """Send the texts of ``message`` in order at the gateway's rate; the first one's id."""
        first: str | None = None
        for text in message.texts:
            await self.pacer.pace(text)
            try:
                key = await self.gateway.send(chat_key, text)
            except (GatewayError, GatewayUnreachable) as error:
                if isinstance(error, GatewayError) and error.credentials_refused:
                    self.health.degraded(f"{self.gateway.name} refused the credentials (check the BARAZA_SMS_* keys)")
                if first is not None:
                    raise PartlySent(str(error)) from error
                raise
            self.health.connected()
            first = first or key
        assert first is not None, "a rendered message has at least one text"
        return first

    # ------------------------------------------------------------------ delivery reports

    async def _record(self, receipt: Receipt | None) -> None:
        if receipt is None:
            return
        async with self.database.transaction() as connection:
            recorded = await ReceiptRepository(connection).record(receipt)
        if not recorded:
            # The report can come before the sender committed the message's id: look again later
            # (a report of a reply, which is no delivery, never matches and is dropped in the end).
            task = asyncio.create_task(self._record_later(receipt))
            self._retrying.add(task)
            task.add_done_callback(self._retrying.discard)

    async def _record_later(self, receipt: Receipt) -> None:
        for delay in RECEIPT_RETRY_DELAYS:
            await asyncio.sleep(delay)
            try:
                async with self.database.transaction() as connection:
                    if await ReceiptRepository(connection).record(receipt):
                        return
            except Exception as error:  # the database is away: the report is only a report
                log.warning("could not record an SMS delivery report: %s", type(error).__name__)


async def read_form(request: web.Request) -> list[tuple[str, str]]:
    """The fields of a gateway's form-encoded POST; anything else (multipart, bytes that are not
    UTF-8) is a 400, never a 500."""
    if request.content_type != FORM:
        raise web.HTTPBadRequest(text="not a form")
    try:
        form = await request.post()
    except (UnicodeDecodeError, ValueError):
        raise web.HTTPBadRequest(text="not a form") from None
    return [(name, value) for name, value in form.items() if isinstance(value, str)]


def _allowed(remote: str | None, networks: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        address = ipaddress.ip_address(remote or "")
    except ValueError:
        return False
    return any(address in network for network in networks)
