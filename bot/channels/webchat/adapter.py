"""The web chat channel: a browser page and a small JSON API on aiohttp.

The page (``static/``) posts each message or button press to ``POST /api/messages``;
the adapter turns it into an :class:`~handlers.messages.Inbound`, hands it to the core and
answers the core's :class:`~handlers.messages.Outbound` replies as JSON
(:mod:`bot.channels.webchat.rendering`)::

    request:  {"id": "<client message id>", "text": "..."}
          or  {"id": "<client message id>", "payload": "<button payload>"}
    response: {"messages": [{"text": "...",
                             "buttons": [[{"label": "...", "payload": "..."}]],
                             "attachment": {"kind", "filename", "mime_type", "data_url"} | null,
                             "replaces_pressed": false}]}
    errors:   {"error": "<code>", "message": "<English explanation>"} with a 4xx/5xx status

The user is known by an opaque random token in the ``baraza_session`` cookie (HttpOnly,
SameSite=Strict); a hash of it is both ``user_key`` and ``chat_key``. A hash of the token and
the client's message id is the ``update_key``, so a retried post is processed once by the core.
Only the server makes sessions: the cookie is ``<token>.<HMAC of the token>`` under the
installation's cookie key, and a cookie the server did not sign (planted by someone who wants
to read the victim's ``/profile`` later) is replaced by a fresh session, never adopted.

Per-client limits (``web.limits``): messages per client address and per session, and new
sessions per address; a request over a limit gets 429 with ``Retry-After`` and reaches nothing.

Message texts and session tokens are never logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import math
import re
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from yarl import URL

from bot import metrics
from bot.channels.webchat.rendering import serialize_outbound
from bot.config import WebLimits
from bot.limits import KeyedBuckets
from bot.proxies import client_address
from common.clock import utc_now
from common.constant_time import same_secret
from common.errors import BarazaError
from handlers.messages import Inbound, MessageProcessor

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"

SESSION_COOKIE = "baraza_session"
#: Default lifetime of the session cookie: a survey may be answered over several days.
SESSION_MAX_AGE = 30 * 24 * 3600
MAX_BODY_BYTES = 16 * 1024
MAX_TEXT_CHARS = 4096
MAX_ID_CHARS = 100

# secrets.token_urlsafe(32) gives 43 characters of the URL-safe base64 alphabet.
_SESSION_BYTES = 32
_SESSION_RE = re.compile(r"[A-Za-z0-9_-]{43}")
_LANGUAGE_RE = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")

_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
_API_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}

_STATIC_FILES = {
    "chat.js": "text/javascript",
    "chat.css": "text/css",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: The key that signs session cookies (read once, on first use).
SessionKey = Callable[[], Awaitable[bytes]]


class _BadRequest(BarazaError):
    def __init__(self, status: int, code: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after


class ChatLimits:
    """The web chat's per-client token buckets (``web.limits``)."""

    def __init__(self, limits: WebLimits) -> None:
        self.per_address = KeyedBuckets(limits.chat_per_address)
        self.per_session = KeyedBuckets(limits.chat_per_session)
        self.new_sessions = KeyedBuckets(limits.new_sessions_per_address)

    def new_session(self, address: str) -> None:
        """Raise a 429 when ``address`` has opened too many sessions lately."""
        _throttled(self.new_sessions.take(address), "new_sessions_per_address")

    def message(self, address: str, session: str | None) -> None:
        """Raise a 429 when ``address`` or ``session`` sends too fast."""
        if session is not None:
            _throttled(self.per_session.take(session_user_key(session)), "chat_per_session")
        _throttled(self.per_address.take(address), "chat_per_address")


def _throttled(wait: float, limit: str) -> None:
    if wait > 0:
        metrics.observe_throttled(limit)
        raise _BadRequest(
            429, "too_many_requests", "Too many requests: please wait a moment.", retry_after=math.ceil(wait)
        )


