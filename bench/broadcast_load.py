"""A broadcast to 100,000 contacts through the fake Bot API, at three rates, with a ``kill -9``.

    .venv/bin/python -m bench.broadcast_load [--contacts 100000] [--backend sqlite|postgresql]
                                             [--measure 20] [--concurrency 8]

The bot is ``baraza run`` in its own process (started through :func:`serve`, which only lifts the
configuration's 1000/s ceiling so that "unlimited" can be measured); the fake Bot API server and
its 100,000 simulated users live in this process. Three runs, each a new broadcast to everyone:

1. unlimited (a 100,000/s setting): ``kill -9`` of the bot at a random point, restart, until done;
   then duplicates (must be 0), silent losses (must be 0) and ``unknown`` (at most the concurrency);
2. 1000/s for ``--measure`` seconds, then the broadcast is cancelled;
3. 30/s for ``--measure`` seconds, likewise.

For each: sustained messages/s, the largest number of messages the fake server received in any
one-second window (never above the setting), and the bot's peak memory.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from bench.machine import describe
from bot.config import BroadcastSettings
from handlers.notices import Notice
from storage.broadcasts import SENT, UNKNOWN, Audience, BroadcastRepository, contacts, deliveries
from storage.database import Database
from testkit.databases import create_postgres_database, drop_postgres_database, postgres_reachable
from testkit.fakes.telegram import FakeTelegramServer
from testkit.telegram_harness import FORMS, ROOT, bot_environment

NOTICE = Notice(
    title="Benchmark notice",
    texts={"en": "The consumer price index for November is out: +0.4% in the month, +3.1% over a year."},
    default_language="en",
    audience=Audience(),
)
FIRST_USER = 1_000_000


# --------------------------------------------------------------------------- the bot process


def serve(config: Path, per_second: float, concurrency: int) -> None:
    """``baraza run`` with the broadcast rate set directly (the configuration caps it at 1000/s)."""
    from bot.app import run_forever
    from bot.cli.run import event_loop_factory
    from bot.config import load_settings

    settings = load_settings(config)
    settings = replace(settings, broadcast=BroadcastSettings(per_second, 1.0, concurrency))
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # On the event loop `baraza run` serves on (uvloop where installed), as the office's bot does.
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(run_forever(settings))


class BenchBot:
    """The bot in a child process, like ``testkit.telegram_harness.BotProcess`` but at a chosen rate."""

    def __init__(
        self, server: FakeTelegramServer, database_url: str, workdir: Path, per_second: float, concurrency: int
    ):
        self.server = server
        self.database_url = database_url
        self.per_second = per_second
        self.concurrency = concurrency
        self.log = workdir / "bot.log"
        self.config = workdir / "config.yaml"
        self.config.write_text(
            f"surveys: {{directory: {FORMS}}}\n"
            "logging: {level: WARNING}\n"
            "telegram:\n  poll_timeout: 1\n"
            "  rate_limit: {messages_per_second: 100000, chat_messages_per_second: 100000, chat_burst: 1000}\n"
        )
        self.process: subprocess.Popen[bytes] | None = None
        self.peak_memory_kib = 0

    async def start(self) -> None:
        polls = len(self.server.calls_to("getUpdates"))
        env = bot_environment(self.server, self.database_url)
        command = [sys.executable, "-m", "bench.broadcast_load", "--serve", str(self.config)]
        command += ["--rate", str(self.per_second), "--concurrency", str(self.concurrency)]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: ASYNC220
        for _ in range(600):
            if len(self.server.calls_to("getUpdates")) > polls:
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"the bot exited:\n{self.log.read_text()[-3000:]}")
            await asyncio.sleep(0.05)
        raise TimeoutError("the bot did not start")

    def sample_memory(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                self.peak_memory_kib = max(self.peak_memory_kib, int(line.split()[1]))

    def cpu_seconds(self) -> float:
        """User and system CPU time of the bot process so far."""
        if self.process is None or self.process.poll() is not None:
            return 0.0
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def kill(self) -> None:
        assert self.process is not None
        self.sample_memory()
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    async def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.sample_memory()
            self.process.terminate()
            await asyncio.to_thread(self.process.wait, 30)


# --------------------------------------------------------------------------- measuring


@dataclass
class Run:
    label: str
    setting: str
    sent: int
    seconds: float
    burst: int
    peak_memory_mib: float
    extra: str = ""
    #: CPU seconds of the bot process and of the fake Bot API (this process) while measuring.
    bot_cpu: float = 0.0
    fake_cpu: float = 0.0

    def line(self) -> str:
        return (
            f"{self.label:<30} {self.sent:>7,} messages in {self.seconds:6.1f} s = {self.sent / self.seconds:7.1f}/s"
            f"   largest 1-s burst {self.burst:>5} (setting {self.setting})   bot peak memory {self.peak_memory_mib:4.0f} MiB"
            + (
                f"\n{'':<30} CPU per message: bot {self.bot_cpu / self.sent * 1000:.2f} ms, "
                f"fake Bot API {self.fake_cpu / self.sent * 1000:.2f} ms"
                if self.bot_cpu and self.sent
                else ""
            )
            + (f"\n{'':<30} {self.extra}" if self.extra else "")
        )


def largest_burst(times: list[float]) -> int:
    """The most arrivals in any window of one second (half-open)."""
    times = sorted(times)
    best, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


def send_times(server: FakeTelegramServer, since: int) -> list[float]:
    return [call.time for call in server.calls[since:] if call.method == "sendMessage"]


async def wait_for(server: FakeTelegramServer, since: int, count: int, bot: BenchBot, within: float) -> None:
    deadline = time.monotonic() + within
    seen, index = 0, since
    reported, reported_seen = time.monotonic(), 0
    while seen < count:
        calls = server.calls
        seen += sum(1 for call in calls[index:] if call.method == "sendMessage")
        index = len(calls)
        now = time.monotonic()
        if now > deadline:
            raise TimeoutError(f"only {seen} of {count} messages within {within} s")
        if now - reported >= 10:
            print(f"    {seen:,} sent ({(seen - reported_seen) / (now - reported):.0f}/s)", flush=True)
            reported, reported_seen = now, seen
        bot.sample_memory()
        await asyncio.sleep(0.2)


async def broadcast_now(database: Database) -> tuple[int, int]:
    started = time.perf_counter()
    async with database.transaction() as connection:
        created = await BroadcastRepository(connection).create(
            title=NOTICE.title,
            notice=NOTICE.to_json(),
            audience=NOTICE.audience,
            languages=NOTICE.languages,
            default_language=NOTICE.default_language,
            created_by="bench",
            now=datetime.now(UTC),
        )
    print(
        f"  broadcast {created[0]}: {created[1]:,} delivery rows stored in one transaction in {time.perf_counter() - started:.1f} s"
    )
    return created


async def statuses(database: Database, broadcast_id: int) -> dict[int, str]:
    """The status of each recipient's delivery, by Telegram user id."""
    async with database.reading() as connection:
        rows = await connection.execute(
            select(contacts.c.user_key, deliveries.c.status)
            .select_from(deliveries.join(contacts, contacts.c.id == deliveries.c.contact_id))
            .where(deliveries.c.broadcast_id == broadcast_id)
        )
        return {int(user_key): status for user_key, status in rows}


