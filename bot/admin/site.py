"""What the dashboard's handlers work with: the database, the surveys, the community, sign-in."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.admin.auth import Auth
from handlers.context import Community
from storage.database import Database
from surveys.model import Survey


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class AdminSite:
    """What the dashboard's handlers work with (one per web application)."""

    database: Database
    surveys: Mapping[str, Survey]
    community: Community
    auth: Auth
    clock: Callable[[], datetime] = utc_now
