"""Answers per second and latency with 1, 2 and 4 webhook workers on PostgreSQL versus one
process on SQLite: the same simulated users (bench/survey_load.py's load generator) answering the
shipped survey through the fake Bot API, in one run.

    .venv/bin/python -m bench.workers [--users 200] [--workers 1 2 4]

Every configuration runs ``baraza run`` child processes in webhook mode behind the test
balancer (no duplicates here), the fake Bot API POSTing up to 64 updates at once. Workers on
PostgreSQL share the send rate through Redis when it answers on 127.0.0.1:6379, else through
PostgreSQL (the rate itself is lifted: this measures the bot, not Telegram's limit). The fake
Bot API, the balancer and the users run in this process and share the machine with the workers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from bench.survey_load import Result, cpu_time, process_cpu
from surveys.loader import load_survey_directory
from surveys.model import Survey
from testkit.databases import REDIS_URL, create_postgres_database, drop_postgres_database, postgres_reachable
from testkit.databases import redis_reachable as redis_answers
from testkit.exports import assert_export_matches, export_rows
from testkit.fakes.survey_respondent import Respondent
from testkit.fakes.telegram import FakeTelegramServer
from testkit.telegram_harness import FORMS
from testkit.worker_harness import worker_fleet


async def run(database_url: str, survey: Survey, users: int, workers: int, label: str, redis_url: str | None) -> Result:
    workdir = Path(tempfile.mkdtemp())
    async with (
        FakeTelegramServer(webhook_concurrency=64, webhook_timeout=120) as server,  # no redelivery for slowness
        worker_fleet(server, database_url, workdir, workers, redis_url=redis_url) as (_, processes),
    ):
        respondents = [Respondent(server.user(30_000 + i), i, survey, timeout=300) for i in range(users)]
        pids = [p.process.pid for p in processes if p.process is not None]
        cpu_before, generator_before = sum(process_cpu(pid) for pid in pids), cpu_time()
        started = time.perf_counter()

        async def answer(respondent: Respondent) -> None:
            await respondent.open()
            await respondent.answer_until()

        await asyncio.gather(*(answer(r) for r in respondents))
        elapsed = time.perf_counter() - started
        cpu = sum(process_cpu(pid) for pid in pids) - cpu_before
        generator = cpu_time() - generator_before
    # The figures only count if every answer was stored exactly once.
    assert_export_matches(await export_rows(database_url, survey), respondents, survey)
    latencies = [latency for r in respondents for latency in r.latencies]
    print(f"  ({label}: the load generator - fake Bot API, balancer, users - used {generator:.1f} s of CPU)")
    return Result(label, len(latencies), elapsed, latencies, cpu)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    arguments = parser.parse_args()
    survey = load_survey_directory(FORMS)["usat2026"]
    redis_url = REDIS_URL if redis_answers() else None
    print(
        f"{arguments.users} simulated users answering usat2026 over the Telegram webhook; {os.cpu_count()} CPUs; "
        f"send rate shared through {'Redis' if redis_url else 'PostgreSQL'}",
        flush=True,
    )
    results: dict[str, Result] = {}
    sqlite_url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    results["sqlite"] = await run(sqlite_url, survey, arguments.users, 1, "sqlite: 1 process", None)
    print(results["sqlite"].line(), flush=True)
    if not postgres_reachable():
        print("postgresql: not reachable on 127.0.0.1:5432, skipped")
        return
    for count in arguments.workers:
        url = await create_postgres_database()
        try:
            label = f"postgresql: {count} worker{'s' if count > 1 else ''}"
            results[label] = await run(url, survey, arguments.users, count, label, redis_url)
        finally:
            await drop_postgres_database(url)
        print(results[label].line(), flush=True)
    base = next((r for label, r in results.items() if label.startswith("postgresql: 1 ")), None)
    if base is not None:
        for label, result in results.items():
            if label.startswith("postgresql"):
                ratio = (result.inputs / result.seconds) / (base.inputs / base.seconds)
                print(f"scaling {label}: x{ratio:.2f} answers/s of 1 worker", flush=True)
    sqlite = results["sqlite"]
    for label, result in results.items():
        if label.startswith("postgresql"):
            ratio = (result.inputs / result.seconds) / (sqlite.inputs / sqlite.seconds)
            print(f"{label} vs sqlite: x{ratio:.2f}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
