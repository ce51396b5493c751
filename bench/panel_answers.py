"""What following a panel costs; prints the figures.

    .venv/bin/python -m bench.panel_answers [--people 300] [--members 20000]

1. answers through the engine on SQLite: ``--people`` people answer wave 1 of the labour force
   panel of docs/fieldwork.md (3 answers each), then wave 2, whose every step reads the person's
   wave-1 answers (``${last_wave.x}``, ``prefill: last_wave``; 3 answers each, two of them the Keep
   button): the time per step of each wave, and of the read of one person's wave-1 answers;
2. choosing the panel's members (``--panel-members``): among ``--members`` wave-1 responses
   (a third complete, a third partial, a third break-offs), the contacts who took part.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert

from bench.machine import describe
from bot.core.engine import Engine, load_pseudonymizer
from handlers.context import Community
from handlers.panels import panel_members
from storage.database import Database
from storage.models import AnswerRow, ContactRow, ResponseRow
from storage.panels import wave_responses
from surveys.loader import load_survey_directory
from surveys.model import Survey
from testkit.fakes.engine_user import EngineUser
from testkit.panel_waves import write_waves


@contextlib.asynccontextmanager
async def panel_database() -> AsyncIterator[tuple[Mapping[str, Survey], Database]]:
    """Both waves of the panel, and a new SQLite database in a temporary folder."""
    with tempfile.TemporaryDirectory() as folder:
        write_waves(Path(folder) / "forms")
        database = Database(f"sqlite+aiosqlite:///{folder}/bench.db")
        await database.migrate()
        try:
            yield load_survey_directory(Path(folder) / "forms"), database
        finally:
            await database.dispose()


async def answering(people: int) -> None:
    async with panel_database() as (surveys, database):
        pseudonymizer = await load_pseudonymizer(database, "bench-pseudonym-key-0123456789")
        engine = Engine(database, surveys, pseudonymizer, community=Community())
        users = [EngineUser(engine, f"p{i}") for i in range(people)]
        started = time.perf_counter()
        for user in users:
            await user.say("/survey lfs2026w1")
            await user.press("Yes")
            await user.say("52000")
            await user.press("Trade")
        first = time.perf_counter() - started
        started = time.perf_counter()
        for user in users:
            await user.say("/survey lfs2026w2")
            await user.press("Yes")
            await user.press("Keep: 52000")
            replies = await user.press("Keep: Trade")
            assert replies[-1].text == "Send /start to see other surveys."
        second = time.perf_counter() - started
        started = time.perf_counter()
        async with database.reading() as connection:
            for contact_id in range(1, people + 1):
                found = await wave_responses(connection, contact_id, ["lfs2026w1"])
                assert found["lfs2026w1"].answers["income"] == "52000"
        lookup = time.perf_counter() - started
    steps = people * 4  # the /survey that opens it and 3 answers
    print(f"wave 1 (reads nothing of another wave): {first / steps * 1000:.2f} ms per step ({people} people x 4 steps)")
    print(f"wave 2 (reads the wave-1 answers at each step): {second / steps * 1000:.2f} ms per step")
    print(
        f"of which the read of one person's wave-1 answers (storage.panels.wave_responses): {lookup / people * 1000:.2f} ms"
    )


async def choosing(members: int) -> None:
    now = datetime.now(UTC)
    async with panel_database() as (surveys, database):
        async with database.transaction() as connection:
            await connection.execute(
                insert(ContactRow),
                [
                    {
                        "id": i + 1,
                        "channel": "telegram",
                        "user_key": str(i),
                        "chat_key": str(i),
                        "first_seen_at": now,
                        "last_seen_at": now,
                    }
                    for i in range(members)
                ],
            )
            await connection.execute(
                insert(ResponseRow),
                [
                    {
                        "id": f"r{i}",
                        "survey_id": "lfs2026w1",
                        "survey_version": "1",
                        "contact_id": i + 1,
                        "respondent": f"p{i}",
                        "channel": "telegram",
                        "language": "en",
                        "started_at": now,
                        "completed_at": now if i % 3 == 0 else None,
                    }
                    for i in range(members)
                ],
            )
            answers = [("employed", "yes"), ("income", "1000"), ("sector", "trade")]
            await connection.execute(
                insert(AnswerRow),
                [
                    {"response_id": f"r{i}", "question": name, "value": value, "answered_at": now}
                    for i in range(members)
                    for name, value in answers[: 3 if i % 3 == 0 else 2 if i % 3 == 1 else 1]
                ],
            )
        started = time.perf_counter()
        async with database.reading() as connection:
            found = await panel_members(connection, surveys.values(), surveys["lfs2026w2"])
        elapsed = time.perf_counter() - started
    assert len(found) == len([i for i in range(members) if i % 3 != 2])
    print(f"panel members among {members:,} wave-1 responses: {len(found):,} in {elapsed * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--people", type=int, default=300)
    parser.add_argument("--members", type=int, default=20_000)
    arguments = parser.parse_args()
    print(describe())
    asyncio.run(answering(arguments.people))
    asyncio.run(choosing(arguments.members))


if __name__ == "__main__":
    main()
