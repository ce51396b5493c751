"""``baraza audit export``: the staff audit trail as CSV (who signed in, sent, answered, exported...).

The rows come oldest first with the columns ``id, at, actor, action, target, details`` (details
as a JSON object); ``--actor``, ``--action``, ``--since`` and ``--until`` choose them like the
dashboard's audit page. The file is written whole or not at all, readable by its owner only, and
the export itself is recorded in the trail.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from bot.cli.export import moment_argument
from bot.cli.output import destination
from bot.config import Settings
from common.clock import utc_now
from storage import audit
from storage.database import Database
from storage.exports.files import write_text


def add_commands(commands: Any) -> None:
    """Register ``baraza audit ...`` on the top-level sub-parsers."""
    group = commands.add_parser("audit", help="the staff audit trail (sign-ins, broadcasts, answers, exports...)")
    sub = group.add_subparsers(dest="audit_command", required=True)
    export = sub.add_parser("export", help="write the audit trail as CSV")
    export.add_argument("--output", type=Path, required=True, help="file to write ('-' for standard output)")
    export.add_argument("--actor", help="only this staff account (or cli:USER)")
    export.add_argument("--action", choices=audit.ACTIONS, help="only this action")
    export.add_argument("--since", type=moment_argument, help="rows at or after this date/time (UTC)")
    export.add_argument("--until", type=moment_argument, help="rows before this date/time (UTC)")


def run(settings: Settings, arguments: argparse.Namespace) -> int:
    """Run ``baraza audit export``; returns the exit status."""
    return asyncio.run(_export(settings, arguments))


async def _export(settings: Settings, arguments: argparse.Namespace) -> int:
    chosen = audit.AuditFilter(
        actor=arguments.actor, action=arguments.action, since=arguments.since, until=arguments.until
    )
    database = Database(settings.database_url)
    try:
        await database.migrate()
        count = await write_text(destination(arguments.output), lambda out: audit.write_csv(database, chosen, out))
        filters = {
            name: value.isoformat() if hasattr(value, "isoformat") else value
            for name, value in vars(chosen).items()
            if value is not None
        }
        await audit.record_in(
            database,
            actor=audit.cli_actor(),
            action=audit.EXPORT,
            now=utc_now(),
            target="audit",
            details={**audit.export_details("audit", "csv", count), **filters},
        )
    finally:
        await database.dispose()
    print(f"exported {count} audit row(s) to {arguments.output}", file=sys.stderr)
    return 0
