"""Every ``/admin`` route added to the web chat's aiohttp application."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from bot.admin import broadcasts, inbox, login, pages
from bot.admin.auth import Auth, SignInLimits
from bot.admin.site import AdminSite
from bot.config import WebLimits
from handlers.context import Community
from storage.database import Database
from surveys.model import Survey


def add_admin_routes(
    app: web.Application,
    database: Database,
    *,
    surveys: Mapping[str, Survey],
    community: Community,
    secure_cookie: bool | None = None,
    limits: WebLimits | None = None,
) -> AdminSite:
    """Add every ``/admin`` route to ``app``; returns the site (tests reach its parts).
    ``limits``: the sign-in attempts allowed per address and per name (None: no limit)."""
    auth = Auth(database, login.refused, secure_cookie=secure_cookie)
    site = AdminSite(database, surveys, community, auth, sign_in_limits=SignInLimits(limits))
    login.add_routes(app, site)

    async def stop_password_thread(_app: web.Application) -> None:
        site.password_checks.shutdown(wait=False, cancel_futures=True)

    app.on_cleanup.append(stop_password_thread)
    pages.add_routes(app, site)
    inbox.add_routes(app, site)
    broadcasts.add_routes(app, site)
    return site
