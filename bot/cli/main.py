"""The ``baraza`` command: ``run``, ``export``, ``contacts export``, ``broadcast``, ``requests``, ``indicators``,
``calendar``, ``concepts``, ``survey check`` and ``db upgrade``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TextIO

from bot.config import ConfigError, Settings, load_settings
from bot.sending.shared_rate import SharedRateError
from catalogue.sourcefiles import DefinitionFileError
from storage.database import Database
from surveys.errors import SurveyFileError
from surveys.loader import load_survey_file


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="baraza", description="Baraza: surveys and statistics by chat.")
    parser.add_argument(
        "--config", type=Path, default=None, help="configuration file (default: ./config.yaml if present)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="run the bot: web chat, and Telegram when a token is set")
    from bot.cli.export import add_arguments as add_export_arguments

    export = commands.add_parser("export", help="export a survey's responses (or --table NAME) and its codebook")
    add_export_arguments(export)
    contacts = commands.add_parser("contacts", help="the contacts register")
    contacts_commands = contacts.add_subparsers(dest="contacts_command", required=True)
    contacts_export = contacts_commands.add_parser(
        "export", help="export the consenting contacts, with pseudonyms instead of platform ids"
    )
    contacts_export.add_argument("--format", choices=["csv"], default="csv")
    contacts_export.add_argument("--output", type=Path, required=True, help="file to write ('-' for standard output)")
    survey = commands.add_parser("survey", help="work with survey files")
    survey_commands = survey.add_subparsers(dest="survey_command", required=True)
    check = survey_commands.add_parser("check", help="check survey files; problems are printed as FILE:LINE: message")
    check.add_argument("files", nargs="+", type=Path)
    convert = survey_commands.add_parser("import", help="convert an ODK/KoBoToolbox XLSForm (.xlsx) into a survey file")
    convert.add_argument("form", type=Path)
    convert.add_argument("--output", type=Path, default=None, help="YAML file to write (default: standard output)")
    convert.add_argument(
        "--drop-unsupported", action="store_true", help="leave out questions a chat cannot ask (geopoint, photo, ...)"
    )
    from bot.cli.broadcast import add_commands as add_broadcast_commands

    add_broadcast_commands(commands)
    from bot.cli.calendar import add_commands as add_calendar_commands

    add_calendar_commands(commands)
    from bot.cli.concepts import add_commands as add_concepts_commands

    add_concepts_commands(commands)
    from bot.cli.requests import add_commands as add_requests_commands

    add_requests_commands(commands)
    from bot.cli.indicators import add_commands as add_indicator_commands

    add_indicator_commands(commands)
    from bot.cli.staff import add_commands as add_staff_commands

    add_staff_commands(commands)
    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply the database migrations")
    from bot.cli.db import add_copy_command

    add_copy_command(db_commands)
    return parser


def _settings(config: Path | None) -> Settings:
    if config is None and Path("config.yaml").exists():
        config = Path("config.yaml")
    return load_settings(config)


def _check(files: list[Path]) -> int:
    failed = False
    for path in files:
        try:
            survey = load_survey_file(path)
        except SurveyFileError as error:
            failed = True
            for problem in error.problems:
                print(problem)
            continue
        print(
            f"{path}: ok: survey '{survey.id}', {len(survey.data_questions)} questions, languages {', '.join(survey.languages)}"
        )
    return 1 if failed else 0


async def _write_export(output: Path, write: Callable[[TextIO], Awaitable[int]]) -> int:
    """Run ``write`` into ``output`` (``-``: standard output); a file appears only once complete."""
    if str(output) == "-":
        return await write(sys.stdout)
    temporary = output.with_name(output.name + ".part")
    with temporary.open("w", encoding="utf-8", newline="") as out:
        count = await write(out)
    temporary.replace(output)
    return count


async def _export_contacts(settings: Settings, output: Path) -> int:
    from bot.core.engine import load_pseudonymizer
    from storage.contacts_export import export_contacts_csv

    database = Database(settings.database_url)
    try:
        await database.migrate()
        pseudonymizer = await load_pseudonymizer(database, settings.pseudonym_key)
        count = await _write_export(output, lambda out: export_contacts_csv(database, pseudonymizer, out))
    finally:
        await database.dispose()
    print(f"exported {count} consenting contact(s) to {output}", file=sys.stderr)
    return 0


async def _upgrade(settings: Settings) -> int:
    database = Database(settings.database_url)
    try:
        await database.migrate()
    finally:
        await database.dispose()
    print("the database schema is up to date", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    if arguments.command == "survey":
        if arguments.survey_command == "import":
            from surveys.xlsform import import_command

            return import_command(arguments.form, arguments.output, arguments.drop_unsupported)
        return _check(arguments.files)
    try:
        settings = _settings(arguments.config)
    except ConfigError as error:
        print(f"baraza: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs every request URL, and Telegram URLs contain the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        if arguments.command == "run":
            from bot.app import run_forever

            asyncio.run(run_forever(settings))
            return 0
        if arguments.command == "export":
            from bot.cli.export import run as export

            return asyncio.run(export(settings, arguments))
        if arguments.command == "contacts":
            return asyncio.run(_export_contacts(settings, arguments.output))
        if arguments.command == "broadcast":
            from bot.cli.broadcast import run as broadcast

            return broadcast(settings, arguments)
        if arguments.command == "calendar":
            from bot.cli.calendar import run as calendar

            return calendar(settings, arguments)
        if arguments.command == "concepts":
            from bot.cli.concepts import run as concepts

            return concepts(settings, arguments)
        if arguments.command == "requests":
            from bot.cli.requests import run as requests

            return requests(settings, arguments)
        if arguments.command == "indicators":
            from bot.cli.indicators import run as indicators

            return indicators(settings, arguments)
        if arguments.command == "db" and arguments.db_command == "copy":
            from bot.cli.db import copy_command

            return copy_command(arguments)
        if arguments.command == "staff":
            from bot.cli.staff import run as staff

            return staff(settings, arguments)
        if arguments.command == "db":
            return asyncio.run(_upgrade(settings))
    except SharedRateError as error:
        print(f"baraza: not starting: {error}", file=sys.stderr)
        return 1
    except SurveyFileError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        print("baraza: not starting: fix the survey files above", file=sys.stderr)
        return 1
    except DefinitionFileError as error:
        for file_problem in error.problems:
            print(file_problem, file=sys.stderr)
        print("baraza: not starting: fix the glossary or calendar file above", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 2


if __name__ == "__main__":
    sys.exit(main())
