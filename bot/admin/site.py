"""What the dashboard's handlers work with: the database, the surveys, the community, sign-in."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from bot.admin.auth import Auth, SignInLimits
from common.clock import utc_now
from handlers.context import Community
from storage.database import Database
from surveys.model import Survey


@dataclass
class AdminSite:
    """What the dashboard's handlers work with (one per web application)."""

    database: Database
    surveys: Mapping[str, Survey]
    community: Community
    auth: Auth
    clock: Callable[[], datetime] = utc_now
    #: Sign-in attempts per address and per name (none without ``web.limits``).
    sign_in_limits: SignInLimits = field(default_factory=lambda: SignInLimits(None))
