"""Signing in and out, the error pages of refused requests, and the static files."""

from __future__ import annotations

import logging

from aiohttp import web

from bot.admin.auth import FORM_KEY, PREFIX, Forbidden, read_form, safe_next
from bot.admin.render import PAGE_HEADERS, STATIC, render, when
from bot.admin.site import AdminSite
from storage.staff import StaffRepository

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
        async with site.database.transaction() as connection:
            result = await StaffRepository(connection).login(username, password, site.clock())
        if result.account is not None:
            log.info("dashboard: %s signed in", result.account.username)
            redirect = web.HTTPSeeOther(target)
            await auth.start_session(request, redirect, result.account.username)
            raise redirect
        if result.locked_until is not None:
            message = (
                f"Too many wrong passwords: this account is locked until {when(result.locked_until)}. "
                "Ask an administrator to reset the password if you forgot it."
            )
        else:
            message = "Wrong user name or password."
        token = auth.login_token(request)
        response = render(
            request, "login.html", status=401, next=target, error=message, username=username, login_csrf=token
        )
        auth.set_login_cookie(request, response, token)
        return response

    async def logout(request: web.Request) -> web.StreamResponse:
        response = web.HTTPSeeOther(f"{PREFIX}/login")
        await auth.end_session(request, response)
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


def refused(request: web.Request, status: int, message: str) -> web.Response:
    request.pop(FORM_KEY, None)
    return render(request, "refused.html", status=status, message=message)
