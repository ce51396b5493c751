"""Running the real bot against the fake Bot API: in this process, or as a separate process
that a test can ``kill -9``. Shared by the end-to-end tests and the benchmark."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

from bot.app import RunningBot, running_bot
from bot.config import Settings, TelegramSettings, WebSettings
from bot.core.flood import FloodSettings
from testkit import paths
from testkit.fakes.telegram import FakeTelegramServer

ROOT = paths.ROOT
FORMS = paths.FORMS
TOKEN = "123456:TEST-TOKEN"
PSEUDONYM_KEY = "test-pseudonym-key-0123456789"
COOKIE_KEY = "test-cookie-key-0123456789abcdef0123456789abcdef"
#: Simulated users answer faster than people: no per-user flood limit unless a test sets one.
NO_FLOOD_LIMIT = FloodSettings(enabled=False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def bot_settings(
    server: FakeTelegramServer,
    database_url: str,
    web_port: int = 0,
    forms: Path = FORMS,
    flood: FloodSettings = NO_FLOOD_LIMIT,
    **telegram: object,
) -> Settings:
    """Settings for a bot that talks to ``server``; sending limits and the per-user flood limit
    (simulated users answer faster than people) are lifted unless given."""
    limits: dict[str, object] = {
        "messages_per_second": 10_000.0,
        "chat_messages_per_second": 10_000.0,
        "chat_burst": 1000,
    }
    limits.update(telegram)
    return Settings(
        database_url=database_url,
        surveys_directory=forms,
        pseudonym_key=PSEUDONYM_KEY,
        telegram=replace(
            TelegramSettings(token=TOKEN, base_url=server.base_url, base_file_url=server.base_file_url, poll_timeout=1),
            **limits,  # type: ignore[arg-type]
        ),
        web=WebSettings(host="127.0.0.1", port=web_port),
        flood=flood,
    )


@contextlib.asynccontextmanager
async def bot_in_process(
    server: FakeTelegramServer,
    database_url: str,
    web_port: int = 0,
    forms: Path = FORMS,
    flood: FloodSettings = NO_FLOOD_LIMIT,
    **telegram: object,
) -> AsyncIterator[RunningBot]:
    async with running_bot(bot_settings(server, database_url, web_port, forms, flood, **telegram)) as bot:
        yield bot


def bot_environment(server: FakeTelegramServer, database_url: str) -> dict[str, str]:
    """The environment of a ``baraza run`` process that talks to ``server`` (as in production)."""
    return {
        **os.environ,
        "BARAZA_DATABASE_URL": database_url,
        "BARAZA_TELEGRAM_TOKEN": TOKEN,
        "BARAZA_TELEGRAM_BASE_URL": server.base_url,
        "BARAZA_TELEGRAM_BASE_FILE_URL": server.base_file_url,
        "BARAZA_PSEUDONYM_KEY": PSEUDONYM_KEY,
        # Given, so that no key file is written where the process runs (the repository).
        "BARAZA_COOKIE_KEY": COOKIE_KEY,
        "BARAZA_WEB_PORT": "0",
    }


class ChildBotProcess:
    """``baraza run --config self.config`` as a child process whose output goes to ``self.log``;
    the subclasses write the configuration and know when the bot is ready."""

    config: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def launch(self, env: dict[str, str]) -> subprocess.Popen[bytes]:
        """Start the process with ``env`` (appending to the log across restarts) and return it."""
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot.cli.main", "--config", str(self.config), "run"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self.process

    def kill(self) -> None:
        """``kill -9``: no cleanup of any kind happens in the bot."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    async def stop(self) -> None:
        """SIGTERM, and SIGKILL if the bot has not stopped within 15 seconds."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                await asyncio.to_thread(self.process.wait, 15)
            except subprocess.TimeoutExpired:
                self.process.kill()


class BotProcess(ChildBotProcess):
    """``baraza run`` in a child process, configured through the environment like production."""

    def __init__(self, server: FakeTelegramServer, database_url: str, workdir: Path, forms: Path = FORMS) -> None:
        self.server = server
        self.database_url = database_url
        self.workdir = workdir
        self.log = workdir / "bot.log"
        config = workdir / "config.yaml"
        config.write_text(
            f"surveys: {{directory: {forms}}}\n"
            "telegram:\n  poll_timeout: 1\n"
            "  rate_limit: {messages_per_second: 10000, chat_messages_per_second: 10000, chat_burst: 1000}\n"
            "web: {host: 127.0.0.1, port: 0}\n"
            "flood: {enabled: false}\n"
        )
        self.config = config

    async def start(self) -> None:
        polls_before = len(self.server.calls_to("getUpdates"))
        process = self.launch(bot_environment(self.server, self.database_url))
        # Ready when it polls for updates.
        for _ in range(300):
            if len(self.server.calls_to("getUpdates")) > polls_before:
                return
            if process.poll() is not None:
                raise RuntimeError(f"the bot exited with {process.returncode}:\n{self.log.read_text()[-3000:]}")
            await asyncio.sleep(0.05)
        raise TimeoutError(f"the bot did not start polling:\n{self.log.read_text()[-3000:]}")
