"""``baraza calendar ...``: the release calendar for staff.

``list`` shows every release of the calendar file with its followers and whether it is
published. ``publish RELEASE_ID`` marks a release published and, in the same transaction,
stores the broadcast that tells its followers and the subscribers of its topic (the usual
broadcast rules apply: consent, ``/stop`` and blocked contacts are honoured; each person gets
one message even if they both follow the release and its topic). The durable sender of
``baraza run`` sends it. Publishing again says so and sends nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.config import Settings
from catalogue.calendar import Release, ReleaseCalendar, load_calendar_file
from catalogue.sourcefiles import DefinitionFileError
from common.clock import utc_now
from handlers.broadcast_actions import store_broadcast
from handlers.notices import NoticeFileError, load_notice_file
from handlers.release_notices import for_release, release_notice
from storage.audit import cli_actor
from storage.broadcasts import Audience
from storage.database import Database
from storage.releases import ReleaseRepository
from surveys.loader import load_survey_directory


def add_commands(commands: Any) -> None:
    """Register ``baraza calendar ...`` on the top-level sub-parsers."""
    calendar = commands.add_parser("calendar", help="the release calendar: list releases, publish one")
    sub = calendar.add_subparsers(dest="calendar_command", required=True)
    sub.add_parser("list", help="every release with its date, topic, followers and publication")
    publish = sub.add_parser(
        "publish", help="mark a release published and notify its followers and its topic's subscribers (once)"
    )
    publish.add_argument("release_id")
    publish.add_argument(
        "--notice", type=Path, default=None, help="notice file to send (default: made from the calendar entry)"
    )
    publish.add_argument("--by", default=None, help="who publishes (default: this computer's user name)")


def run(settings: Settings, arguments: argparse.Namespace) -> int:
    calendar = _calendar(settings)
    if calendar is None:
        return 1
    if arguments.calendar_command == "list":
        return asyncio.run(list_releases(settings, calendar))
    if arguments.calendar_command == "publish":
        return asyncio.run(
            publish(settings, calendar, arguments.release_id, notice_file=arguments.notice, by=arguments.by)
        )
    return 2


def _calendar(settings: Settings) -> ReleaseCalendar | None:
    if settings.calendar_file is None:
        print(
            "baraza: no release calendar: set calendar.file in the configuration (or add releases.yaml)",
            file=sys.stderr,
        )
        return None
    try:
        return load_calendar_file(settings.calendar_file, topics=settings.register.topics)
    except DefinitionFileError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return None


async def _database(settings: Settings) -> Database:
    database = Database(settings.database_url)
    await database.migrate()
    return database


def _when(release: Release) -> str:
    return f"{release.date.isoformat()} {release.time.strftime('%H:%M') if release.time else '     '}"


async def list_releases(settings: Settings, calendar: ReleaseCalendar) -> int:
    database = await _database(settings)
    try:
        async with database.transaction() as connection:
            repository = ReleaseRepository(connection)
            published = await repository.publications()
            followers = {release_id: await repository.follower_count(release_id) for release_id in calendar.releases}
    finally:
        await database.dispose()
    today = utc_now().date()
    width = max(len(release_id) for release_id in calendar.releases)
    print(f"{'id':<{width}}  {'date':<16}  {'topic':<18}  {'followers':>9}  status / title")
    for release in calendar.releases.values():
        publication = published.get(release.id)
        if publication is not None:
            state = f"published {publication.published_at:%Y-%m-%d %H:%M} UTC by {publication.published_by}"
        else:
            state = "past, not published" if release.date < today else "upcoming"
        print(
            f"{release.id:<{width}}  {_when(release):<16}  {release.topic:<18}  {followers[release.id]:>9}  "
            f"{state} · {calendar.title(release, calendar.default_language)}"
        )
    return 0


async def publish(
    settings: Settings,
    calendar: ReleaseCalendar,
    release_id: str,
    *,
    notice_file: Path | None = None,
    by: str | None = None,
    now: datetime | None = None,
) -> int:
    """Publish ``release_id`` once; returns the exit status (1: unknown or already published)."""
    now = now or utc_now()
    release = calendar.get(release_id)
    if release is None:
        known = ", ".join(calendar.releases) or "none"
        print(f"baraza: there is no release '{release_id}' in {settings.calendar_file} (ids: {known})", file=sys.stderr)
        return 1
    if notice_file is None:
        notice = release_notice(calendar, release)
    else:
        try:
            loaded = load_notice_file(
                notice_file,
                topics=settings.register.topics,
                user_groups=settings.register.user_groups,
                surveys=set(load_survey_directory(settings.surveys_directory)),
                now=now,
            )
        except NoticeFileError as error:
            for problem in error.problems:
                print(problem, file=sys.stderr)
            return 1
        if loaded.audience != Audience():
            print(
                f"note: the audience in {notice_file} is not used: a release goes to its followers and "
                "the subscribers of its topic",
                file=sys.stderr,
            )
        notice = for_release(loaded, release)
    published_by = (by or cli_actor())[:100]
    database = await _database(settings)
    try:
        async with database.transaction() as connection:
            releases = ReleaseRepository(connection)
            if not await releases.publish(release.id, published_by, now):
                earlier = await releases.publication(release.id)
                assert earlier is not None
                broadcast = f" (broadcast {earlier.broadcast_id})" if earlier.broadcast_id is not None else ""
                print(
                    f"'{release.id}' was already published on {earlier.published_at:%Y-%m-%d %H:%M} UTC "
                    f"by {earlier.published_by}{broadcast}: nothing sent",
                    file=sys.stderr,
                )
                return 1
            broadcast_id, recipients = await store_broadcast(
                connection, notice, created_by=published_by, actor=cli_actor(), now=now, send_at=notice.send_at
            )
            await releases.attach_broadcast(release.id, broadcast_id)
            followers = await releases.mark_notified(release.id, now)
    finally:
        await database.dispose()
    print(f"'{release.id}' is published: {notice.audience.describe()}")
    print(f"broadcast {broadcast_id}: {recipients:,} message(s) stored, to be sent by 'baraza run'")
    print(f"{followers:,} follower(s) of the release marked as notified")
    print(f"follow it with: baraza broadcast status {broadcast_id}")
    return 0
