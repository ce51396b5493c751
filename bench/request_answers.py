"""How fast a staff answer to a data request reaches the person, through the outbox of ``baraza run``.

    .venv/bin/python -m bench.request_answers [--single 20] [--burst 300] [--backend sqlite|postgresql]

The bot runs in this process against the fake Bot API (its simulated users too), at the default
sending rate (``broadcast.messages_per_second`` 25, one a second per chat). Answers are committed
through a separate :class:`~storage.database.Database`, as ``baraza requests reply`` does from its
own process. Two measurements:

1. ``--single`` answers, one at a time at random moments: the time from the answer's commit to the
   message in the person's chat (median, 90th percentile, maximum). The sender polls every second,
   so about half a second is expected on average.
2. ``--burst`` answers to as many people committed at once: the time until the last one arrived,
   the rate, and that each person got exactly one.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from bot.app import running_bot
from bot.config import BroadcastSettings
from handlers.request_desk import answer
from storage.database import Database
from storage.repositories import Repositories
from storage.requests import REQUEST, percentile
from testkit.databases import create_postgres_database, drop_postgres_database, postgres_reachable
from testkit.fakes.telegram import FakeTelegramServer
from testkit.telegram_harness import bot_settings

FIRST_USER = 2_000_000


async def open_tickets(database: Database, user_ids: list[int]) -> dict[int, int]:
    """A contact and an open ticket for each user; returns user id → ticket number."""
    numbers: dict[int, int] = {}
    now = datetime.now(UTC)
    async with database.transaction() as connection:
        repos = Repositories(connection)
        for user_id in user_ids:
            contact = await repos.contacts.touch("telegram", str(user_id), str(user_id), "en", now)
            ticket = await repos.requests.create(
                contact_id=contact.id, channel="telegram", language="en", user_group=None,
                source=REQUEST, text=f"Rice prices by market, request {user_id}", now=now,
            )  # fmt: skip
            numbers[user_id] = ticket.id
    return numbers


async def answer_all(database: Database, numbers: list[int]) -> float:
    """Commit an answer to each ticket in one transaction; returns the commit time (monotonic)."""
    async with database.transaction() as connection:
        repos = Repositories(connection)
        for number in numbers:
            await answer(repos, number, "See table 4 of the yearbook.", staff="bench", now=datetime.now(UTC))
    return time.monotonic()


async def wait_for_messages(
    server: FakeTelegramServer,
    user_ids: list[int],
    timeout: float = 120.0,  # noqa: ASYNC109
) -> dict[int, float]:
    """When each user's first bot message arrived (monotonic), polling the fake server's chats."""
    arrived: dict[int, float] = {}
    deadline = time.monotonic() + timeout
    while len(arrived) < len(user_ids):
        now = time.monotonic()
        if now > deadline:
            raise TimeoutError(f"{len(user_ids) - len(arrived)} answer(s) never arrived")
        for user_id in user_ids:
            if user_id not in arrived and server.user(user_id).bot_messages:
                arrived[user_id] = now
        await asyncio.sleep(0.005)
    return arrived


async def run(url: str, single: int, burst: int) -> None:
    staff_db = Database(url)
    await staff_db.migrate()
    async with FakeTelegramServer() as server:
        users = [FIRST_USER + i for i in range(single + burst)]
        for user_id in users:
            server.user(user_id, language_code="en")
        numbers = await open_tickets(staff_db, users)
        settings = replace(bot_settings(server, url), broadcast=BroadcastSettings())
        async with running_bot(settings):
            chance = random.Random(2026)
            latencies = []
            for user_id in users[:single]:
                await asyncio.sleep(chance.uniform(0.3, 1.3))
                committed = await answer_all(staff_db, [numbers[user_id]])
                arrived = await wait_for_messages(server, [user_id])
                latencies.append(arrived[user_id] - committed)
            print(
                f"single answers ({single}): commit → in the chat: median {percentile(latencies, 0.5):.2f} s, "
                f"p90 {percentile(latencies, 0.9):.2f} s, max {max(latencies):.2f} s"
            )
            burst_users = users[single:]
            committed = await answer_all(staff_db, [numbers[u] for u in burst_users])
            arrived = await wait_for_messages(server, burst_users, timeout=burst / 5 + 60)
            took = max(arrived.values()) - committed
            duplicates = sum(1 for u in burst_users if len(server.user(u).bot_messages) != 1)
            print(
                f"burst of {burst} answers at the default 25/s: all delivered in {took:.1f} s "
                f"({burst / took:.1f}/s), people with other than one message: {duplicates}"
            )
    await staff_db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--single", type=int, default=20)
    parser.add_argument("--burst", type=int, default=300)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    async def go() -> None:
        if arguments.backend == "postgresql":
            if not postgres_reachable():
                raise SystemExit("PostgreSQL is not reachable on 127.0.0.1:5432")
            url = await create_postgres_database()
            try:
                await run(url, arguments.single, arguments.burst)
            finally:
                await drop_postgres_database(url)
        else:
            with tempfile.TemporaryDirectory() as directory:
                await run(f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}", arguments.single, arguments.burst)

    asyncio.run(go())


if __name__ == "__main__":
    main()
