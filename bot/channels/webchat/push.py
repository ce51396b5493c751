"""Browser notifications for the web chat (Web Push, RFC 8030/8291/8292).

The page (``static/push.js``) offers notifications; when the person accepts, the browser's
subscription is posted to ``POST /api/push/subscribe`` and kept under the contact of the chat
session (:mod:`storage.webpush`). The application server key it subscribes with is the public
half of the installation's VAPID key (``GET /api/push/key``; the key is made once and kept like
the other keys: :func:`bot.keys.load_vapid_key`). The service worker (``GET /sw.js``) shows what
arrives and opens the chat when the notification is clicked.

:class:`WebPushSender` is the web chat's sender for the durable sender (:mod:`bot.sending`):
notices and request answers to a web-chat contact are encrypted (aes128gcm) to every browser of
theirs and posted to the push service with a VAPID JWT, by pywebpush.
"""

from __future__ import annotations

import json
import logging
from typing import Any, cast
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from py_vapid import Vapid02
from pywebpush import WebPushException, webpush_async

from bot.channels.webchat.adapter import (
    STATIC_DIR,
    SessionKey,
    SessionKeys,
    _check_origin,
    _session_from,
    session_user_key,
)
from bot.keys import vapid_public_key
from bot.sending.channel_sender import MaybeSent, NotSent, Rejected
from common.clock import utc_now
from handlers.messages import Outbound
from storage.database import Database
from storage.repositories import Repositories
from storage.webpush import MAX_ENDPOINT, MAX_KEY, WEB_CHANNEL, PushSubscription

log = logging.getLogger(__name__)

#: How long a push service keeps a notice for a browser that is offline (seconds): a week.
TIME_TO_LIVE = 7 * 24 * 3600
#: The longest text a notification carries (push services take about 4 KB once encrypted).
MAX_BODY = 1000
_JSON_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
#: The push service said the subscription is gone (the person turned notifications off).
GONE = (404, 410)


def payload(message: Outbound, title: str) -> str:
    """What the service worker receives: the notification's title and text, and where a click goes."""
    text = message.text if len(message.text) <= MAX_BODY else message.text[: MAX_BODY - 1] + "…"
    return json.dumps({"title": title, "body": text, "url": "/"}, ensure_ascii=False)


class WebPushSender:
    """Sends one message to every browser in which the web-chat contact accepted notifications."""

    def __init__(
        self,
        database: Database,
        private_key: str,
        *,
        subject: str,
        title: str = "Baraza",
        timeout: float = 10.0,
    ) -> None:
        self.database = database
        self.vapid = Vapid02.from_raw(private_key.encode())
        self.subject = subject
        self.title = title
        self.timeout = timeout

    @property
    def channel(self) -> str:
        return WEB_CHANNEL

    async def send(self, chat_key: str, message: Outbound, *, cache_key: str) -> str:
        async with self.database.reading() as connection:
            browsers = await Repositories(connection).webpush.for_chat(chat_key)
        if not browsers:
            raise Rejected("no browser of this web-chat contact accepts notifications")
        data = payload(message, self.title)
        delivered: list[str] = []
        gone: list[str] = []
        unsure = False
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as session:
            for browser in browsers:
                outcome = await self._push(session, browser, data)
                if outcome == "sent":
                    delivered.append(browser.endpoint)
                elif outcome == "gone":
                    gone.append(browser.endpoint)
                elif outcome == "unsure":
                    unsure = True
        if gone:
            async with self.database.transaction() as connection:
                for endpoint in gone:
                    await Repositories(connection).webpush.remove(endpoint)
        if delivered:
            return f"webpush:{len(delivered)}"
        if unsure:
            raise MaybeSent("no answer from the push service")
        if gone and len(gone) == len(browsers):
            raise Rejected("every browser of this contact turned notifications off")
        raise NotSent("the push service refused the message for now")

    async def _push(self, session: aiohttp.ClientSession, browser: PushSubscription, data: str) -> str:
        info: dict[str, Any] = {"endpoint": browser.endpoint, "keys": {"p256dh": browser.p256dh, "auth": browser.auth}}
        try:
            await webpush_async(
                info,
                data,
                vapid_private_key=self.vapid,
                vapid_claims={"sub": self.subject},
                ttl=TIME_TO_LIVE,
                aiohttp_session=session,
                timeout=cast(Any, aiohttp.ClientTimeout(total=self.timeout)),
            )
        except WebPushException as error:
            status = error.response.status if error.response is not None else None
            if status in GONE:
                return "gone"
            log.warning("web push: the push service answered %s", status)
            return "refused"
        except (aiohttp.ClientConnectionError, TimeoutError) as error:
            sent = isinstance(error, (aiohttp.ServerDisconnectedError, TimeoutError))
            log.warning("web push: %s", type(error).__name__)
            return "unsure" if sent else "refused"
        return "sent"


