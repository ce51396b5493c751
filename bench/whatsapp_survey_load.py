"""Simulated WhatsApp users answer the shipped survey through the fake Cloud API; prints
throughput and latency.

    .venv/bin/python -m bench.whatsapp_survey_load [--users 50] [--backend sqlite|postgresql]

The real adapter on the bot's aiohttp server (in this process), the fake Graph API and Meta's
signed webhook calls on 127.0.0.1, every user answering the whole survey (wrong inputs included)
concurrently. One input = one signed webhook call answered (200 after commit and replies).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from bench.survey_load import Result, cpu_time
from surveys.loader import load_survey_directory
from testkit.databases import create_postgres_database, drop_postgres_database, postgres_reachable
from testkit.fakes.survey_respondent import Respondent
from testkit.fakes.whatsapp import FakeGraphServer
from testkit.telegram_harness import FORMS
from testkit.whatsapp_harness import whatsapp_bot


async def run(users: int, database_url: str, label: str) -> Result:
    survey = load_survey_directory(FORMS)["usat2026"]
    async with FakeGraphServer() as graph, whatsapp_bot(graph, database_url):
        people = [Respondent(graph.user(f"2547{i:08d}"), i, survey) for i in range(users)]  # type: ignore[arg-type]
        started, cpu = time.perf_counter(), cpu_time()

        async def answer(person: Respondent) -> None:
            await person.open()
            await person.answer_until()

        await asyncio.gather(*(answer(person) for person in people))
        seconds, cpu_used = time.perf_counter() - started, cpu_time() - cpu
    assert all(person.finished for person in people), "every user finished the survey"
    inputs = len(graph.webhook_calls)
    latencies = [latency for person in people for latency in person.latencies]
    return Result(label, inputs, seconds, latencies, cpu_used)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    if args.backend == "postgresql":
        if not postgres_reachable():
            raise SystemExit("PostgreSQL is not reachable on 127.0.0.1:5432")
        url = await create_postgres_database()
        try:
            result = await run(args.users, url, f"whatsapp e2e, postgresql, {args.users} users")
        finally:
            await drop_postgres_database(url)
    else:
        with tempfile.TemporaryDirectory() as directory:
            url = f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}"
            result = await run(args.users, url, f"whatsapp e2e, sqlite, {args.users} users")
    print(result.line())


if __name__ == "__main__":
    asyncio.run(main())
