"""The staff dashboard at ``/admin``: engagement, survey results, the request inbox and broadcasts.

Server-rendered pages (Jinja2 templates in ``templates/``, a stylesheet and a small script in
``static/``, nothing from elsewhere). :func:`add_admin_routes` adds them to the web chat's
aiohttp application; signing in, sessions and CSRF are in :mod:`bot.admin.auth`, the numbers
come from :mod:`storage.dashboard` and the existing repositories, and staff actions reuse
:mod:`handlers.request_desk` and :class:`storage.broadcasts.BroadcastRepository`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web

from bot.admin.auth import Auth
from common.clock import utc_now
from handlers.context import Community
from storage.database import Database
from surveys.model import Survey


@dataclass
class AdminSite:
    """What the dashboard's handlers work with."""

    database: Database
    surveys: Mapping[str, Survey]
    community: Community
    auth: Auth
    clock: Callable[[], datetime] = utc_now


def add_admin_routes(
    app: web.Application,
    database: Database,
    *,
    surveys: Mapping[str, Survey],
    community: Community,
    secure_cookie: bool | None = None,
) -> AdminSite:
    """Add every ``/admin`` route to ``app``; returns the site (tests reach its parts)."""
    from bot.admin import broadcasts, inbox, login, pages

    site = AdminSite(database, surveys, community, Auth(database, login.refused, secure_cookie=secure_cookie))
    login.add_routes(app, site)
    pages.add_routes(app, site)
    inbox.add_routes(app, site)
    broadcasts.add_routes(app, site)
    return site
