"""Fake SMS gateways speaking real HTTP on 127.0.0.1: Africa's Talking and Twilio, as documented.

Each records every message the bot sends (when, to whom, the text, its segments as the network
counts them), delivers it to the simulated phone of the recipient, and plays the gateway's side
of the webhooks: a person's message posted to the bot (form-encoded; Twilio's calls signed with
``X-Twilio-Signature`` as Twilio computes it) and delivery reports. It checks the credentials
(Africa's Talking's ``apiKey`` header and ``username``, Twilio's basic auth), can answer the next
sends with an error or hold their answers (a bot killed while they are in flight), and measures
the most segments (or messages) sent in any one-second window.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import web

from common.sms_segments import sms_cost
from testkit.fakes.telegram.model import Signal

from .user import FakeSmsUser, SmsText


@dataclass
class SentSms:
    """One message the bot sent through the gateway."""

    message_id: str
    to: str
    text: str
    segments: int
    encoding: str
    time: float


@dataclass
class _Fault:
    http_status: int
    body: Any
    remaining: int


def twilio_signature_as_twilio_does(url: str, form: list[tuple[str, str]], auth_token: str) -> str:
    """What Twilio puts in ``X-Twilio-Signature``: Base64 of the HMAC-SHA1, keyed with the auth
    token, of the URL followed by each POST parameter's name and value, sorted by name."""
    payload = url + "".join(name + value for name, value in sorted(form))
    return base64.b64encode(hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()).decode()


def _phone(number: str) -> str:
    return number if number.startswith("+") else "+" + number


