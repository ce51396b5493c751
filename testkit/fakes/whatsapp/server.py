"""``FakeGraphServer``: a local WhatsApp Business Cloud API (Graph API) speaking real HTTP, and
the webhook sender that plays Meta's side of the webhook (signed with the app secret).

The bot under test is pointed at it with ``whatsapp.graph_base_url = server.base_url`` and the
server at the bot with ``server.webhook_url``. It checks what the Cloud API checks (the bearer
token, payload shapes, button / list / text limits, uploaded media ids, known templates), records
every call, and can be told to answer the next calls with an error (130429 throughput, 5xx...).
Like WhatsApp, it accepts free-form messages to people outside the 24-hour window and then
reports them ``failed`` (131047) through a status webhook.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import socket
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import web

from testkit.fakes.telegram.model import Signal

from .graph_side import JSON, UploadedMedia
from .user import FakeWhatsAppUser, WaMessage

WINDOW_SECONDS = 24 * 3600


@dataclass
class RecordedCall:
    endpoint: str  # "messages", "media" or "check" (the token check at start)
    body: JSON
    status: int
    time: float
    error_code: int | None = None


@dataclass
class _Fault:
    endpoint: str
    http_status: int
    code: int
    remaining: int


@dataclass
class WebhookCall:
    payload: JSON
    status: int
    attempt: int


def _error(http_status: int, code: int, message: str, details: str = "") -> web.Response:
    body = {
        "error": {
            "message": message,
            "type": "OAuthException",
            "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": details or message},
            "fbtrace_id": "fake",
        }
    }
    return web.json_response(body, status=http_status)


class InvalidPayload(Exception):
    pass


def _need(condition: bool, details: str) -> None:
    if not condition:
        raise InvalidPayload(details)


def _text(value: Any, what: str, limit: int) -> str:
    _need(isinstance(value, str) and 0 < len(value) <= limit, f"{what} must be 1 to {limit} characters")
    return str(value)


class FakeGraphServer:
    """A fake Cloud API for one business phone number on ``127.0.0.1:<random port>``."""

    def __init__(
        self,
        *,
        access_token: str = "fake-access-token",
        app_secret: str = "fake-app-secret",
        phone_number_id: str = "100200300",
        api_version: str = "v21.0",
        webhook_retries: int = 3,
        webhook_retry_delay: float = 0.1,
    ) -> None:
        self.access_token = access_token
        self.app_secret = app_secret
        self.phone_number_id = phone_number_id
        self.api_version = api_version
        self.webhook_retries = webhook_retries
        self.webhook_retry_delay = webhook_retry_delay
        #: Where Meta would POST webhooks (the bot's ``whatsapp.webhook_path``); set by the test.
        self.webhook_url: str | None = None
        #: Approved templates: name → number of body parameters.
        self.templates: dict[str, int] = {}
        self.calls: list[RecordedCall] = []
        self.webhook_calls: list[WebhookCall] = []
        self.media: dict[str, UploadedMedia] = {}
        #: Files users sent (pictures, voice notes, documents...), by media id.
        self.received_media: dict[str, UploadedMedia] = {}
        #: Media ids whose download the bot asked for, in order.
        self.downloads: list[str] = []
        self.signal = Signal()
        self._users: dict[str, FakeWhatsAppUser] = {}
        self._faults: list[_Fault] = []
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._session: aiohttp.ClientSession | None = None
        self._status_tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> FakeGraphServer:
        app = web.Application(client_max_size=100 * 1024 * 1024)
        base = f"/{self.api_version}/{self.phone_number_id}"
        app.router.add_get(base, self._phone_number)
        app.router.add_post(f"{base}/messages", self._messages)
        app.router.add_post(f"{base}/media", self._upload)
        # Files people sent: their URL by media id, then the file (both need the bearer token).
        app.router.add_get(f"/{self.api_version}/{{media_id}}", self._media_url)
        app.router.add_get("/media-download/{media_id}", self._media_download)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self._port = int(probe.getsockname()[1])
        await web.TCPSite(self._runner, "127.0.0.1", self._port).start()
        self._session = aiohttp.ClientSession()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        for task in list(self._status_tasks):
            task.cancel()
        await asyncio.gather(*self._status_tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def user(self, phone: str, *, name: str = "Test User") -> FakeWhatsAppUser:
        """The person with WhatsApp id (phone number) ``phone``, created on first use."""
        if phone not in self._users:
            self._users[phone] = FakeWhatsAppUser(self, phone, name)
        return self._users[phone]

    def fail_next(
        self, endpoint: str = "messages", *, code: int = 130429, http_status: int = 400, times: int = 1
    ) -> None:
        """Answer the next ``times`` calls of ``endpoint`` with this error."""
        self._faults.append(_Fault(endpoint, http_status, code, times))

    def calls_to(self, endpoint: str) -> list[RecordedCall]:
        return [call for call in self.calls if call.endpoint == endpoint]

    def new_id(self, prefix: str = "wamid") -> str:
        return f"{prefix}.FAKE{next(self._ids):08d}"

    # ------------------------------------------------------------------ the Graph API

    def _fault(self, endpoint: str) -> _Fault | None:
        for fault in self._faults:
            if fault.endpoint == endpoint and fault.remaining > 0:
                fault.remaining -= 1
                return fault
        return None

    def _authorised(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.access_token}"

    async def _phone_number(self, request: web.Request) -> web.Response:
        """``GET /{version}/{phone-number-id}``: the business phone number's record (the token check)."""
        call = RecordedCall("check", {}, 200, time.monotonic())
        self.calls.append(call)
        if not self._authorised(request):
            call.status, call.error_code = 401, 190
            return _error(401, 190, "Invalid OAuth access token")
        return web.json_response({"id": self.phone_number_id, "verified_name": "Fake Statistics Office"})

    async def _messages(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            body = {}
        call = RecordedCall("messages", body, 200, time.monotonic())
        self.calls.append(call)
        if not self._authorised(request):
            call.status, call.error_code = 401, 190
            return _error(401, 190, "Invalid OAuth access token")
        fault = self._fault("messages")
        if fault is not None:
            call.status, call.error_code = fault.http_status, fault.code
            self.signal.notify()  # tests may wait for a failed call
            return _error(fault.http_status, fault.code, f"fake error {fault.code}")
        try:
            message = self._accept(body)
        except InvalidPayload as problem:
            call.status, call.error_code = 400, 100
            return _error(400, 100, "(#100) Invalid parameter", str(problem))
        except UnknownTemplate as problem:
            call.status, call.error_code = 404, 132001
            return _error(404, 132001, "Template name does not exist in the translation", str(problem))
        user = self.user(str(body["to"]))
        outside = message.kind != "template" and not user.in_window()
        user.receive(message)
        self.signal.notify()
        if outside:  # WhatsApp accepts the call, then reports the message failed.
            self._later(self.send_status(message.message_id, "failed", error_code=131047))
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                "messages": [{"id": message.message_id}],
            }
        )

    def _later(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._status_tasks.add(task)
        task.add_done_callback(self._status_tasks.discard)

    def _accept(self, body: JSON) -> WaMessage:
        _need(body.get("messaging_product") == "whatsapp", "messaging_product must be whatsapp")
        _need(isinstance(body.get("to"), str) and body["to"].isdigit(), "to must be a phone number")
        kind = body.get("type")
        wamid = self.new_id()
        if kind == "text":
            text = _text((body.get("text") or {}).get("body"), "text.body", 4096)
            return WaMessage(wamid, "text", text, raw=body)
        if kind in ("image", "document"):
            media = body.get(kind) or {}
            uploaded = self.media.get(str(media.get("id")))
            _need(uploaded is not None, f"{kind}.id must be an uploaded media id")
            assert uploaded is not None
            caption = media.get("caption")
            if caption is not None:
                _text(caption, f"{kind}.caption", 1024)
            return WaMessage(wamid, kind, caption or "", raw=body, media=uploaded)
        if kind == "template":
            template = body.get("template") or {}
            name = _text(template.get("name"), "template.name", 512)
            _need(isinstance((template.get("language") or {}).get("code"), str), "template.language.code is required")
            if name not in self.templates:
                raise UnknownTemplate(name)
            parameters = [p.get("text") for c in template.get("components") or () for p in c.get("parameters") or ()]
            _need(len(parameters) == self.templates[name], f"template {name} takes {self.templates[name]} parameters")
            return WaMessage(wamid, "template", name, raw=body, template_parameters=parameters)
        if kind == "interactive":
            return self._interactive(wamid, body)
        raise InvalidPayload(f"unknown message type {kind!r}")

    def _interactive(self, wamid: str, body: JSON) -> WaMessage:
        interactive = body.get("interactive") or {}
        text = _text((interactive.get("body") or {}).get("text"), "interactive.body.text", 1024)
        action = interactive.get("action") or {}
        if interactive.get("type") == "button":
            buttons = action.get("buttons") or []
            _need(1 <= len(buttons) <= 3, "a button message has 1 to 3 buttons")
            choices = []
            for button in buttons:
                _need(button.get("type") == "reply", "buttons must be of type reply")
                reply = button.get("reply") or {}
                choices.append(
                    (_text(reply.get("title"), "button title", 20), _text(reply.get("id"), "button id", 256))
                )
            _need(len({title for title, _ in choices}) == len(choices), "button titles must be unique")
            return WaMessage(wamid, "button", text, raw=body, choices=choices)
        if interactive.get("type") == "list":
            _text(action.get("button"), "list button", 20)
            sections = action.get("sections") or []
            _need(1 <= len(sections) <= 10, "a list has 1 to 10 sections")
            if len(sections) > 1:
                for section in sections:
                    _text(section.get("title"), "section title", 24)
            rows = [row for section in sections for row in section.get("rows") or []]
            _need(1 <= len(rows) <= 10, "a list has 1 to 10 rows in all")
            choices, descriptions = [], []
            for row in rows:
                choices.append((_text(row.get("title"), "row title", 24), _text(row.get("id"), "row id", 200)))
                if row.get("description") is not None:
                    _text(row["description"], "row description", 72)
                descriptions.append(row.get("description"))
            _need(len({row_id for _, row_id in choices}) == len(choices), "row ids must be unique")
            return WaMessage(wamid, "list", text, raw=body, choices=choices, descriptions=descriptions)
        if interactive.get("type") == "location_request_message":
            _need(action.get("name") == "send_location", "a location request's action is send_location")
            return WaMessage(wamid, "location_request", text, raw=body)
        raise InvalidPayload(f"unknown interactive type {interactive.get('type')!r}")

    async def _upload(self, request: web.Request) -> web.Response:
        call = RecordedCall("media", {}, 200, time.monotonic())
        self.calls.append(call)
        if not self._authorised(request):
            call.status, call.error_code = 401, 190
            return _error(401, 190, "Invalid OAuth access token")
        fault = self._fault("media")
        if fault is not None:
            call.status, call.error_code = fault.http_status, fault.code
            self.signal.notify()  # tests may wait for a failed call
            return _error(fault.http_status, fault.code, f"fake error {fault.code}")
        form = await request.post()
        upload = form.get("file")
        if form.get("messaging_product") != "whatsapp" or not isinstance(upload, web.FileField):
            call.status, call.error_code = 400, 100
            return _error(400, 100, "(#100) Invalid parameter", "messaging_product and file are required")
        media = UploadedMedia(self.new_id("media"), upload.filename, str(form.get("type")), upload.file.read())
        call.body = {"filename": media.filename, "type": media.mime_type, "size": len(media.content)}
        self.media[media.media_id] = media
        return web.json_response({"id": media.media_id})

    def keep_sent_media(self, content: bytes, mime_type: str, filename: str | None) -> str:
        """Keep a file a user sends; returns its media id (what the webhook message carries)."""
        media = UploadedMedia(self.new_id("inmedia").replace(".", ""), filename or "", mime_type, content)
        self.received_media[media.media_id] = media
        return media.media_id

    async def _media_url(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _error(401, 190, "Invalid OAuth access token")
        media = self.received_media.get(request.match_info["media_id"])
        if media is None:
            return _error(400, 100, "(#100) Invalid parameter", "unknown media id")
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "url": f"{self.base_url}/media-download/{media.media_id}",
                "mime_type": media.mime_type,
                "sha256": hashlib.sha256(media.content).hexdigest(),
                "file_size": len(media.content),
                "id": media.media_id,
            }
        )

    async def _media_download(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.Response(status=401)
        media = self.received_media.get(request.match_info["media_id"])
        if media is None:
            return web.Response(status=404)
        self.downloads.append(media.media_id)
        return web.Response(body=media.content, content_type=media.mime_type.split(";")[0])

    # ------------------------------------------------------------------ webhooks (Meta's side)

    def sign(self, body: bytes) -> str:
        return "sha256=" + hmac.new(self.app_secret.encode(), body, hashlib.sha256).hexdigest()

    def envelope(self, value: JSON) -> JSON:
        return {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "WABA-FAKE",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": "15550000000",
                                    "phone_number_id": self.phone_number_id,
                                },
                                **value,
                            },
                        }
                    ],
                }
            ],
        }

    async def post_webhook(self, payload: JSON, *, signature: str | None = "valid") -> int:
        """POST one webhook call once; ``signature`` "valid", None (missing) or a given value."""
        assert self._session is not None and self.webhook_url is not None, "set server.webhook_url first"
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if signature == "valid":
            headers["X-Hub-Signature-256"] = self.sign(body)
        elif signature is not None:
            headers["X-Hub-Signature-256"] = signature
        async with self._session.post(self.webhook_url, data=body, headers=headers) as response:
            await response.read()
            return response.status

    async def deliver(self, payload: JSON) -> int:
        """Deliver a webhook call as Meta does: signed, and again after a non-200 answer."""
        status = 0
        for attempt in range(1, self.webhook_retries + 2):
            status = await self.post_webhook(payload)
            self.webhook_calls.append(WebhookCall(payload, status, attempt))
            if status == 200:
                break
            await asyncio.sleep(self.webhook_retry_delay)
        return status

    async def send_status(self, wamid: str, status: str, *, error_code: int | None = None) -> int:
        """Report a status (sent, delivered, read, failed) of a message the bot sent."""
        recipient = next((user.phone for user in self._users.values() if user.find(wamid) is not None), "0")
        report: JSON = {"id": wamid, "status": status, "timestamp": str(int(time.time())), "recipient_id": recipient}
        if error_code is not None:
            report["errors"] = [{"code": error_code, "title": _ERROR_TITLES.get(error_code, "Failed")}]
        return await self.deliver(self.envelope({"statuses": [report]}))


class UnknownTemplate(Exception):
    pass


_ERROR_TITLES = {131047: "Re-engagement message", 131026: "Message undeliverable"}