def add_webchat_routes(
    app: web.Application,
    processor: MessageProcessor,
    *,
    channel: str = "web",
    secure_cookie: bool | None = None,
    session_max_age: int | None = SESSION_MAX_AGE,
    session_key: SessionKey | None = None,
    limits: WebLimits | None = None,
) -> None:
    """Add the chat page (``GET /``, ``/static/chat.js``, ``/static/chat.css``) and
    ``POST /api/messages`` to ``app``; every message goes to ``processor``.

    ``secure_cookie``: mark the session cookie ``Secure``; ``None`` decides per request
    (``request.secure``: behind a TLS proxy listed in ``web.trusted_proxies``, the scheme the
    browser used, see :mod:`bot.proxies`).
    ``session_max_age``: cookie lifetime in seconds, ``None`` for a browser-session cookie.
    ``session_key``: the key that signs session cookies (shared by every worker); without it, a
    key of this process only. ``limits``: the per-client limits; None: no limits.
    """
    keys = _SessionKeys(session_key)
    limiter = ChatLimits(limits) if limits is not None and limits.enabled else None

    def set_session_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
        secure = request.secure if secure_cookie is None else secure_cookie
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=session_max_age,
            path="/",
            httponly=True,
            samesite="Strict",
            secure=secure,
        )

    async def index(request: web.Request) -> web.StreamResponse:
        key = await keys.get()
        token = _session_from(request, key)
        if token is None and limiter is not None:
            try:
                limiter.new_session(client_address(request))
            except _BadRequest as error:
                return _error(error.status, error.code, error.message, error.retry_after)
        response = web.FileResponse(STATIC_DIR / "index.html", headers=_PAGE_HEADERS)
        response.content_type = "text/html"
        response.charset = "utf-8"
        # Created (or its lifetime renewed) on the first request, so the page's first post
        # already carries it.
        set_session_cookie(request, response, _signed(key, token or _new_session()))
        return response

    def static_file(name: str, content_type: str) -> Handler:
        path = STATIC_DIR / name

        async def serve(request: web.Request) -> web.StreamResponse:
            response = web.FileResponse(path, headers=_PAGE_HEADERS)
            response.content_type = content_type
            response.charset = "utf-8"
            return response

        return serve

    async def post_message(request: web.Request) -> web.StreamResponse:
        key = await keys.get()
        token = _session_from(request, key)
        try:
            _check_origin(request)
            if request.content_type != "application/json":
                raise _BadRequest(
                    415,
                    "unsupported_media_type",
                    "Content-Type must be application/json.",
                )
            if limiter is not None:
                address = client_address(request)
                if token is None:
                    limiter.new_session(address)
                limiter.message(address, token)
            body = await _read_limited(request, MAX_BODY_BYTES)
            message_id, text, payload = _parse_message(body)
        except _BadRequest as error:
            return _error(error.status, error.code, error.message, error.retry_after)

        new_session = token is None
        session = token or _new_session()
        # The cookie is a bearer secret: the core only ever sees a hash of it, and the client's
        # message id is scoped to the session so one browser cannot replay another's ids.
        user_key = session_user_key(session)
        inbound = Inbound(
            channel=channel,
            user_key=user_key,
            chat_key=user_key,
            update_key=session_update_key(session, message_id),
            text=text,
            payload=payload,
            language_hint=_first_language(request.headers.get("Accept-Language")),
            received_at=utc_now(),
        )
        try:
            replies = await processor.handle(inbound)
        except Exception:
            # The traceback, never the inbound: it holds the user's text and session.
            logger.exception("webchat: processing update %r failed", message_id)
            response = _error(500, "internal_error", "The message could not be processed.")
        else:
            logger.debug(
                "webchat: update %r (%s, new session: %s) -> %d replies",
                message_id,
                "text" if text is not None else "payload",
                new_session,
                len(replies),
            )
            response = web.json_response(
                {"messages": [serialize_outbound(reply) for reply in replies]},
                headers=_API_HEADERS,
            )
        set_session_cookie(request, response, _signed(key, session))
        return response

    app.router.add_get("/", index)
    for name, content_type in _STATIC_FILES.items():
        app.router.add_get(f"/static/{name}", static_file(name, content_type))
    app.router.add_post("/api/messages", post_message)


def _error(status: int, code: str, message: str, retry_after: float | None = None) -> web.Response:
    headers = dict(_API_HEADERS)
    if retry_after is not None:
        headers["Retry-After"] = str(int(retry_after))
    return web.json_response({"error": code, "message": message}, status=status, headers=headers)


class _SessionKeys:
    """The signing key: the one given (read once), or a random one for this process."""

    def __init__(self, source: SessionKey | None) -> None:
        self._source = source
        self._key: bytes | None = None if source is not None else secrets.token_bytes(32)

    async def get(self) -> bytes:
        if self._key is None:
            assert self._source is not None
            self._key = await self._source()
        return self._key


