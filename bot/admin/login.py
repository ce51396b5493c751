"""Signing in and out, the error pages of refused requests, and the static files.

Signing in: the per-address and per-name limits (``web.limits``, answered 429), then the
guess counted in the database (the lockout), then the password checked in a thread; every
failure gets the same answer. Failures and lockouts are logged and counted in ``/metrics``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from datetime import datetime

from aiohttp import web

from bot import metrics
from bot.admin.auth import FORM_KEY, PREFIX, STAFF_KEY, Forbidden, read_form, safe_next
from bot.admin.render import PAGE_HEADERS, STATIC, render, when
from bot.admin.site import AdminSite
from bot.proxies import client_address
from storage import audit
from storage.staff import (
    LOCKOUT,
    MAX_FAILED_ATTEMPTS,
    Guess,
    StaffAccount,
    StaffRepository,
    StaffSession,
    rehashed,
    verify_password,
)

log = logging.getLogger(__name__)

STATIC_FILES = {"admin.css": "text/css", "admin.js": "text/javascript"}


def add_routes(app: web.Application, site: AdminSite) -> None:
    auth = site.auth

    async def login_page(request: web.Request) -> web.StreamResponse:
        if await auth.session_of(request) is not None:
            raise web.HTTPSeeOther(safe_next(request.query.get("next")))
        token = auth.login_token(request)
        target = safe_next(request.query.get("next"))
        response = render(request, "login.html", next=target, error=None, username="", login_csrf=token)
        auth.set_login_cookie(request, response, token)
        return response

    async def login(request: web.Request) -> web.StreamResponse:
        form = await read_form(request)
        try:
            auth.check_login_form(request, form)
        except Forbidden as refusal:
            return refused(request, 403, str(refusal))
        username = str(form.get("username", "")).strip()
        password = str(form.get("password", ""))
        target = safe_next(str(form.get("next", "")))
        wait = site.sign_in_limits.wait(client_address(request), username)
        if wait > 0:
            note_throttled()
            return failed_form(request, 429, TOO_MANY, username, target, retry_after=wait)
        account = await check_sign_in(site, username, password)
        await _audit_sign_in(site, request, username, account)
        if account is None:
            return failed_form(request, 401, WRONG, username, target)
        note_success(account.username)
        redirect = web.HTTPSeeOther(target)
        await auth.start_session(request, redirect, account.username)
        raise redirect

    def failed_form(
        request: web.Request, status: int, message: str, username: str, target: str, retry_after: float = 0
    ) -> web.StreamResponse:
        """The sign-in form again, with ``message``: the same for every failure of a kind."""
        token = auth.login_token(request)
        response = render(
            request, "login.html", status=status, next=target, error=message, username=username, login_csrf=token
        )
        if retry_after:
            response.headers["Retry-After"] = str(math.ceil(retry_after))
        auth.set_login_cookie(request, response, token)
        return response

    async def logout(request: web.Request) -> web.StreamResponse:
        response = web.HTTPSeeOther(f"{PREFIX}/login")
        await auth.end_session(request, response)
        staff: StaffSession = request[STAFF_KEY]
        await audit.record_in(site.database, actor=staff.username, action=audit.SIGN_OUT, now=site.clock())
        raise response

    def static_file(name: str, content_type: str) -> web.StreamResponse:
        return web.FileResponse(STATIC / name, headers={**PAGE_HEADERS, "Content-Type": content_type})

    async def serve_static(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in STATIC_FILES:
            raise web.HTTPNotFound()
        return static_file(name, STATIC_FILES[name])

    async def root(request: web.Request) -> web.StreamResponse:
        raise web.HTTPSeeOther(f"{PREFIX}/")

    app.router.add_get(PREFIX, root)
    app.router.add_get(f"{PREFIX}/login", login_page)
    app.router.add_post(f"{PREFIX}/login", login)
    app.router.add_post(f"{PREFIX}/logout", auth.guard(logout))
    app.router.add_get(f"{PREFIX}/static/{{name}}", serve_static)


async def _audit_sign_in(site: AdminSite, request: web.Request, username: str, account: StaffAccount | None) -> None:
    """Record a sign-in or a refused one. A name that is no account is not copied into the trail
    (it may be a password typed in the wrong field): the actor is then ``unknown``."""
    details: dict[str, object] = {"address": client_address(request)}
    now = site.clock()
    async with site.sign_in_queries, site.database.transaction() as connection:
        if account is not None:
            actor, action = account.username, audit.SIGN_IN
        else:
            known = await StaffRepository(connection).get(username) if username else None
            actor, action = (known.username if known is not None else "unknown"), audit.SIGN_IN_FAILED
            locked = known is not None and known.locked_until is not None and known.locked_until > now
            details["reason"] = "locked" if locked else "wrong password or name"
            if locked and known is not None and known.locked_until is not None:
                details["locked_until"] = known.locked_until.isoformat()
        await audit.record(connection, actor=actor, action=action, now=now, details=details)


#: The one answer to a wrong name, a wrong password and a locked account (nothing to tell them apart).
WRONG = (
    f"Wrong user name or password. After {MAX_FAILED_ATTEMPTS} wrong attempts an account is locked for "
    f"{int(LOCKOUT.total_seconds() // 60)} minutes; ask an administrator to reset the password if you forgot it."
)
TOO_MANY = "Too many sign-in attempts from here or for this name: please wait a minute and try again."


async def check_sign_in(site: AdminSite, username: str, password: str) -> StaffAccount | None:
    """The account when ``password`` is right and the account not locked, else None.

    The guess is counted first (one short write transaction); the password is checked after
    it, off the event loop and outside any transaction; a right one is recorded in a second
    short transaction. An unknown name or a locked account is not checked: the answer waits as
    long as a check takes, so neither the answer nor its timing tells them from a wrong password,
    and a flood at them costs no CPU.
    """
    now = site.clock()
    guess = await _take_guess(site, username, now)
    if guess is None:
        await _as_long_as_a_check(site)
        note_failure(username, None)
        return None
    if not await _verified(site, guess.password_hash, password):
        note_failure(username, guess)
        return None
    new_hash = await asyncio.get_running_loop().run_in_executor(
        site.password_checks, rehashed, guess.password_hash, password
    )
    async with site.sign_in_queries, site.database.transaction() as connection:
        return await StaffRepository(connection).signed_in(username, now, new_hash)


async def _take_guess(site: AdminSite, username: str, now: datetime) -> Guess | None:
    """:meth:`StaffRepository.take_guess`, after a read that spares the write transaction when
    the name is unknown or the account locked (most of a flood: it does not queue the chats'
    writes behind it). The UPDATE decides: the read only saves work."""
    async with site.sign_in_queries:
        async with site.database.reading() as connection:
            account = await StaffRepository(connection).get(username)
        if account is None or (account.locked_until is not None and account.locked_until > now):
            return None
        async with site.database.transaction() as connection:
            return await StaffRepository(connection).take_guess(username, now)


async def _verified(site: AdminSite, stored: str, password: str) -> bool:
    """argon2 in the site's password thread (one check at a time, at a lower priority); how long
    it took, queue included, is what a refused sign-in waits."""
    loop = asyncio.get_running_loop()
    started = time.perf_counter()
    right = await loop.run_in_executor(site.password_checks, verify_password, stored, password)
    site.check_seconds.add(time.perf_counter() - started)
    return right


async def _as_long_as_a_check(site: AdminSite) -> None:
    """Wait as long as checking a password takes lately (without taking the CPU it takes)."""
    await asyncio.sleep(site.check_seconds.typical)


def note_success(username: str) -> None:
    log.info("dashboard: %s signed in", username)
    metrics.observe_sign_in("success")


def note_failure(username: str, guess: Guess | None) -> None:
    """Logged and counted; an unknown name is not logged (it may be a password typed in the
    wrong field), and no password ever is."""
    if guess is None:
        log.warning("dashboard: failed sign-in (unknown account or locked)")
        metrics.observe_sign_in("refused")
        return
    log.warning("dashboard: failed sign-in for %s (wrong password)", username)
    metrics.observe_sign_in("wrong_password")
    if guess.locked_until is not None:
        log.warning("dashboard: %s is locked until %s after %d failed sign-ins", username, when(guess.locked_until),
                    guess.attempt)  # fmt: skip
        metrics.observe_lockout()


def note_throttled() -> None:
    log.warning("dashboard: sign-in attempts over the limit refused")
    metrics.observe_sign_in("throttled")


def refused(request: web.Request, status: int, message: str) -> web.Response:
    request.pop(FORM_KEY, None)
    return render(request, "refused.html", status=status, message=message)
