"""What the dashboard's handlers work with: the database, the surveys, the community, sign-in."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from aiohttp import web

from bot.admin.auth import Auth
from bot.health import ChannelState
from common.clock import utc_now
from handlers.context import Community
from handlers.texts import LANGUAGE_NAMES
from storage.database import Database
from storage.media import MediaStore
from surveys.model import Survey


@dataclass
class AdminSite:
    """What the dashboard's handlers work with (one per web application)."""

    database: Database
    surveys: Mapping[str, Survey]
    community: Community
    auth: Auth
    clock: Callable[[], datetime] = utc_now
    #: Where the files of media answers are (the downloads with attachments); None: no such downloads.
    media: MediaStore | None = None
    #: The channels' states now (``/healthz`` reads the same): degraded channels are shown on every page.
    channels: Callable[[], Mapping[str, bool | ChannelState]] = field(default=lambda: {})

    def label(self, name: str, code: str | None) -> str:
        """A stored code as staff read it: ``citizen`` → "Member of the public" (the choice's label
        in the onboarding file, in its default language), ``fr`` → "Français", ``telegram`` →
        "Telegram"; a code without a label is written out ("national_accounts" → "National accounts")."""
        if code is None or code == "":
            return "not given"
        if name == "language" and code in LANGUAGE_NAMES:
            return LANGUAGE_NAMES[code]
        if name == "channel":
            return CHANNEL_NAMES.get(code, code)
        onboarding = self.community.onboarding
        if onboarding is not None and onboarding.has_question(name):
            choice = onboarding.question(name).choice(code)
            if choice is not None:
                return choice.label.in_language(onboarding.default_language, onboarding.default_language)
        return code.replace("_", " ").capitalize()

    def labelled(self, name: str, codes: Mapping[str | None, int]) -> list[tuple[str, int]]:
        """``(label, count)`` of counts by code, for a chart."""
        return [(self.label(name, code), count) for code, count in codes.items()]

    def degraded_channels(self) -> list[ChannelState]:
        """The channels that do not reach their platform now (for the banner of every page)."""
        return [state for state in self.channels().values() if isinstance(state, ChannelState) and not state.up]


#: Where ``add_admin_routes`` keeps the site in the web application (pages read the channels' states).
SITE_KEY: web.AppKey[AdminSite] = web.AppKey("baraza_admin_site", AdminSite)

CHANNEL_NAMES = {"telegram": "Telegram", "whatsapp": "WhatsApp", "web": "Web chat", "webchat": "Web chat"}