class FakeSmsGateway:
    """What both fakes share: the server, the phones, the record of sends and the webhook calls."""

    provider = ""

    def __init__(self, *, account: str, secret: str, sender: str | None = None) -> None:
        self.account = account
        self.secret = secret
        self.sender = sender
        #: The bot's webhook root (``http://127.0.0.1:PORT`` + ``sms.webhook_path``); set by the test.
        self.webhook_base: str | None = None
        #: Send delivery reports ("delivered") after each accepted message.
        self.auto_reports = False
        self.sent: list[SentSms] = []
        #: Every HTTP answer the gateway's webhook calls got: (kind, status).
        self.webhook_answers: list[tuple[str, int]] = []
        self.signal = Signal()
        self.users: dict[str, FakeSmsUser] = {}
        self._faults: list[_Fault] = []
        self._held: list[float] = []
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------------ lifecycle

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> FakeSmsGateway:
        app = web.Application()
        self.routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self._port = int(probe.getsockname()[1])
        await web.TCPSite(self._runner, "127.0.0.1", self._port).start()
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        assert self._port is not None, "the server is not started"
        return f"http://127.0.0.1:{self._port}"

    # ------------------------------------------------------------------ phones and faults

    def user(self, phone: str) -> FakeSmsUser:
        """The simulated phone with number ``phone`` (E.164)."""
        phone = _phone(phone)
        if phone not in self.users:
            self.users[phone] = FakeSmsUser(self, phone)
        return self.users[phone]

    def fail_next(self, count: int, http_status: int, body: Any) -> None:
        """Answer the next ``count`` sends with ``http_status`` and ``body`` (nothing is delivered)."""
        self._faults.append(_Fault(http_status, body, count))

    def hold_next(self, count: int, seconds: float) -> None:
        """Deliver the next ``count`` messages at once but answer the requests ``seconds`` late."""
        self._held.extend([seconds] * count)

    def sent_to(self, phone: str) -> list[SentSms]:
        return [sms for sms in self.sent if sms.to == _phone(phone)]

    def most_in_one_second(self, *, segments: bool = True) -> int:
        """The most segments (or messages) that reached the gateway within any one-second window."""
        times = sorted((sms.time, sms.segments if segments else 1) for sms in self.sent)
        best, total, start = 0, 0, 0
        for end in range(len(times)):
            total += times[end][1]
            while times[end][0] - times[start][0] >= 1.0:
                total -= times[start][1]
                start += 1
            best = max(best, total)
        return best

    async def wait_for_sends(self, count: int, within: float = 30.0) -> None:
        if not await self.signal.wait_for(lambda: len(self.sent) >= count, within):
            raise TimeoutError(f"{len(self.sent)} sends, not {count}")

    # ------------------------------------------------------------------ the send API

    async def _accept(self, to: str, text: str) -> tuple[int, SentSms | Any]:
        """Record and deliver one message, or the fault planned for it: (HTTP status, sent or error body)."""
        if self._faults:
            fault = self._faults[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                self._faults.pop(0)
            return fault.http_status, fault.body
        cost = sms_cost(text)
        sms = SentSms(self.new_id(), _phone(to), text, cost.segments, cost.encoding, time.monotonic())
        self.sent.append(sms)
        self.user(sms.to).receive(SmsText(sms.message_id, text))
        self.signal.notify()
        if self._held:
            await asyncio.sleep(self._held.pop(0))
        return 201, sms

    def new_id(self) -> str:
        raise NotImplementedError

    def _later(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ webhooks

    async def post_form(self, kind: str, url: str, form: list[tuple[str, str]], headers: Mapping[str, str]) -> int:
        assert self._session is not None
        async with self._session.post(url, data=form, headers=dict(headers)) as response:
            await response.read()
            self.webhook_answers.append((kind, response.status))
            return response.status

    async def deliver_incoming(self, phone: str, text: str) -> tuple[str, int]:
        """A person's message posted to the bot; (its message id, the bot's HTTP status)."""
        raise NotImplementedError

    async def redeliver(self, phone: str, text: str, message_id: str) -> int:
        """The same message posted again (a gateway retrying)."""
        raise NotImplementedError

    async def report(self, message_id: str, status: str, **extra: str) -> int:
        """A delivery report for one message posted to the bot; the bot's HTTP status."""
        raise NotImplementedError


class FakeAfricasTalking(FakeSmsGateway):
    """``POST /version1/messaging`` and the incoming-message and delivery-report callbacks."""

    provider = "africastalking"

    def __init__(
        self, *, username: str = "sandbox", api_key: str = "fake-at-api-key", webhook_secret: str = "s" * 24
    ) -> None:
        super().__init__(account=username, secret=api_key)
        self.webhook_secret = webhook_secret
        #: Each send request's form, in order (to check the fields the bot sends).
        self.requests: list[dict[str, str]] = []

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/version1/messaging", self._messaging)

    def new_id(self) -> str:
        return f"ATXid_{next(self._ids):08d}"

    async def _messaging(self, request: web.Request) -> web.Response:
        if request.headers.get("apiKey") != self.secret:
            return web.Response(status=401, text="The supplied authentication is invalid")
        form = {name: str(value) for name, value in (await request.post()).items()}
        self.requests.append(form)
        if form.get("username") != self.account or not form.get("to") or not form.get("message"):
            return web.json_response({"SMSMessageData": {"Message": "InvalidRequest", "Recipients": []}}, status=400)
        status, outcome = await self._accept(form["to"], form["message"])
        if not isinstance(outcome, SentSms):
            return web.json_response(outcome, status=status)
        recipient = {"statusCode": 101, "number": outcome.to, "status": "Success", "cost": "KES 0.8000",
                     "messageId": outcome.message_id, "messageParts": outcome.segments}  # fmt: skip
        if self.auto_reports:
            self._later(self.report(outcome.message_id, "Success"))
        body = {"SMSMessageData": {"Message": "Sent to 1/1 Total Cost: KES 0.8000", "Recipients": [recipient]}}
        return web.json_response(body, status=201)

    def _callback(self, kind: str) -> str:
        assert self.webhook_base is not None, "set webhook_base to the bot's sms.webhook_path address"
        return f"{self.webhook_base}/africastalking/{self.webhook_secret}/{kind}"

    async def redeliver(self, phone: str, text: str, message_id: str) -> int:
        form = [("date", "2026-12-07 09:00:00"), ("from", _phone(phone)), ("id", message_id),
                ("linkId", f"link-{message_id}"), ("text", text), ("to", "21525"), ("networkCode", "63902")]  # fmt: skip
        return await self.post_form("incoming", self._callback("incoming"), form, {})

    async def deliver_incoming(self, phone: str, text: str) -> tuple[str, int]:
        message_id = f"ATIn_{next(self._ids):08d}"
        return message_id, await self.redeliver(phone, text, message_id)

    async def report(self, message_id: str, status: str, **extra: str) -> int:
        form = [("id", message_id), ("status", status), ("phoneNumber", "+254700000000"),
                ("networkCode", "63902"), ("retryCount", "0"), *extra.items()]  # fmt: skip
        return await self.post_form("delivery", self._callback("delivery"), form, {})


class FakeTwilio(FakeSmsGateway):
    """``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` and Twilio's signed webhooks."""

    provider = "twilio"

    def __init__(
        self,
        *,
        account_sid: str = "AC" + "0" * 32,
        auth_token: str = "fake-twilio-auth-token",
        sender: str = "+15005550006",
    ) -> None:
        super().__init__(account=account_sid, secret=auth_token, sender=sender)
        self.requests: list[dict[str, str]] = []

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self._messages)

    def new_id(self) -> str:
        return f"SM{next(self._ids):032d}"

    def _authorised(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        expected = base64.b64encode(f"{self.account}:{self.secret}".encode()).decode()
        return request.match_info["sid"] == self.account and header == f"Basic {expected}"

    async def _messages(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"code": 20003, "message": "Authenticate", "status": 401}, status=401)
        form = {name: str(value) for name, value in (await request.post()).items()}
        self.requests.append(form)
        if not form.get("To") or not form.get("Body") or not (form.get("From") or form.get("MessagingServiceSid")):
            return web.json_response({"code": 21604, "message": "A 'To', 'From' and 'Body' are required",
                                      "status": 400}, status=400)  # fmt: skip
        status, outcome = await self._accept(form["To"], form["Body"])
        if not isinstance(outcome, SentSms):
            return web.json_response(outcome, status=status)
        callback = form.get("StatusCallback")
        if self.auto_reports and callback:
            self._later(self.report(outcome.message_id, "delivered", url=callback))
        body = {"sid": outcome.message_id, "account_sid": self.account, "to": outcome.to, "from": form.get("From"),
                "body": outcome.text, "status": "queued", "num_segments": str(outcome.segments),
                "direction": "outbound-api", "error_code": None}  # fmt: skip
        return web.json_response(body, status=201)

    def signed(self, url: str, form: list[tuple[str, str]]) -> dict[str, str]:
        return {"X-Twilio-Signature": twilio_signature_as_twilio_does(url, form, self.secret)}

    @property
    def incoming_url(self) -> str:
        assert self.webhook_base is not None, "set webhook_base to the bot's sms.webhook_path address"
        return f"{self.webhook_base}/twilio"

    def incoming_form(self, phone: str, text: str, message_id: str) -> list[tuple[str, str]]:
        cost = sms_cost(text)
        return [("ToCountry", "US"), ("SmsMessageSid", message_id), ("NumMedia", "0"), ("SmsSid", message_id),
                ("SmsStatus", "received"), ("Body", text), ("To", str(self.sender)), ("NumSegments", str(cost.segments)),
                ("MessageSid", message_id), ("AccountSid", self.account), ("From", _phone(phone)),
                ("ApiVersion", "2010-04-01")]  # fmt: skip

    async def redeliver(self, phone: str, text: str, message_id: str) -> int:
        form = self.incoming_form(phone, text, message_id)
        return await self.post_form("incoming", self.incoming_url, form, self.signed(self.incoming_url, form))

    async def deliver_incoming(self, phone: str, text: str) -> tuple[str, int]:
        message_id = f"SMin{next(self._ids):030d}"
        return message_id, await self.redeliver(phone, text, message_id)

    async def report(self, message_id: str, status: str, **extra: str) -> int:
        url = extra.pop("url", None) or f"{self.incoming_url}/status"
        form = [("MessageSid", message_id), ("SmsSid", message_id), ("MessageStatus", status),
                ("SmsStatus", status), ("AccountSid", self.account), ("ApiVersion", "2010-04-01"), *extra.items()]  # fmt: skip
        return await self.post_form("status", url, form, self.signed(url, form))
