"""A sign-in flood against a running ``baraza run`` while a citizen chats (issue 18).

    .venv/bin/python -m bench.login_flood [--attempts 200] [--backend sqlite|postgresql]

``baraza run`` runs as a child process (web chat and dashboard, behind a "proxy" on 127.0.0.1
listed in ``web.trusted_proxies``). The benchmark fires ``--attempts`` sign-in POSTs at once, each
from its own client address (``X-Forwarded-For``: a botnet, so the per-address limit does not
help), from a separate process: half at ``editor1`` (the right password is the 20th), a quarter at ``viewer1``, the rest
at names that do not exist. Meanwhile five web-chat users each send ``/help`` once a second.
Printed, for the default limits and again with ``web.limits`` off (the lockout alone):

- the chat's reply time before and during the flood (median, 99th percentile, maximum);
- the answers to the flood (303 signed in, 401 refused, 429 over a limit);
- per account, the guesses checked in this lockout period (``failed_attempts`` of the row,
  which counts every guess taken since the last success or lock) and whether it is locked.

Targets: chat replies under 100 ms during the flood; at most 5 guesses checked per account.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from bench.machine import describe as describe_machine
from storage.database import Database
from storage.requests import percentile
from storage.staff import StaffRepository
from testkit.databases import create_postgres_database, drop_postgres_database, postgres_reachable
from testkit.telegram_harness import FORMS, PSEUDONYM_KEY, ChildBotProcess, free_port

PASSWORD = "correct horse battery"
ACCOUNTS = ("editor1", "viewer1")
CHAT_USERS = 5
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class WebBot(ChildBotProcess):
    """``baraza run`` with only the web server, on a free port of 127.0.0.1."""

    def __init__(self, database_url: str, workdir: Path, *, limits: bool) -> None:
        self.database_url = database_url
        self.port = free_port()
        self.log = workdir / "bot.log"
        self.config = workdir / "config.yaml"
        self.config.write_text(
            f"surveys: {{directory: {FORMS}}}\n"
            f"web:\n  host: 127.0.0.1\n  port: {self.port}\n  trusted_proxies: [127.0.0.1]\n"
            f"  limits: {{enabled: {'true' if limits else 'false'}}}\n"
        )

    async def start(self) -> None:
        env = {**os.environ, "BARAZA_DATABASE_URL": self.database_url, "BARAZA_PSEUDONYM_KEY": PSEUDONYM_KEY}
        process = self.launch(env)
        async with aiohttp.ClientSession() as client:
            for _ in range(600):
                if process.poll() is not None:
                    raise RuntimeError(f"baraza run exited:\n{self.log.read_text()[-3000:]}")
                try:
                    async with client.get(f"http://127.0.0.1:{self.port}/healthz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise TimeoutError(f"baraza run did not answer:\n{self.log.read_text()[-3000:]}")


async def prepare(database_url: str) -> None:
    database = Database(database_url)
    try:
        await database.migrate()
        async with database.transaction() as connection:
            staff = StaffRepository(connection)
            for name in ACCOUNTS:
                if await staff.get(name) is None:
                    await staff.add(name, PASSWORD, "editor", datetime.now(UTC))
                else:
                    await staff.set_password(name, PASSWORD)  # unlocks it for the next run
    finally:
        await database.dispose()


async def accounts_state(database_url: str) -> dict[str, tuple[int, bool]]:
    database = Database(database_url)
    try:
        async with database.reading() as connection:
            staff = StaffRepository(connection)
            state = {}
            for name in ACCOUNTS:
                account = await staff.get(name)
                assert account is not None
                locked = account.locked_until is not None and account.locked_until > datetime.now(UTC)
                state[name] = (account.failed_attempts, locked)
            return state
    finally:
        await database.dispose()


async def chat_user(base: str, stop: asyncio.Event, latencies: list[float]) -> None:
    """One citizen sending /help once a second (within the per-user flood limit)."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        async with client.get(base + "/") as page:
            await page.read()
        number = 0
        while not stop.is_set():
            number += 1
            started = time.perf_counter()
            async with client.post(f"{base}/api/messages", json={"id": f"h{number}", "text": "/help"}) as response:
                await response.read()
                assert response.status == 200, response.status
            latencies.append(time.perf_counter() - started)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)


