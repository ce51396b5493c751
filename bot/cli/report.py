"""``baraza report engagement --quarter 2027Q1 --out report.html``: the quarterly engagement report
(figures: :mod:`handlers.engagement_report`; drawing: :mod:`bot.reports.engagement`)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from bot.config import Settings
from common.clock import utc_now
from handlers.engagement_report import ReportError, build_report, parse_quarter
from storage.database import Database
from surveys.loader import load_survey_directory


def add_commands(commands: Any) -> None:
    """Register ``baraza report ...`` on the top-level sub-parsers."""
    report = commands.add_parser("report", help="reports for the office's board")
    sub = report.add_subparsers(dest="report_command", required=True)
    engagement = sub.add_parser("engagement", help="the quarterly engagement report (HTML with its charts)")
    engagement.add_argument("--quarter", required=True, help="the quarter, such as 2027Q1")
    engagement.add_argument("--out", type=Path, required=True, help="the HTML file to write")
    engagement.add_argument("--office", default="Baraza", help="the office's name on the report")


def run(settings: Settings, arguments: argparse.Namespace) -> int:
    try:
        return asyncio.run(_engagement(settings, arguments))
    except ReportError as error:
        print(f"baraza: {error}", file=sys.stderr)
        return 2


async def _engagement(settings: Settings, arguments: argparse.Namespace) -> int:
    from bot.reports.engagement import render_report  # matplotlib: only for this command

    quarter = parse_quarter(arguments.quarter)
    surveys = load_survey_directory(settings.surveys_directory)
    titles = {
        survey_id: survey.title.in_language(survey.default_language, survey.default_language)
        for survey_id, survey in surveys.items()
    }
    now = utc_now()
    database = Database(settings.database_url)
    await database.migrate()
    try:
        async with database.reading() as connection:
            report = await build_report(
                connection,
                quarter,
                settings.engagement,
                groups=settings.register.user_groups,
                survey_titles=titles,
                now=now,
            )
    finally:
        await database.dispose()
    labels = {group: group.replace("_", " ").capitalize() for group in settings.register.user_groups}
    html = await asyncio.to_thread(render_report, report, office=arguments.office, group_label=labels, generated=now)
    arguments.out.write_text(html, encoding="utf-8")
    print(f"{arguments.out}: engagement report {quarter.label} ({len(report.objectives)} objective(s))")
    return 0
