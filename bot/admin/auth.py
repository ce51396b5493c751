"""Sign-in, sessions and CSRF protection of the dashboard.

* The session cookie (``baraza_admin``, HttpOnly, SameSite=Strict, path ``/admin``) holds a
  random token and its HMAC under the installation's cookie key (``BARAZA_COOKIE_KEY`` or the
  key file, :mod:`bot.keys`; never the database): a forged or altered cookie is refused before the database
  is asked. The session itself is a row (:mod:`storage.staff`), so every worker sees it and
  signing out ends it everywhere.
* Every form carries the session's CSRF token; a POST without the right one, or from another
  origin, is refused with 403. The sign-in form, made before there is a session, uses a
  double-submit token (a cookie and a hidden field that must match).
* Nothing under ``/admin`` answers without a session: a page redirects to the sign-in form, a
  POST or a JSON request gets 401. A ``viewer`` cannot post (403).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from aiohttp import web
from multidict import MultiDictProxy
from yarl import URL

from bot.config import WebLimits
from bot.keys import PROCESS_COOKIE_KEY, KeySource, load_cookie_key
from bot.limits import KeyedBuckets
from common.clock import utc_now
from common.constant_time import same_secret
from common.errors import BarazaError
from storage.database import Database
from storage.staff import SESSION_LIFETIME, StaffRepository, StaffSession

SESSION_COOKIE = "baraza_admin"
LOGIN_COOKIE = "baraza_admin_login"
PREFIX = "/admin"
MAX_FORM_BYTES = 64 * 1024

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: Makes the page of a refused request: (request, status, message).
Refusal = Callable[[web.Request, int, str], web.StreamResponse]
# Typed request keys from aiohttp 3.14 (plain strings before, which 3.14 warns about).
STAFF_KEY: Any = web.RequestKey("baraza_staff", StaffSession) if hasattr(web, "RequestKey") else "baraza_staff"
FORM_KEY: Any = web.RequestKey("baraza_form", MultiDictProxy) if hasattr(web, "RequestKey") else "baraza_form"


class Forbidden(BarazaError):
    """A request refused with 403 (forged form, wrong origin, not allowed for the role)."""


async def cookie_key(database: Database, keys: KeySource | None) -> bytes:
    """The installation's key for signing cookies (``BARAZA_COOKIE_KEY`` or the key file, see
    :mod:`bot.keys`); without ``keys`` (a dashboard made in code) a key of this process only."""
    if keys is None:
        return PROCESS_COOKIE_KEY
    return await load_cookie_key(database, keys)


def sign(key: bytes, token: str) -> str:
    mac = hmac.new(key, token.encode(), hashlib.sha256).digest()
    return f"{token}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"


def unsign(key: bytes, value: str | None) -> str | None:
    """The token of a correctly signed cookie value, else None."""
    if not value or "." not in value or len(value) > 200 or not value.isascii():
        return None
    token = value.rsplit(".", 1)[0]
    return token if same_secret(sign(key, token), value) else None


def same_origin(request: web.Request) -> bool:
    """A browser's ``Origin`` (or, without it, ``Referer``), when sent, must be this host."""
    origin = request.headers.get("Origin") or request.headers.get("Referer")
    if origin is None:
        return True
    try:
        seen = URL(origin)
        host = URL(f"{seen.scheme}://{request.host}")
    except ValueError:
        return False
    return (
        seen.scheme in ("http", "https")
        and seen.host is not None
        and seen.host.lower() == (host.host or "").lower()
        and seen.port == host.port
    )