def _endpoint_allowed(endpoint: str, *, insecure_loopback: bool) -> bool:
    """A push service's URL: https (the browser's push service); plain http only to this machine
    when ``insecure_loopback`` (a push service faked in tests)."""
    parts = urlsplit(endpoint)
    if parts.scheme == "https" and parts.hostname:
        return True
    return insecure_loopback and parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")


def parse_subscription(body: Any, *, insecure_loopback: bool = False) -> PushSubscription:
    """The subscription of ``PushSubscription.toJSON()``; ValueError says what is wrong."""
    if not isinstance(body, dict) or not isinstance(body.get("keys"), dict):
        raise ValueError("expected {endpoint, keys: {p256dh, auth}}")
    endpoint, keys = body.get("endpoint"), body["keys"]
    p256dh, auth = keys.get("p256dh"), keys.get("auth")
    if not isinstance(endpoint, str) or not 0 < len(endpoint) <= MAX_ENDPOINT:
        raise ValueError("the endpoint is missing or too long")
    if not _endpoint_allowed(endpoint, insecure_loopback=insecure_loopback):
        raise ValueError("the endpoint must be an https URL")
    for value in (p256dh, auth):
        if not isinstance(value, str) or not 0 < len(value) <= MAX_KEY:
            raise ValueError("the keys p256dh and auth are missing or too long")
    return PushSubscription(endpoint=endpoint, p256dh=cast(str, p256dh), auth=cast(str, auth))


def add_push_routes(
    app: web.Application,
    database: Database,
    private_key: str,
    *,
    session_key: SessionKey | None = None,
    insecure_loopback: bool = False,
) -> None:
    """``GET /api/push/key``, ``POST /api/push/subscribe``, ``POST /api/push/unsubscribe`` and the
    service worker ``GET /sw.js`` (at the root, so that its scope is the whole chat). ``session_key``
    is the web chat's (the subscription belongs to the signed session of the chat's cookie)."""
    public_key = vapid_public_key(private_key)
    session_keys = SessionKeys(session_key)

    async def key(request: web.Request) -> web.StreamResponse:
        return web.json_response({"key": public_key}, headers=_JSON_HEADERS)

    async def contact_of(request: web.Request) -> int | None:
        session = _session_from(request, await session_keys.get())
        if session is None:
            return None
        async with database.reading() as connection:
            return await Repositories(connection).contacts.find(WEB_CHANNEL, session_user_key(session))

    async def read(request: web.Request) -> Any:
        if request.content_type != "application/json" or (request.content_length or 0) > 4096:
            raise ValueError("expected a small JSON body")
        return json.loads(await request.text())

    async def subscribe(request: web.Request) -> web.StreamResponse:
        try:
            _check_origin(request)
        except Exception:  # the adapter's refusal: same answer as the chat's own API
            return _refused(403, "forbidden_origin", "Cross-origin requests are not allowed.")
        contact_id = await contact_of(request)
        if contact_id is None:
            return _refused(403, "no_session", "Open the chat and write first: notifications belong to a conversation.")
        try:
            subscription = parse_subscription(await read(request), insecure_loopback=insecure_loopback)
        except ValueError as error:
            return _refused(400, "bad_subscription", str(error))
        async with database.transaction() as connection:
            await Repositories(connection).webpush.subscribe(contact_id, subscription, utc_now())
        log.info("web push: a browser subscribed to notifications")
        return web.json_response({"subscribed": True}, headers=_JSON_HEADERS)

    async def unsubscribe(request: web.Request) -> web.StreamResponse:
        try:
            _check_origin(request)
            body = await read(request)
        except Exception:
            return _refused(400, "bad_request", "expected {endpoint} from this page")
        contact_id = await contact_of(request)
        endpoint = body.get("endpoint") if isinstance(body, dict) else None
        if contact_id is not None and isinstance(endpoint, str):
            async with database.transaction() as connection:
                await Repositories(connection).webpush.remove(endpoint, contact_id=contact_id)
        return web.json_response({"subscribed": False}, headers=_JSON_HEADERS)

    async def service_worker(request: web.Request) -> web.StreamResponse:
        response = web.FileResponse(STATIC_DIR / "sw.js", headers={"Cache-Control": "no-cache"})
        response.content_type = "text/javascript"
        response.charset = "utf-8"
        return response

    app.router.add_get("/api/push/key", key)
    app.router.add_post("/api/push/subscribe", subscribe)
    app.router.add_post("/api/push/unsubscribe", unsubscribe)
    app.router.add_get("/sw.js", service_worker)


def _refused(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status, headers=_JSON_HEADERS)
