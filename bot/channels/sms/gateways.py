"""The SMS gateways behind one interface: Africa's Talking and Twilio, chosen by ``sms.provider``.

Each adapter knows its provider's documented HTTP API, nothing of surveys:

- **Africa's Talking**: ``POST {base}/version1/messaging``, form-encoded ``username``, ``to``,
  ``message`` (and ``from``: a short code or sender id), the API key in the ``apiKey`` header;
  the answer's ``SMSMessageData.Recipients[0]`` holds the ``statusCode`` (100 processed, 101
  sent, 102 queued; 4xx refused, 5xx the gateway's trouble) and the ``messageId``. Incoming
  messages come as a form with ``from``, ``to``, ``text``, ``id``, ``date``, ``linkId``;
  delivery reports with ``id``, ``status`` (``Success``; ``Failed``, ``Rejected``, ``Expired``...),
  ``failureReason``. It signs nothing (see :mod:`bot.channels.sms.adapter` for how calls are trusted).
- **Twilio**: ``POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`` with basic auth
  (account SID, auth token), form-encoded ``To``, ``From`` (or ``MessagingServiceSid`` for a
  sender starting ``MG``), ``Body`` and ``StatusCallback``; the answer (201) holds the message's
  ``sid``, errors a ``code`` (21610: the person replied STOP; 20429 / HTTP 429: too many
  requests). Incoming messages come as a form with ``MessageSid``, ``From``, ``To``, ``Body``;
  status callbacks with ``MessageSid``, ``MessageStatus`` (``delivered``; ``failed``,
  ``undelivered``) and ``ErrorCode``. Each call is signed: ``X-Twilio-Signature`` is the Base64
  HMAC-SHA1, keyed with the auth token, of the URL Twilio called followed by every POST
  parameter's name and value, sorted by name (:func:`twilio_signature`).

Server errors, 429s and refused connections are retried with doubling waits; a request that
left without an answer is never retried (it may have been sent: the durable sender records it
``unknown``). Base URLs are configurable, so tests point them at the local fakes.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import aiohttp

from bot.config import SmsSettings
from common.clock import utc_now
from common.errors import BarazaError
from storage.deliveries import FAILED
from storage.delivery_receipts import DELIVERED, Receipt

log = logging.getLogger(__name__)

CHANNEL = "sms"
#: A run of digits long enough to be a phone number (with the separators people write).
_NUMBER_RUN = re.compile(r"\+?\d[\d ().-]{4,}\d")


class GatewayError(BarazaError):
    """The gateway refused the message (after the retries, for a temporary refusal)."""

    def __init__(
        self, message: str, *, retriable: bool = False, blocked: bool = False, credentials_refused: bool = False
    ) -> None:
        super().__init__(message)
        self.retriable = retriable
        #: The person asked not to get messages (replied STOP, is on a blacklist).
        self.blocked = blocked
        #: The gateway does not accept the API key or auth token: nothing goes out.
        self.credentials_refused = credentials_refused


class GatewayUnreachable(BarazaError):
    """No answer from the gateway; ``maybe_sent`` tells if the request may have arrived."""

    def __init__(self, message: str, *, maybe_sent: bool) -> None:
        super().__init__(message)
        self.maybe_sent = maybe_sent


@dataclass(frozen=True)
class IncomingSms:
    """One message a person sent: their number as the gateway gives it, the text, the gateway's id."""

    sender: str
    text: str
    message_id: str
    received_at: datetime | None = None


class SmsGateway(Protocol):
    """One provider's API: send a text, and read its webhooks' forms."""

    name: str

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def send(self, to: str, text: str) -> str:
        """Send ``text`` to ``to`` (E.164); returns the provider's message id. Raises
        :class:`GatewayError` or :class:`GatewayUnreachable`."""
        ...

    def incoming(self, form: Mapping[str, str]) -> IncomingSms | None:
        """The message an incoming-message webhook carries (None: not one)."""
        ...

    def report(self, form: Mapping[str, str]) -> Receipt | None:
        """The delivery report a status webhook carries, as a receipt (None: nothing to record)."""
        ...


