"""What the dashboard's handlers work with: the database, the surveys, the community, sign-in."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from aiohttp import web

from bot.admin.auth import Auth, SignInLimits
from bot.health import ChannelState
from common.clock import utc_now
from handlers.context import Community
from handlers.engagement import EngagementSettings
from handlers.invitations import QuietHours
from handlers.notices import WhatsAppTemplate
from handlers.texts import LANGUAGE_NAMES
from storage.database import Database
from storage.media import MediaStore
from storage.staff import dummy_hash
from surveys.model import Survey

#: At most this many password checks run at once (in a thread): a flood cannot take every core.
PASSWORD_CHECKS_AT_ONCE = 1
#: At most this many sign-ins use the database at once.
SIGN_IN_QUERIES_AT_ONCE = 2


def _lower_priority() -> None:
    """Run this thread at a lower CPU priority (Linux sets it per thread): a chat's reply goes
    before a password check when the cores are busy."""
    # Not Linux, or not allowed: the normal priority then.
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


def password_checker() -> ThreadPoolExecutor:
    """The thread that checks passwords (argon2), one at a time, at a lower priority."""
    return ThreadPoolExecutor(PASSWORD_CHECKS_AT_ONCE, "password-check", initializer=_lower_priority)


class Durations:
    """A moving average of how long something takes (the password checks)."""

    def __init__(self, first: float, weight: float = 0.2) -> None:
        self.weight = weight
        self.typical = first

    def add(self, seconds: float) -> None:
        self.typical += self.weight * (seconds - self.typical)


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
    #: Password checks running now (argon2: ~64 MB and tens of milliseconds each).
    password_checks: ThreadPoolExecutor = field(default_factory=password_checker)
    #: Database connections sign-ins may hold at once: a flood leaves the pool to the chats.
    sign_in_queries: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(SIGN_IN_QUERIES_AT_ONCE))
    #: How long a password check takes (a refused sign-in waits as long).
    check_seconds: Durations = field(default_factory=lambda: Durations(dummy_hash().seconds))
    #: Sign-in attempts per address and per name (none without ``web.limits``).
    sign_in_limits: SignInLimits = field(default_factory=lambda: SignInLimits(None))
    #: The office's quiet hours and WhatsApp template for invitations (``fieldwork:`` in config.yaml).
    quiet_hours: QuietHours = field(default_factory=QuietHours)
    invitation_template: WhatsAppTemplate | None = None
    #: The office's engagement objectives (``engagement:`` in config.yaml), for the Objectives page.
    engagement: EngagementSettings = field(default_factory=EngagementSettings)

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

    def survey_of(self, request: web.Request) -> Survey:
        """The survey the path names (``{survey}``); 404 when there is no such survey."""
        survey = self.surveys.get(request.match_info["survey"])
        if survey is None:
            raise web.HTTPNotFound(text="There is no such survey.")
        return survey

    def degraded_channels(self) -> list[ChannelState]:
        """The channels that do not reach their platform now (for the banner of every page)."""
        return [state for state in self.channels().values() if isinstance(state, ChannelState) and not state.up]


#: Where ``add_admin_routes`` keeps the site in the web application (pages read the channels' states).
SITE_KEY: web.AppKey[AdminSite] = web.AppKey("baraza_admin_site", AdminSite)

CHANNEL_NAMES = {"telegram": "Telegram", "whatsapp": "WhatsApp", "web": "Web chat", "webchat": "Web chat"}
