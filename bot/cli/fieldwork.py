"""``baraza survey invite``, ``remind`` and ``report``: fieldwork (thin over :mod:`handlers.invitations`).

``invite`` stores an invitation round (sent by ``baraza run``'s durable sender at the configured
rate), ``remind`` queues the reminders that fell due (``baraza run`` also does it every
``fieldwork.reminders_every_minutes``), ``report`` prints the AAPOR dispositions and rates (and
each quota cell's target, completes and responses in progress) and can write every invitation's disposition and paradata as CSV (with the exports' pseudonyms).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import sys
from pathlib import Path
from typing import Any

from bot.config import Settings
from common.clock import utc_now
from handlers.invitations import (
    FieldworkError,
    build_report,
    disposition_rows,
    format_report,
    invitation_notice,
    invite,
    queue_due_reminders,
    record_invitation,
)
from handlers.notices import NoticeFileError, load_notice_file
from handlers.panels import panel_members
from handlers.quotas import format_quotas, quota_report
from storage.audit import cli_actor
from storage.broadcasts import PUSH_CHANNELS, Audience
from storage.database import Database
from storage.invitations import STRATA_FIELDS
from surveys.loader import load_survey_directory
from surveys.model import Survey

FIELDWORK_COMMANDS = ("invite", "remind", "report")


def _names(text: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (text or "").split(",") if part.strip())


def add_commands(survey_commands: Any) -> None:
    """``invite``, ``remind`` and ``report`` under ``baraza survey``."""
    invite_parser = survey_commands.add_parser(
        "invite", help="invite a segment or a random sample to a survey (sent by 'baraza run')"
    )
    invite_parser.add_argument("survey")
    invite_parser.add_argument("--topics", help="comma-separated: follows any of these topics")
    invite_parser.add_argument("--groups", help="comma-separated user groups")
    invite_parser.add_argument("--regions", help="comma-separated regions")
    invite_parser.add_argument("--languages", help="comma-separated language codes")
    invite_parser.add_argument("--channels", help=f"comma-separated channels (default: {','.join(PUSH_CHANNELS)})")
    invite_parser.add_argument(
        "--pseudonyms", type=Path, help="a CSV whose first column (or 'respondent' column) lists pseudonyms to invite"
    )
    invite_parser.add_argument(
        "--panel-members",
        action="store_true",
        help="only the people who took part in the previous wave of the survey's panel (complete or partial)",
    )
    invite_parser.add_argument("--sample", type=int, default=None, help="invite a random sample of this size")
    invite_parser.add_argument("--stratify-by", choices=STRATA_FIELDS, default=None)
    invite_parser.add_argument("--seed", type=int, default=0, help="the same seed draws the same sample")
    invite_parser.add_argument("--wave", type=int, default=1)
    invite_parser.add_argument("--notice", type=Path, help="a notice file (NOTICE.yaml) with the invitation's text")
    invite_parser.add_argument("--dry-run", action="store_true", help="say how many would be invited; store nothing")
    invite_parser.add_argument(
        "--open-cells",
        action="store_true",
        help="invite only people whose quota cell (by user group, region, language or channel) is still open",
    )
    remind = survey_commands.add_parser("remind", help="queue the survey reminders that are due now")
    remind.add_argument("survey", nargs="?", help="one survey (default: every survey with reminders)")
    report = survey_commands.add_parser("report", help="AAPOR dispositions and response rates of a survey")
    report.add_argument("survey")
    report.add_argument("--eligibility", type=float, default=None, help="e for RR3/RR4 (default: estimated)")
    report.add_argument("--export", type=Path, help="write each invitation's disposition and paradata as CSV")


def run(settings: Settings, arguments: argparse.Namespace) -> int:
    try:
        if arguments.survey_command == "invite":
            return asyncio.run(_invite(settings, arguments))
        if arguments.survey_command == "remind":
            return asyncio.run(_remind(settings, arguments.survey))
        return asyncio.run(_report(settings, arguments))
    except FieldworkError as error:
        print(f"baraza: {error}", file=sys.stderr)
        return 1


def _survey(settings: Settings, survey_id: str) -> Survey | None:
    surveys = load_survey_directory(settings.surveys_directory)
    if survey_id not in surveys:
        known = ", ".join(sorted(surveys)) or "none"
        print(f"baraza: there is no survey '{survey_id}' in {settings.surveys_directory} (surveys: {known})")
        return None
    return surveys[survey_id]


def _pseudonyms(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        return []
    column = rows[0].index("respondent") if "respondent" in rows[0] else 0
    start = 1 if rows[0] and rows[0][column] in ("respondent", "pseudonym") else 0
    return [row[column] for row in rows[start:] if len(row) > column]


async def _database(settings: Settings) -> Database:
    database = Database(settings.database_url)
    await database.migrate()
    return database


async def _invite(settings: Settings, arguments: argparse.Namespace) -> int:
    survey = _survey(settings, arguments.survey)
    if survey is None:
        return 1
    notice = None
    if arguments.notice is not None:
        try:
            notice = load_notice_file(arguments.notice, surveys={survey.id})
        except NoticeFileError as error:
            for problem in error.problems:
                print(problem)
            return 1
    else:
        notice = invitation_notice(survey, template=settings.fieldwork.whatsapp_template)
    audience = Audience(
        topics=_names(arguments.topics),
        user_groups=_names(arguments.groups),
        regions=_names(arguments.regions),
        languages=_names(arguments.languages),
        channels=_names(arguments.channels) or PUSH_CHANNELS,
    )
    database = await _database(settings)
    try:
        pseudonymize = None
        if arguments.pseudonyms is not None:
            from bot.core.engine import load_pseudonymizer

            pseudonymize = await load_pseudonymizer(database, settings.pseudonym_key, settings.key_file)
        now = utc_now()
        async with database.transaction() as connection:
            among = None
            if arguments.panel_members:
                surveys = load_survey_directory(settings.surveys_directory).values()
                among = await panel_members(connection, surveys, survey)
                print(f"panel: {len(among)} member(s) took part in the previous wave")
            found = await invite(
                connection,
                survey,
                audience=audience,
                notice=notice,
                pseudonyms=_pseudonyms(arguments.pseudonyms) if arguments.pseudonyms is not None else None,
                pseudonymize=pseudonymize,
                among=among,
                size=arguments.sample,
                stratify_by=arguments.stratify_by,
                seed=arguments.seed,
                wave=arguments.wave,
                quiet=settings.fieldwork.quiet,
                created_by=cli_actor(),
                now=now,
                dry_run=arguments.dry_run,
                open_cells=arguments.open_cells,
            )
            if not arguments.dry_run:
                await record_invitation(
                    connection,
                    survey,
                    found,
                    actor=cli_actor(),
                    wave=arguments.wave,
                    seed=arguments.seed,
                    now=now,
                    open_cells=arguments.open_cells,
                )
    finally:
        await database.dispose()
    strata = ", ".join(f"{name or '-'}: {count}" for name, count in sorted(found.strata.items()))
    print(f"audience: {found.candidates} contact(s) not invited yet: {audience.describe()}")
    if arguments.open_cells:
        print(f"left out: {found.in_full_cells} contact(s) whose quota cell is full")
    stored = ", ".join(str(part) for part in found.broadcast_ids)
    what = "would be invited" if arguments.dry_run or not found.invited else f"invited (broadcast {stored})"
    print(f"survey {survey.id} wave {arguments.wave}: {found.invited} {what}; by stratum: {strata or '-'}")
    if found.arms:
        print("by experiment arm: " + ", ".join(f"{arm}: {count}" for arm, count in sorted(found.arms.items())))
    for part in found.broadcasts if len(found.broadcasts) > 1 else ():
        print(f"  broadcast {part.broadcast_id}: {part.invited} ({f'arm {part.arm}' if part.arm else 'shared notice'})")
    if not arguments.dry_run and found.invited:
        print(f"sent by 'baraza run' from {found.send_at:%Y-%m-%d %H:%M} UTC (quiet hours respected)")
    return 0


async def _remind(settings: Settings, survey_id: str | None) -> int:
    surveys = load_survey_directory(settings.surveys_directory)
    chosen = [surveys[survey_id]] if survey_id in surveys else [] if survey_id else list(surveys.values())
    if survey_id and not chosen:
        print(f"baraza: there is no survey '{survey_id}'", file=sys.stderr)
        return 1
    database = await _database(settings)
    now = utc_now()
    if settings.fieldwork.quiet.next_allowed(now) != now:
        print("quiet hours in the office's time zone: no reminder is queued now")
    try:
        for survey in chosen:
            async with database.transaction() as connection:
                rounds = await queue_due_reminders(
                    connection,
                    survey,
                    now=now,
                    quiet=settings.fieldwork.quiet,
                    template=settings.fieldwork.whatsapp_template,
                    created_by=cli_actor(),
                )
            for found in rounds:
                print(
                    f"survey {survey.id}: reminder {found.number} queued for {found.reminded} (broadcast {found.broadcast_id})"
                )
            if survey.reminders and not rounds:
                print(f"survey {survey.id}: no reminder due")
    finally:
        await database.dispose()
    return 0


async def _report(settings: Settings, arguments: argparse.Namespace) -> int:
    survey = _survey(settings, arguments.survey)
    if survey is None:
        return 1
    database = await _database(settings)
    try:
        pseudonymize = None
        if arguments.export is not None:
            from bot.core.engine import load_pseudonymizer

            pseudonymize = await load_pseudonymizer(database, settings.pseudonym_key, settings.key_file)
        async with database.reading() as connection:
            rows = await disposition_rows(connection, survey, pseudonymize)
            cells = await quota_report(connection, survey)
    finally:
        await database.dispose()
    print(format_report(build_report(survey.id, rows, arguments.eligibility)))
    if cells:
        print(format_quotas(cells))
    if arguments.export is not None:
        with arguments.export.open("w", newline="", encoding="utf-8") as handle:
            writer: csv.DictWriter[str] | None = None
            for row in rows:
                values = row.as_dict()
                if writer is None:
                    writer = csv.DictWriter(handle, fieldnames=list(values))
                    writer.writeheader()
                writer.writerow(values)
        print(f"{len(rows)} invitation(s) written to {arguments.export}")
    return 0