async def chat_while(base: str, work: asyncio.Future[Any] | None, seconds: float) -> list[float]:
    """Chat replies timed while ``work`` runs (or for ``seconds`` without it)."""
    latencies: list[float] = []
    stop = asyncio.Event()
    users = [asyncio.create_task(chat_user(base, stop, latencies)) for _ in range(CHAT_USERS)]
    if work is not None:
        await work
    else:
        await asyncio.sleep(seconds)
    stop.set()
    await asyncio.gather(*users)
    return latencies


async def flood(base: str, attempts: int) -> dict[int, int]:
    """``attempts`` sign-in POSTs at once, each from its own address; returns status → count."""
    connector = aiohttp.TCPConnector(limit=attempts)
    async with aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        async with client.get(f"{base}/admin/login") as page:
            found = CSRF.search(await page.text())
            assert found is not None
            token = found.group(1)

        async def attempt(number: int) -> int:
            if number % 4 in (0, 1):
                name, password = "editor1", PASSWORD if number == 37 else f"guess {number}"  # 37: its 20th
            elif number % 4 == 2:
                name, password = "viewer1", f"guess {number}"
            else:
                name, password = f"ghost{number % 7}", f"guess {number}"
            address = f"198.18.{number // 250}.{number % 250 + 1}"
            async with client.post(
                f"{base}/admin/login",
                data={"username": name, "password": password, "csrf": token},
                headers={"X-Forwarded-For": address},
                allow_redirects=False,
            ) as response:
                await response.read()
                return response.status

        statuses = await asyncio.gather(*(attempt(number) for number in range(attempts)))
    counts: dict[int, int] = {}
    for status in statuses:
        counts[status] = counts.get(status, 0) + 1
    return dict(sorted(counts.items()))


def flood_in_process(base: str, attempts: int) -> dict[int, int]:
    return asyncio.run(flood(base, attempts))


def figures(latencies: list[float]) -> str:
    if not latencies:
        return "no replies"
    p50, p99 = percentile(latencies, 0.5) or 0.0, percentile(latencies, 0.99) or 0.0
    return f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms ({len(latencies)} replies)"


async def run_one(backend: str, database_url: str, attempts: int, workdir: Path, *, limits: bool) -> None:
    await prepare(database_url)
    bot = WebBot(database_url, workdir, limits=limits)
    await bot.start()
    base = f"http://127.0.0.1:{bot.port}"
    try:
        quiet = await chat_while(base, None, 3.0)
        started = time.perf_counter()
        # The flood comes from another process, so that its 200 requests do not delay the chat
        # users' own event loop (the time measured is the server's).
        with ProcessPoolExecutor(1) as pool:
            work = asyncio.get_running_loop().run_in_executor(pool, flood_in_process, base, attempts)
            during = await chat_while(base, work, 0)
        statuses = work.result()
        took = time.perf_counter() - started
    finally:
        await bot.stop()
    state = await accounts_state(database_url)
    label = "default web.limits" if limits else "web.limits off (the lockout alone)"
    print(f"{backend}, {label}:")
    print(f"  chat /help before the flood: {figures(quiet)}")
    print(f"  chat /help during the flood: {figures(during)}")
    print(f"  {attempts} sign-in attempts in {took:.1f} s: " + ", ".join(f"{n}× {s}" for s, n in statuses.items()))
    for name, (checked, locked) in state.items():
        print(f"  {name}: {checked} guesses checked this lockout period, {'locked' if locked else 'not locked'}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=200)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], action="append")
    arguments = parser.parse_args()
    backends = arguments.backend or ["sqlite", "postgresql"]
    print(describe_machine(), flush=True)
    for backend in backends:
        with tempfile.TemporaryDirectory() as directory:
            workdir = Path(directory)
            if backend == "sqlite":
                url = f"sqlite+aiosqlite:///{workdir / 'flood.db'}"
            elif not postgres_reachable():
                print("postgresql: not reachable on 127.0.0.1:5432, skipped")
                continue
            else:
                url = await create_postgres_database()
            try:
                for limits in (True, False):
                    await run_one(backend, url, arguments.attempts, workdir, limits=limits)
            finally:
                if backend == "postgresql":
                    await drop_postgres_database(url)


if __name__ == "__main__":
    asyncio.run(main())
