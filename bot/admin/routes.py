"""Every ``/admin`` route added to the web chat's aiohttp application."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from aiohttp import web

from bot.admin import audit, broadcasts, fieldwork, inbox, login, objectives, pages, results, survey_feedback
from bot.admin.auth import Auth, SignInLimits
from bot.admin.site import SITE_KEY, AdminSite
from bot.config import FieldworkSettings, WebLimits
from bot.health import ChannelState
from bot.keys import KeySource
from handlers.context import Community
from handlers.engagement import EngagementSettings
from storage.database import Database
from storage.media import MediaStore
from surveys.model import Survey


def add_admin_routes(
    app: web.Application,
    database: Database,
    *,
    surveys: Mapping[str, Survey],
    community: Community,
    secure_cookie: bool | None = None,
    media: MediaStore | None = None,
    channels: Callable[[], Mapping[str, bool | ChannelState]] | None = None,
    keys: KeySource | None = None,
    limits: WebLimits | None = None,
    fieldwork_settings: FieldworkSettings | None = None,
    engagement: EngagementSettings | None = None,
) -> AdminSite:
    """Add every ``/admin`` route to ``app``; returns the site (tests reach its parts). ``media``:
    the store of the files sent as answers, for the downloads with attachments; ``channels`` gives
    the channels' states (as ``/healthz``): degraded ones are shown on every page; ``keys`` gives
    the cookie key (without: a key of this process only, for tests); ``limits``: the sign-in
    attempts allowed per address and per name (None: no limit); ``fieldwork_settings``: the quiet hours and
    WhatsApp template of invitations sent from the fieldwork page; ``engagement``: the objectives
    of the Objectives page."""
    auth = Auth(database, login.refused, secure_cookie=secure_cookie, keys=keys)
    site = AdminSite(database, surveys, community, auth, media=media, sign_in_limits=SignInLimits(limits))
    if channels is not None:
        site.channels = channels
    if fieldwork_settings is not None:
        site.quiet_hours = fieldwork_settings.quiet
        site.invitation_template = fieldwork_settings.whatsapp_template
    if engagement is not None:
        site.engagement = engagement
    app[SITE_KEY] = site
    login.add_routes(app, site)

    async def stop_password_thread(_app: web.Application) -> None:
        site.password_checks.shutdown(wait=False, cancel_futures=True)

    app.on_cleanup.append(stop_password_thread)
    pages.add_routes(app, site)
    inbox.add_routes(app, site)
    broadcasts.add_routes(app, site)
    audit.add_routes(app, site)
    survey_feedback.add_routes(app, site)
    objectives.add_routes(app, site)
    fieldwork.add_routes(app, site)
    results.add_routes(app, site)
    return site
