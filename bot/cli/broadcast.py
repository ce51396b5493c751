"""``baraza broadcast ...``: send a notice file, follow and manage broadcasts.

``send`` stores the broadcast and every delivery row in one transaction, then follows the
progress; the sending itself is done by the durable sender of ``baraza run``, so it goes on when
this command exits (Ctrl+C only stops following).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from bot.channels.sms.rendering import notice_segments
from bot.cli.output import RAW_HELP
from bot.config import Settings
from common.clock import utc_now
from common.csv_cells import neutralised_row
from handlers.broadcast_actions import (
    cancel_broadcast,
    find_broadcast,
    preview_audience,
    reach_lines,
    store_broadcast,
    whatsapp_silent_before,
)
from handlers.notices import NoticeFileError, load_notice_file, parse_time
from storage import audit
from storage.audit import cli_actor
from storage.broadcasts import CANCELLED, DONE, OUTSIDE_WINDOW, SKIPPED, BroadcastRepository, BroadcastSummary
from storage.database import Database
from storage.deliveries import BLOCKED, FAILED, PENDING, SENDING, SENT, UNKNOWN
from storage.feedback import FeedbackRepository
from surveys.loader import load_survey_directory

FOLLOW_INTERVAL = 1.0
QUIET_HINT_SECONDS = 15.0
PLAIN_PROGRESS_SECONDS = 5.0
BAR_WIDTH = 24


def add_commands(commands: Any) -> None:
    """Register ``baraza broadcast ...`` on the top-level sub-parsers."""
    broadcast = commands.add_parser("broadcast", help="send release notices and survey invitations")
    sub = broadcast.add_subparsers(dest="broadcast_command", required=True)
    send = sub.add_parser("send", help="send a notice file (NOTICE.yaml) to its audience")
    send.add_argument("notice", type=Path)
    send.add_argument("--dry-run", action="store_true", help="only check the file and count the audience")
    send.add_argument(
        "--at", default=None, help="send at this time (2026-12-01 10:00, local time unless a zone is given)"
    )
    send.add_argument("--no-wait", action="store_true", help="store it and return; do not follow the sending")
    send.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    status = sub.add_parser("status", help="what a broadcast has sent (the latest broadcasts without ID)")
    status.add_argument("id", type=int, nargs="?")
    resend = sub.add_parser("resend-unknown", help="send again the messages whose delivery is unknown (after a crash)")
    resend.add_argument("id", type=int)
    cancel = sub.add_parser("cancel", help="stop a broadcast: its messages not yet sent are not sent")
    cancel.add_argument("id", type=int)
    replies = sub.add_parser("replies", help="the messages people sent in reply to notices, as CSV")
    replies.add_argument("id", type=int, nargs="?", help="only the replies to this broadcast")
    replies.add_argument("--output", type=Path, default=Path("-"), help="file to write (default: standard output)")
    replies.add_argument("--raw", action="store_true", help=RAW_HELP)


def run(settings: Settings, arguments: argparse.Namespace) -> int:
    command = arguments.broadcast_command
    try:
        if command == "send":
            return asyncio.run(
                send(
                    settings,
                    arguments.notice,
                    dry_run=arguments.dry_run,
                    at=arguments.at,
                    wait=not arguments.no_wait,
                    confirm=not arguments.yes and sys.stdin.isatty(),
                )
            )
        if command == "status":
            return asyncio.run(status(settings, arguments.id))
        if command == "resend-unknown":
            return asyncio.run(resend_unknown(settings, arguments.id))
        if command == "cancel":
            return asyncio.run(cancel(settings, arguments.id))
        if command == "replies":
            return asyncio.run(replies(settings, arguments.id, arguments.output, raw=arguments.raw))
    except KeyboardInterrupt:
        print("\nstopped following; the broadcast goes on in 'baraza run' ('baraza broadcast status')", file=sys.stderr)
        return 130
    return 2


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


async def _database(settings: Settings) -> Database:
    database = Database(settings.database_url)
    await database.migrate()
    return database


@contextlib.asynccontextmanager
async def _opened(settings: Settings) -> AsyncIterator[Database]:
    """The database, migrated, disposed of when the command is done."""
    database = await _database(settings)
    try:
        yield database
    finally:
        await database.dispose()


async def send(settings: Settings, path: Path, *, dry_run: bool, at: str | None, wait: bool, confirm: bool) -> int:
    now = utc_now()
    surveys = load_survey_directory(settings.surveys_directory)
    try:
        notice = load_notice_file(
            path,
            topics=settings.register.topics,
            user_groups=settings.register.user_groups,
            surveys=set(surveys),
            now=None if at else now,
        )
        send_at = parse_time(at) if at else notice.send_at
    except NoticeFileError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return 1
    except ValueError as error:
        print(f"baraza: --at {at!r} is not a time such as '2026-12-01 10:00' ({error})", file=sys.stderr)
        return 2
    if send_at is not None and send_at < now - timedelta(minutes=1):
        print(f"baraza: the send time {_when(send_at)} is in the past", file=sys.stderr)
        return 2
    database = await _database(settings)
    try:
        async with database.transaction() as connection:
            preview = await preview_audience(
                connection,
                notice.audience,
                notice.languages,
                notice.default_language,
                silent_before=whatsapp_silent_before(notice, now),
            )
        size, languages, reach = preview.size, preview.languages, preview.reach
        print(f"{path}: '{notice.title}'")
        print(f"audience: {size:,} contact(s): {notice.audience.describe()}")
        if languages:
            print("languages: " + ", ".join(f"{language} {count:,}" for language, count in sorted(languages.items())))
        # By channel, and why the others matching the filters are left out (web chat only, no consent...).
        print("reach by channel:")
        for line in reach_lines(reach, notice_segments(notice, settings.sms.max_segments)):
            print(f"  {line}")
        silent = next((c.left_out.get(OUTSIDE_WINDOW, 0) for c in reach.channels if c.channel == "whatsapp"), 0)
        if silent:
            print(
                f"note: {silent:,} WhatsApp contact(s) last wrote more than 24 hours ago; WhatsApp only lets an "
                "approved template reach them and the notice names no whatsapp_template, so they will not get it",
                file=sys.stderr,
            )
        if settings.register.onboarding is None:
            print(
                "note: register.onboarding is not set, so nobody can give consent; broadcasts only reach "
                "people who consented",
                file=sys.stderr,
            )
        when = "now" if send_at is None or send_at <= now else _when(send_at)
        if dry_run:
            print(f"dry run: nothing stored, nothing sent (it would be sent {when})")
            return 0
        if size == 0:
            why = ", ".join(f"{count:,} {reason}" for reason, count in reach.left_out.items())
            print(f"nobody to send to: nothing stored{f' (left out: {why})' if why else ''}", file=sys.stderr)
            return 1
        if confirm:
            answer = await asyncio.to_thread(input, f"Send '{notice.title}' to {size:,} contact(s) {when}? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                print("not sent")
                return 1
        async with database.transaction() as connection:
            broadcast_id, recipients = await store_broadcast(
                connection, notice, created_by=cli_actor(), now=now, send_at=send_at
            )
        print(f"broadcast {broadcast_id}: {recipients:,} message(s) stored, to be sent {when} by 'baraza run'")
        if not wait or (send_at is not None and send_at > now):
            print(f"follow it with: baraza broadcast status {broadcast_id}")
            return 0
        return await follow(database, broadcast_id)
    finally:
        await database.dispose()


def _progress_line(summary: BroadcastSummary, rate: float) -> str:
    total = max(1, summary.recipients)
    done = summary.recipients - summary.outstanding
    counts = " · ".join(
        f"{name} {summary.count(name):,}"
        for name in (SENT, BLOCKED, FAILED, UNKNOWN, SKIPPED, PENDING)
        if summary.count(name) or name in (SENT, PENDING)
    )
    filled = int(BAR_WIDTH * done / total)
    bar = "█" * filled + "░" * (BAR_WIDTH - filled)
    return f"[{bar}] {100 * done / total:5.1f}%  {done:,}/{summary.recipients:,}  {counts}  ({rate:,.0f}/s)"


async def follow(database: Database, broadcast_id: int, out: TextIO = sys.stdout) -> int:
    """Show the progress until nothing is left to send (Ctrl+C stops following, not sending)."""
    tty = out.isatty()
    last_done, last_change = -1, time.monotonic()
    samples: list[tuple[float, int]] = []
    hinted = False
    printed_at = 0.0
    while True:
        async with database.transaction() as connection:
            summary = await BroadcastRepository(connection).summary(broadcast_id)
        if summary is None:
            print(f"baraza: there is no broadcast {broadcast_id}", file=sys.stderr)
            return 1
        now = time.monotonic()
        done = summary.recipients - summary.outstanding
        samples = [*[s for s in samples if now - s[0] <= 5.0], (now, done)]
        rate = (samples[-1][1] - samples[0][1]) / (samples[-1][0] - samples[0][0]) if len(samples) > 1 else 0.0
        line = _progress_line(summary, rate)
        finished = summary.outstanding == 0 or summary.status == CANCELLED
        if tty:
            out.write("\r" + line + "\x1b[K")
            out.flush()
        elif finished or now - printed_at >= PLAIN_PROGRESS_SECONDS:
            print(line, file=out, flush=True)
            printed_at = now
        if done != last_done:
            last_done, last_change = done, now
        elif not hinted and now - last_change > QUIET_HINT_SECONDS and summary.count(PENDING):
            hinted = True
            message = "nothing sent for 15 s: is 'baraza run' running, with a Telegram token?"
            print(("\n" if tty else "") + message, file=out, flush=True)
        if finished:
            if tty:
                out.write("\n")
            print(_outcome(summary), file=out, flush=True)
            return 0
        await asyncio.sleep(FOLLOW_INTERVAL)


def _outcome(summary: BroadcastSummary) -> str:
    text = f"broadcast {summary.id}: {summary.count(SENT):,} sent"
    extra = [
        f"{summary.count(name):,} {label}"
        for name, label in (
            (BLOCKED, "blocked the bot"),
            (FAILED, "failed"),
            (UNKNOWN, "unknown"),
            (SKIPPED, "skipped (opted out or no longer consenting)"),
            (CANCELLED, "cancelled"),
        )
        if summary.count(name)
    ]
    if extra:
        text += ", " + ", ".join(extra)
    if summary.count(UNKNOWN):
        text += f" (see 'baraza broadcast resend-unknown {summary.id}')"
    return text


async def status(settings: Settings, broadcast_id: int | None) -> int:
    database = await _database(settings)
    try:
        async with database.transaction() as connection:
            repository = BroadcastRepository(connection)
            if broadcast_id is None:
                recent = await repository.recent()
                if not recent:
                    print("no broadcasts yet")
                    return 0
                print(
                    f"{'ID':>5}  {'STATUS':<9}  {'SEND AT':<20}  {'RECIPIENTS':>10}  {'SENT':>8}  {'PENDING':>8}  "
                    f"{'UNKNOWN':>7}  {'FAILED':>7}  {'BLOCKED':>7}  TITLE"
                )
                for item in recent:
                    print(
                        f"{item.id:>5}  {item.status:<9}  {_when(item.send_at):<20}  {item.recipients:>10,}  "
                        f"{item.count(SENT):>8,}  {item.outstanding:>8,}  {item.count(UNKNOWN):>7,}  "
                        f"{item.count(FAILED):>7,}  {item.count(BLOCKED):>7,}  {item.title}"
                    )
                return 0
            found = await find_broadcast(connection, broadcast_id)
        if found is None:
            print(f"baraza: there is no broadcast {broadcast_id}", file=sys.stderr)
            return 1
        summary = found.summary
        print(f"broadcast {summary.id}: {summary.title}")
        print(f"  status      {summary.status}" + (f" ({_when(summary.finished_at)})" if summary.finished_at else ""))
        print(f"  send at     {_when(summary.send_at)}")
        print(f"  created     {_when(summary.created_at)} by {summary.created_by}")
        print(f"  audience    {found.audience.describe()}")
        print(f"  recipients  {summary.recipients:,}")
        for name, label in (
            (SENT, "sent"),
            (PENDING, "pending"),
            (SENDING, "sending"),
            (UNKNOWN, "unknown"),
            (FAILED, "failed"),
            (BLOCKED, "blocked"),
            (SKIPPED, "skipped"),
            (CANCELLED, "cancelled"),
        ):
            print(f"  {label:<10}  {summary.count(name):,}")
        if summary.count(UNKNOWN):
            print(
                f"  ({summary.count(UNKNOWN):,} were being sent when the bot stopped or got no answer: they may "
                f"or may not have arrived. 'baraza broadcast resend-unknown {summary.id}' sends them again.)"
            )
        if summary.status not in (DONE, CANCELLED) and summary.outstanding and summary.send_at <= utc_now():
            print("  (it is sent by 'baraza run'; if nothing moves, check that it runs with a Telegram token)")
        return 0
    finally:
        await database.dispose()


async def resend_unknown(settings: Settings, broadcast_id: int) -> int:
    async with _opened(settings) as database, database.transaction() as connection:
        queued = await BroadcastRepository(connection).resend_unknown(broadcast_id)
        if queued:
            await audit.record(
                connection,
                actor=cli_actor(),
                action=audit.BROADCAST_RESENT,
                now=utc_now(),
                target=f"broadcast:{broadcast_id}",
                details={"queued_again": queued},
            )
    if not queued:
        print(f"broadcast {broadcast_id} has no message whose delivery is unknown")
    else:
        print(
            f"broadcast {broadcast_id}: {queued:,} message(s) queued again. Some of these people may have got "
            "the first one and will see the notice twice."
        )
    return 0


async def cancel(settings: Settings, broadcast_id: int) -> int:
    async with _opened(settings) as database, database.transaction() as connection:
        cancelled = await cancel_broadcast(connection, broadcast_id, utc_now(), actor=cli_actor())
    if cancelled is None:
        print(f"baraza: there is no broadcast {broadcast_id} to cancel", file=sys.stderr)
        return 1
    print(f"broadcast {broadcast_id} cancelled: {cancelled:,} message(s) will not be sent")
    return 0


REPLY_COLUMNS = ("id", "broadcast_id", "received_at", "respondent", "user_group", "region", "language", "text")


async def replies(settings: Settings, broadcast_id: int | None, output: Path, *, raw: bool = False) -> int:
    """The replies to notices as CSV, with the same pseudonyms as the survey exports; cells a
    spreadsheet would run as a formula get a ``'`` in front unless ``raw``."""
    from bot.core.engine import load_pseudonymizer
    from storage.feedback import BROADCAST_REPLY

    database = await _database(settings)
    try:
        pseudonymize = await load_pseudonymizer(database, settings.pseudonym_key, settings.key_file)
        out: TextIO = sys.stdout if str(output) == "-" else output.open("w", encoding="utf-8", newline="")
        count = 0
        try:
            writer = csv.writer(out)
            writer.writerow(REPLY_COLUMNS)
            async with database.reading() as connection:
                async for item in FeedbackRepository(connection).stream(
                    broadcast_id=broadcast_id, kind=BROADCAST_REPLY
                ):
                    respondent = pseudonymize(item.channel, item.sender.user_key) if item.sender.user_key else ""
                    row = [
                        item.id,
                        item.broadcast_id or "",
                        item.received_at.isoformat(),
                        respondent,
                        item.sender.user_group or "",
                        item.sender.region or "",
                        item.sender.language or "",
                        item.text,
                    ]
                    writer.writerow(row if raw else neutralised_row(row))
                    count += 1
        finally:
            if out is not sys.stdout:
                out.close()
        print(f"{count} repl{'y' if count == 1 else 'ies'}", file=sys.stderr)
        details = {**audit.export_details("broadcast replies", "csv", count), "broadcast": broadcast_id}
        await audit.record_in(
            database, actor=cli_actor(), action=audit.EXPORT, now=utc_now(), target="feedback", details=details
        )
        return 0
    finally:
        await database.dispose()
