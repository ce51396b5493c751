"""How long the Objectives page and the quarterly engagement report take on a large installation.

    .venv/bin/python -m bench.engagement_objectives [--contacts 100000] [--backend sqlite|postgresql]

Fills a new database (``testkit.engagement``) with ``--contacts`` contacts over 200 days, half as
many data requests, as many satisfaction ratings (responses with one answer) and twice as many
notice deliveries, then times :func:`handlers.engagement.evaluate` for the four objectives of the
shipped config.yaml (each: its value now and 12 monthly values: what the Objectives page shows),
and ``build_report`` + ``render_report`` of the last full quarter (the HTML with its PNG charts).
Prints the best of three runs of each.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from bench.database import BACKENDS, bench_database
from bench.machine import describe
from bot.config import load_settings
from bot.reports.engagement import render_report
from handlers.engagement import evaluate
from handlers.engagement_report import Quarter, build_report
from storage.database import Database
from testkit import paths
from testkit.engagement import GROUPS, seed_engagement

NOW = datetime(2027, 4, 20, 12, 0, tzinfo=UTC)


async def best_of_three(work: Callable[[], Awaitable[object]]) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        await work()
        best = min(best, time.perf_counter() - started)
    return best


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--backend", choices=BACKENDS, default="sqlite")
    arguments = parser.parse_args()
    print(describe())
    settings = load_settings(paths.ROOT / "config.yaml", environ={}).engagement
    async with bench_database(arguments.backend) as database:
        started = time.perf_counter()
        await seed_engagement(database, NOW, size=arguments.contacts)
        print(f"{arguments.backend}: {arguments.contacts:,} contacts, {arguments.contacts // 2:,} requests, "
              f"{arguments.contacts:,} ratings, {2 * arguments.contacts:,} deliveries "
              f"(filled in {time.perf_counter() - started:.1f} s)")  # fmt: skip

        async def objectives() -> object:
            async with database.reading() as connection:
                return await evaluate(connection, settings, NOW, GROUPS)

        async def report() -> object:
            return await _report(database)

        async def _report(database: Database) -> str:
            async with database.reading() as connection:
                found = await build_report(
                    connection, Quarter(2027, 1), settings, groups=GROUPS, survey_titles={}, now=NOW
                )
            return await asyncio.to_thread(render_report, found, office="Bench", group_label={}, generated=NOW)

        timings = {
            f"Objectives page ({len(settings.objectives)} objectives, 12 months each)": await best_of_three(objectives),
            "quarterly report: figures, charts and HTML": await best_of_three(report),
        }
    for name, seconds in timings.items():
        print(f"  {name}: {seconds * 1000:,.0f} ms")


if __name__ == "__main__":
    asyncio.run(main())