async def read_form(request: web.Request) -> MultiDictProxy[Any]:
    """The posted form; a body that is not a readable form (bytes that are not UTF-8, broken
    multipart) is a 400, never a 500."""
    try:
        return await request.post()
    except (UnicodeDecodeError, ValueError):
        raise web.HTTPBadRequest(text="The form could not be read.", headers={"Cache-Control": "no-store"}) from None


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a dashboard path only (never another site)."""
    if target and target.startswith(PREFIX) and not target.startswith("//") and "\\" not in target:
        return target
    return PREFIX + "/"


class SignInLimits:
    """Sign-in attempts per client address and per user name (known or not), before any check."""

    def __init__(self, limits: WebLimits | None) -> None:
        self.enabled = limits is not None and limits.enabled
        limits = limits or WebLimits()
        self.per_address = KeyedBuckets(limits.login_per_address)
        self.per_account = KeyedBuckets(limits.login_per_account)

    def wait(self, address: str, username: str) -> float:
        """0 when the attempt may go on, else the seconds to wait."""
        if not self.enabled:
            return 0.0
        return self.per_address.take(address) or self.per_account.take(username.casefold()[:200])


class Auth:
    """Session lookup and the guards of the dashboard's handlers."""

    def __init__(
        self, database: Database, refused: Refusal, *, secure_cookie: bool | None = None, keys: KeySource | None = None
    ) -> None:
        self.database = database
        self.keys = keys
        self.refused = refused
        self.secure_cookie = secure_cookie
        self._key: bytes | None = None

    async def key(self) -> bytes:
        if self._key is None:
            self._key = await cookie_key(self.database, self.keys)
        return self._key

    def _secure(self, request: web.Request) -> bool:
        return request.secure if self.secure_cookie is None else self.secure_cookie

    async def session_of(self, request: web.Request) -> StaffSession | None:
        token = unsign(await self.key(), request.cookies.get(SESSION_COOKIE))
        if token is None:
            return None
        async with self.database.reading() as connection:
            return await StaffRepository(connection).session(token, utc_now())

    async def start_session(self, request: web.Request, response: web.StreamResponse, username: str) -> None:
        async with self.database.transaction() as connection:
            token = await StaffRepository(connection).open_session(username, utc_now())
        response.set_cookie(
            SESSION_COOKIE,
            sign(await self.key(), token),
            max_age=int(SESSION_LIFETIME.total_seconds()),
            path=PREFIX,
            httponly=True,
            samesite="Strict",
            secure=self._secure(request),
        )
        response.del_cookie(LOGIN_COOKIE, path=PREFIX)

    async def end_session(self, request: web.Request, response: web.StreamResponse) -> None:
        token = unsign(await self.key(), request.cookies.get(SESSION_COOKIE))
        if token is not None:
            async with self.database.transaction() as connection:
                await StaffRepository(connection).close_session(token)
        response.del_cookie(SESSION_COOKIE, path=PREFIX)

    @staticmethod
    def login_token(request: web.Request) -> str:
        """The double-submit token of the sign-in form (the cookie's while it lives)."""
        token = request.cookies.get(LOGIN_COOKIE)
        if token is None or len(token) != 43:
            token = secrets.token_urlsafe(32)
        return token

    def set_login_cookie(self, request: web.Request, response: web.StreamResponse, token: str) -> None:
        response.set_cookie(
            LOGIN_COOKIE,
            token,
            max_age=3600,
            path=PREFIX,
            httponly=True,
            samesite="Strict",
            secure=self._secure(request),
        )

    def check_login_form(self, request: web.Request, form: MultiDictProxy[Any]) -> None:
        cookie = request.cookies.get(LOGIN_COOKIE, "")
        field = str(form.get("csrf", ""))
        if not same_origin(request) or not same_secret(field, cookie):
            raise Forbidden("the sign-in form is not from this site, or too old: load it again")

    def guard(self, handler: Handler, *, edit: bool = False) -> Handler:
        """``handler`` only for a signed-in member of staff; POSTs need the CSRF token, and
        ``edit`` handlers the ``editor`` role. The session is in ``request[STAFF_KEY]``, a
        POST's form in ``request[FORM_KEY]``."""

        async def guarded(request: web.Request) -> web.StreamResponse:
            try:
                return await checked(request)
            except Forbidden as error:
                request.pop(FORM_KEY, None)
                return self.refused(request, 403, str(error))

        async def checked(request: web.Request) -> web.StreamResponse:
            session = await self.session_of(request)
            if session is None:
                wants_json = "application/json" in request.headers.get("Accept", "")
                if request.method == "GET" and not wants_json:
                    raise web.HTTPSeeOther(f"{PREFIX}/login?next={quote(request.path_qs, safe='')}")
                raise web.HTTPUnauthorized(text="Sign in first.", headers={"Cache-Control": "no-store"})
            if request.method == "POST":
                if request.content_length is not None and request.content_length > MAX_FORM_BYTES:
                    raise web.HTTPRequestEntityTooLarge(MAX_FORM_BYTES, request.content_length)
                form = await read_form(request)
                field = str(form.get("csrf", ""))
                if not same_origin(request) or not same_secret(field, session.csrf_token):
                    raise Forbidden("this form is not from this site, or from an earlier session: load the page again")
                if edit and not session.can_edit:
                    raise Forbidden("your account can view the dashboard but not change anything (role viewer)")
                request[FORM_KEY] = form
            elif edit and not session.can_edit:
                raise Forbidden("your account can view the dashboard but not change anything (role viewer)")
            request[STAFF_KEY] = session
            return await handler(request)

        return guarded
