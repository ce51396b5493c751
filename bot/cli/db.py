"""``baraza db upgrade`` (apply the migrations) and ``baraza db copy --from URL --to URL`` (move a
database, e.g. SQLite to PostgreSQL, with every row)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.config import Settings
from storage.copy import CopyError, copy_database
from storage.database import Database


def add_commands(commands: Any) -> None:
    """Register ``baraza db ...`` on the top-level sub-parsers."""
    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply the database migrations")
    copy = db_commands.add_parser(
        "copy",
        help="copy every row of one database into an empty one (e.g. SQLite to PostgreSQL)",
        description="Copies every table, parents first, in one transaction on the target; keeps ids; "
        "refuses a target that holds rows; verifies the row count of every table.",
    )
    copy.add_argument("--from", dest="source", required=True, help="source URL, e.g. sqlite:///data/baraza.db")
    copy.add_argument("--to", dest="target", required=True, help="target URL, e.g. postgresql://baraza@db/baraza")
    copy.add_argument("--batch", type=int, default=2000, help="rows per insert (default 2000)")


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def run(settings: Settings, arguments: argparse.Namespace) -> int:
    """Run ``baraza db upgrade`` or ``baraza db copy``; returns the exit status."""
    if arguments.db_command == "copy":
        return copy_command(arguments)
    return asyncio.run(_upgrade(settings))


async def _upgrade(settings: Settings) -> int:
    database = Database(settings.database_url)
    try:
        await database.migrate()
    finally:
        await database.dispose()
    print("the database schema is up to date", file=sys.stderr)
    return 0


def copy_command(arguments: argparse.Namespace) -> int:
    """Copy every row of ``--from`` into the empty ``--to``; returns the exit status."""
    try:
        source, target = _safe(arguments.source), _safe(arguments.target)
    except ArgumentError as error:
        print(f"baraza: not a database URL: {error}", file=sys.stderr)
        return 2

    def progress(table: str, rows: int) -> None:
        print(f"  {table}: {rows} rows", file=sys.stderr, flush=True)

    print(f"copying {source} to {target}", file=sys.stderr)
    try:
        copied = asyncio.run(
            copy_database(arguments.source, arguments.target, batch_rows=arguments.batch, progress=progress)
        )
    except CopyError as error:
        print(f"baraza: {error}", file=sys.stderr)
        return 1
    for table in copied:
        print(f"{table.name}\t{table.rows}")
    total = sum(table.rows for table in copied)
    print(f"copied {total} rows in {len(copied)} tables; every count verified", file=sys.stderr)
    return 0
