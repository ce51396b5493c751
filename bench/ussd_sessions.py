"""USSD sessions under load: phones answering the shipped survey at once through the fake Africa's
Talking gateway, each post timed against the gateway's 15-second limit for an answer.

    .venv/bin/python -m bench.ussd_sessions [--phones 100] [--database sqlite|postgresql]

The bot runs in this process with its USSD channel (testkit/ussd_harness.py); the phones follow
the plans of the Telegram respondents, wrong inputs included, reading every page ("9 More") and
going back ("0 Back") to the page of a choice. The export is checked before the figures count.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from bench.machine import describe
from surveys.loader import load_survey_directory
from testkit.databases import create_postgres_database, drop_postgres_database, postgres_reachable
from testkit.exports import export_rows
from testkit.fakes.ussd import APPLICATION_TIMEOUT
from testkit.telegram_harness import FORMS
from testkit.ussd_harness import ussd_bot, ussd_settings
from testkit.ussd_respondent import UssdRespondent


async def run(database_url: str, phones: int) -> None:
    survey = load_survey_directory(FORMS)["usat2026"]
    async with ussd_bot(database_url, ussd=ussd_settings(survey="usat2026")) as (_, gateway):
        respondents = [UssdRespondent(gateway.phone(f"+2547{10_000_000 + i:08d}"), i, survey) for i in range(phones)]
        started = time.perf_counter()

        async def answer(respondent: UssdRespondent) -> None:
            await respondent.dial()
            await respondent.answer_until()

        await asyncio.gather(*(answer(r) for r in respondents))
        elapsed = time.perf_counter() - started
    rows = await export_rows(database_url, survey)
    assert len(rows) == phones and all(row["complete"] == "true" for row in rows)
    latencies = sorted(gateway.latencies)
    screens = [screen for r in respondents for screen in r.phone.screens]

    def at(share: float) -> float:
        return latencies[min(len(latencies) - 1, int(share * len(latencies)))] * 1000

    print(f"{phones} phones, {len(latencies)} posts in {elapsed:.1f} s: {len(latencies) / elapsed:.0f} posts/s")
    print(
        f"answer time ms: median {statistics.median(latencies) * 1000:.0f}, p95 {at(0.95):.0f},"
        f" p99 {at(0.99):.0f}, max {latencies[-1] * 1000:.0f} (the gateway allows {APPLICATION_TIMEOUT * 1000:.0f})"
    )
    print(f"screens: {len(screens)}, longest {max(len(s.text) for s in screens)} characters (limit 182)")
    print(describe())


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phones", type=int, default=100)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    if args.database == "postgresql":
        if not postgres_reachable():
            raise SystemExit("PostgreSQL does not answer on 127.0.0.1:5432")
        url = await create_postgres_database()
        try:
            await run(url, args.phones)
        finally:
            await drop_postgres_database(url)
    else:
        with tempfile.TemporaryDirectory() as folder:
            await run(f"sqlite+aiosqlite:///{Path(folder) / 'bench.sqlite'}", args.phones)


if __name__ == "__main__":
    asyncio.run(main())
