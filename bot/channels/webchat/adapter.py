"""The web chat channel: a browser page and a small JSON API on aiohttp.

The page (``static/``) posts each message, button press or shared location to
``POST /api/messages`` and each file to ``POST /api/upload``; the adapter turns it into an
:class:`~handlers.messages.Inbound`, hands it to the core and answers the core's
:class:`~handlers.messages.Outbound` replies as JSON (:mod:`bot.channels.webchat.rendering`)::

    request:  {"id": "<client message id>", "text": "..."}
          or  {"id": "<client message id>", "payload": "<button payload>"}
          or  {"id": "<client message id>",
               "location": {"latitude": -1.29, "longitude": 36.82, "altitude": 1661, "accuracy": 12}}
    upload:   multipart/form-data with the fields "id", "kind" (image, audio, video or file;
              optional: from the file's type) and "file" (the file, at most ``max_upload_bytes``)
    response: {"messages": [{"text": "...",
                             "buttons": [[{"label": "...", "payload": "..."}]],
                             "attachment": {"kind", "filename", "mime_type", "data_url"} | null,
                             "replaces_pressed": false,
                             "expects": "image" | "geopoint" | ... | null,
                             "location_button": "<label of the share-location button>" | null}],
               "max_upload_bytes": 10485760,
               "interface": {"lang", "dir", "placeholder", "send", ...}}
              (a link button is {"label", "url", "payload": ""}: the page opens it, never posts it;
              "interface" is the page's own words in the conversation's language)
    errors:   {"error": "<code>", "message": "<English explanation>"} with a 4xx/5xx status

The user is known by an opaque random token in the ``baraza_session`` cookie (HttpOnly,
SameSite=Strict; in a frame on the office's website, ``/embed``, SameSite=None; Secure;
Partitioned: :mod:`bot.channels.webchat.embed`); a hash of it is both ``user_key`` and ``chat_key``. A hash of the token and
the client's message id is the ``update_key``, so a retried post is processed once by the core.
Only the server makes sessions: the cookie is ``<token>.<HMAC of the token>`` under the
installation's cookie key, and a cookie the server did not sign (planted by someone who wants
to read the victim's ``/profile`` later) is replaced by a fresh session, never adopted.

Per-client limits (``web.limits``): messages per client address and per session, and new
sessions per address; a request over a limit gets 429 with ``Retry-After`` and reaches nothing.

An upload needs the session cookie the page already has (a cross-site form, which the browser
sends without it, is refused) and the same ``Origin`` check as a message; its body is read as a
stream and refused with 413 as soon as the file passes the limit, before it is all read.

Message texts and session tokens are never logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import logging
import math
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from yarl import URL

from bot import metrics
from bot.channels.webchat.embed import embed_script, frame_ancestors, img_sources, script_json
from bot.channels.webchat.rendering import interface, serialize_outbound
from bot.config import EmbedSettings, WebLimits
from bot.keys import PROCESS_COOKIE_KEY
from bot.limits import KeyedBuckets
from bot.proxies import client_address
from common.clock import utc_now
from common.constant_time import same_secret
from common.errors import BarazaError
from handlers.messages import UPLOAD_KINDS, Inbound, Location, MessageProcessor, Upload

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"

SESSION_COOKIE = "baraza_session"
#: Default lifetime of the session cookie: a survey may be answered over several days.
SESSION_MAX_AGE = 30 * 24 * 3600
MAX_BODY_BYTES = 16 * 1024
MAX_TEXT_CHARS = 4096
MAX_ID_CHARS = 100
#: Default size limit of one uploaded file (a phone photo is 2-6 MB, a short video more).
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
#: What a multipart body may carry besides the file: boundaries, part headers, id and kind.
UPLOAD_OVERHEAD = 16 * 1024
MAX_FIELD_BYTES = 200
MAX_FILENAME_CHARS = 255

# secrets.token_urlsafe(32) gives 43 characters of the URL-safe base64 alphabet.
_SESSION_BYTES = 32
_SESSION_RE = re.compile(r"[A-Za-z0-9_-]{43}")
_LANGUAGE_RE = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")
_MIME_RE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")

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


def _page_headers(embed: EmbedSettings, *, framed: bool) -> dict[str, str]:
    """The chat page's headers: never framed, or (``/embed``) framed by the allowed origins only."""
    ancestors = frame_ancestors(embed) if framed else "'none'"
    headers = {
        **_PAGE_HEADERS,
        "Content-Security-Policy": (
            f"default-src 'none'; script-src 'self'; style-src 'self'; img-src {img_sources(embed)}; "
            f"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors {ancestors}"
        ),
    }
    if framed:
        del headers["X-Frame-Options"]  # frame-ancestors says who may frame it (XFO cannot list origins)
    return headers


