"""What the dashboard's handlers work with: the database, the surveys, the community, sign-in."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from bot.admin.auth import Auth, SignInLimits
from common.clock import utc_now
from handlers.context import Community
from storage.database import Database
from surveys.model import Survey

#: At most this many password checks run at once (in threads): a flood cannot take every core.
PASSWORD_CHECKS_AT_ONCE = 2


@dataclass
class AdminSite:
    """What the dashboard's handlers work with (one per web application)."""

    database: Database
    surveys: Mapping[str, Survey]
    community: Community
    auth: Auth
    clock: Callable[[], datetime] = utc_now
    #: Password checks running now (argon2: ~64 MB and tens of milliseconds each).
    password_checks: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(PASSWORD_CHECKS_AT_ONCE))
    #: Sign-in attempts per address and per name (none without ``web.limits``).
    sign_in_limits: SignInLimits = field(default_factory=lambda: SignInLimits(None))
