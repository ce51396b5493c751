"""``baraza contacts export``: the consenting contacts, with pseudonyms instead of platform ids."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from bot.cli.output import RAW_HELP, destination
from bot.config import Settings
from common.clock import utc_now
from storage import audit
from storage.contacts_export import export_contacts_csv
from storage.database import Database
from storage.exports.files import write_text


def add_commands(commands: Any) -> None:
    """Register ``baraza contacts ...`` on the top-level sub-parsers."""
    contacts = commands.add_parser("contacts", help="the contacts register")
    contacts_commands = contacts.add_subparsers(dest="contacts_command", required=True)
    export = contacts_commands.add_parser(
        "export", help="export the consenting contacts, with pseudonyms instead of platform ids"
    )
    export.add_argument("--format", choices=["csv"], default="csv")
    export.add_argument("--output", type=Path, required=True, help="file to write ('-' for standard output)")
    export.add_argument("--raw", action="store_true", help=RAW_HELP)


def run(settings: Settings, arguments: argparse.Namespace) -> int:
    """Run ``baraza contacts export``; returns the exit status."""
    return asyncio.run(_export(settings, arguments.output, raw=arguments.raw))


async def _export(settings: Settings, output: Path, *, raw: bool = False) -> int:
    from bot.core.engine import load_pseudonymizer

    database = Database(settings.database_url)
    try:
        await database.migrate()
        pseudonymizer = await load_pseudonymizer(database, settings.pseudonym_key, settings.key_file)
        count = await write_text(
            destination(output), lambda out: export_contacts_csv(database, pseudonymizer, out, raw=raw)
        )
        await audit.record_in(
            database,
            actor=audit.cli_actor(),
            action=audit.EXPORT,
            now=utc_now(),
            target="contacts",
            details=audit.export_details("contacts", "csv", count),
        )
    finally:
        await database.dispose()
    print(f"exported {count} consenting contact(s) to {output}", file=sys.stderr)
    return 0
