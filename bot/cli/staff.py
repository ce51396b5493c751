"""``baraza staff ...``: the accounts that may sign in to the dashboard at ``/admin``.

Passwords are asked twice on a terminal (never an argument: it would stay in the shell history),
or read from the first line of standard input with ``--password-stdin`` (for scripts).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from datetime import UTC, datetime
from typing import Any

from bot.config import Settings
from common.clock import utc_now
from storage import audit
from storage.database import Database
from storage.staff import EDITOR, ROLES, VIEWER, StaffError, StaffRepository, check_password


def add_commands(commands: Any) -> None:
    """Register ``baraza staff ...`` on the top-level sub-parsers."""
    staff = commands.add_parser("staff", help="staff accounts of the dashboard (/admin)")
    sub = staff.add_subparsers(dest="staff_command", required=True)
    add = sub.add_parser("add", help="create an account (asks for its password)")
    add.add_argument("name")
    add.add_argument(
        "--role",
        choices=ROLES,
        default=VIEWER,
        help=f"{EDITOR}: answers requests and sends broadcasts; {VIEWER}: reads",
    )
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    remove = sub.add_parser("remove", help="delete an account (signed out everywhere at once)")
    remove.add_argument("name")
    passwd = sub.add_parser("passwd", help="set a new password (also unlocks the account and signs it out)")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    role = sub.add_parser("role", help="change an account's role")
    role.add_argument("name")
    role.add_argument("role", choices=ROLES)
    sub.add_parser("list", help="the accounts, their roles and last sign-in")


def run(settings: Settings, arguments: argparse.Namespace) -> int:
    try:
        return asyncio.run(_run(settings, arguments))
    except StaffError as error:
        print(f"baraza: {error}", file=sys.stderr)
        return 1
    except (EOFError, KeyboardInterrupt):
        print("\nbaraza: no password given; nothing changed", file=sys.stderr)
        return 1


def read_password(from_stdin: bool) -> str:
    """The new password, checked; asked twice on a terminal."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        check_password(password)
        return password
    password = getpass.getpass("New password: ")
    check_password(password)
    if getpass.getpass("Again: ") != password:
        raise StaffError("the two passwords differ; nothing changed")
    return password


def _when(moment: datetime | None) -> str:
    return "never" if moment is None else f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


async def _run(settings: Settings, arguments: argparse.Namespace) -> int:
    command = arguments.staff_command
    password = read_password(arguments.password_stdin) if command in ("add", "passwd") else ""
    database = Database(settings.database_url)
    try:
        await database.migrate()
        async with database.transaction() as connection:
            staff = StaffRepository(connection)
            now = utc_now()
            changed: tuple[str, dict[str, object]] | None = None
            if command == "add":
                account = await staff.add(arguments.name, password, arguments.role, now)
                changed = audit.ACCOUNT_ADDED, {"role": account.role}
                print(
                    f"account {account.username} created ({account.role}); sign in at /admin on the web chat's address"
                )
            elif command == "remove":
                await staff.remove(arguments.name)
                changed = audit.ACCOUNT_REMOVED, {}
                print(f"account {arguments.name} removed")
            elif command == "passwd":
                await staff.set_password(arguments.name, password)
                changed = audit.PASSWORD_CHANGED, {}
                print(f"password of {arguments.name} changed; the account is unlocked and signed out everywhere")
            elif command == "role":
                before = await staff.get(arguments.name)
                await staff.set_role(arguments.name, arguments.role)
                changed = audit.ROLE_CHANGED, {"role": arguments.role, "was": before.role if before else None}
                print(f"{arguments.name} is now {arguments.role}")
            elif command == "list":
                accounts = await staff.list()
                if not accounts:
                    print("no staff accounts yet: create one with 'baraza staff add NAME --role editor'")
                for account in accounts:
                    locked = (
                        f"  LOCKED until {_when(account.locked_until)}"
                        if account.locked_until and account.locked_until > now
                        else ""
                    )
                    print(
                        f"{account.username:<24} {account.role:<7} last sign-in {_when(account.last_login_at)}{locked}"
                    )
            if changed is not None:
                action, details = changed
                await audit.record(
                    connection,
                    actor=audit.cli_actor(),
                    action=action,
                    now=now,
                    target=f"account:{arguments.name}",
                    details=details,
                )
        return 0
    finally:
        await database.dispose()
