"""``baraza requests ...``: the team's inbox of data requests and messages from users.

The inbox holds the tickets (``#12``: a ``/request``, or an ``unmatched`` question the person
chose to send) and the messages people wrote outside any conversation (``m7``: a ``message`` that
matched no data, a ``broadcast_reply``). ``list`` shows what still needs attention; ``show``,
``reply``, ``progress``, ``assign`` and ``close`` act on one item; ``stats`` shows the demand for
data the office does not publish and how fast the team answers.

An answer (``reply``) or a change of status the person should know about is stored together with
a message to them in the outbox; ``baraza run`` delivers it within a second or two.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.config import Settings
from common.clock import utc_now
from handlers import request_desk
from handlers.notify import reference
from storage.audit import cli_actor
from storage.database import Database
from storage.feedback import CLOSED as MESSAGE_CLOSED
from storage.feedback import CONVERTED, NEW, Feedback, get_feedback, recent_feedback
from storage.repositories import Repositories
from storage.requests import ACTIVE, CLOSED, REQUEST, STATUSES, UNMATCHED, DataRequest, RequestError, percentile

ACTIVE_FILTER, ALL_FILTER = "active", "all"
STATUS_CHOICES = (ACTIVE_FILTER, ALL_FILTER, *STATUSES, NEW, CONVERTED)
KIND_CHOICES = ("tickets", "messages", REQUEST, UNMATCHED, "message", "broadcast_reply")
TEXT_COLUMN = 60


def add_commands(commands: Any) -> None:
    """Register ``baraza requests ...`` on the top-level sub-parsers."""
    parser = commands.add_parser("requests", help="data requests and messages from users (the team's inbox)")
    sub = parser.add_subparsers(dest="requests_command", required=True)
    listing = sub.add_parser("list", help="the inbox, newest first: tickets (#N) and messages (mN)")
    listing.add_argument(
        "--status",
        choices=STATUS_CHOICES,
        default=ACTIVE_FILTER,
        help="active (default: open and in progress tickets, new messages), all, or one status",
    )
    listing.add_argument("--kind", choices=KIND_CHOICES, default=None, help="only tickets, messages, or one kind")
    listing.add_argument("--limit", type=int, default=50)
    show = sub.add_parser("show", help="one ticket with its whole conversation (N), or one message (mN)")
    show.add_argument("id")
    reply = sub.add_parser("reply", help="answer ticket N; the person receives the answer in the chat")
    reply.add_argument("number")
    reply.add_argument("text", nargs="+", help="the answer ('-' reads it from standard input)")
    reply.add_argument("--staff", default=None, help="who answers (default: your login name)")
    reply.add_argument("--close", action="store_true", help="close the ticket after answering")
    progress = sub.add_parser("progress", help="mark ticket N in progress (the person is told)")
    progress.add_argument("number")
    progress.add_argument("--staff", default=None, help="assign it to this person as well")
    assign = sub.add_parser("assign", help="give ticket N to a member of staff")
    assign.add_argument("number")
    assign.add_argument("staff")
    close = sub.add_parser("close", help="close ticket N or message mN")
    close.add_argument("id")
    stats = sub.add_parser("stats", help="most requested missing data, tickets by status and group, answer times")
    stats.add_argument("--days", type=int, default=None, help="only the last DAYS days (default: everything)")
    stats.add_argument("--top", type=int, default=15, help="how many of the most requested texts to show")


def run(settings: Settings, arguments: argparse.Namespace) -> int:
    """Run one ``baraza requests`` command; returns the exit status."""
    return asyncio.run(_run(settings, arguments))


async def _run(settings: Settings, arguments: argparse.Namespace) -> int:
    command = arguments.requests_command
    database = Database(settings.database_url)
    try:
        await database.migrate()
        if command == "list":
            return await list_inbox(database, arguments.status, arguments.kind, arguments.limit)
        if command == "stats":
            return await show_stats(database, arguments.days, arguments.top)
        if command == "show":
            return await show(database, arguments.id)
        if command == "close":
            return await close(database, arguments.id)
        number = _ticket_number(arguments.number)
        if number is None:
            return _fail(f"'{arguments.number}' is not a ticket number such as 12 or #12")
        if command == "reply":
            text = " ".join(arguments.text)
            if text == "-":
                text = sys.stdin.read()
            return await reply(database, number, text, staff=arguments.staff or _user(), close=arguments.close)
        if command == "progress":
            return await progress(database, number, arguments.staff)
        if command == "assign":
            return await assign(database, number, arguments.staff)
    except RequestError as error:
        return _fail(str(error))
    finally:
        await database.dispose()
    return 2


def _fail(message: str) -> int:
    print(f"baraza: {message}", file=sys.stderr)
    return 1


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _ticket_number(value: str) -> int | None:
    value = value.strip().lstrip("#")
    return int(value) if value.isdigit() else None


def _message_id(value: str) -> int | None:
    value = value.strip().lower()
    return int(value[1:]) if value.startswith("m") and value[1:].isdigit() else None


def _one_line(text: str, width: int = TEXT_COLUMN) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


# --------------------------------------------------------------------------- list


@dataclass(frozen=True)
class InboxRow:
    id: str
    kind: str
    status: str
    received: datetime
    group: str
    language: str
    text: str


def _filters(status: str, kind: str | None) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    """The ticket and message statuses to list (None: none of that type; (): any status)."""
    tickets: tuple[str, ...] | None
    messages: tuple[str, ...] | None
    if status == ACTIVE_FILTER:
        tickets, messages = ACTIVE, (NEW,)
    elif status == ALL_FILTER:
        tickets, messages = (), ()
    elif status == CLOSED:
        tickets, messages = (CLOSED,), (MESSAGE_CLOSED,)
    elif status in STATUSES:
        tickets, messages = (status,), None
    else:
        tickets, messages = None, (status,)
    if kind in ("tickets", REQUEST, UNMATCHED):
        messages = None
    elif kind is not None:
        tickets = None
    return tickets, messages


async def inbox(database: Database, status: str, kind: str | None, limit: int) -> list[InboxRow]:
    """The inbox rows to show, newest first."""
    ticket_statuses, message_statuses = _filters(status, kind)
    rows: list[InboxRow] = []
    async with database.reading() as connection:
        repos = Repositories(connection)
        if ticket_statuses is not None:
            sources = (kind,) if kind in (REQUEST, UNMATCHED) else ()
            for request in await repos.requests.find(statuses=ticket_statuses, sources=sources, limit=limit):
                rows.append(_ticket_row(request))
        if message_statuses is not None:
            kinds = (kind,) if kind not in (None, "messages") else ()
            for message in await recent_feedback(connection, statuses=message_statuses, kinds=kinds, limit=limit):
                rows.append(_message_row(message))
    rows.sort(key=lambda row: row.received, reverse=True)
    return rows[:limit]


def _ticket_row(request: DataRequest) -> InboxRow:
    group = request.user_group or "-"
    return InboxRow(
        f"#{request.id}", request.source, request.status, request.created_at, group, request.language, request.text
    )


def _message_row(message: Feedback) -> InboxRow:
    group, language = message.sender.user_group or "-", message.sender.language or "-"
    return InboxRow(f"m{message.id}", message.kind, message.status, message.received_at, group, language, message.text)


async def list_inbox(database: Database, status: str, kind: str | None, limit: int) -> int:
    rows = await inbox(database, status, kind, limit)
    if not rows:
        print(f"nothing in the inbox ({status})")
        return 0
    print(f"{'ID':<7} {'KIND':<15} {'STATUS':<11} {'RECEIVED':<20} {'GROUP':<14} {'LANG':<4} TEXT")
    for row in rows:
        print(
            f"{row.id:<7} {row.kind:<15} {row.status:<11} {_when(row.received):<20} "
            f"{_one_line(row.group, 14):<14} {row.language:<4} {_one_line(row.text)}"
        )
    print(f"\n{len(rows)} item(s). 'baraza requests show ID' shows one in full.")
    return 0


# --------------------------------------------------------------------------- one item


async def show(database: Database, item: str) -> int:
    message_id = _message_id(item)
    if message_id is not None:
        return await _show_message(database, message_id)
    number = _ticket_number(item)
    if number is None:
        return _fail(f"'{item}' is neither a ticket number (12, #12) nor a message id (m7)")
    async with database.reading() as connection:
        repos = Repositories(connection)
        thread = await repos.requests.thread(number)
        request = thread.request
        notices = []
        if request.contact_id is not None:
            ref = request_desk.request_ref(number)
            notices = [
                row
                for row in await repos.outbox.for_contact(request.contact_id, request_desk.NOTICE_KINDS)
                if reference(row.body) == ref
            ]
    origin = "a question that matched no data" if request.source == UNMATCHED else "/request"
    print(f"Data request #{request.id} (from {origin})")
    print(f"status      {request.status}")
    print(f"from        {request.channel}, language {request.language}, group {request.user_group or '-'}")
    print(f"assigned    {request.assigned_to or '-'}")
    print(f"created     {_when(request.created_at)}")
    print(f"answered    {_when(request.answered_at)}")
    print(f"closed      {_when(request.closed_at)}")
    for message in thread.messages:
        who = "user" if message.author == "user" else f"staff ({message.staff or '-'})"
        print(f"\n{_when(message.created_at)}  {who}:")
        for line in message.text.splitlines() or [""]:
            print(f"  {line}")
    if notices:
        print("\nmessages to the person:")
        for row in notices:
            outcome = f"{row.status}" + (f" {_when(row.sent_at)}" if row.sent_at else "")
            print(f"  {_when(row.created_at)}  {row.kind:<20} {outcome}" + (f" ({row.error})" if row.error else ""))
    if request.contact_id is None:
        print("\nthe person deleted their data: nothing can be sent to them")
    return 0


async def _show_message(database: Database, message_id: int) -> int:
    async with database.reading() as connection:
        message = await get_feedback(connection, message_id)
    if message is None:
        return _fail(f"there is no message m{message_id}")
    print(f"Message m{message.id} ({message.kind})")
    print(f"status      {message.status}")
    print(
        f"from        {message.channel}, language {message.sender.language or '-'}, group {message.sender.user_group or '-'}"
        + (f", reply to broadcast {message.broadcast_id}" if message.broadcast_id else "")
    )
    print(f"received    {_when(message.received_at)}\n")
    for line in message.text.splitlines() or [""]:
        print(f"  {line}")
    return 0


async def reply(database: Database, number: int, text: str, *, staff: str, close: bool) -> int:
    if not text.strip():
        return _fail("the answer is empty")
    action = request_desk.DeskAction(request_desk.ANSWER, number, staff, text.strip(), close)
    result = await request_desk.perform(database, action, now=utc_now(), actor=cli_actor())
    print(f"data request #{number}: answered by {staff}, now {result.request.status}")
    print(_delivery_note(result))
    return 0


async def progress(database: Database, number: int, staff: str | None) -> int:
    action = request_desk.DeskAction(request_desk.PROGRESS, number, staff)
    result = await request_desk.perform(database, action, now=utc_now(), actor=cli_actor())
    assigned = f", assigned to {result.request.assigned_to}" if result.request.assigned_to else ""
    print(f"data request #{number}: in progress{assigned}")
    print(_delivery_note(result))
    return 0


async def assign(database: Database, number: int, staff: str) -> int:
    action = request_desk.DeskAction(request_desk.ASSIGN, number, staff)
    result = await request_desk.perform(database, action, now=utc_now(), actor=cli_actor())
    print(f"data request #{number}: assigned to {result.request.assigned_to} ({result.request.status})")
    return 0


async def close(database: Database, item: str) -> int:
    message_id = _message_id(item)
    if message_id is not None:
        if not await request_desk.close_message(database, message_id, actor=cli_actor(), now=utc_now()):
            return _fail(f"there is no message m{message_id}")
        print(f"message m{message_id}: closed")
        return 0
    number = _ticket_number(item)
    if number is None:
        return _fail(f"'{item}' is neither a ticket number (12, #12) nor a message id (m7)")
    result = await request_desk.perform(
        database, request_desk.DeskAction(request_desk.CLOSE, number), now=utc_now(), actor=cli_actor()
    )
    print(f"data request #{number}: closed")
    if result.notified:
        print(_delivery_note(result))
    return 0


def _delivery_note(result: request_desk.DeskResult) -> str:
    if result.notified:
        return "the person is told in the chat by 'baraza run' (see 'baraza requests show')"
    if result.request.contact_id is None:
        return "the person deleted their data: nothing is sent"
    return "the person's channel cannot receive messages first: they see it with /my_requests"


# --------------------------------------------------------------------------- stats


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _counts(items: Sequence[tuple[str, int]]) -> str:
    return " · ".join(f"{name} {count}" for name, count in items) or "none"


async def show_stats(database: Database, days: int | None, top: int) -> int:
    since = utc_now() - timedelta(days=days) if days is not None else None
    async with database.reading() as connection:
        stats = await Repositories(connection).requests.stats(since=since, top=top)
    period = f"since {_when(since)}" if since is not None else "all time"
    total = sum(stats.by_status.values())
    print(f"Data requests, {period}: {total}")
    print(f"by status      {_counts([(s.replace('_', ' '), stats.by_status.get(s, 0)) for s in STATUSES])}")
    groups = sorted(stats.by_user_group.items(), key=lambda item: (-item[1], item[0] or "~"))
    print(f"by user group  {_counts([(group or 'not given', count) for group, count in groups])}")
    answered = stats.answer_seconds
    print(
        f"time to first answer ({len(answered)} answered): median {_duration(percentile(answered, 0.5))}"
        f" · 90th percentile {_duration(percentile(answered, 0.9))}"
    )
    print("\nMost requested data that was not found (lookups that matched nothing, and requests):")
    if not stats.demand:
        print("  none")
        return 0
    print(f"  {'LOOKUPS':>7} {'REQUESTS':>8}  TEXT")
    for item in stats.demand:
        print(f"  {item.lookups:>7} {item.tickets:>8}  {_one_line(item.text, 80)}")
    return 0
