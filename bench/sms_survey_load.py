"""Simulated feature phones answer the shipped survey by SMS through a fake gateway; prints
throughput, latency and what the survey costs in SMS segments.

    .venv/bin/python -m bench.sms_survey_load [--users 50] [--provider twilio|africastalking]
        [--backend sqlite|postgresql] [--rate 1000]

The real adapter on the bot's aiohttp server (in this process), the fake gateway on 127.0.0.1
(Twilio's calls signed), every user answering the whole survey (wrong inputs included)
concurrently by replying numbers. One input = one webhook call answered (200 after commit and
replies). ``--rate`` is ``sms.messages_per_second`` (segments a second): the busiest one-second
window measured at the gateway is printed beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from bench.machine import describe
from bench.survey_load import Result, cpu_time
from surveys.loader import load_survey_directory
from testkit.databases import create_postgres_database, drop_postgres_database, postgres_reachable
from testkit.fakes.sms import FakeAfricasTalking, FakeSmsGateway, FakeTwilio, SmsRespondent
from testkit.sms_harness import sms_bot
from testkit.telegram_harness import FORMS


async def run(users: int, provider: str, rate: float, database_url: str, label: str) -> tuple[Result, str]:
    survey = load_survey_directory(FORMS)["usat2026"]
    gateway: FakeSmsGateway = FakeTwilio() if provider == "twilio" else FakeAfricasTalking()
    async with gateway, sms_bot(gateway, database_url, messages_per_second=rate):
        people = [SmsRespondent(gateway.user(f"+2547{i:08d}"), i, survey) for i in range(users)]  # type: ignore[arg-type]
        started, cpu = time.perf_counter(), cpu_time()

        async def answer(person: SmsRespondent) -> None:
            await person.open()
            await person.answer_until()

        await asyncio.gather(*(answer(person) for person in people))
        seconds, cpu_used = time.perf_counter() - started, cpu_time() - cpu
    assert all(person.finished for person in people), "every user finished the survey"
    inputs = len(gateway.webhook_answers)
    latencies = [latency for person in people for latency in person.latencies]
    segments = sum(sms.segments for sms in gateway.sent)
    cost = (
        f"{len(gateway.sent)} SMS sent, {segments} segments ({segments / users:.1f} a respondent, "
        f"{sum(1 for sms in gateway.sent if sms.encoding == 'UCS-2')} in UCS-2); "
        f"busiest second {gateway.most_in_one_second()} segments (rate {rate:g})"
    )
    return Result(label, inputs, seconds, latencies, cpu_used), cost


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--provider", choices=("twilio", "africastalking"), default="twilio")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--rate", type=float, default=1000.0)
    args = parser.parse_args()
    label = f"sms ({args.provider}) e2e, {args.backend}, {args.users} users"
    if args.backend == "postgresql":
        if not postgres_reachable():
            raise SystemExit("PostgreSQL is not reachable on 127.0.0.1:5432")
        url = await create_postgres_database()
        try:
            result, cost = await run(args.users, args.provider, args.rate, url, label)
        finally:
            await drop_postgres_database(url)
    else:
        with tempfile.TemporaryDirectory() as directory:
            url = f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}"
            result, cost = await run(args.users, args.provider, args.rate, url, label)
    print(describe())
    print(result.line())
    print(cost)


if __name__ == "__main__":
    asyncio.run(main())