def _signed(key: bytes, token: str) -> str:
    """The cookie value of a session token: the token and its HMAC (domain-separated from the
    dashboard's cookies, which may share the key)."""
    mac = hmac.new(key, f"webchat-session:{token}".encode(), hashlib.sha256).digest()
    return f"{token}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"


def session_user_key(session: str) -> str:
    """The user and chat key the core sees for a session token (a hash; the token stays secret)."""
    return hashlib.sha256(f"user:{session}".encode()).hexdigest()[:32]


def session_update_key(session: str, message_id: str) -> str:
    """The update key for a client message id, unique to its session."""
    return hashlib.sha256(f"update:{session}:{message_id}".encode()).hexdigest()[:32]


def _new_session() -> str:
    return secrets.token_urlsafe(_SESSION_BYTES)


def _session_from(request: web.Request, key: bytes) -> str | None:
    """The session token of the request's cookie when this server made it (signed with ``key``);
    None for no cookie, a malformed one, or one the server never issued."""
    value = request.cookies.get(SESSION_COOKIE)
    if value is None or len(value) > 100 or not value.isascii():
        return None
    token = value.partition(".")[0]
    if _SESSION_RE.fullmatch(token) and same_secret(value, _signed(key, token)):
        return token
    return None


def _check_origin(request: web.Request) -> None:
    """CSRF check: a browser's ``Origin``, when sent, must name the host the page came from."""
    origin = request.headers.get("Origin")
    if origin is None:
        return
    try:
        origin_url = URL(origin)
        # The Host header as seen by a browser at the origin's scheme (default port filled in).
        host_url = URL(f"{origin_url.scheme}://{request.host}")
        same = (
            origin_url.scheme in ("http", "https")
            and origin_url.host is not None
            and origin_url.host.lower() == (host_url.host or "").lower()
            and origin_url.port == host_url.port
        )
    except ValueError:
        same = False
    if not same:
        raise _BadRequest(403, "forbidden_origin", "Cross-origin requests are not allowed.")


async def _read_limited(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise _BadRequest(413, "too_large", f"The request body is larger than {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(limit + 1 - size)
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            raise _BadRequest(413, "too_large", f"The request body is larger than {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_message(body: bytes) -> tuple[str, str | None, str | None]:
    """``(id, text, payload)`` of a request body, exactly one of text and payload set."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested thousands deep
        raise _BadRequest(400, "invalid_json", "The body must be a JSON object.") from None
    if not isinstance(data, dict):
        raise _BadRequest(400, "invalid_json", "The body must be a JSON object.")

    message_id = data.get("id")
    if not isinstance(message_id, str) or not message_id:
        raise _BadRequest(400, "missing_id", "A non-empty string id is required.")
    if len(message_id) > MAX_ID_CHARS:
        raise _BadRequest(400, "id_too_long", f"The id is longer than {MAX_ID_CHARS} characters.")

    text = data.get("text")
    payload = data.get("payload")
    if (text is None) == (payload is None):
        raise _BadRequest(400, "text_or_payload", "Send exactly one of text and payload.")
    if text is not None:
        if not isinstance(text, str):
            raise _BadRequest(400, "invalid_text", "The text must be a string.")
        if not text.strip():
            raise _BadRequest(400, "empty_text", "The text is empty.")
        if len(text) > MAX_TEXT_CHARS:
            raise _BadRequest(
                400,
                "text_too_long",
                f"The text is longer than {MAX_TEXT_CHARS} characters.",
            )
    if payload is not None and (not isinstance(payload, str) or not payload):
        raise _BadRequest(400, "invalid_payload", "The payload must be a non-empty string.")
    return message_id, text, payload


def _first_language(header: str | None) -> str | None:
    """The preferred language tag of an ``Accept-Language`` header (``"fr-CH, fr;q=0.9"`` ->
    ``"fr-CH"``): the highest quality, the first of equals; ``*`` and malformed entries skipped."""
    if not header:
        return None
    best: tuple[float, str] | None = None
    for entry in header[:1000].split(","):
        tag, _, params = entry.strip().partition(";")
        tag = tag.strip()
        if not _LANGUAGE_RE.fullmatch(tag):
            continue
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if not 0 < quality <= 1:
            continue
        if best is None or quality > best[0]:
            best = (quality, tag)
    return best[1] if best else None