def _page(embed: EmbedSettings, *, framed: bool) -> str:
    """The chat page with the office's look: its name, and the look as data for ``chat.js``."""
    template = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    name = html.escape(embed.office_name)
    look = f'<script type="application/json" id="baraza-look">{script_json(embed.look())}</script>\n'
    page = template.replace("<title>Baraza</title>", f"<title>{name}</title>", 1)
    page = page.replace("<h1>Baraza</h1>", f"<h1>{name}</h1>", 1)
    page = page.replace("</head>", look + "</head>", 1)
    if framed:
        page = page.replace('<html lang="en">', '<html lang="en" data-embed="1">', 1)
    return page


_API_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}

_STATIC_FILES = {
    "chat.js": "text/javascript",
    "chat.css": "text/css",
    "push.js": "text/javascript",  # browser notifications; their API: bot/channels/webchat/push.py
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


@dataclass(frozen=True)
class _Message:
    """What a post carries: its client id and exactly one of the four kinds of content."""

    id: str
    text: str | None = None
    payload: str | None = None
    location: Location | None = None
    upload: Upload | None = None

    @property
    def kind(self) -> str:
        """What it is, for the log (never the content)."""
        if self.upload is not None:
            return f"{self.upload.kind} upload"
        return "text" if self.text is not None else "payload" if self.payload is not None else "location"


def add_webchat_routes(
    app: web.Application,
    processor: MessageProcessor,
    *,
    channel: str = "web",
    secure_cookie: bool | None = None,
    session_max_age: int | None = SESSION_MAX_AGE,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
    embed: EmbedSettings | None = None,
    session_key: SessionKey | None = None,
    limits: WebLimits | None = None,
) -> None:
    """Add the chat page (``GET /``, ``/static/chat.js``, ``/static/chat.css``),
    ``POST /api/messages`` and ``POST /api/upload`` to ``app``; every message goes to ``processor``.

    ``secure_cookie``: mark the session cookie ``Secure``; ``None`` decides per request
    (``request.secure``: behind a TLS proxy listed in ``web.trusted_proxies``, the scheme the
    browser used, see :mod:`bot.proxies`).
    ``session_max_age``: cookie lifetime in seconds, ``None`` for a browser-session cookie.
    ``max_upload_bytes``: the largest file ``/api/upload`` accepts (413 beyond; the media store's
    own limits by type come after).
    ``embed``: the office's look, and the websites that may embed the chat (``GET /embed``, the
    framed page, and ``GET /embed.js``, the snippet's script, exist only when some may;
    :mod:`bot.channels.webchat.embed`).
    ``session_key``: the key that signs session cookies (shared by every worker); without it, a
    key of this process only. ``limits``: the per-client limits; None: no limits.
    """
    keys = SessionKeys(session_key)
    limiter = ChatLimits(limits) if limits is not None and limits.enabled else None
    look = embed or EmbedSettings()
    page = _page(look, framed=False)
    framed_page = _page(look, framed=True)
    page_headers = _page_headers(look, framed=False)
    framed_headers = _page_headers(look, framed=True)
    script = embed_script(look)

    def set_session_cookie(
        request: web.Request, response: web.StreamResponse, token: str, *, framed: bool = False
    ) -> None:
        if framed and look.enabled:
            # In a frame on the office's website this is a third-party cookie: browsers send it
            # there only as SameSite=None, which needs Secure; Partitioned keeps it to that site.
            # (Written by hand: Python's http.cookies knows Partitioned only from 3.14.)
            lifetime = "" if session_max_age is None else f"; Max-Age={session_max_age}"
            response.headers.add(
                "Set-Cookie",
                f"{SESSION_COOKIE}={token}{lifetime}; Path=/; HttpOnly; SameSite=None; Secure; Partitioned",
            )
            return
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

    def chat_page(framed: bool) -> Handler:
        async def serve(request: web.Request) -> web.StreamResponse:
            if framed and not look.enabled:
                raise web.HTTPNotFound()
            key = await keys.get()
            token = _session_from(request, key)
            if token is None and limiter is not None:
                try:
                    limiter.new_session(client_address(request))
                except _BadRequest as error:
                    return _error(error.status, error.code, error.message, error.retry_after)
            response = web.Response(
                text=framed_page if framed else page,
                content_type="text/html",
                charset="utf-8",
                headers=framed_headers if framed else page_headers,
            )
            # Created (or its lifetime renewed) on the first request, so the page's first post
            # already carries it.
            set_session_cookie(request, response, _signed(key, token or _new_session()), framed=framed)
            return response

        return serve

    async def embed_js(request: web.Request) -> web.StreamResponse:
        if not look.enabled:
            raise web.HTTPNotFound()
        # A classic <script src> needs no CORS; CORP lets pages with COEP load it too.
        headers = {
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "max-age=300",
            "Cross-Origin-Resource-Policy": "cross-origin",
        }
        return web.Response(text=script, content_type="text/javascript", charset="utf-8", headers=headers)

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
            message = _parse_message(body)
        except _BadRequest as error:
            return _error(error.status, error.code, error.message, error.retry_after)
        return await answer(request, key, token, message)

    async def post_upload(request: web.Request) -> web.StreamResponse:
        key = await keys.get()
        try:
            _check_origin(request)
            session = _session_from(request, key)
            if session is None:
                raise _BadRequest(403, "no_session", "Open the chat page first: a file is sent in its conversation.")
            if limiter is not None:
                limiter.message(client_address(request), session)
            if request.content_type != "multipart/form-data":
                raise _BadRequest(415, "unsupported_media_type", "Content-Type must be multipart/form-data.")
            if request.content_length is not None and request.content_length > max_upload_bytes + UPLOAD_OVERHEAD:
                raise _too_large(max_upload_bytes)
            message = await _read_upload(request, max_upload_bytes)
        except _BadRequest as error:
            return _error(error.status, error.code, error.message, error.retry_after)
        return await answer(request, key, session, message)

    async def answer(request: web.Request, key: bytes, token: str | None, message: _Message) -> web.StreamResponse:
        """Hand ``message`` to the core and answer its replies (or the failure) as JSON, renewing
        the session cookie signed with ``key``."""
        new_session = token is None
        session = token or _new_session()
        # The cookie is a bearer secret: the core only ever sees a hash of it, and the client's
        # message id is scoped to the session so one browser cannot replay another's ids.
        user_key = session_user_key(session)
        inbound = Inbound(
            channel=channel,
            user_key=user_key,
            chat_key=user_key,
            update_key=session_update_key(session, message.id),
            text=message.text,
            payload=message.payload,
            location=message.location,
            upload=message.upload,
            language_hint=_first_language(request.headers.get("Accept-Language")),
            received_at=utc_now(),
        )
        try:
            replies = await processor.handle(inbound)
        except Exception:
            # The traceback, never the inbound: it holds the user's text and session.
            logger.exception("webchat: processing update %r failed", message.id)
            response = _error(500, "internal_error", "The message could not be processed.")
        else:
            logger.debug(
                "webchat: update %r (%s, new session: %s) -> %d replies",
                message.id,
                message.kind,
                new_session,
                len(replies),
            )
            body: dict[str, Any] = {
                "messages": [serialize_outbound(reply) for reply in replies],
                "max_upload_bytes": max_upload_bytes,
            }
            language = next((reply.language for reply in reversed(replies) if reply.language), None)
            if language is not None:
                body["interface"] = interface(language)
            response = web.json_response(body, headers=_API_HEADERS)
        set_session_cookie(request, response, _signed(key, session), framed=request.query.get("embed") == "1")
        return response

    app.router.add_get("/", chat_page(False))
    app.router.add_get("/embed", chat_page(True))
    app.router.add_get("/embed.js", embed_js)
    for name, content_type in _STATIC_FILES.items():
        app.router.add_get(f"/static/{name}", static_file(name, content_type))
    app.router.add_post("/api/messages", post_message)
    app.router.add_post("/api/upload", post_upload)


def _error(status: int, code: str, message: str, retry_after: float | None = None) -> web.Response:
    headers = dict(_API_HEADERS)
    if retry_after is not None:
        headers["Retry-After"] = str(int(retry_after))
    return web.json_response({"error": code, "message": message}, status=status, headers=headers)


class SessionKeys:
    """The signing key: the one given (read once), or this process's own (:data:`bot.keys.PROCESS_COOKIE_KEY`,
    the dashboard's too) when none is given."""

    def __init__(self, source: SessionKey | None) -> None:
        self._source = source
        self._key: bytes | None = None if source is not None else PROCESS_COOKIE_KEY

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


def _parse_message(body: bytes) -> _Message:
    """The message of a request body: its id and exactly one of text, payload and location."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested thousands deep
        raise _BadRequest(400, "invalid_json", "The body must be a JSON object.") from None
    if not isinstance(data, dict):
        raise _BadRequest(400, "invalid_json", "The body must be a JSON object.")

    message_id = _message_id(data.get("id"))
    text = data.get("text")
    payload = data.get("payload")
    location = data.get("location")
    if sum(value is not None for value in (text, payload, location)) != 1:
        raise _BadRequest(400, "text_or_payload", "Send exactly one of text, payload and location.")
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
    if payload is not None and not isinstance(payload, str):
        raise _BadRequest(400, "invalid_payload", "The payload must be a string.")
    # An empty or unknown payload (a page of an older version, a link button) goes to the core,
    # which answers it in the person's language like any stale button.
    return _Message(message_id, text, payload, None if location is None else _parse_location(location))


def _message_id(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise _BadRequest(400, "missing_id", "A non-empty string id is required.")
    if len(value) > MAX_ID_CHARS:
        raise _BadRequest(400, "id_too_long", f"The id is longer than {MAX_ID_CHARS} characters.")
    return value


def _parse_location(value: object) -> Location:
    """A shared position: latitude and longitude in degrees, altitude and accuracy in metres
    when the browser gave them (``navigator.geolocation``'s ``coords``)."""
    if not isinstance(value, dict):
        raise _BadRequest(400, "invalid_location", "The location must be an object with latitude and longitude.")
    latitude = _coordinate(value, "latitude", -90, 90, required=True)
    longitude = _coordinate(value, "longitude", -180, 180, required=True)
    assert latitude is not None and longitude is not None
    altitude = _coordinate(value, "altitude", -12_000, 100_000)
    accuracy = _coordinate(value, "accuracy", 0, 10_000_000)
    return Location(latitude, longitude, altitude, accuracy)


def _coordinate(data: dict[str, Any], name: str, low: float, high: float, *, required: bool = False) -> float | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _BadRequest(400, "invalid_location", f"The location's {name} must be a number.")
    try:
        number = float(value)  # a whole number too large for a float raises OverflowError
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise _BadRequest(400, "invalid_location", f"The location's {name} must be a finite number.")
    if not low <= number <= high:
        raise _BadRequest(400, "invalid_location", f"The location's {name} must be between {low} and {high}.")
    return number


def _too_large(limit: int) -> _BadRequest:
    return _BadRequest(413, "too_large", f"The file is larger than {_megabytes(limit)}; please send a smaller one.")


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.3g} MB" if size >= 1024 * 1024 else f"{size // 1024} KB"


async def _read_part(part: BodyPartReader, limit: int) -> bytes | None:
    """The part's content, or None as soon as it passes ``limit`` bytes (the rest left unread)."""
    chunks: list[bytes] = []
    size = 0
    # Chunks of a fixed size: aiohttp needs a chunk longer than the boundary; at most one chunk
    # beyond the limit is read.
    while chunk := await part.read_chunk(64 * 1024):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_upload(request: web.Request, limit: int) -> _Message:
    """The id, kind and file of a multipart upload, the file read in chunks up to ``limit``."""
    fields: dict[str, str] = {}
    file: tuple[bytes, str, str | None] | None = None
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise _BadRequest(400, "invalid_upload", "Nested multipart bodies are not accepted.")
            if part.name == "file":
                if file is not None:
                    raise _BadRequest(400, "invalid_upload", "Send one file at a time.")
                content = await _read_part(part, limit)
                if content is None:
                    raise _too_large(limit)
                file = (content, _mime_type(part.headers.get("Content-Type")), _filename(part.filename))
            elif part.name in ("id", "kind") and part.name not in fields:
                value = await _read_part(part, MAX_FIELD_BYTES)
                if value is None:
                    raise _BadRequest(400, "invalid_upload", f"The field {part.name} is too long.")
                fields[part.name] = value.decode("utf-8")
            else:
                # Nothing else is read, so the body cannot grow past the file's limit and the fields'.
                raise _BadRequest(400, "invalid_upload", "The form has fields other than id, kind and file.")
    except (HttpProcessingError, ValueError, AssertionError, RuntimeError, LookupError) as error:
        # aiohttp's multipart reader says "malformed" with these (UnicodeDecodeError is a ValueError).
        raise _BadRequest(400, "invalid_upload", "The body is not a well-formed multipart form.") from error
    message_id = _message_id(fields.get("id"))
    if file is None:
        raise _BadRequest(400, "missing_file", "The form has no file.")
    content, mime_type, filename = file
    if not content:
        raise _BadRequest(400, "empty_file", "The file is empty.")
    kind = fields.get("kind") or _kind_of(mime_type)
    if kind not in UPLOAD_KINDS:
        raise _BadRequest(400, "invalid_kind", f"The kind must be one of {', '.join(UPLOAD_KINDS)}.")
    return _Message(message_id, upload=Upload(kind, content, mime_type, filename))


def _mime_type(header: str | None) -> str:
    """The part's media type as the browser gave it, lower-case without parameters; a missing or
    malformed one is ``application/octet-stream`` (the media store checks the content itself)."""
    mime = (header or "").split(";", 1)[0].strip().lower()
    return mime if _MIME_RE.fullmatch(mime) else "application/octet-stream"


def _kind_of(mime_type: str) -> str:
    major = mime_type.split("/", 1)[0]
    return major if major in ("image", "audio", "video") else "file"


def _filename(name: str | None) -> str | None:
    """The name as sent, without any folder, shortened; never used to name the stored file."""
    if not name:
        return None
    base = re.split(r"[\\/]", name)[-1].strip()
    return base[:MAX_FILENAME_CHARS] or None


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
