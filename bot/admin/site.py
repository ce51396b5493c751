"""What the dashboard's handlers work with: the database, the surveys, the community, sign-in."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from bot.admin.auth import Auth
from common.clock import utc_now
from handlers.context import Community
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
