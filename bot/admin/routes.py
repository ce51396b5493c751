"""Every ``/admin`` route added to the web chat's aiohttp application."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from bot.admin import audit, broadcasts, inbox, login, pages
from bot.admin.auth import Auth
from bot.admin.site import AdminSite
from bot.keys import KeySource
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
    keys: KeySource | None = None,
) -> AdminSite:
    """Add every ``/admin`` route to ``app``; returns the site (tests reach its parts). ``keys``
    gives the cookie key (without: a key of this process only, for tests)."""
    auth = Auth(database, login.refused, secure_cookie=secure_cookie, keys=keys)
    site = AdminSite(database, surveys, community, auth)
    login.add_routes(app, site)
    pages.add_routes(app, site)
    inbox.add_routes(app, site)
    broadcasts.add_routes(app, site)
    audit.add_routes(app, site)
    return site
