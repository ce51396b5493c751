"""What the audit trail costs: one row per staff action, and the audit page on a long trail.

    .venv/bin/python -m bench.audit_trail [--rows 200000] [--backend sqlite|postgresql]

Times ``storage.audit.record`` in a transaction of its own (what a sign-in, an export or a
cancelled broadcast adds; the median of 500), fills ``--rows`` rows spread over a year among 20
actors, then the audit page's queries (count and 50 rows: the first page, a filtered one and a
deep one, best of three) and the CSV export of every row.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from bench.database import BACKENDS, bench_database
from bench.machine import describe
from storage import audit
from storage.database import Database

BATCH = 5000


async def fill(database: Database, rows: int) -> None:
    rng = random.Random(18)
    start = datetime.now(UTC) - timedelta(days=365)
    actors = [f"staff{index:02d}" for index in range(19)] + ["cli:ops"]
    values = []
    for index in range(rows):
        values.append(
            {
                "at": start + timedelta(seconds=index * 365 * 86400 / rows),
                "actor": rng.choice(actors),
                "action": rng.choice(audit.ACTIONS),
                "target": f"request:{rng.randint(1, 5000)}",
                "details": '{"status": "answered"}',
            }
        )
    for offset in range(0, rows, BATCH):
        async with database.transaction() as connection:
            await connection.execute(audit.audit_events.insert(), values[offset : offset + BATCH])


async def best_of_three(action: Callable[[], Awaitable[object]]) -> float:
    times = []
    for _ in range(3):
        started = time.perf_counter()
        await action()
        times.append(time.perf_counter() - started)
    return min(times)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--backend", choices=BACKENDS, default="sqlite")
    arguments = parser.parse_args()
    print(describe())
    async with bench_database(arguments.backend) as database:
        records = []
        for index in range(500):
            started = time.perf_counter()
            async with database.transaction() as connection:
                await audit.record(
                    connection,
                    actor="amina",
                    action=audit.EXPORT,
                    now=datetime.now(UTC),
                    target="survey:usat2026",
                    details=audit.export_details("responses", "csv", index),
                )
            records.append(time.perf_counter() - started)
        print(
            f"{arguments.backend}: one audit row in its own transaction: median {statistics.median(records) * 1000:.2f} ms"
        )
        started = time.perf_counter()
        await fill(database, arguments.rows)
        print(f"{arguments.rows:,} rows filled in {time.perf_counter() - started:.1f} s")

        def page(chosen: audit.AuditFilter, number: int) -> Callable[[], Awaitable[object]]:
            async def run() -> object:
                async with database.reading() as connection:
                    await audit.count(connection, chosen)
                    return await audit.events(connection, chosen, limit=50, offset=(number - 1) * 50)

            return run

        recent = datetime.now(UTC) - timedelta(days=30)
        figures = {
            "audit page 1, everything": page(audit.AuditFilter(), 1),
            "audit page 1, one actor and action": page(audit.AuditFilter(actor="staff03", action=audit.EXPORT), 1),
            "audit page 1, the last 30 days": page(audit.AuditFilter(since=recent), 1),
            "audit page 1000, everything": page(audit.AuditFilter(), 1000),
        }
        for name, run in figures.items():
            print(f"  {name:<40} {await best_of_three(run) * 1000:8.1f} ms")
        started = time.perf_counter()
        written = await audit.write_csv(database, audit.AuditFilter(), io.StringIO())
        seconds = time.perf_counter() - started
        print(f"  CSV export of {written:,} rows {seconds:.2f} s ({written / seconds:,.0f} rows/s)")


if __name__ == "__main__":
    asyncio.run(main())
