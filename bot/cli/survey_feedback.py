"""``baraza survey feedback SURVEY --summary FILE.yaml``: "you said, we did" (thin over :mod:`handlers.survey_feedback`).

Without ``--summary`` it says how many respondents asked to hear what the office does with the
results and how many can receive it; with it, it checks the file, asks to confirm, stores the
broadcast (sent by ``baraza run``'s durable sender) and follows the sending like ``baraza broadcast send``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from bot.cli.broadcast import follow
from bot.config import Settings
from common.clock import utc_now
from handlers.notices import NoticeFileError
from handlers.survey_feedback import (
    load_summary_file,
    preview_feedback,
    reach_lines,
    send_feedback,
    sent_before,
    sent_lines,
)
from storage.audit import cli_actor
from storage.database import Database
from surveys.loader import load_survey_directory

COMMAND = "feedback"


def add_commands(survey_commands: Any) -> None:
    """``feedback`` under ``baraza survey``."""
    feedback = survey_commands.add_parser(
        COMMAND, help="send 'you said, we did' to the respondents of a survey who asked to hear about its results"
    )
    feedback.add_argument("survey")
    feedback.add_argument(
        "--summary", type=Path, default=None, help="the summary: a notice file (title, text per language), no audience"
    )
    feedback.add_argument("--dry-run", action="store_true", help="check the file and count who gets it; store nothing")
    feedback.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    feedback.add_argument("--no-wait", action="store_true", help="store it and return; do not follow the sending")


def run(settings: Settings, arguments: argparse.Namespace) -> int:
    try:
        return asyncio.run(
            _feedback(
                settings,
                arguments.survey,
                arguments.summary,
                dry_run=arguments.dry_run or arguments.summary is None,
                confirm=not arguments.yes and sys.stdin.isatty(),
                wait=not arguments.no_wait,
            )
        )
    except KeyboardInterrupt:
        print("\nstopped following; the sending goes on in 'baraza run' ('baraza broadcast status')", file=sys.stderr)
        return 130


async def _feedback(
    settings: Settings, survey_id: str, summary: Path | None, *, dry_run: bool, confirm: bool, wait: bool
) -> int:
    surveys = load_survey_directory(settings.surveys_directory)
    if survey_id not in surveys:
        known = ", ".join(sorted(surveys)) or "none"
        print(f"baraza: there is no survey '{survey_id}' in {settings.surveys_directory} (surveys: {known})")
        return 1
    notice = None
    if summary is not None:
        try:
            notice = load_summary_file(summary, set(surveys))
        except NoticeFileError as error:
            for problem in error.problems:
                print(problem, file=sys.stderr)
            return 1
    if not surveys[survey_id].offer_feedback:
        print(
            f"note: survey {survey_id} does not ask its respondents (offer_feedback: true is not set)", file=sys.stderr
        )
    database = Database(settings.database_url)
    await database.migrate()
    try:
        async with database.reading() as connection:
            reach = await preview_feedback(connection, survey_id)
            earlier = await sent_before(connection, survey_id)
        if notice is not None:
            print(f"{summary}: '{notice.title}', languages {', '.join(notice.languages)}")
        for line in reach_lines(reach):
            print(line)
        for line in sent_lines(earlier):
            print(f"already sent: {line} (another summary reaches the same people again)")
        if dry_run or notice is None:
            print("dry run: nothing stored, nothing sent")
            return 0
        if reach.reached == 0:
            print("nobody to send to: nothing stored", file=sys.stderr)
            return 1
        if confirm:
            answer = await asyncio.to_thread(
                input, f"Send '{notice.title}' to {reach.reached:,} respondent(s) now? [y/N] "
            )
            if answer.strip().lower() not in ("y", "yes"):
                print("not sent")
                return 1
        async with database.transaction() as connection:
            broadcast_id, recipients = await send_feedback(
                connection, survey_id, notice, actor=cli_actor(), now=utc_now()
            )
        print(f"broadcast {broadcast_id}: {recipients:,} message(s) stored, to be sent now by 'baraza run'")
        if not wait:
            print(f"follow it with: baraza broadcast status {broadcast_id}")
            return 0
        return await follow(database, broadcast_id)
    finally:
        await database.dispose()