async def wait_until_done(database: Database, broadcast_id: int, bot: BenchBot, within: float) -> None:
    deadline = time.monotonic() + within
    reported, reported_done = time.monotonic(), -1
    while True:
        async with database.transaction() as connection:
            summary = await BroadcastRepository(connection).summary(broadcast_id)
        assert summary is not None
        if summary.outstanding == 0:
            return
        now = time.monotonic()
        if now > deadline:
            raise TimeoutError(f"broadcast {broadcast_id} not done: {summary.counts}")
        done = summary.recipients - summary.outstanding
        if reported_done < 0:
            reported_done = done
        elif now - reported >= 10:
            print(f"    {done:,} done ({(done - reported_done) / (now - reported):.0f}/s)", flush=True)
            reported, reported_done = now, done
        bot.sample_memory()
        await asyncio.sleep(1.0)


async def unlimited_with_kill(
    server: FakeTelegramServer, database: Database, url: str, workdir: Path, contacts: int, concurrency: int
) -> Run:
    bot = BenchBot(server, url, workdir, 100_000, concurrency)
    received_before = {uid: len(user.bot_messages) for uid, user in server.users.items()}
    await bot.start()
    since = len(server.calls)
    broadcast_id, recipients = await broadcast_now(database)
    kill_at = random.Random().randint(recipients // 5, recipients * 4 // 5)
    await wait_for(server, since, kill_at, bot, within=600)
    bot.kill()
    first = send_times(server, since)
    print(f"  kill -9 after {len(first):,} messages; restarting")
    await asyncio.sleep(0.5)
    resumed = len(server.calls)
    await bot.start()
    await wait_until_done(database, broadcast_id, bot, within=900)
    await bot.stop()
    second = send_times(server, resumed)
    got = {uid: len(user.bot_messages) - received_before.get(uid, 0) for uid, user in server.users.items()}
    status = await statuses(database, broadcast_id)
    duplicates = sum(1 for uid in status if got.get(uid, 0) > 1)
    losses = sum(1 for uid, state in status.items() if got.get(uid, 0) == 0 and state != UNKNOWN)
    unknown = [uid for uid, state in status.items() if state == UNKNOWN]
    sent = sum(1 for state in status.values() if state == SENT)
    sending_seconds = (first[-1] - first[0]) + (second[-1] - second[0] if second else 0.0)
    extra = (
        f"kill -9 after {len(first):,}: duplicates {duplicates}, silent losses {losses}, unknown {len(unknown)} "
        f"(of which received {sum(got.get(uid, 0) for uid in unknown)}; concurrency {concurrency}); "
        f"sent {sent:,} of {recipients:,}"
    )
    return Run(
        f"unlimited, concurrency {concurrency}",
        "100000/s",
        len(first) + len(second),
        sending_seconds,
        max(largest_burst(first), largest_burst(second)),
        bot.peak_memory_kib / 1024,
        extra,
    )


async def limited(
    server: FakeTelegramServer,
    database: Database,
    url: str,
    workdir: Path,
    per_second: int,
    measure: float,
    concurrency: int = 8,
) -> Run:
    bot = BenchBot(server, url, workdir, per_second, concurrency)
    await bot.start()
    since = len(server.calls)
    broadcast_id, _ = await broadcast_now(database)
    await wait_for(server, since, 1, bot, within=30)
    started = time.monotonic()
    bot_cpu, fake_cpu = bot.cpu_seconds(), time.process_time()
    while time.monotonic() - started < measure:
        bot.sample_memory()
        await asyncio.sleep(0.5)
    bot_cpu, fake_cpu = bot.cpu_seconds() - bot_cpu, time.process_time() - fake_cpu
    async with database.transaction() as connection:
        await BroadcastRepository(connection).cancel(broadcast_id, datetime.now(UTC))
    await bot.stop()
    times = send_times(server, since)
    inside = [t for t in times if t - times[0] <= measure]
    return Run(
        f"{per_second}/s for {measure:.0f} s",
        f"{per_second}/s",
        len(inside),
        measure,
        largest_burst(times),
        bot.peak_memory_kib / 1024,
        bot_cpu=bot_cpu,
        fake_cpu=fake_cpu,
    )


async def insert_contacts(database: Database, count: int) -> None:
    started = time.perf_counter()
    now = datetime.now(UTC)
    batch = 10_000
    for first in range(0, count, batch):
        async with database.transaction() as connection:
            await connection.execute(
                contacts.insert(),
                [
                    {
                        "channel": "telegram",
                        "user_key": str(FIRST_USER + i),
                        "chat_key": str(FIRST_USER + i),
                        "language": "en",
                        "first_seen_at": now,
                        "last_seen_at": now,
                        "consent_at": now,
                        "user_group": "citizen",
                    }
                    for i in range(first, min(count, first + batch))
                ],
            )
    print(f"{count:,} consenting contacts inserted in {time.perf_counter() - started:.1f} s")


async def main(arguments: argparse.Namespace) -> None:
    backend = arguments.backend
    if backend == "postgresql":
        if not postgres_reachable():
            raise SystemExit("PostgreSQL is not reachable on 127.0.0.1:5432")
        url = await create_postgres_database()
    else:
        url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    workdir = Path(tempfile.mkdtemp())
    print(f"{backend}, {arguments.contacts:,} contacts, {os.cpu_count()} CPUs")
    print(describe())
    database = Database(url)
    try:
        await database.migrate()
        await insert_contacts(database, arguments.contacts)
        async with FakeTelegramServer() as server:
            for i in range(arguments.contacts):
                server.user(FIRST_USER + i)
            runs: list[Run] = []
            if not arguments.skip_unlimited:
                print("unlimited rate (100000/s setting), kill -9 at a random point, restart:")
                runs.append(
                    await unlimited_with_kill(server, database, url, workdir, arguments.contacts, arguments.concurrency)
                )
                print(runs[-1].line(), flush=True)
            for rate in arguments.rates:
                print(f"{rate}/s:")
                runs.append(
                    await limited(server, database, url, workdir, rate, arguments.measure, arguments.concurrency)
                )
                print(runs[-1].line(), flush=True)
        print()
        for run in runs:
            print(run.line())
    finally:
        await database.dispose()
        if backend == "postgresql":
            await drop_postgres_database(url)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--measure", type=float, default=20.0, help="seconds measured at the limited rates")
    parser.add_argument("--concurrency", type=int, default=8, help="sends in flight at most (every run)")
    parser.add_argument("--rates", type=int, nargs="*", default=[1000, 30])
    parser.add_argument("--skip-unlimited", action="store_true")
    parser.add_argument("--serve", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, default=25.0, help=argparse.SUPPRESS)
    parsed = parser.parse_args()
    if parsed.serve is not None:
        serve(parsed.serve, parsed.rate, parsed.concurrency)
    else:
        asyncio.run(main(parsed))