def twilio_signature(url: str, params: Mapping[str, str] | list[tuple[str, str]], auth_token: str) -> str:
    """The ``X-Twilio-Signature`` Twilio sends with a form POST to ``url`` (its documented algorithm)."""
    items = sorted(params.items() if isinstance(params, Mapping) else params)
    data = url + "".join(f"{name}{value}" for name, value in items)
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class _HttpGateway:
    """The HTTP client and retries both gateways share."""

    name = ""

    def __init__(self, settings: SmsSettings, *, timeout: float = 20.0) -> None:
        assert settings.account and settings.secret, "an SMS gateway needs its credentials"
        self.settings = settings
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _request(self, data: dict[str, str]) -> dict[str, Any]:
        raise NotImplementedError

    def _refusal(self, status: int, body: Any) -> GatewayError | None:
        """The error an answer means (None: it is a success)."""
        raise NotImplementedError

    def _message_id(self, body: Any) -> str:
        raise NotImplementedError

    async def _post(self, data: dict[str, str]) -> Any:
        await self.start()
        assert self._session is not None
        retries = self.settings.max_retries
        for attempt in range(retries + 1):
            try:
                async with self._session.post(**self._request(data)) as response:
                    try:
                        body = await response.json(content_type=None)
                    except ValueError:
                        body = None
                    error = self._refusal(response.status, body)
                    if error is None:
                        return body
            except aiohttp.ClientConnectorError as failure:
                # The connection was never made: nothing was sent. Worth a retry, like a 5xx.
                error = GatewayError(f"cannot connect: {type(failure).__name__}", retriable=True)
                if attempt == retries:
                    raise GatewayUnreachable(str(error), maybe_sent=False) from failure
            except (aiohttp.ClientError, TimeoutError) as failure:
                raise GatewayUnreachable(f"no answer: {type(failure).__name__}", maybe_sent=True) from failure
            if not error.retriable or attempt == retries:
                raise error
            delay = self.settings.retry_delay * 2**attempt
            log.warning("%s: %s; retrying in %.1f s", self.name, error, delay)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def send(self, to: str, text: str) -> str:
        return self._message_id(await self._post({"to": to, "text": text}))


#: Africa's Talking recipient status codes that mean the message was accepted.
AT_ACCEPTED = frozenset({100, 101, 102})
#: 406 UserInBlacklist (the person opted out), 409 DoNotDisturbRejection.
AT_BLOCKED = frozenset({406, 409})
#: 500 InternalServerError, 501 GatewayError, 502 RejectedByGateway: the gateway's trouble.
AT_TEMPORARY = frozenset({500, 501, 502})
AT_DELIVERED = frozenset({"Success"})
AT_FAILED = frozenset({"Failed", "Rejected", "Expired", "AbsentSubscriber"})


class AfricasTalkingGateway(_HttpGateway):
    name = "Africa's Talking"

    def _request(self, data: dict[str, str]) -> dict[str, Any]:
        form = {"username": str(self.settings.account), "to": data["to"], "message": data["text"]}
        if self.settings.sender:
            form["from"] = self.settings.sender
        headers = {"apiKey": str(self.settings.secret), "Accept": "application/json"}
        return {"url": f"{self.settings.base_url}/version1/messaging", "data": form, "headers": headers}

    def _refusal(self, status: int, body: Any) -> GatewayError | None:
        if status >= 500 or status == 429:
            return GatewayError(f"Africa's Talking answered HTTP {status}", retriable=True)
        if status == 401:
            return GatewayError("Africa's Talking refused the API key (HTTP 401)", credentials_refused=True)
        recipients = _recipients(body)
        if status not in (200, 201) or not recipients:
            message = body.get("SMSMessageData", {}).get("Message") if isinstance(body, dict) else None
            reason = _without_numbers(str(message or "no recipient"))
            return GatewayError(f"Africa's Talking refused (HTTP {status}): {reason}"[:300])
        first = recipients[0]
        code = first.get("statusCode")
        if code in AT_ACCEPTED:
            return None
        reason = f"Africa's Talking status {code}: {first.get('status')}"
        return GatewayError(reason, retriable=code in AT_TEMPORARY, blocked=code in AT_BLOCKED)

    def _message_id(self, body: Any) -> str:
        return str(_recipients(body)[0].get("messageId"))

    def incoming(self, form: Mapping[str, str]) -> IncomingSms | None:
        sender, message_id = form.get("from"), form.get("id")
        if not sender or not message_id:
            return None
        return IncomingSms(sender, form.get("text", ""), message_id, _at_date(form.get("date")))

    def report(self, form: Mapping[str, str]) -> Receipt | None:
        message_id, status = form.get("id"), form.get("status", "")
        if not message_id:
            return None
        if status in AT_DELIVERED:
            return Receipt(CHANNEL, message_id, DELIVERED, utc_now())
        if status in AT_FAILED:
            reason = form.get("failureReason") or status
            return Receipt(CHANNEL, message_id, FAILED, utc_now(), f"Africa's Talking: {reason}"[:200])
        return None  # Sent, Submitted, Buffered: on its way


