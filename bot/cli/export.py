"""``baraza export``: survey responses and the other tables in CSV, Excel, JSON Lines, SPSS and
Stata, plus the codebook. The file appears only once complete (written to ``FILE.part``, then
renamed); a progress bar shows on a terminal."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import fields
from datetime import date, datetime
from pathlib import Path
from typing import Any, TextIO

from bot.cli.output import RAW_HELP, destination
from bot.config import Settings
from common.clock import as_utc, start_of_day
from storage.database import Database
from storage.exports import FORMATS, ExcelTooLarge, ExportOptions, Format
from storage.exports.files import Exported, ExportError, export_codebook, export_responses, export_table
from storage.exports.tables import TABLES
from surveys.loader import load_survey_directory


def add_commands(commands: Any) -> None:
    """Register ``baraza export`` on the top-level sub-parsers."""
    export = commands.add_parser("export", help="export a survey's responses (or --table NAME) and its codebook")
    export.add_argument("survey_id", nargs="?", help="the survey whose responses to export")
    export.add_argument("--table", choices=sorted(TABLES), help="export another table instead of a survey's responses")
    export.add_argument(
        "--format", choices=FORMATS, default=None, help="default: from the output file's extension, else csv"
    )
    export.add_argument(
        "--output", type=Path, required=True, help="file to write ('-' for standard output: csv, jsonl)"
    )
    export.add_argument(
        "--labels", action="store_true", help="choice labels instead of choice names (csv, xlsx, jsonl)"
    )
    export.add_argument("--language", help="language of labels (default: the survey's default language)")
    export.add_argument(
        "--multiple",
        choices=["split", "joined", "both"],
        default="both",
        help="select_multiple as 0/1 columns per choice (question/choice), one space-separated column, or both (default)",
    )
    export.add_argument("--since", type=_moment, help="responses started at or after this date/time (UTC)")
    export.add_argument("--until", type=_moment, help="responses started before this date/time (UTC)")
    export.add_argument("--complete-only", action="store_true", help="only completed responses")
    export.add_argument(
        "--include-anonymous",
        action="store_true",
        help="include responses linked to nobody (respondents who deleted their data)",
    )
    export.add_argument("--codebook", type=Path, help="also write the codebook (FILE.md or FILE.csv)")
    export.add_argument("--raw", action="store_true", help=RAW_HELP)


def _moment(text: str) -> datetime:
    try:
        if len(text) == 10:
            return start_of_day(date.fromisoformat(text))
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"not a date or time: {text!r} (use 2026-05-04 or 2026-05-04T10:30)"
        ) from error
    # Stored times are UTC (SQLite keeps them without a zone): compare in UTC.
    return as_utc(moment)


def _format(arguments: argparse.Namespace) -> Format:
    if arguments.format:
        return arguments.format  # type: ignore[no-any-return]
    suffix = arguments.output.suffix.lower().lstrip(".")
    return suffix if suffix in FORMATS else "csv"


class ProgressBar:
    """``[#####.....]  42% 420,000/1,000,000 rows`` on stderr, redrawn at most 5 times a second."""

    def __init__(self, total: int | None, out: TextIO) -> None:
        self.total = total
        self.out = out
        self.shown = 0.0

    def __call__(self, written: int) -> None:
        now = time.monotonic()
        if now - self.shown < 0.2 and written != self.total:
            return
        self.shown = now
        if self.total:
            share = min(written / self.total, 1.0)
            bar = "#" * int(share * 30)
            self.out.write(f"\r[{bar:<30}] {share:4.0%} {written:,}/{self.total:,} rows")
        else:
            self.out.write(f"\r{written:,} rows")
        self.out.flush()

    def counting(self, written: int, total: int | None) -> None:
        """Show ``written`` of ``total`` rows (an :data:`storage.exports.files.ExportProgress`)."""
        self.total = total
        self(written)

    def close(self) -> None:
        self.out.write("\n")
        self.out.flush()


def run(settings: Settings, arguments: argparse.Namespace) -> int:
    """Run ``baraza export`` with the parsed ``arguments``; returns the exit status."""
    return asyncio.run(_run(settings, arguments))


async def _run(settings: Settings, arguments: argparse.Namespace) -> int:
    fmt = _format(arguments)
    if (arguments.survey_id is None) == (arguments.table is None):
        print("baraza export: give either a SURVEY_ID or --table NAME", file=sys.stderr)
        return 2
    database = Database(settings.database_url)
    try:
        await database.migrate()
        if arguments.table is not None:
            return await _export_table(settings, database, arguments, fmt)
        return await _export_survey(settings, database, arguments, fmt)
    except (ExportError, ExcelTooLarge) as error:
        print(f"baraza: {error}", file=sys.stderr)
        return 1
    finally:
        await database.dispose()


async def _export_survey(settings: Settings, database: Database, arguments: argparse.Namespace, fmt: Format) -> int:
    surveys = load_survey_directory(settings.surveys_directory)
    survey = surveys.get(arguments.survey_id)
    if survey is None:
        known = ", ".join(sorted(surveys)) or "none"
        raise ExportError(f"no survey '{arguments.survey_id}' in {settings.surveys_directory} (surveys: {known})")
    if arguments.language and arguments.language not in survey.languages:
        raise ExportError(
            f"survey '{survey.id}' has no language '{arguments.language}' ({', '.join(survey.languages)})"
        )
    # Each option of ExportOptions is the command-line option of the same name.
    options = ExportOptions(**{option.name: getattr(arguments, option.name) for option in fields(ExportOptions)})
    bar: ProgressBar | None = None
    if sys.stderr.isatty() and str(arguments.output) != "-":
        bar = ProgressBar(None, sys.stderr)
    try:
        exported = await export_responses(
            database, survey, options, fmt, destination(arguments.output), progress=bar.counting if bar else None
        )
    finally:
        if bar is not None:
            bar.close()
    _report(exported, f"response(s) of '{survey.id}'", arguments.output)
    if arguments.codebook is not None:
        as_csv = arguments.codebook.suffix.lower() == ".csv"
        await export_codebook(database, survey, options, arguments.codebook, as_csv=as_csv)
        print(f"codebook of '{survey.id}' written to {arguments.codebook}", file=sys.stderr)
    return 0


async def _export_table(settings: Settings, database: Database, arguments: argparse.Namespace, fmt: Format) -> int:
    from bot.core.engine import load_pseudonymizer

    pseudonymizer = await load_pseudonymizer(database, settings.pseudonym_key)
    exported = await export_table(
        arguments.table, database, pseudonymizer, fmt, destination(arguments.output), raw=arguments.raw
    )
    _report(exported, f"row(s) of {arguments.table}", arguments.output)
    return 0


def _report(exported: Exported, what: str, output: Path) -> None:
    for note in exported.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"exported {exported.rows} {what} to {output}", file=sys.stderr)
