"""``baraza export``: survey responses and the other tables in CSV, Excel, JSON Lines, SPSS and
Stata, plus the codebook. The file appears only once complete (written to ``FILE.part``, then
renamed); a progress bar shows on a terminal."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any, TextIO

from bot.config import Settings
from common.clock import as_utc, start_of_day
from common.errors import BarazaError
from storage.codebook import write_codebook
from storage.database import Database
from storage.exports import (
    FORMATS,
    TEXT_FORMATS,
    ExcelTooLarge,
    ExportOptions,
    Format,
    Table,
    response_table,
    write_table,
    write_text_table,
)
from storage.exports.tables import TABLES, table_export
from surveys.loader import load_survey_directory


def add_arguments(export: argparse.ArgumentParser) -> None:
    """The options of ``baraza export`` (its sub-parser is made by ``bot.cli.main``)."""
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

    def close(self) -> None:
        self.out.write("\n")
        self.out.flush()


async def _write(table: Table, fmt: Format, output: Path, labels: bool) -> int:
    """Write ``table`` to ``output`` (``-``: standard output); a file appears only once complete."""
    if str(output) == "-":
        if fmt not in TEXT_FORMATS:
            raise ExportError(f"{fmt} cannot be written to standard output; give a file with --output")
        return await write_text_table(table, fmt, sys.stdout, labels=labels)
    temporary = output.with_name(output.name + ".part")
    try:
        count = await write_table(table, fmt, temporary, labels=labels)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    temporary.replace(output)
    return count


class ExportError(BarazaError):
    """An export the command refuses, with a message for the statistician."""


async def run(settings: Settings, arguments: argparse.Namespace) -> int:
    """Run ``baraza export`` with the parsed ``arguments``; returns the exit status."""
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
    options = ExportOptions(
        labels=arguments.labels,
        language=arguments.language,
        multiple=arguments.multiple,
        since=arguments.since,
        until=arguments.until,
        complete_only=arguments.complete_only,
        include_anonymous=arguments.include_anonymous,
    )
    bar: ProgressBar | None = None
    progress: Callable[[int], None] = _nothing
    if sys.stderr.isatty() and str(arguments.output) != "-":
        bar = ProgressBar(None, sys.stderr)
        progress = bar
    table = await response_table(database, survey, options, progress=progress)
    if bar is not None:
        bar.total = table.total
    try:
        count = await _write(table, fmt, arguments.output, options.labels)
    finally:
        if bar is not None:
            bar.close()
    for note in table.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"exported {count} response(s) of '{survey.id}' to {arguments.output}", file=sys.stderr)
    if arguments.codebook is not None:
        as_csv = arguments.codebook.suffix.lower() == ".csv"
        await _atomic(arguments.codebook, lambda path: write_codebook(database, survey, options, path, as_csv=as_csv))
        print(f"codebook of '{survey.id}' written to {arguments.codebook}", file=sys.stderr)
    return 0


async def _atomic(output: Path, write: Callable[[Path], Awaitable[Any]]) -> None:
    temporary = output.with_name(output.name + ".part")
    try:
        await write(temporary)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    temporary.replace(output)


async def _export_table(settings: Settings, database: Database, arguments: argparse.Namespace, fmt: Format) -> int:
    from bot.core.engine import load_pseudonymizer

    pseudonymizer = await load_pseudonymizer(database, settings.pseudonym_key)
    table = await table_export(arguments.table, database, pseudonymizer)
    count = await _write(table, fmt, arguments.output, labels=False)
    for note in table.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"exported {count} row(s) of {arguments.table} to {arguments.output}", file=sys.stderr)
    return 0


def _nothing(_written: int) -> None:
    pass