def _recipients(body: Any) -> list[dict[str, Any]]:
    data = body.get("SMSMessageData") if isinstance(body, dict) else None
    recipients = data.get("Recipients") if isinstance(data, dict) else None
    return [r for r in recipients if isinstance(r, dict)] if isinstance(recipients, list) else []


def _at_date(value: str | None) -> datetime | None:
    try:
        moment = datetime.fromisoformat((value or "").replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


#: Twilio error codes: 21610 the recipient replied STOP; 20429 too many requests; 20003 authenticate.
TWILIO_UNSUBSCRIBED = 21610
TWILIO_TOO_MANY = 20429
TWILIO_AUTHENTICATE = 20003
TWILIO_DELIVERED = frozenset({"delivered"})
TWILIO_FAILED = frozenset({"failed", "undelivered"})


class TwilioGateway(_HttpGateway):
    name = "Twilio"

    def __init__(self, settings: SmsSettings, *, status_callback: str | None = None, timeout: float = 20.0) -> None:
        """``status_callback``: the public URL of the status webhook (None: no delivery reports)."""
        super().__init__(settings, timeout=timeout)
        self.status_callback = status_callback

    def _request(self, data: dict[str, str]) -> dict[str, Any]:
        sender = str(self.settings.sender)
        form = {"To": data["to"], "Body": data["text"]}
        form["MessagingServiceSid" if sender.startswith("MG") else "From"] = sender
        if self.status_callback:
            form["StatusCallback"] = self.status_callback
        url = f"{self.settings.base_url}/2010-04-01/Accounts/{self.settings.account}/Messages.json"
        credentials = base64.b64encode(f"{self.settings.account}:{self.settings.secret}".encode()).decode()
        return {"url": url, "data": form, "headers": {"Authorization": f"Basic {credentials}"}}

    def _refusal(self, status: int, body: Any) -> GatewayError | None:
        if status in (200, 201) and isinstance(body, dict) and isinstance(body.get("sid"), str):
            return None
        code = body.get("code") if isinstance(body, dict) else None
        message = body.get("message") if isinstance(body, dict) else None
        # Twilio quotes the recipient's number in some messages (21211): never in an error that is logged.
        text = f"Twilio error {code or status}: {_without_numbers(str(message or f'HTTP {status}'))}"[:300]
        retriable = status >= 500 or status == 429 or code == TWILIO_TOO_MANY
        refused = status == 401 or code == TWILIO_AUTHENTICATE
        return GatewayError(text, retriable=retriable, blocked=code == TWILIO_UNSUBSCRIBED, credentials_refused=refused)

    def _message_id(self, body: Any) -> str:
        return str(body["sid"])

    def incoming(self, form: Mapping[str, str]) -> IncomingSms | None:
        sender, message_id = form.get("From"), form.get("MessageSid") or form.get("SmsSid")
        if not sender or not message_id:
            return None
        return IncomingSms(sender, form.get("Body", ""), message_id)

    def report(self, form: Mapping[str, str]) -> Receipt | None:
        message_id, status = form.get("MessageSid"), form.get("MessageStatus", "")
        if not message_id:
            return None
        if status in TWILIO_DELIVERED:
            return Receipt(CHANNEL, message_id, DELIVERED, utc_now())
        if status in TWILIO_FAILED:
            error = f"Twilio error {form.get('ErrorCode') or status}"
            return Receipt(CHANNEL, message_id, FAILED, utc_now(), error)
        return None  # queued, sending, sent: on its way


def make_gateway(settings: SmsSettings, *, status_callback: str | None = None) -> SmsGateway:
    """The gateway ``settings.provider`` names."""
    if settings.provider == "twilio":
        return TwilioGateway(settings, status_callback=status_callback)
    if settings.provider == "africastalking":
        return AfricasTalkingGateway(settings)
    raise ValueError(f"unknown SMS provider {settings.provider!r}")


def _without_numbers(text: str) -> str:
    """A gateway's message with anything that may be a phone number blanked out (errors are logged)."""
    return _NUMBER_RUN.sub("[number]", text)
