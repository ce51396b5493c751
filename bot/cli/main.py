"""The ``baraza`` command: the parser, and one module per command group.

Each group module (``bot/cli/<group>.py``) registers its sub-commands with ``add_commands`` and
runs them with ``run(settings, arguments)``; ``survey`` needs no configuration and runs with
``run_offline(arguments)``. The modules only parse input and present output: the work is done
by functions in ``storage/`` and ``handlers/`` that the dashboard calls too.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any, Protocol

from bot.cli import (
    audit,
    broadcast,
    calendar,
    concepts,
    contacts,
    db,
    export,
    indicators,
    keys,
    report,
    requests,
    run,
    staff,
    survey,
)
from bot.config import ConfigError, Settings, StartupError, load_settings
from bot.keys import KeyFileError
from bot.sending.shared_rate import SharedRateError
from catalogue.sourcefiles import DefinitionFileError
from surveys.errors import SurveyFileError


class CommandGroup(Protocol):
    """A module of ``bot/cli`` with the commands of one group."""

    def add_commands(self, commands: Any) -> None: ...

    def run(self, settings: Settings, arguments: argparse.Namespace) -> int: ...


#: The command groups that need the configuration, by command name, in the order of ``--help``.
GROUPS: dict[str, CommandGroup] = {
    "run": run,
    "export": export,
    "contacts": contacts,
    "broadcast": broadcast,
    "calendar": calendar,
    "concepts": concepts,
    "requests": requests,
    "indicators": indicators,
    "staff": staff,
    "audit": audit,
    "keys": keys,
    "db": db,
    "report": report,
}


def parser() -> argparse.ArgumentParser:
    """The parser of every ``baraza`` command."""
    parser = argparse.ArgumentParser(prog="baraza", description="Baraza: surveys and statistics by chat.")
    parser.add_argument(
        "--config", type=Path, default=None, help="configuration file (default: ./config.yaml if present)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, group in GROUPS.items():
        group.add_commands(commands)
        if name == "contacts":  # where ``survey`` always appeared in ``baraza --help``
            survey.add_commands(commands)
    return parser


def _settings(config: Path | None) -> Settings:
    if config is None and Path("config.yaml").exists():
        config = Path("config.yaml")
    return load_settings(config)


def main(argv: list[str] | None = None) -> int:
    """Run one ``baraza`` command; returns the exit status.

    While it runs, files it creates (the SQLite database, exports, the key file) are its user's
    only: group and others lose every permission, whatever umask the shell had (077 is added to
    it, and the umask is given back at the end).
    """
    before = os.umask(0o077)
    os.umask(before | 0o077)
    try:
        return _command(argv)
    finally:
        os.umask(before)


def _command(argv: list[str] | None) -> int:
    arguments = parser().parse_args(argv)
    if arguments.command == "survey":
        return survey.run_offline(arguments)
    try:
        settings = _settings(arguments.config)
    except ConfigError as error:
        print(f"baraza: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs every request URL, and Telegram URLs contain the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        return GROUPS[arguments.command].run(settings, arguments)
    except (SharedRateError, StartupError) as error:
        print(f"baraza: not starting: {error}", file=sys.stderr)
        return 1
    except SurveyFileError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        print("baraza: not starting: fix the survey files above", file=sys.stderr)
        return 1
    except KeyFileError as error:
        print(f"baraza: not starting: {error}", file=sys.stderr)
        return 1
    except DefinitionFileError as error:
        for file_problem in error.problems:
            print(file_problem, file=sys.stderr)
        print("baraza: not starting: fix the glossary or calendar file above", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
