"""``baraza export``: survey responses and the other tables in CSV, Excel, JSON Lines, SPSS and
Stata, plus the codebook. The file appears only once complete (written to ``FILE.part``, then
renamed); a progress bar shows on a terminal.

With the files of media answers (photos, recordings, documents), as KoBoToolbox gives them:
``--output DIR/`` (a folder: an existing one, or a name ending in ``/``) writes
``DIR/<survey id>.<format>`` and ``DIR/attachments/``; ``--output FILE.zip`` one archive holding
both."""

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
from common.clock import as_utc, start_of_day, utc_now
from handlers.invitations import response_paradata
from storage import audit
from storage.database import Database
from storage.exports import FORMATS, ExcelTooLarge, ExportOptions, Format
from storage.exports.files import (
    Exported,
    ExportError,
    export_codebook,
    export_responses,
    export_table,
    export_with_attachments,
    write_export,
)
from storage.exports.panel import panel_table
from storage.exports.tables import TABLES
from storage.media import open_media_store
from surveys import panels
from surveys.loader import load_survey_directory


def add_commands(commands: Any) -> None:
    """Register ``baraza export`` on the top-level sub-parsers."""
    export = commands.add_parser("export", help="export a survey's responses (or --table NAME) and its codebook")
    export.add_argument("survey_id", nargs="?", help="the survey whose responses to export")
    export.add_argument("--table", choices=sorted(TABLES), help="export another table instead of a survey's responses")
    export.add_argument(
        "--panel", help="export the responses of every wave of this panel as one long table (one row per response)"
    )
    export.add_argument(
        "--format", choices=FORMATS, default=None, help="default: from the output file's extension, else csv"
    )
    export.add_argument(
        "--output",
        action=_Output,
        required=True,
        help="file to write ('-' for standard output: csv, jsonl); a folder (DIR/) or FILE.zip for the table "
        "with the files of media answers in attachments/",
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
    export.add_argument("--since", type=moment_argument, help="responses started at or after this date/time (UTC)")
    export.add_argument("--until", type=moment_argument, help="responses started before this date/time (UTC)")
    export.add_argument("--complete-only", action="store_true", help="only completed responses")
    export.add_argument(
        "--include-anonymous",
        action="store_true",
        help="include responses linked to nobody (respondents who deleted their data)",
    )
    export.add_argument("--codebook", type=Path, help="also write the codebook (FILE.md or FILE.csv)")
    export.add_argument("--raw", action="store_true", help=RAW_HELP)


class _Output(argparse.Action):
    """``--output`` as a Path, and as typed in ``raw_output`` (a trailing ``/`` names a folder)."""

    def __call__(self, parser: Any, namespace: argparse.Namespace, values: Any, option_string: Any = None) -> None:
        namespace.raw_output = str(values)
        setattr(namespace, self.dest, Path(values))


def moment_argument(text: str) -> datetime:
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


def _with_attachments(output: str) -> bool:
    """Whether ``--output`` asks for the table with its files: a folder or a ``.zip``."""
    return output != "-" and (output.endswith(("/", "\\")) or Path(output).is_dir() or output.lower().endswith(".zip"))


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
    if sum(chosen is not None for chosen in (arguments.survey_id, arguments.table, arguments.panel)) != 1:
        print("baraza export: give either a SURVEY_ID, --table NAME or --panel PANEL", file=sys.stderr)
        return 2
    database = Database(settings.database_url)
    try:
        await database.migrate()
        if arguments.table is not None:
            return await _export_table(settings, database, arguments, fmt)
        if arguments.panel is not None:
            return await _export_panel(settings, database, arguments, fmt)
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
    progress = bar.counting if bar else None
    # The fieldwork columns of a survey with invitations (docs/exports.md).
    async with database.reading() as connection:
        paradata = await response_paradata(connection, survey)
    try:
        if _with_attachments(arguments.raw_output):
            store = open_media_store(settings.media)
            exported = await export_with_attachments(
                database, survey, options, fmt, arguments.output, store, progress=progress, paradata=paradata
            )
        else:
            exported = await export_responses(
                database, survey, options, fmt, destination(arguments.output), progress=progress, paradata=paradata
            )
    finally:
        if bar is not None:
            bar.close()
    _report(exported, f"response(s) of '{survey.id}'", arguments.output)
    if exported.attachments:
        print(f"{exported.attachments} attachment(s) in {arguments.output}", file=sys.stderr)
    await _audit(database, f"survey:{survey.id}", audit.export_details("responses", fmt, exported.rows, options))
    if arguments.codebook is not None:
        as_csv = arguments.codebook.suffix.lower() == ".csv"
        await export_codebook(
            database, survey, options, arguments.codebook, as_csv=as_csv, fieldwork=paradata is not None
        )
        await _audit(database, f"survey:{survey.id}", audit.export_details("codebook", "csv" if as_csv else "md", None))
        print(f"codebook of '{survey.id}' written to {arguments.codebook}", file=sys.stderr)
    return 0


async def _export_panel(settings: Settings, database: Database, arguments: argparse.Namespace, fmt: Format) -> int:
    """``baraza export --panel PANEL``: every wave's responses in one long table (docs/fieldwork.md)."""
    waves = panels.waves(load_survey_directory(settings.surveys_directory).values(), arguments.panel)
    if not waves:
        raise ExportError(f"no survey in {settings.surveys_directory} is a wave of panel '{arguments.panel}'")
    options = ExportOptions(**{option.name: getattr(arguments, option.name) for option in fields(ExportOptions)})
    table = await panel_table(database, waves, options)
    exported = await write_export(table, fmt, destination(arguments.output), labels=options.labels, raw=options.raw)
    _report(exported, f"response(s) of the {len(waves)} wave(s) of panel '{arguments.panel}'", arguments.output)
    await _audit(database, f"panel:{arguments.panel}", audit.export_details("responses", fmt, exported.rows, options))
    return 0


async def _export_table(settings: Settings, database: Database, arguments: argparse.Namespace, fmt: Format) -> int:
    from bot.core.engine import load_pseudonymizer

    pseudonymizer = await load_pseudonymizer(database, settings.pseudonym_key, settings.key_file)
    exported = await export_table(
        arguments.table, database, pseudonymizer, fmt, destination(arguments.output), raw=arguments.raw
    )
    _report(exported, f"row(s) of {arguments.table}", arguments.output)
    await _audit(database, f"table:{arguments.table}", audit.export_details("table", fmt, exported.rows))
    return 0


async def _audit(database: Database, target: str, details: dict[str, object]) -> None:
    await audit.record_in(
        database, actor=audit.cli_actor(), action=audit.EXPORT, now=utc_now(), target=target, details=details
    )


def _report(exported: Exported, what: str, output: Path) -> None:
    for note in exported.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"exported {exported.rows} {what} to {output}", file=sys.stderr)
    for table, rows, path in exported.tables:
        print(f"exported {rows} row(s) of the repeat {table} to {path}", file=sys.stderr)
