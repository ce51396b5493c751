"""Simulated users answer the shipped survey through the fake Bot API; prints throughput and latency.

    .venv/bin/python -m bench.survey_load [--users 200] [--backend sqlite|postgresql|both] [--part engine|telegram|both]

Two measurements per backend:
- end to end: the real python-telegram-bot Application (long polling) and the fake Bot API server
  on 127.0.0.1, every user answering the whole survey (wrong inputs included) concurrently;
- the engine alone: inbound → stored answer → rendered reply, in process, no HTTP; the figure only
  counts if every user's answers are all stored.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from bench.machine import describe as describe_machine
from bot.core.engine import Engine, load_pseudonymizer
from storage.database import Database
from storage.repositories import answers, responses
from surveys.loader import load_survey_directory
from surveys.model import Survey
from testkit.databases import create_postgres_database, drop_postgres_database, postgres_reachable
from testkit.fakes.engine_user import EngineUser
from testkit.fakes.survey_respondent import Respondent
from testkit.fakes.telegram import FakeTelegramServer
from testkit.telegram_harness import FORMS, PSEUDONYM_KEY, BotProcess


@dataclass
class Result:
    label: str
    inputs: int
    seconds: float
    latencies: list[float]
    cpu_seconds: float

    def line(self) -> str:
        ordered = sorted(self.latencies)

        def pct(p: float) -> float:
            return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000 if ordered else 0.0

        return (
            f"{self.label:<34} {self.inputs:>7} inputs in {self.seconds:6.2f} s = {self.inputs / self.seconds:8.1f}/s"
            f"  p50 {pct(0.50):7.1f} ms  p99 {pct(0.99):7.1f} ms  CPU {self.cpu_seconds:6.2f} s"
        )


def cpu_time() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of another process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def end_to_end(database_url: str, survey: Survey, users: int, label: str) -> Result:
    """The bot runs as its own process (``baraza run``), as in production; the fake Bot API and
    the simulated users share this one. CPU is the bot process's."""
    async with FakeTelegramServer() as server:
        bot = BotProcess(server, database_url, Path(tempfile.mkdtemp()))
        await bot.start()
        try:
            assert bot.process is not None
            respondents = [Respondent(server.user(10_000 + i), i, survey, timeout=300) for i in range(users)]
            started, cpu = time.perf_counter(), process_cpu(bot.process.pid)

            async def answer(respondent: Respondent) -> None:
                await respondent.open()
                await respondent.answer_until()

            await asyncio.gather(*(answer(r) for r in respondents))
            elapsed, cpu = time.perf_counter() - started, process_cpu(bot.process.pid) - cpu
        finally:
            await bot.stop()
    latencies = [latency for r in respondents for latency in r.latencies]
    return Result(label, len(latencies), elapsed, latencies, cpu)


async def engine_alone(database_url: str, survey: Survey, users: int, label: str) -> Result:
    database = Database(database_url)
    await database.migrate()
    engine = Engine(database, {survey.id: survey}, await load_pseudonymizer(database, PSEUDONYM_KEY))
    latencies: list[float] = []
    script = ["/survey usat2026", "Citizen", "2", "1,3", "prices", "4", "3", "5", "2", "4", "7", "31/03/2026", "Fine"]

    async def one(index: int) -> None:
        user = EngineUser(engine, f"bench-{index}")
        for text in script:
            started = time.perf_counter()
            await user.say(text)
            latencies.append(time.perf_counter() - started)

    started, cpu = time.perf_counter(), cpu_time()
    await asyncio.gather(*(one(i) for i in range(users)))
    elapsed, cpu = time.perf_counter() - started, cpu_time() - cpu
    try:
        await check_every_answer_stored(database, users, len(script) - 1)
    finally:
        await database.dispose()
    return Result(label, len(latencies), elapsed, latencies, cpu)


async def check_every_answer_stored(database: Database, users: int, answers_each: int) -> None:
    """A figure only counts if every user's response is complete with every answer stored."""
    async with database.reading() as connection:
        complete = await connection.scalar(
            select(func.count()).select_from(responses).where(responses.c.completed_at.is_not(None))
        )
        stored = await connection.scalar(select(func.count()).select_from(answers))
    if complete != users or stored != users * answers_each:
        raise AssertionError(
            f"expected {users} complete responses with {users * answers_each} answers;"
            f" the database holds {complete} and {stored}"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--part", choices=["telegram", "engine", "both"], default="both", help="end to end, the engine alone, or both"
    )
    arguments = parser.parse_args()
    survey = load_survey_directory(FORMS)["usat2026"]
    backends = ["sqlite", "postgresql"] if arguments.backend == "both" else [arguments.backend]
    print(f"{arguments.users} simulated users, survey usat2026 (12 questions, wrong inputs mixed in)")
    print(describe_machine(), flush=True)
    for backend in backends:
        for kind in ("telegram", "engine") if arguments.part == "both" else (arguments.part,):
            if backend == "postgresql":
                if not postgres_reachable():
                    print("postgresql: not reachable on 127.0.0.1:5432, skipped")
                    break
                url = await create_postgres_database()
            else:
                url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
            try:
                if kind == "telegram":
                    result = await end_to_end(url, survey, arguments.users, f"{backend}: end to end (PTB + fake API)")
                else:
                    result = await engine_alone(url, survey, arguments.users, f"{backend}: engine alone")
            finally:
                if backend == "postgresql":
                    await drop_postgres_database(url)
            print(f"{result.line()}  = {result.cpu_seconds / result.inputs * 1000:.2f} ms CPU/input", flush=True)
    if arguments.part != "engine":
        children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"peak memory of a bot process: {children:.0f} MiB")
    else:
        print(f"peak memory of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    asyncio.run(main())
